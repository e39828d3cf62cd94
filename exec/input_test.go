package exec_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestStartRejectsBadArguments checks that each bad argument to Run gives
// a clear error, without a panic, a hang or any task running.
func TestStartRejectsBadArguments(t *testing.T) {
	var ran atomic.Int32
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	other := graph.New()
	foreign := graph.Add(other, "foreign", func(context.Context) (int, error) { return 1, nil })

	for _, tc := range []struct {
		name string
		g    *graph.Graph
		opts []exec.Option
		want string // a part of the error text
	}{
		{"nil graph", nil, nil, "nil graph"},
		{"Workers(0)", g, []exec.Option{exec.Workers(0)}, "Workers(0)"},
		{"Workers(-1)", g, []exec.Option{exec.Workers(-1)}, "Workers(-1)"},
		{"nil target", g, []exec.Option{exec.Targets(a, graph.Task[int]{})}, "target 1"},
		{"target of another graph", g, []exec.Option{exec.Targets(foreign)}, `"foreign"`},
		{"nil observer", g, []exec.Option{exec.Observe(nil)}, "observer 0 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runGuarded(t, t.Context(), tc.g, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
			if tc.name == "target of another graph" && !errors.Is(err, graph.ErrOtherGraph) {
				t.Errorf("error %v does not wrap graph.ErrOtherGraph", err)
			}
			e, err := exec.Start(t.Context(), tc.g, tc.opts...)
			if err == nil || e != nil {
				t.Fatalf("Start = %v, %v; want nil and an error", e, err)
			}
		})
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d tasks ran although every run was refused", n)
	}
}

// TestRunRefusesGraphWithBuildErrors checks that a mistake made while
// building is reported by Run before anything runs.
func TestRunRefusesGraphWithBuildErrors(t *testing.T) {
	var ran atomic.Int32
	g := graph.New()
	graph.Add(g, "fine", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	graph.Add[int](g, "nofn", nil)
	err := runGuarded(t, t.Context(), g)
	if !errors.Is(err, graph.ErrNilFunc) || !strings.Contains(err.Error(), "nofn") {
		t.Fatalf("Run = %v, want an error naming nofn and wrapping ErrNilFunc", err)
	}
	if ran.Load() != 0 {
		t.Fatal("a task ran in a graph with build errors")
	}
}

// TestRunRefusesCycle checks that a cycle closed with Order is reported as
// a *graph.CycleError naming it, and nothing runs.
func TestRunRefusesCycle(t *testing.T) {
	var ran atomic.Int32
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { ran.Add(1); return x, nil })
	if err := graph.Order(b, a); err != nil {
		t.Fatal(err)
	}
	err := runGuarded(t, t.Context(), g)
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v (%T), want *graph.CycleError", err, err)
	}
	if s := err.Error(); s != "cycle: a -> b -> a" && s != "cycle: b -> a -> b" {
		t.Fatalf("error %q does not name the cycle a -> b -> a", s)
	}
	if ran.Load() != 0 {
		t.Fatal("a task of a cyclic graph ran")
	}
}

// TestTargetsWithNoTaskRunsNothing: Targets() names no task, so the run
// has nothing to do (or refuses); it must not run the whole graph.
func TestTargetsWithNoTaskRunsNothing(t *testing.T) {
	var ran atomic.Int32
	g := graph.New()
	graph.Add(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	err := runGuarded(t, t.Context(), g, exec.Targets[graph.Ref]())
	if n := ran.Load(); n != 0 {
		t.Fatalf("Targets() with no task ran %d tasks (Run = %v); want none", n, err)
	}
}

// TestSecondStartWhileRunningFails checks that a graph runs once at a time:
// Start and Run on a running graph return an error wrapping ErrRunning, and
// the first run is unaffected.
func TestSecondStartWhileRunningFails(t *testing.T) {
	release := make(chan struct{})
	g := graph.New()
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) { return 1, blockUntil(ctx, release) })
	e, err := exec.Start(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := exec.Start(t.Context(), g)
	if !errors.Is(err, graph.ErrRunning) || e2 != nil {
		t.Errorf("second Start = %v, %v; want an error wrapping ErrRunning", e2, err)
	}
	if err := runGuarded(t, t.Context(), g); !errors.Is(err, graph.ErrRunning) {
		t.Errorf("Run on a running graph = %v; want an error wrapping ErrRunning", err)
	}
	close(release)
	e.Close()
	if err := waitGuarded(t, e); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Result(); v != 1 || err != nil {
		t.Fatalf("a: %v, %v", v, err)
	}
	// The graph is free again.
	if err := runGuarded(t, t.Context(), g); err != nil {
		t.Fatalf("Run after the first run ended: %v", err)
	}
}

