package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

type pair struct {
	L int
	R string
}

// TestTaskAddsTasksAndSubgraphs: a running task adds typed tasks at several
// priorities, a chain and a diamond to the running graph; the new tasks read
// tasks that finished before they were added and a task that had not
// finished yet, and every result is right.
func TestTaskAddsTasksAndSubgraphs(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			pre := graph.Add(g, "pre", func(context.Context) (int, error) { return 3, nil })
			release := make(chan struct{})
			// slow is not finished while root adds tasks that read it: it
			// waits for root to release it.
			slow := graph.Add(g, "slow", func(ctx context.Context) (int, error) {
				return 100, block(ctx, release)
			}, graph.Priority(-1))

			type out struct {
				str     graph.Task[string]
				chain   graph.Task[int]
				diamond graph.Task[pair]
				all     graph.Task[int]
			}
			var o out
			var slowAtAdd, preAtAdd graph.State
			root := graph.Add1(g, "root", pre, func(ctx context.Context, p int) (string, error) {
				s := dynamic.Scope(ctx)
				preAtAdd, slowAtAdd = pre.State(), slow.State()
				// typed handles, priorities
				o.str = graph.Add1(s, "fmt", pre, func(_ context.Context, x int) (string, error) {
					return fmt.Sprintf("pre=%d", x), nil
				}, graph.Priority(5))
				// a chain on a finished input
				c1 := graph.Add1(s, "c1", pre, func(_ context.Context, x int) (int, error) { return x + 1, nil })
				c2 := graph.Add1(s, "c2", c1, func(_ context.Context, x int) (int, error) { return x * 10, nil }, graph.Priority(2))
				o.chain = graph.Add1(s, "c3", c2, func(_ context.Context, x int) (int, error) { return x - 1, nil }, graph.Priority(-3))
				// a diamond on an unfinished input
				top := graph.Add1(s, "top", slow, func(_ context.Context, x int) (int, error) { return x + 1, nil })
				l := graph.Add1(s, "l", top, func(_ context.Context, x int) (int, error) { return x + 1, nil }, graph.Priority(1))
				r := graph.Add1(s, "r", top, func(_ context.Context, x int) (string, error) { return fmt.Sprint(x * 2), nil })
				o.diamond = graph.Add2(s, "bottom", l, r, func(_ context.Context, a int, b string) (pair, error) {
					return pair{a, b}, nil
				})
				// a fan-in over old and new tasks
				o.all = graph.AddN(s, "sum", []graph.Task[int]{pre, slow, c1, c2, o.chain, top, l}, func(_ context.Context, xs []int) (int, error) {
					sum := 0
					for _, x := range xs {
						sum += x
					}
					return sum, nil
				})
				close(release)
				v, err := o.diamond.Wait(ctx)
				return fmt.Sprintf("%d|%d|%+v", p, v.L, v), err
			})
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if preAtAdd != graph.Done {
				t.Errorf("pre was %v when root ran; want done", preAtAdd)
			}
			if slowAtAdd.Terminal() {
				t.Errorf("slow was %v when root added its readers; the test wants it unfinished", slowAtAdd)
			}
			check(t, o.str, "pre=3")
			check(t, o.chain, 39)
			check(t, o.diamond, pair{102, "202"})
			check(t, o.all, 3+100+4+40+39+101+102)
			check(t, root, "3|102|{L:102 R:202}")
			if g.Len() != 3+9 {
				t.Errorf("g.Len() = %d; want 12 (3 built before the run, 9 added by root)", g.Len())
			}
		})
	}
}

// check fails the test unless task succeeded with want.
func check[T comparable](t *testing.T, task graph.Task[T], want T) {
	t.Helper()
	v, err := task.Result()
	if err != nil || v != want {
		t.Errorf("%s: Result() = %v, %v; want %v, nil (state %v)", task.Name(), v, err, want, task.State())
	}
}

