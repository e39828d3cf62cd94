package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// joinFib computes fib(n) by Joins: every call with n >= 2 joins the two
// calls below it.
func joinFib(ctx context.Context, n int, calls *atomic.Int64) (int, error) {
	calls.Add(1)
	if n < 2 {
		return n, nil
	}
	a, b, err := dynamic.Join(ctx,
		func(ctx context.Context) (int, error) { return joinFib(ctx, n-1, calls) },
		func(ctx context.Context) (int, error) { return joinFib(ctx, n-2, calls) })
	return a + b, err
}

// TestJoinNestedNeverDeadlocks runs fib(18) by nested Joins in pools of
// one to four workers: each call runs one half itself and lends the other,
// and a caller whose half a worker took waits without its slot.
func TestJoinNestedNeverDeadlocks(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			calls := new(atomic.Int64)
			root := graph.Add(g, "fib", func(ctx context.Context) (int, error) { return joinFib(ctx, 18, calls) })
			ctx, cancel := context.WithTimeout(context.Background(), liveness)
			defer cancel()
			if err := exec.Run(ctx, g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := root.Result(); v != 2584 || err != nil {
				t.Fatalf("fib(18) = %d, %v; want 2584", v, err)
			}
			// fib(n) makes 2*fib(n+1)-1 calls, each once.
			if got := calls.Load(); got != 2*4181-1 {
				t.Errorf("%d calls, want %d", got, 2*4181-1)
			}
			if g.Len() != 1 {
				t.Errorf("the graph has %d tasks, want 1: joined functions are not tasks", g.Len())
			}
		})
	}
}

// TestJoinResultsAndErrors checks what the three calls return: results in
// order, and the error of the first function in order that failed, once
// every function has returned.
func TestJoinResultsAndErrors(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			var ran atomic.Int64
			task := graph.Add(g, "caller", func(ctx context.Context) (string, error) {
				a, b, err := dynamic.Join(ctx,
					func(context.Context) (int, error) { ran.Add(1); return 1, nil },
					func(context.Context) (string, error) { ran.Add(1); return "two", nil })
				if a != 1 || b != "two" || err != nil {
					return "", fmt.Errorf("Join = %d, %q, %v", a, b, err)
				}
				_, _, err = dynamic.Join(ctx,
					func(context.Context) (int, error) { ran.Add(1); return 0, nil },
					func(context.Context) (int, error) { ran.Add(1); return 0, errB })
				if !errors.Is(err, errB) {
					return "", fmt.Errorf("Join's error = %v, want b", err)
				}
				fns := make([]func(context.Context) (int, error), 50)
				for i := range fns {
					fns[i] = func(context.Context) (int, error) {
						ran.Add(1)
						switch i {
						case 7:
							time.Sleep(time.Millisecond) // fails later than 30, earlier in order
							return 0, errA
						case 30:
							return 0, errB
						}
						return i * i, nil
					}
				}
				out, err := dynamic.JoinAll(ctx, fns...)
				if !errors.Is(err, errA) || len(out) != 50 || out[49] != 49*49 || out[7] != 0 {
					return "", fmt.Errorf("JoinAll = %v, %v; want a and the squares", out, err)
				}
				items := []string{"x", "yy", "zzz"}
				lens, err := dynamic.JoinEach(ctx, items, func(_ context.Context, s string) (int, error) {
					ran.Add(1)
					return len(s), nil
				})
				if !slices.Equal(lens, []int{1, 2, 3}) || err != nil {
					return "", fmt.Errorf("JoinEach = %v, %v", lens, err)
				}
				none, err := dynamic.JoinAll[int](ctx)
				if len(none) != 0 || err != nil {
					return "", fmt.Errorf("JoinAll() = %v, %v", none, err)
				}
				return "ok", nil
			})
			if err := exec.Run(context.Background(), g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := task.Result(); v != "ok" {
				t.Fatal(err)
			}
			if got := ran.Load(); got != 2+2+50+3 {
				t.Errorf("%d functions ran, want %d: every one runs once, even after an error", got, 57)
			}
		})
	}
}

