package exec_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// A function that ends its goroutine with runtime.Goexit, as t.FailNow
// does when a test calls it from a task, never returns to the executor.
// These tests check that its task fails with graph.ErrGoexit and the run
// goes on and returns, where before the run hung (exec/goexit.go).

// TestGoexitInATaskFailsIt: a task's function calls runtime.Goexit; the
// task fails, its consumer is skipped, the others run, in pools of one
// and two, and again in a second run of the same graph.
func TestGoexitInATaskFailsIt(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			quits := graph.Add(g, "quits", func(context.Context) (int, error) {
				runtime.Goexit()
				return 1, nil
			})
			after := graph.Add1(g, "after", quits, func(_ context.Context, v int) (int, error) { return v, nil })
			var others atomic.Int32
			for range 5 {
				graph.Add(g, "other", func(context.Context) (int, error) { others.Add(1); return 0, nil })
			}
			err := runGuarded(t, context.Background(), g, exec.Workers(workers))
			var ee *exec.Error
			if !errors.As(err, &ee) || ee.Failed != 1 || ee.Skipped != 1 || !errors.Is(err, graph.ErrGoexit) {
				t.Fatalf("Run = %v; want one task failed with ErrGoexit and one skipped", err)
			}
			if !errors.Is(quits.Err(), graph.ErrGoexit) || after.State() != graph.Skipped || others.Load() != 5 {
				t.Errorf("quits: %v, after: %v, others ran: %d", quits.Err(), after.State(), others.Load())
			}
		})
	}
}

// TestGoexitInAClaimedTask: a task waits for a child it added, and runs
// it on its own goroutine (a claim); the child ends that goroutine. Both
// fail, since the parent's function was on it too, and the run returns.
func TestGoexitInAClaimedTask(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			var child graph.Task[int]
			parent := graph.Add(g, "parent", func(ctx context.Context) (int, error) {
				child = graph.Add(dynamic.Scope(ctx), "child", func(context.Context) (int, error) {
					runtime.Goexit()
					return 1, nil
				})
				return child.Wait(ctx)
			})
			next := graph.Add(g, "next", func(context.Context) (int, error) { return 2, nil })
			runGuarded(t, context.Background(), g, exec.Workers(workers))
			if !errors.Is(child.Err(), graph.ErrGoexit) {
				t.Errorf("child: %v %v; want ErrGoexit", child.State(), child.Err())
			}
			// The parent fails with ErrGoexit if the child ran on its
			// goroutine, or with the child's failure if another worker ran
			// the child.
			if s := parent.State(); s != graph.Failed {
				t.Errorf("parent is %v: %v", s, parent.Err())
			}
			if v, err := next.Result(); v != 2 || err != nil {
				t.Errorf("next = %d, %v", v, err)
			}
		})
	}
}

// TestGoexitInAJoinedFunction: a function of a Join ends its goroutine,
// on the caller's goroutine or on another worker's; the task fails with
// ErrGoexit, and the run returns.
func TestGoexitInAJoinedFunction(t *testing.T) {
	for _, lent := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			if lent && workers == 1 {
				continue // the second function runs on another worker only with two
			}
			t.Run(fmt.Sprintf("lent=%v/workers=%d", lent, workers), func(t *testing.T) {
				g := graph.New()
				task := graph.Add(g, "caller", func(ctx context.Context) (int, error) {
					started := make(chan struct{})
					out, err := dynamic.JoinAll(ctx,
						func(context.Context) (int, error) {
							if !lent {
								runtime.Goexit()
							}
							<-started // the second is taken by the other worker
							return 1, nil
						},
						func(context.Context) (int, error) {
							close(started)
							if lent {
								runtime.Goexit()
							}
							return 2, nil
						},
						func(context.Context) (int, error) { return 3, nil })
					if err != nil {
						return 0, err
					}
					return out[0] + out[1] + out[2], nil
				})
				err := runGuarded(t, context.Background(), g, exec.Workers(workers))
				if !errors.Is(err, graph.ErrGoexit) || !errors.Is(task.Err(), graph.ErrGoexit) {
					t.Fatalf("Run = %v, task: %v; want ErrGoexit", err, task.Err())
				}
			})
		}
	}
}

// TestGoexitInAnObserverStopsTheRun: an observer ends its goroutine, a
// worker's, as a task starts, as it finishes, or as its completion makes
// its consumer ready; the run stops with an *ObserverError that says so,
// instead of hanging on the task that never ran or the consumer never
// queued.
func TestGoexitInAnObserverStopsTheRun(t *testing.T) {
	for _, kind := range []exec.EventKind{exec.EventStarted, exec.EventFinished, exec.EventReady} {
		t.Run(kind.String(), func(t *testing.T) {
			g := graph.New()
			a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
			graph.Add1(g, "b", a, func(_ context.Context, v int) (int, error) { return v, nil })
			var once atomic.Bool
			// b's EventReady comes from a's completion, on the worker (the
			// tasks ready at the start are told of on Run's goroutine, whose
			// end would be the caller's to see).
			obs := exec.ObserverFunc(func(e exec.Event) {
				if e.Kind == kind && (kind != exec.EventReady || e.Task.Name() == "b") && once.CompareAndSwap(false, true) {
					runtime.Goexit()
				}
			})
			err := runGuarded(t, context.Background(), g, exec.Workers(1), exec.Observe(obs))
			var oe *exec.ObserverError
			if !errors.As(err, &oe) || !errors.Is(err, graph.ErrGoexit) {
				t.Fatalf("Run = %v; want an *ObserverError wrapping ErrGoexit", err)
			}
		})
	}
}
