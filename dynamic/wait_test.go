package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// waitFunc is one of the ways a task waits for the children it spawned,
// returning their results in order.
type waitFunc func(ctx context.Context, kids []graph.Task[int]) ([]int, error)

var waits = []struct {
	name string
	wait waitFunc
}{
	{"Task.Wait", func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		out := make([]int, len(kids))
		for i, k := range kids {
			v, err := k.Wait(ctx)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}},
	{"WaitAll", func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		if err := dynamic.WaitAll(ctx, kids...); err != nil {
			return nil, err
		}
		return results(kids)
	}},
	{"WaitAll(Refs)", func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		refs := make([]graph.Ref, len(kids))
		for i, k := range kids {
			refs[i] = k.Ref()
		}
		if err := dynamic.WaitAll(ctx, refs...); err != nil {
			return nil, err
		}
		return results(kids)
	}},
	{"Gather", func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		return dynamic.Gather(ctx, dynamic.Raise, kids...)
	}},
	{"AsCompleted", func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		for k, err := range dynamic.AsCompleted(kids...).All(ctx) {
			if err != nil {
				return nil, err
			}
			if err := k.Err(); err != nil {
				return nil, err
			}
		}
		return results(kids)
	}},
}

func results(kids []graph.Task[int]) ([]int, error) {
	out := make([]int, len(kids))
	for i, k := range kids {
		v, err := k.Result()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// fib computes Fibonacci numbers the worst way for a bounded pool: every
// task spawns two children and waits for them. g counts bodies running
// outside waits.
func fib(ctx context.Context, n int, wait waitFunc, g *gauge) (int, error) {
	g.in()
	defer g.out()
	if n < 2 {
		return n, nil
	}
	s := dynamic.Scope(ctx)
	kids := []graph.Task[int]{
		graph.Add(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, n-1, wait, g) }),
		graph.Add(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, n-2, wait, g) }),
	}
	g.out()
	vs, err := wait(ctx, kids)
	g.in()
	if err != nil {
		return 0, err
	}
	return vs[0] + vs[1], nil
}

// TestFibWaitsGiveTheSlotBack: fib(20), computed by tasks that spawn two
// children and wait for them, completes with the right value on pools of
// one and two workers, whichever way the tasks wait, and never more than N
// bodies run at once outside their waits.
func TestFibWaitsGiveTheSlotBack(t *testing.T) {
	for _, w := range waits {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", w.name, workers), func(t *testing.T) {
				n, want := 20, 6765
				if w.name == "Gather" || w.name == "AsCompleted" {
					// These block without running the child themselves;
					// with equal priorities the tree unfolds breadth first,
					// one parked goroutine per waiting task: stay well under
					// the race detector's goroutine limit.
					n, want = 15, 610
				}
				g := graph.New()
				var ga gauge
				f := graph.Add(g, "fib", func(ctx context.Context) (int, error) { return fib(ctx, n, w.wait, &ga) })
				if err := run(t, g, exec.Workers(workers)); err != nil {
					t.Fatalf("Run: %v", err)
				}
				check(t, f, want)
				if p := ga.peak.Load(); p > int64(workers) || p < 1 {
					t.Errorf("peak of bodies running at once = %d; want 1..%d", p, workers)
				}
				if now := ga.now.Load(); now != 0 {
					t.Errorf("gauge ends at %d; want 0", now)
				}
			})
		}
	}
}

// fanout spawns the tree below one node: branch(depth) children per level
// down to maxDepth, each waiting for its children; it returns the number of
// leaves under it. Leaves yield the processor a few times so that bodies
// overlap when they can.
func fanout(ctx context.Context, depth, maxDepth int, wait waitFunc, g *gauge) (int, error) {
	g.in()
	defer g.out()
	if depth == maxDepth {
		for range 3 {
			runtime.Gosched()
		}
		return 1, nil
	}
	s := dynamic.Scope(ctx)
	kids := make([]graph.Task[int], branch(depth))
	for i := range kids {
		kids[i] = graph.Add(s, fmt.Sprintf("n%d.%d", depth+1, i), func(ctx context.Context) (int, error) {
			return fanout(ctx, depth+1, maxDepth, wait, g)
		}, graph.Priority(depth%3))
	}
	g.out()
	vs, err := wait(ctx, kids)
	g.in()
	if err != nil {
		return 0, err
	}
	sum := 0
	for _, v := range vs {
		sum += v
	}
	return sum, nil
}