// TestJoinPanicIsTheTasksError checks that a panic in a joined function,
// on the caller's goroutine or another worker's, is the call's error, a
// *graph.PanicError naming the task, and that the other function still
// ran.
func TestJoinPanicIsTheTasksError(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			var other atomic.Bool
			task := graph.Add(g, "panicky", func(ctx context.Context) (int, error) {
				_, _, err := dynamic.Join(ctx,
					func(context.Context) (int, error) { other.Store(true); return 1, nil },
					func(context.Context) (int, error) { panic("joined") })
				return 0, err
			})
			err := exec.Run(context.Background(), g, exec.Workers(workers))
			var pe *graph.PanicError
			if !errors.As(err, &pe) || pe.Task != "panicky" || pe.Value != "joined" {
				t.Fatalf("run error = %v, want the joined function's panic in task panicky", err)
			}
			if !errors.As(task.Err(), &pe) || !other.Load() {
				t.Errorf("task error = %v, other ran: %v", task.Err(), other.Load())
			}
		})
	}
}

// TestJoinBadInput checks that nil functions and contexts fail the call
// with an error naming them, and that no function runs then.
func TestJoinBadInput(t *testing.T) {
	ok := func(context.Context) (int, error) { return 1, nil }
	var nilFn func(context.Context) (int, error)
	if _, _, err := dynamic.Join(context.Background(), ok, nilFn); !errors.Is(err, graph.ErrNilFunc) || !contains(err, "function 1") {
		t.Errorf("Join with a nil second function: %v", err)
	}
	if _, err := dynamic.JoinAll(context.Background(), ok, nilFn, ok); !errors.Is(err, graph.ErrNilFunc) || !contains(err, "function 1") {
		t.Errorf("JoinAll with a nil function: %v", err)
	}
	if _, err := dynamic.JoinEach[int, int](context.Background(), []int{1}, nil); !errors.Is(err, graph.ErrNilFunc) {
		t.Errorf("JoinEach with a nil function: %v", err)
	}
	var nilCtx context.Context
	if _, _, err := dynamic.Join(nilCtx, ok, ok); err == nil || !contains(err, "nil context") {
		t.Errorf("Join with a nil context: %v", err)
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// TestJoinOutsideATask checks that a client's Join runs each function on
// a goroutine of its own: here each waits for the other to have started.
func TestJoinOutsideATask(t *testing.T) {
	aIn, bIn := make(chan struct{}), make(chan struct{})
	a, b, err := dynamic.Join(context.Background(),
		func(ctx context.Context) (int, error) { close(aIn); return 1, block(ctx, bIn) },
		func(ctx context.Context) (int, error) { close(bIn); return 2, block(ctx, aIn) })
	if a != 1 || b != 2 || err != nil {
		t.Fatalf("Join = %d, %d, %v", a, b, err)
	}
	_, _, err = dynamic.Join(context.Background(),
		func(context.Context) (int, error) { return 0, nil },
		func(context.Context) (int, error) { panic("outside") })
	var pe *graph.PanicError
	if !errors.As(err, &pe) || pe.Value != "outside" {
		t.Errorf("a panic outside a task: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Bool
	if _, _, err := dynamic.Join(ctx, func(context.Context) (int, error) { ran.Store(true); return 0, nil }, func(context.Context) (int, error) { ran.Store(true); return 0, nil }); !errors.Is(err, context.Canceled) || ran.Load() {
		t.Errorf("Join with a done context: %v, ran: %v", err, ran.Load())
	}
}

// TestJoinWithAContextKeptPastItsTask checks that a Join with the context
// of a task that returned runs nothing and says why.
func TestJoinWithAContextKeptPastItsTask(t *testing.T) {
	g := graph.New()
	kept := make(chan context.Context, 1)
	graph.Add(g, "leaver", func(ctx context.Context) (int, error) { kept <- ctx; return 0, nil })
	if err := exec.Run(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	var ran atomic.Bool
	_, _, err := dynamic.Join(<-kept,
		func(context.Context) (int, error) { ran.Store(true); return 0, nil },
		func(context.Context) (int, error) { ran.Store(true); return 0, nil })
	if !errors.Is(err, graph.ErrTaskReturned) || ran.Load() {
		t.Errorf("Join with a kept context: %v, ran: %v", err, ran.Load())
	}
}

// TestJoinLentWhileTheCallerWaits checks that a function lent to the pool
// runs while the caller's own function is parked in a wait: the caller
// gives its slot back, and a worker comes for the function it lent,
// although nothing is queued. In a bubble: the lent function finishes at
// the run's first instant, the awaited task a second later.
func TestJoinLentWhileTheCallerWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		slow := graph.Add(g, "slow", func(context.Context) (int, error) { time.Sleep(time.Second); return 1, nil })
		start := time.Now()
		var lentAt time.Duration
		graph.Add(g, "caller", func(ctx context.Context) (int, error) {
			a, b, err := dynamic.Join(ctx,
				func(ctx context.Context) (int, error) { return slow.Wait(ctx) },
				func(context.Context) (int, error) { lentAt = time.Since(start); return 2, nil })
			return a + b, err
		})
		if err := exec.Run(t.Context(), g, exec.Workers(2)); err != nil {
			t.Fatal(err)
		}
		if lentAt != 0 {
			t.Errorf("the lent function ran at %v, want 0: it waited for the caller's wait to end", lentAt)
		}
	})
}

// TestJoinLentFunctionWaitsForAnotherTask checks a function that a worker
// took from the caller and that waits itself: its wait gives that
// worker's slot back, and a stall search fails it, not the caller's wait
// for it, when it closes a cycle (it waits for the caller's consumer).
func TestJoinLentFunctionWaitsForAnotherTask(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		started := make(chan struct{})
		var consumer graph.Task[int]
		caller := graph.Add(g, "caller", func(ctx context.Context) (int, error) {
			_, _, err := dynamic.Join(ctx,
				func(context.Context) (int, error) {
					<-started // so that the second one is taken by the other worker
					return 0, nil
				},
				func(ctx context.Context) (int, error) {
					close(started)
					return consumer.Wait(ctx)
				})
			return 0, err
		})
		consumer = graph.Add1(g, "consumer", caller, func(_ context.Context, v int) (int, error) { return v, nil })
		err := exec.Run(t.Context(), g, exec.Workers(2))
		var de *graph.DeadlockError
		if !errors.As(err, &de) || !errors.As(caller.Err(), &de) {
			t.Fatalf("run error = %v, caller's = %v; want the lent function's wait to fail with a deadlock", err, caller.Err())
		}
	})
}