// TestTaskAddsReadersOfTasksOutsideTheRun: in a run for chosen targets, a
// task adds a task that reads tasks the run had not been asked for (a chain
// of them); they join the run and run once, while a task that nothing asked
// for stays out of it.
func TestTaskAddsReadersOfTasksOutsideTheRun(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var runsA, runsB, runsUnused atomic.Int32
			idleA := graph.Add(g, "idleA", func(context.Context) (int, error) { runsA.Add(1); return 5, nil })
			idleB := graph.Add1(g, "idleB", idleA, func(_ context.Context, x int) (int, error) { runsB.Add(1); return 3 * x, nil })
			unused := graph.Add(g, "unused", func(context.Context) (int, error) { runsUnused.Add(1); return 0, nil })
			kept := graph.Add(g, "kept", func(context.Context) (int, error) { return 7, nil }, graph.Keep())
			var idleAtAdd graph.State
			root := graph.Add1(g, "root", kept, func(ctx context.Context, k int) (int, error) {
				idleAtAdd = idleB.State()
				child := graph.Add2(dynamic.Scope(ctx), "child", idleB, kept, func(_ context.Context, b, k int) (int, error) {
					return b + k, nil
				})
				v, err := child.Wait(ctx)
				return v * k, err
			})
			if err := run(t, g, exec.Workers(workers), exec.Targets(root)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if idleAtAdd != graph.Idle {
				t.Errorf("idleB was %v when root read it; want idle (not in the run)", idleAtAdd)
			}
			check(t, root, (15+7)*7)
			if a, b := runsA.Load(), runsB.Load(); a != 1 || b != 1 {
				t.Errorf("idleA ran %d times, idleB %d times; want once each", a, b)
			}
			if n := runsUnused.Load(); n != 0 || unused.State() != graph.Idle {
				t.Errorf("unused ran %d times and is %v; want it left out of the run (0, idle)", n, unused.State())
			}
		})
	}
}

// TestTaskAddsReaderOfReleasedInput: in a run for chosen targets, a task
// adds a child reading the same input the task itself read. The run
// released that input's result when its last known reader (the task)
// started; the child, added later, needs it all the same and must get it
// (kept or computed again), not be skipped as if the input had failed.
func TestTaskAddsReaderOfReleasedInput(t *testing.T) {
	g := graph.New()
	var runs atomic.Int32
	pre := graph.Add(g, "pre", func(context.Context) (int, error) { runs.Add(1); return 20, nil })
	var stateAtAdd graph.State
	root := graph.Add1(g, "root", pre, func(ctx context.Context, x int) (int, error) {
		stateAtAdd = pre.State()
		child := graph.Add1(dynamic.Scope(ctx), "child", pre, func(_ context.Context, y int) (int, error) { return y + 1, nil })
		v, err := child.Wait(ctx)
		return x + v, err
	})
	err := run(t, g, exec.Workers(1), exec.Targets(root))
	t.Logf("pre was %v when root added child; pre ran %d time(s)", stateAtAdd, runs.Load())
	if err != nil {
		var se *graph.SkipError
		if errors.As(err, &se) {
			t.Errorf("child skipped: %v (input %q did not fail: its result was released)", se, se.Failed)
		}
		t.Fatalf("Run: %v", err)
	}
	check(t, root, 41)
}

// TestCreatorRecordsGrowth: each task records the task that added it, at
// every depth; tasks built before the run, added by a client while it runs
// or emitted by a flow record theirs too (nil for the first two, the flow
// for the last).
func TestCreatorRecordsGrowth(t *testing.T) {
	g := graph.New()
	var child, grandchild, sibling graph.Task[int]
	var emitted graph.Task[int]
	root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		child = graph.Add(s, "child", func(ctx context.Context) (int, error) {
			grandchild = graph.Add(dynamic.Scope(ctx), "grandchild", func(context.Context) (int, error) { return 1, nil })
			return grandchild.Wait(ctx)
		})
		sibling = graph.Add1(s, "sibling", child, func(_ context.Context, x int) (int, error) { return x, nil })
		return sibling.Wait(ctx)
	})
	fl := graph.Flow(g, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
		emitted = graph.Add(b, "emitted", func(context.Context) (int, error) { return 2, nil })
		return emitted, nil
	})
	e := start(t, g, exec.Workers(2))
	client := graph.Add(g, "client", func(context.Context) (int, error) { return 3, nil })
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, c := range []struct {
		task graph.Ref
		want graph.Ref
	}{
		{root.Ref(), graph.Ref{}}, {fl.Ref(), graph.Ref{}}, {client.Ref(), graph.Ref{}},
		{child.Ref(), root.Ref()}, {sibling.Ref(), root.Ref()}, {grandchild.Ref(), child.Ref()}, {emitted.Ref(), fl.Ref()},
	} {
		if got := c.task.Creator(); got != c.want {
			t.Errorf("%s.Creator() = %v; want %v", c.task.Name(), got, c.want)
		}
	}
	// The evolved graph holds them all.
	if g.Len() != 7 {
		t.Errorf("g.Len() = %d; want 7", g.Len())
	}
	check(t, root, 1)
}