func branch(depth int) int { return 2 + btoi(depth%5 == 0) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestNestedFanOutNeverDeadlocks: a tree 10 levels deep where each level
// spawns 2 or 3 children and waits for them completes on pools of one and
// two workers, within the bound of N bodies at once.
func TestNestedFanOutNeverDeadlocks(t *testing.T) {
	const depth = 10
	want := 1
	for d := range depth {
		want *= branch(d)
	}
	for _, w := range waits {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", w.name, workers), func(t *testing.T) {
				g := graph.New()
				var ga gauge
				root := graph.Add(g, "n0", func(ctx context.Context) (int, error) { return fanout(ctx, 0, depth, w.wait, &ga) })
				if err := run(t, g, exec.Workers(workers)); err != nil {
					t.Fatalf("Run: %v", err)
				}
				check(t, root, want)
				if p := ga.peak.Load(); p > int64(workers) || p < 1 {
					t.Errorf("peak of bodies running at once = %d; want 1..%d", p, workers)
				}
				// Growth is recorded at every depth: each node's creator is
				// a node of the level above.
				bad := 0
				for r := range g.Tasks() {
					d := depthOf(r.Name())
					c := r.Creator()
					if d == 0 && c != (graph.Ref{}) || d > 0 && (c == (graph.Ref{}) || depthOf(c.Name()) != d-1) {
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%d nodes record a creator that is not on the level above", bad)
				}
			})
		}
	}
}

// depthOf returns d for a fanout node named "n<d>" or "n<d>.<i>".
func depthOf(name string) int {
	var d int
	fmt.Sscanf(name, "n%d", &d)
	return d
}

// TestWaitersBoundedUnderLoad: many tasks that each spawn children and wait
// while other work is queued never push the number of bodies running
// outside waits above the pool size, and a pool of N does run N at once when
// N tasks need each other to go on.
func TestWaitersBoundedUnderLoad(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var ga gauge
			var leaves atomic.Int32
			tops := make([]graph.Task[int], 24)
			for i := range tops {
				tops[i] = graph.Add(g, fmt.Sprint("top", i), func(ctx context.Context) (int, error) {
					ga.in()
					defer ga.out()
					s := dynamic.Scope(ctx)
					kids := make([]graph.Task[int], 4)
					for j := range kids {
						kids[j] = graph.Add(s, "leaf", func(context.Context) (int, error) {
							ga.in()
							defer ga.out()
							leaves.Add(1)
							runtime.Gosched()
							return j, nil
						}, graph.Priority(j%2))
					}
					ga.out()
					vs, err := dynamic.Gather(ctx, dynamic.Raise, kids...)
					ga.in()
					if err != nil {
						return 0, err
					}
					return i + slices.Max(vs), nil
				}, graph.Priority(i%3))
			}
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			for i, top := range tops {
				check(t, top, i+3)
			}
			if n := leaves.Load(); n != 24*4 {
				t.Errorf("%d leaves ran; want 96", n)
			}
			if p := ga.peak.Load(); p > int64(workers) {
				t.Errorf("peak of bodies running at once = %d; want at most %d", p, workers)
			}
		})
	}
	// A pool of two runs two bodies at once: two tasks that meet each other
	// (outside any graph wait) both finish.
	g := graph.New()
	meet := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	for i := range 2 {
		graph.Add(g, fmt.Sprint("meet", i), func(ctx context.Context) (int, error) {
			close(meet[i])
			return 0, block(ctx, meet[1-i])
		})
	}
	if err := run(t, g, exec.Workers(2)); err != nil {
		t.Fatalf("two tasks that need each other running on Workers(2): %v", err)
	}
}

// deadlockCycle returns the cycle of err if it is a *graph.DeadlockError.
func deadlockCycle(err error) ([]string, bool) {
	var de *graph.DeadlockError
	if errors.As(err, &de) {
		return de.Cycle, true
	}
	return nil, false
}

// TestWaitOnOwnReaderIsDeadlock: a task that adds a child reading its own
// result and waits for the child would wait forever; the wait returns a
// *graph.DeadlockError naming the cycle instead, for every way of waiting.
func TestWaitOnOwnReaderIsDeadlock(t *testing.T) {
	for _, w := range waits {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", w.name, workers), func(t *testing.T) {
				g := graph.New()
				var self graph.Task[int]
				var waitErr error
				var childRan atomic.Bool
				self = graph.Add(g, "p", func(ctx context.Context) (int, error) {
					c := graph.Add1(dynamic.Scope(ctx), "c", self, func(_ context.Context, x int) (int, error) {
						childRan.Store(true)
						return x + 1, nil
					})
					_, waitErr = w.wait(ctx, []graph.Task[int]{c})
					return 1, nil // give up on c: then c can run
				})
				if err := run(t, g, exec.Workers(workers)); err != nil {
					t.Fatalf("Run: %v", err)
				}
				cycle, ok := deadlockCycle(waitErr)
				if !ok {
					t.Fatalf("wait error = %v; want a *graph.DeadlockError", waitErr)
				}
				if want := []string{"p", "c", "p"}; !slices.Equal(cycle, want) {
					t.Errorf("Cycle = %q; want %q", cycle, want)
				}
				if !childRan.Load() {
					t.Errorf("c did not run after p finished")
				}
			})
		}
	}
}