// TestRerunRunsOnlyWhatDidNotSucceed runs a graph twice: the second run
// runs again the failed task and the one skipped because of it, and keeps
// the results of the tasks that succeeded without running them.
func TestRerunRunsOnlyWhatDidNotSucceed(t *testing.T) {
	var okRuns, flakyRuns, childRuns, afterOKRuns atomic.Int32
	g := graph.New()
	ok := graph.Add(g, "ok", func(context.Context) (int, error) { okRuns.Add(1); return 1, nil })
	flaky := graph.Add(g, "flaky", func(context.Context) (int, error) {
		if flakyRuns.Add(1) == 1 {
			return 0, errBoom
		}
		return 10, nil
	})
	child := graph.Add2(g, "child", ok, flaky, func(_ context.Context, x, y int) (int, error) { childRuns.Add(1); return x + y, nil })
	afterOK := graph.Add1(g, "afterOK", ok, func(_ context.Context, x int) (int, error) { afterOKRuns.Add(1); return x + 1, nil })

	if err := runGuarded(t, t.Context(), g, exec.Workers(2)); !errors.Is(err, errBoom) {
		t.Fatalf("first Run = %v", err)
	}
	if child.State() != graph.Skipped {
		t.Fatalf("child is %v after the first run, want skipped", child.State())
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatalf("second Run = %v", err)
	}
	for _, c := range []struct {
		name string
		got  int32
		want int32
	}{{"ok", okRuns.Load(), 1}, {"flaky", flakyRuns.Load(), 2}, {"child", childRuns.Load(), 1}, {"afterOK", afterOKRuns.Load(), 1}} {
		if c.got != c.want {
			t.Errorf("%s ran %d times over two runs, want %d", c.name, c.got, c.want)
		}
	}
	if v, err := child.Result(); v != 11 || err != nil {
		t.Errorf("child: %v, %v; want 11", v, err)
	}
	if v, err := afterOK.Result(); v != 2 || err != nil {
		t.Errorf("afterOK kept %v, %v; want 2", v, err)
	}
}

// TestRerunRecomputesReleasedAndCancelled: after a targets run released
// intermediate results, and after a cancelled run, a full run recomputes
// exactly the tasks without a result.
func TestRerunRecomputesReleasedAndCancelled(t *testing.T) {
	var runs [3]atomic.Int32
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { runs[0].Add(1); return 1, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { runs[1].Add(1); return x + 1, nil })
	c := graph.Add1(g, "c", b, func(_ context.Context, x int) (int, error) { runs[2].Add(1); return x + 1, nil })
	if err := runGuarded(t, t.Context(), g, exec.Targets(c)); err != nil {
		t.Fatal(err)
	}
	if a.State() != graph.Released || b.State() != graph.Released {
		t.Fatalf("after the targets run: a %v, b %v; want both released", a.State(), b.State())
	}
	if err := runGuarded(t, t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if got := [3]int32{runs[0].Load(), runs[1].Load(), runs[2].Load()}; got != [3]int32{2, 2, 1} {
		t.Fatalf("runs of a, b, c over two runs: %v, want [2 2 1]", got)
	}
	for _, h := range []graph.Task[int]{a, b, c} {
		if _, err := h.Result(); err != nil {
			t.Fatalf("%s: %v after the full run", h.Name(), err)
		}
	}

	// A run cancelled while d runs leaves d and e without results; the next
	// run runs exactly those two.
	var dRuns, eRuns atomic.Int32
	ctx, cancel := context.WithCancel(t.Context())
	d := graph.Add1(g, "d", c, func(ctx context.Context, x int) (int, error) {
		if dRuns.Add(1) == 1 {
			cancel()
			return 0, blockUntil(ctx, nil)
		}
		return x + 1, nil
	})
	e := graph.Add1(g, "e", d, func(_ context.Context, x int) (int, error) { eRuns.Add(1); return x + 1, nil })
	if err := runGuarded(t, ctx, g); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run = %v", err)
	}
	if err := runGuarded(t, t.Context(), g); err != nil {
		t.Fatal(err)
	}
	if dRuns.Load() != 2 || eRuns.Load() != 1 || runs[2].Load() != 1 {
		t.Fatalf("d ran %d, e %d, c %d times; want 2, 1, 1", dRuns.Load(), eRuns.Load(), runs[2].Load())
	}
	if v, err := e.Result(); v != 5 || err != nil {
		t.Fatalf("e: %v, %v; want 5", v, err)
	}
}