// TestChildOfFailedInputIsSkipped: a task added during a run that reads a
// task that already failed is skipped at once, with a *graph.SkipError
// naming the failed task; waiting for it does not hang.
func TestChildOfFailedInputIsSkipped(t *testing.T) {
	g := graph.New()
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errBoom })
	var ran atomic.Bool
	var childErr error
	graph.Add1(g, "after", bad, nop1) // keeps a reader of bad in the run
	root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
		if _, err := bad.Wait(ctx); err == nil {
			return 0, errors.New("bad succeeded")
		}
		child := graph.Add1(dynamic.Scope(ctx), "child", bad, func(_ context.Context, x int) (int, error) { ran.Store(true); return x, nil })
		_, childErr = child.Wait(ctx)
		return 1, nil
	})
	run(t, g, exec.Workers(2))
	check(t, root, 1)
	var se *graph.SkipError
	if !errors.As(childErr, &se) || se.Task != "child" || se.Failed != "bad" || !errors.Is(childErr, errBoom) {
		t.Errorf("child's error = %v; want a SkipError of child naming bad, reaching errBoom", childErr)
	}
	if ran.Load() {
		t.Errorf("child ran although its input failed")
	}
}

func nop1(_ context.Context, x int) (int, error) { return x, nil }

// TestScopeOutsideTask: outside a running task, Scope gives a Builder whose
// tasks fail to build with graph.ErrNilBuilder, without panicking.
func TestScopeOutsideTask(t *testing.T) {
	task := graph.Add(dynamic.Scope(context.Background()), "orphan", nop)
	if !errors.Is(task.Err(), graph.ErrNilBuilder) || task.State() != graph.Failed {
		t.Errorf("task built on Scope(Background) = %v, %v; want failed with ErrNilBuilder", task.State(), task.Err())
	}
	if _, err := task.Wait(context.Background()); !errors.Is(err, graph.ErrNilBuilder) {
		t.Errorf("Wait = %v; want ErrNilBuilder", err)
	}
}

// TestAddAfterRunEnded: a task a client adds once the run has ended is in
// no run: waiting for it returns graph.ErrNotScheduled at once; a new run
// runs it.
func TestAddAfterRunEnded(t *testing.T) {
	g := graph.New()
	first := graph.Add(g, "first", func(context.Context) (int, error) { return 1, nil })
	e := start(t, g, exec.Workers(1))
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
	late := graph.Add1(g, "late", first, nop1)
	if s := late.State(); s != graph.Idle {
		t.Errorf("late is %v; want idle", s)
	}
	if _, err := late.Wait(context.Background()); !errors.Is(err, graph.ErrNotScheduled) {
		t.Errorf("Wait on late = %v; want ErrNotScheduled", err)
	}
	if err := run(t, g, exec.Workers(1)); err != nil {
		t.Fatalf("second run: %v", err)
	}
	check(t, late, 1)
}

// TestKeyedTaskOutsideTheRunJoinsIt: in a run for chosen targets, a running
// task adds a keyed task whose key belongs to a task built before the run
// and left out of it. It gets that task, and the task joins the run (as a
// task read by a new task would): waiting for it yields its result.
func TestKeyedTaskOutsideTheRunJoinsIt(t *testing.T) {
	for _, opt := range []string{"Key", "Pure"} {
		t.Run(opt, func(t *testing.T) {
			g := graph.New()
			var runs atomic.Int32
			o := graph.Key("answer")
			if opt == "Pure" {
				o = graph.Pure()
			}
			fn := func(context.Context) (int, error) { runs.Add(1); return 42, nil }
			existing := graph.Add(g, "answer", fn, o)
			root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
				h := graph.Add(dynamic.Scope(ctx), "answer", fn, o)
				if h != existing {
					return 0, errors.New("the key gave another task")
				}
				return h.Wait(ctx)
			})
			if err := run(t, g, exec.Workers(1), exec.Targets(root)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			check(t, root, 42)
			if n := runs.Load(); n != 1 {
				t.Errorf("the keyed task ran %d times; want once", n)
			}
		})
	}
}