// TestWaitOnSelfIsDeadlock: a task waiting for its own handle gets a
// *graph.DeadlockError with the cycle [p p].
func TestWaitOnSelfIsDeadlock(t *testing.T) {
	for _, w := range waits {
		t.Run(w.name, func(t *testing.T) {
			g := graph.New()
			var self graph.Task[int]
			var waitErr error
			self = graph.Add(g, "p", func(ctx context.Context) (int, error) {
				_, waitErr = w.wait(ctx, []graph.Task[int]{self})
				return 1, nil
			})
			if err := run(t, g, exec.Workers(1)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			cycle, ok := deadlockCycle(waitErr)
			if !ok {
				t.Fatalf("wait error = %v; want a *graph.DeadlockError", waitErr)
			}
			if want := []string{"p", "p"}; !slices.Equal(cycle, want) {
				t.Errorf("Cycle = %q; want %q", cycle, want)
			}
		})
	}
	t.Run("WaitFirst", func(t *testing.T) {
		g := graph.New()
		var self graph.Task[int]
		var waitErr error
		self = graph.Add(g, "p", func(ctx context.Context) (int, error) {
			_, waitErr = dynamic.WaitFirst(ctx, self)
			return 1, nil
		})
		if err := run(t, g, exec.Workers(1)); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, ok := deadlockCycle(waitErr); !ok {
			t.Fatalf("WaitFirst error = %v; want a *graph.DeadlockError", waitErr)
		}
	})
}

// TestWaitCycleThroughAnotherWaiter: p waits for c2, whose body waits for
// c1, which reads p's result: a cycle of two waits and an input. One of the
// waits returns a *graph.DeadlockError naming the cycle, however the
// executor placed c2 (run by p itself on a pool of one, or by another
// worker).
func TestWaitCycleThroughAnotherWaiter(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var p graph.Task[int]
			var pErr, c2Err error
			p = graph.Add(g, "p", func(ctx context.Context) (int, error) {
				s := dynamic.Scope(ctx)
				c1 := graph.Add1(s, "c1", p, func(_ context.Context, x int) (int, error) { return x, nil })
				c2 := graph.Add(s, "c2", func(ctx context.Context) (int, error) {
					_, c2Err = c1.Wait(ctx)
					return 2, nil
				})
				_, pErr = c2.Wait(ctx)
				return 1, nil
			})
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v (p's wait: %v, c2's wait: %v)", err, pErr, c2Err)
			}
			var cycle []string
			if c, ok := deadlockCycle(c2Err); ok {
				cycle = c
				if want := []string{"c2", "c1", "p", "c2"}; !slices.Equal(cycle, want) {
					t.Errorf("c2's Cycle = %q; want %q", cycle, want)
				}
			} else if c, ok := deadlockCycle(pErr); ok {
				cycle = c
				if want := []string{"p", "c2", "c1", "p"}; !slices.Equal(cycle, want) {
					t.Errorf("p's Cycle = %q; want %q", cycle, want)
				}
			}
			if cycle == nil {
				t.Fatalf("no wait reported a deadlock: p's wait: %v, c2's wait: %v", pErr, c2Err)
			}
		})
	}
}

// TestWaitCycleSeenFromTheLaterWaiter: as above, but c2 can only start
// once p already blocks in its wait (c2 reads a task that runs after p
// gave its slot back): c2's wait sees the cycle through p's wait.
func TestWaitCycleSeenFromTheLaterWaiter(t *testing.T) {
	g := graph.New()
	var p graph.Task[int]
	var pErr, c2Err error
	p = graph.Add(g, "p", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		c1 := graph.Add1(s, "c1", p, func(_ context.Context, x int) (int, error) { return x, nil })
		later := graph.Add(s, "later", nop, graph.Priority(-1))
		c2 := graph.Add1(s, "c2", later, func(ctx context.Context, _ int) (int, error) {
			_, c2Err = c1.Wait(ctx)
			return 2, nil
		})
		_, pErr = c2.Wait(ctx)
		return 1, nil
	})
	if err := run(t, g, exec.Workers(1)); err != nil {
		t.Fatalf("Run: %v (p's wait: %v, c2's wait: %v)", err, pErr, c2Err)
	}
	if pErr != nil {
		t.Errorf("p's wait = %v; want nil (c2 gave up on c1 and finished)", pErr)
	}
	cycle, ok := deadlockCycle(c2Err)
	if !ok {
		t.Fatalf("c2's wait = %v; want a *graph.DeadlockError", c2Err)
	}
	if want := []string{"c2", "c1", "p", "c2"}; !slices.Equal(cycle, want) {
		t.Errorf("Cycle = %q; want %q", cycle, want)
	}
}