// TestWaitOnUnscheduledTask checks that waiting for a task no run has been
// asked for returns ErrNotScheduled at once instead of hanging.
func TestWaitOnUnscheduledTask(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	done := make(chan error, 1)
	go func() { _, err := a.Wait(t.Context()); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-timeAfterLiveness():
		t.Fatal("Wait on a task in no run hangs")
	}
	if !errors.Is(err, graph.ErrNotScheduled) {
		t.Fatalf("Wait = %v, want ErrNotScheduled", err)
	}
	if err := dynamic.WaitAll(t.Context(), a); !errors.Is(err, graph.ErrNotScheduled) {
		t.Fatalf("Await = %v, want ErrNotScheduled", err)
	}
	if _, err := a.Result(); !errors.Is(err, graph.ErrNotDone) {
		t.Fatalf("Result before any run = %v, want ErrNotDone", err)
	}
}

// TestWaitFromOutsideRun waits for a task of a running graph from another
// goroutine and gets its result.
func TestWaitFromOutsideRun(t *testing.T) {
	release := make(chan struct{})
	g := graph.New()
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) { return 7, blockUntil(ctx, release) })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x * 6, nil })
	e, err := exec.Start(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close(); _ = e.Wait() }()
	got := make(chan int, 1)
	go func() { v, _ := b.Wait(t.Context()); got <- v }()
	close(release)
	select {
	case v := <-got:
		if v != 42 {
			t.Fatalf("Wait = %d, want 42", v)
		}
	case <-timeAfterLiveness():
		t.Fatal("Wait never returned")
	}
}

