package dynamic_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// errBoom is what failing tasks return, wrapped or not.
var errBoom = errors.New("boom")

// liveness bounds waits that a correct implementation ends at once. It turns
// a hang into a test failure with a message; it is not a timing assertion.
// It was 5 seconds, and a nested fan-out of 20,000 tasks that park (0.1 to
// 0.3 s alone) took 2 to 7 s a few times in 15,000 runs on this 2-core
// machine while four other test processes ran, before and after session 12.
const liveness = 20 * time.Second

// awaitClosed fails the test if ch is not closed within liveness.
func awaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(liveness):
		t.Fatalf("%s: still waiting after %v", what, liveness)
	}
}

// eventually polls cond until it holds, failing the test after liveness.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v", what, liveness)
		}
		time.Sleep(time.Millisecond)
	}
}

// block blocks a task body until ch is closed or ctx is done, and reports
// which; after liveness it gives up with an error, so that a broken
// implementation fails the test instead of hanging it.
func block(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(liveness):
		return errors.New("test liveness bound reached")
	}
}

// run runs g with a context bounded by liveness, so that a hang cancels the
// run (and the test notices) instead of hanging the test binary.
func run(t *testing.T, g *graph.Graph, opts ...exec.Option) error {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(t.Context(), liveness, errLiveness)
	defer cancel()
	err := exec.Run(ctx, g, opts...)
	if context.Cause(ctx) == errLiveness {
		t.Fatalf("the run hit the liveness bound (%v): something hangs; Run returned %v", liveness, err)
	}
	return err
}

var errLiveness = errors.New("test liveness bound reached")

// start starts an open run on g, bounded by liveness, and winds it up when
// the test ends: Close, then Stop if it does not end, then Wait.
func start(t *testing.T, g *graph.Graph, opts ...exec.Option) *exec.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeoutCause(context.Background(), liveness, errLiveness)
	e, err := exec.Start(ctx, g, opts...)
	if err != nil {
		cancel()
		t.Fatalf("exec.Start: %v", err)
	}
	t.Cleanup(func() {
		e.Close()
		ended := make(chan struct{})
		go func() { e.Wait(); close(ended) }()
		select {
		case <-ended:
		case <-time.After(liveness):
			e.Stop()
			<-ended
		}
		cancel()
	})
	return e
}

// finish closes e and waits for its outcome, failing the test if it does
// not end.
func finish(t *testing.T, e *exec.Execution) error {
	t.Helper()
	e.Close()
	var err error
	ended := make(chan struct{})
	go func() { err = e.Wait(); close(ended) }()
	awaitClosed(t, ended, "the run's end after Close")
	return err
}

// log is a concurrency-safe list of strings, in the order they were added.
type log struct {
	mu sync.Mutex
	s  []string
}

func (l *log) add(s string) {
	l.mu.Lock()
	l.s = append(l.s, s)
	l.mu.Unlock()
}

func (l *log) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.s)
}

// observer is an Observer logging "<kind> <task>" for events of the given
// kinds.
func (l *log) observer(kinds ...exec.EventKind) exec.Observer {
	return exec.ObserverFunc(func(e exec.Event) {
		if slices.Contains(kinds, e.Kind) {
			l.add(e.Kind.String() + " " + e.Task.Name())
		}
	})
}

// gauge counts task bodies running at once and keeps the peak. Bodies call
// in on entry and after each wait, and out before each wait and on exit, so
// that time spent waiting is not counted.
type gauge struct {
	now, peak atomic.Int64
}

func (g *gauge) in() {
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) out() { g.now.Add(-1) }

// gates returns n open channels, closed by the test to release tasks.
func gates(n int) []chan struct{} {
	cs := make([]chan struct{}, n)
	for i := range cs {
		cs[i] = make(chan struct{})
	}
	return cs
}

// doneAfter returns a channel closed after d: a liveness bound for selects.
func doneAfter(d time.Duration) <-chan time.Time { return time.After(d) }