// TestJoinWaitsForLentFunctionsOnCancel checks that a Join whose task's
// context ends returns only once its lent functions have returned, and
// that functions not started by then are not called.
func TestJoinWaitsForLentFunctionsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		started := make(chan struct{})
		var lentReturned atomic.Bool
		var sawLent bool
		graph.Add(g, "caller", func(ctx context.Context) (int, error) {
			_, err := dynamic.JoinAll(ctx,
				func(ctx context.Context) (int, error) {
					<-started
					<-ctx.Done()
					return 0, ctx.Err()
				},
				func(ctx context.Context) (int, error) {
					close(started)
					<-ctx.Done()
					time.Sleep(time.Second) // returns well after the caller saw ctx end
					lentReturned.Store(true)
					return 0, nil
				},
				func(context.Context) (int, error) { return 0, nil })
			sawLent = lentReturned.Load()
			return 0, err
		}, graph.Timeout(time.Minute))
		err := exec.Run(t.Context(), g, exec.Workers(2))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run error = %v, want the task's timeout", err)
		}
		if !sawLent {
			t.Error("Join returned before the function a worker took had")
		}
	})
}

// TestJoinStoppedRun checks that stopping a run while joined functions
// block ends the run, and leaves no goroutine behind (TestMain).
func TestJoinStoppedRun(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			g := graph.New()
			started := make(chan struct{}, 8)
			graph.Add(g, "caller", func(ctx context.Context) (int, error) {
				_, err := dynamic.JoinEach(ctx, []int{1, 2, 3, 4}, func(ctx context.Context, i int) (int, error) {
					started <- struct{}{}
					<-ctx.Done()
					return i, ctx.Err()
				})
				return 0, err
			})
			x, err := exec.Start(context.Background(), g, exec.Workers(workers))
			if err != nil {
				t.Fatal(err)
			}
			<-started
			x.Stop()
			awaitClosed(t, x.Done(), "the stopped run")
			if err := x.Wait(); !errors.Is(err, context.Canceled) {
				t.Errorf("run error = %v, want context.Canceled", err)
			}
		})
	}
}