// TestOrderMakesTaskWait checks that a task ordered after another starts
// only after it, although it reads nothing from it.
func TestOrderMakesTaskWait(t *testing.T) {
	var firstDone atomic.Bool
	var sawFirst atomic.Bool
	g := graph.New()
	first := graph.Add(g, "first", func(context.Context) (int, error) { firstDone.Store(true); return 1, nil })
	second := graph.Add(g, "second", func(context.Context) (int, error) { sawFirst.Store(firstDone.Load()); return 2, nil }, graph.Priority(10))
	if err := graph.Order(first, second); err != nil {
		t.Fatal(err)
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if !sawFirst.Load() {
		t.Fatal("the ordered task started before the task it was ordered after")
	}
}

// TestOrderAfterALaterTask: ordering edges, unlike inputs, may point
// from a task to one created before it. Here c, b, a are created in that
// order and a runs after b, which runs after c. Each must wait for the one
// before it and then run, never be skipped: in a full run, in a run for a
// reader of a, and when a reader of a joins an open run for targets (a, b
// and c then join it too).
func TestOrderAfterALaterTask(t *testing.T) {
	for _, mode := range []string{"full", "targets", "joined"} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(t *testing.T) {
				g := graph.New()
				var log []string // each task appends before the next may start
				step := func(name string, v int) func(context.Context) (int, error) {
					return func(context.Context) (int, error) { log = append(log, name); return v, nil }
				}
				// Priorities that would run them newest first if the order
				// were ignored.
				a := graph.Add(g, "a", step("a", 1), graph.Priority(2))
				b := graph.Add(g, "b", step("b", 2), graph.Priority(1))
				c := graph.Add(g, "c", step("c", 3))
				if err := errors.Join(graph.Order(b, a), graph.Order(c, b)); err != nil {
					t.Fatal(err)
				}
				plus1 := func(_ context.Context, x int) (int, error) { return x + 1, nil }
				var reader graph.Task[int]
				switch mode {
				case "full":
					reader = graph.Add1(g, "reader", a, plus1)
					if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
						t.Fatal(err)
					}
				case "targets":
					reader = graph.Add1(g, "reader", a, plus1)
					if err := runGuarded(t, t.Context(), g, exec.Targets(reader), exec.Workers(workers)); err != nil {
						t.Fatal(err)
					}
				case "joined":
					anchor := graph.Add(g, "anchor", func(context.Context) (int, error) { return 0, nil })
					e, err := exec.Start(t.Context(), g, exec.Targets(anchor), exec.Workers(workers))
					if err != nil {
						t.Fatal(err)
					}
					reader = graph.Add1(g, "reader", a, plus1)
					_, _ = reader.Wait(t.Context())
					e.Close()
					if err := waitGuarded(t, e); err != nil {
						t.Fatal(err)
					}
				}
				if v, err := reader.Result(); v != 2 || err != nil {
					t.Errorf("reader: %v, %v; want 2 (a: %v, %v)", v, err, a.State(), a.Err())
				}
				if want := []string{"c", "b", "a"}; !slices.Equal(log, want) {
					t.Errorf("ran %q; want %q", log, want)
				}
			})
		}
	}
}

// TestExecutionDoneClosesWhenRunEnds checks that an Execution's Done
// channel is closed once the run is closed and every task finished, as its
// documentation says, also when nobody has called Wait yet. The run has one
// trivial task, so the bound below is generous by orders of magnitude.
func TestExecutionDoneClosesWhenRunEnds(t *testing.T) {
	g := graph.New()
	graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	e, err := exec.Start(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	defer func() { _ = e.Wait() }() // let the run go, whatever happens below
	select {
	case <-e.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done is not closed although the run was closed and its only task finished (Wait not called)")
	}
}

// TestWaitFromOutsideWhileTasksRun follows plain tasks from a goroutine
// outside the run while they start and run, the way the async/await style
// uses handles: it takes each task's Done channel (last task first, so most
// are taken before their task starts) and then Wait's result. Under -race
// this must report no data race.
func TestWaitFromOutsideWhileTasksRun(t *testing.T) {
	g := graph.New()
	var ts []graph.Task[int]
	for k := range 1000 {
		ts = append(ts, graph.Add(g, fmt.Sprint("t", k), func(context.Context) (int, error) { return k, nil }))
	}
	e, err := exec.Start(t.Context(), g, exec.Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	dones := make([]<-chan struct{}, len(ts))
	for k := len(ts) - 1; k >= 0; k-- {
		dones[k] = ts[k].Done()
	}
	for k, h := range ts {
		awaitClosed(t, dones[k], h.Name())
		if v, err := h.Wait(t.Context()); v != k || err != nil {
			t.Fatalf("%s: Wait = %v, %v", h.Name(), v, err)
		}
	}
	e.Close()
	if err := waitGuarded(t, e); err != nil {
		t.Fatal(err)
	}
}

// TestRunWithSelfOrderDoesNotHang orders a task after itself: the run must
// refuse the graph (or Order refuse the edge), not wait forever for a task
// that waits for itself. The deadline only bounds the hang.
func TestRunWithSelfOrderDoesNotHang(t *testing.T) {
	var ran atomic.Int32
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	if err := graph.Order(a, a); err != nil {
		return // refused up front: fine
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err := runGuarded(t, ctx, g)
	var ce *graph.CycleError
	if !errors.As(err, &ce) {
		t.Fatalf("Run of a task ordered after itself = %v (state %v); want a *graph.CycleError at once", err, a.State())
	}
	if ran.Load() != 0 {
		t.Fatal("the task ran")
	}
}
