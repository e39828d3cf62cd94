package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// errBoom is the sentinel that failing tasks return, wrapped or not.
var errBoom = errors.New("boom")

// liveness bounds waits that a correct executor ends at once. It turns a
// hang into a test failure with a message; it is not a timing assertion, and
// no passing run comes anywhere near it.
const liveness = 10 * time.Second

// awaitClosed fails the test if ch is not closed within liveness.
func awaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(liveness):
		t.Fatalf("%s: still waiting after %v", what, liveness)
	}
}

// blockUntil blocks a task body until ch is closed or ctx is done, and
// reports which; it gives up after liveness so that a broken executor fails
// the test instead of hanging it.
func blockUntil(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(liveness):
		return errors.New("test liveness bound reached")
	}
}

// runGuarded is exec.Run that fails the test instead of hanging it, or
// instead of crashing the test binary if Run panics.
func runGuarded(t *testing.T, ctx context.Context, g *graph.Graph, opts ...exec.Option) error {
	t.Helper()
	type outcome struct {
		err   error
		panic any
		stack []byte
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- outcome{panic: v, stack: debug.Stack()}
			}
		}()
		done <- outcome{err: exec.Run(ctx, g, opts...)}
	}()
	select {
	case o := <-done:
		if o.panic != nil {
			t.Fatalf("Run panicked: %v\n%s", o.panic, o.stack)
		}
		return o.err
	case <-time.After(liveness):
		// Every goroutine's stack: a hang the random runs meet once is
		// explained by where each goroutine waits.
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("Run did not return within %v; the goroutines:\n%s", liveness, buf)
		return nil
	}
}

// dag describes a random DAG: node i reads the nodes in[i], all earlier
// than i (possibly the same one twice), and has priority prio[i].
type dag struct {
	prio []int
	in   [][]int
}

// randomDAG returns a DAG of n nodes with up to maxIn inputs each and
// priorities in [lo, hi].
func randomDAG(rng *rand.Rand, n, maxIn, lo, hi int) dag {
	d := dag{prio: make([]int, n), in: make([][]int, n)}
	for i := range n {
		d.prio[i] = lo + rng.IntN(hi-lo+1)
		if i == 0 {
			continue
		}
		for range rng.IntN(maxIn + 1) {
			d.in[i] = append(d.in[i], rng.IntN(i))
		}
	}
	return d
}

// build adds d's nodes to g as AddN tasks named "t<i>" with d's priorities;
// body(i, ctx) is each task's function.
func (d dag) build(g *graph.Graph, body func(ctx context.Context, i int) (int, error)) []graph.Task[int] {
	ts := make([]graph.Task[int], len(d.prio))
	for i := range d.prio {
		in := make([]graph.Task[int], len(d.in[i]))
		for k, j := range d.in[i] {
			in[k] = ts[j]
		}
		ts[i] = graph.AddN(g, fmt.Sprintf("t%d", i), in, func(ctx context.Context, _ []int) (int, error) {
			return body(ctx, i)
		}, graph.Priority(d.prio[i]))
	}
	return ts
}

// referenceOrder is the order in which a one-worker priority scheduler runs
// d: keep the set of ready nodes, repeatedly run the one with the highest
// priority (the earliest created among equals), then add the nodes that
// became ready.
func referenceOrder(d dag) []int {
	n := len(d.prio)
	pending := make([]int, n)
	consumers := make([][]int, n)
	for i, ins := range d.in {
		pending[i] = len(ins)
		for _, j := range ins {
			consumers[j] = append(consumers[j], i)
		}
	}
	var ready, order []int
	for i := range n {
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		best := 0
		for k := 1; k < len(ready); k++ {
			a, b := ready[k], ready[best]
			if d.prio[a] > d.prio[b] || d.prio[a] == d.prio[b] && a < b {
				best = k
			}
		}
		x := ready[best]
		ready = slices.Delete(ready, best, best+1)
		order = append(order, x)
		for _, c := range consumers[x] {
			if pending[c]--; pending[c] == 0 {
				ready = append(ready, c)
			}
		}
	}
	return order
}

// recorder is an Observer that keeps every event in the order received.
type recorder struct {
	mu     sync.Mutex
	events []exec.Event
}

func (r *recorder) Observe(e exec.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []exec.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// count returns how many events of kind k were received, for the task named
// name or, with name "", for any task.
func (r *recorder) count(k exec.EventKind, name string) int {
	c := 0
	for _, e := range r.all() {
		if e.Kind == k && (name == "" || e.Task.Name() == name) {
			c++
		}
	}
	return c
}

// timeAfterLiveness is the liveness bound as a channel.
func timeAfterLiveness() <-chan time.Time { return time.After(liveness) }

// waitGuarded is e.Wait that fails the test instead of hanging it.
func waitGuarded(t *testing.T, e *exec.Execution) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- e.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(liveness):
		t.Fatalf("Execution.Wait did not return within %v", liveness)
		return nil
	}
}
