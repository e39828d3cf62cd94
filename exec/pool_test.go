package exec_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// gauge counts task bodies running at once and keeps the peak.
type gauge struct{ cur, peak atomic.Int64 }

func (c *gauge) enter() int64 {
	v := c.cur.Add(1)
	for p := c.peak.Load(); v > p && !c.peak.CompareAndSwap(p, v); p = c.peak.Load() {
	}
	return v
}

func (c *gauge) exit() { c.cur.Add(-1) }

// layered builds a graph of layers of width tasks, each task reading two
// tasks of the layer before, with a body that overlaps others.
func layered(g *graph.Graph, layers, width int, c *gauge) {
	var prev []graph.Task[int]
	for l := range layers {
		var cur []graph.Task[int]
		for i := range width {
			fn := func(context.Context, []int) (int, error) {
				c.enter()
				defer c.exit()
				runtime.Gosched()
				time.Sleep(20 * time.Microsecond) // let other bodies overlap this one
				return i, nil
			}
			var in []graph.Task[int]
			if prev != nil {
				in = []graph.Task[int]{prev[i], prev[(i+1)%width]}
			}
			cur = append(cur, graph.AddN(g, fmt.Sprintf("l%d.%d", l, i), in, fn, graph.Priority(i%3)))
		}
		prev = cur
	}
}

// TestPoolNeverRunsMoreThanWorkers runs wide, layered graphs and checks that
// no more than N task bodies ever run at once.
func TestPoolNeverRunsMoreThanWorkers(t *testing.T) {
	for _, n := range []int{1, 2, 3, 8} {
		t.Run(fmt.Sprintf("workers=%d", n), func(t *testing.T) {
			var c gauge
			g := graph.New()
			layered(g, 4, 32, &c)
			if err := runGuarded(t, t.Context(), g, exec.Workers(n)); err != nil {
				t.Fatal(err)
			}
			if p := c.peak.Load(); p > int64(n) {
				t.Fatalf("peak %d task bodies at once with Workers(%d)", p, n)
			}
		})
	}
}

// TestPoolDefaultsToGOMAXPROCS checks the default bound.
func TestPoolDefaultsToGOMAXPROCS(t *testing.T) {
	var c gauge
	g := graph.New()
	layered(g, 3, 32, &c)
	if err := runGuarded(t, t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if p, n := c.peak.Load(), runtime.GOMAXPROCS(0); p > int64(n) {
		t.Fatalf("peak %d task bodies at once with the default pool of GOMAXPROCS=%d", p, n)
	}
}

// TestPoolFillsEveryWorker checks that N workers do run N bodies at once:
// each of a wide level's tasks blocks until N bodies are inside, so the run
// ends only if the pool fills up, and then no more than N were ever inside.
func TestPoolFillsEveryWorker(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("workers=%d", n), func(t *testing.T) {
			var c gauge
			full := make(chan struct{})
			var once sync.Once
			g := graph.New()
			for i := range 4 * n {
				graph.Add(g, fmt.Sprint("w", i), func(ctx context.Context) (int, error) {
					if c.enter() >= int64(n) {
						once.Do(func() { close(full) })
					}
					defer c.exit()
					return i, blockUntil(ctx, full)
				})
			}
			if err := runGuarded(t, t.Context(), g, exec.Workers(n)); err != nil {
				t.Fatalf("the pool never held %d bodies at once: %v", n, err)
			}
			if p := c.peak.Load(); p != int64(n) {
				t.Fatalf("peak %d task bodies at once, want exactly %d", p, n)
			}
		})
	}
}

// TestWaitCutShortQueuesForItsSlot: a task whose own wait ends early (its
// context is cancelled) while another task holds the only slot must not go
// on until it has a slot again, or two bodies would run in a pool of one.
func TestWaitCutShortQueuesForItsSlot(t *testing.T) {
	g := graph.New()
	var c gauge
	gate, started := make(chan struct{}), make(chan struct{})
	cut := make(chan context.CancelFunc, 1)
	var waitErr error
	x := graph.Add(g, "x", func(ctx context.Context) (int, error) {
		c.enter()
		defer c.exit()
		close(started)
		return 1, blockUntil(ctx, gate)
	})
	graph.Add(g, "p", func(ctx context.Context) (int, error) {
		c.enter()
		defer c.exit()
		child := graph.Add1(dynamic.Scope(ctx), "child", x, func(_ context.Context, v int) (int, error) { return v, nil })
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		cut <- cancel
		c.exit() // a waiting body gives its slot back
		_, waitErr = child.Wait(wctx)
		c.enter()
		return 0, nil
	}, graph.Priority(1)) // p starts first, and x runs while p waits
	done := make(chan error, 1)
	go func() { done <- exec.Run(context.Background(), g, exec.Workers(1)) }()
	awaitClosed(t, started, "x starts while p waits")
	(<-cut)()
	// Give a wrongly resumed p the time to show: it would enter at once.
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline) && c.cur.Load() < 2; {
		runtime.Gosched()
	}
	close(gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-timeAfterLiveness():
		t.Fatal("the run did not end")
	}
	if p := c.peak.Load(); p > 1 {
		t.Errorf("%d bodies ran at once with one worker: the cut-short wait did not queue for its slot", p)
	}
	if !errors.Is(waitErr, context.Canceled) {
		t.Errorf("the cut-short wait returned %v; want context.Canceled", waitErr)
	}
}