// TestWaitOnTaskOutsideTheRunInsideTask: inside a running task, waiting
// for a task of the graph that the run was not asked for (left out with
// Targets) cannot end; like the same wait from a client, it returns an
// error wrapping graph.ErrNotScheduled instead of blocking.
func TestWaitOnTaskOutsideTheRunInsideTask(t *testing.T) {
	g := graph.New()
	out := graph.Add(g, "out", func(context.Context) (int, error) { return 1, nil })
	var waitErr error
	root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
		_, waitErr = out.Wait(ctx)
		return 0, nil
	})
	if err := run(t, g, exec.Workers(1), exec.Targets(root)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !errors.Is(waitErr, graph.ErrNotScheduled) {
		t.Errorf("Wait inside root on a task outside the run = %v; want graph.ErrNotScheduled", waitErr)
	}
}

// TestAsCompletedLaterWaitCycle: p iterates as-completed over c1 and c2.
// After c1 is yielded, p waits again, for c2 only; c2 then waits for c3,
// which reads p's result. That second wait of p is part of a cycle
// (c2 -> c3 -> p -> c2) and must be visible to c2's check: c2's wait
// returns a *graph.DeadlockError instead of hanging.
func TestAsCompletedLaterWaitCycle(t *testing.T) {
	g := graph.New()
	var p graph.Task[int]
	var c2Err, pErr error
	p = graph.Add(g, "p", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		c3 := graph.Add1(s, "c3", p, func(_ context.Context, x int) (int, error) { return x, nil })
		c1 := graph.Add(s, "c1", nop, graph.Priority(5))
		// c2 runs only once p waits for the second time (p's resumption
		// outranks it).
		c2 := graph.Add(s, "c2", func(ctx context.Context) (int, error) {
			_, c2Err = c3.Wait(ctx)
			return 2, nil
		}, graph.Priority(-5))
		n := 0
		for _, err := range dynamic.AsCompleted(c1, c2).All(ctx) {
			if err != nil {
				pErr = err
				break
			}
			n++
		}
		return n, nil
	})
	if err := run(t, g, exec.Workers(1)); err != nil {
		t.Fatalf("Run: %v (c2's wait: %v, p's: %v)", err, c2Err, pErr)
	}
	if pErr != nil {
		t.Errorf("p's AsCompleted = %v; want no error", pErr)
	}
	cycle, ok := deadlockCycle(c2Err)
	if !ok {
		t.Fatalf("c2's wait = %v; want a *graph.DeadlockError", c2Err)
	}
	if want := []string{"c2", "c3", "p", "c2"}; !slices.Equal(cycle, want) {
		t.Errorf("Cycle = %q; want %q", cycle, want)
	}
	check(t, p, 2)
}

// TestGoroutinesInsideTaskWait: a task runs one goroutine per item, each
// adding its own child and waiting for it with the task's context (the
// async style inside a task); on pools of one and two this completes with
// every result, and the children (which count themselves outside their
// own waits) never run more than N at once: the task's goroutines share
// its one slot.
func TestGoroutinesInsideTaskWait(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var ga gauge
			root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
				s := dynamic.Scope(ctx)
				results := make([]int, 6)
				errs := make([]error, 6)
				var wg sync.WaitGroup
				for i := range results {
					wg.Go(func() {
						child := graph.Add(s, fmt.Sprint("child", i), func(ctx context.Context) (int, error) {
							ga.in()
							defer ga.out()
							for range 20 {
								runtime.Gosched()
							}
							grand := graph.Add(dynamic.Scope(ctx), "grand", func(context.Context) (int, error) {
								ga.in()
								defer ga.out()
								runtime.Gosched()
								return i, nil
							})
							ga.out()
							v, err := grand.Wait(ctx)
							ga.in()
							return v * v, err
						})
						results[i], errs[i] = child.Wait(ctx)
					})
				}
				wg.Wait()
				sum := 0
				for _, v := range results {
					sum += v
				}
				return sum, errors.Join(errs...)
			})
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			check(t, root, 0+1+4+9+16+25)
			if p := ga.peak.Load(); p > int64(workers) {
				t.Errorf("peak of child bodies running at once = %d; want at most %d", p, workers)
			}
		})
	}
}
