package exec_test

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

// Tasks added while no run is active are prepared for the next run as
// they are added (core's Graph.ahead). These tests cover what could make
// that preparation wrong: a run that does not want them, an input whose
// result goes away before the run, an input that failed, and the states
// they show meanwhile.

// TestTasksAddedBeforeARunAreIdle: a task with no input and a task
// waiting for it read as Idle before any run, cannot be cancelled or
// waited for, and run once the graph runs.
func TestTasksAddedBeforeARunAreIdle(t *testing.T) {
	g := graph.New()
	root := graph.Add(g, "root", func(context.Context) (int, error) { return 1, nil })
	next := graph.Add1(g, "next", root, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	for _, h := range []graph.Task[int]{root, next} {
		if s := h.State(); s != graph.Idle {
			t.Errorf("%s before the run: %v, want idle", h.Name(), s)
		}
		if h.Cancel() {
			t.Errorf("%s.Cancel before the run reported true", h.Name())
		}
		if _, err := h.Wait(t.Context()); !errors.Is(err, graph.ErrNotScheduled) {
			t.Errorf("%s.Wait before the run: %v, want ErrNotScheduled", h.Name(), err)
		}
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if v, err := next.Result(); v != 2 || err != nil {
		t.Fatalf("next: %v, %v; want 2", v, err)
	}
}

// TestRunForTargetsLeavesOtherNewTasksOut: a run for targets runs only
// what they need among tasks added since the last run; the others stay
// Idle (their inputs' completions do not start them) and run in the next
// run of the whole graph, reading the results of the first.
func TestRunForTargetsLeavesOtherNewTasksOut(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var runs [4]atomic.Int32
			g := graph.New()
			a := graph.Add(g, "a", func(context.Context) (int, error) { runs[0].Add(1); return 1, nil })
			b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { runs[1].Add(1); return x + 1, nil }, graph.Keep())
			c := graph.Add1(g, "c", b, func(_ context.Context, x int) (int, error) { runs[2].Add(1); return x + 1, nil })
			d := graph.Add(g, "d", func(context.Context) (int, error) { runs[3].Add(1); return 10, nil })
			if err := runGuarded(t, t.Context(), g, exec.Targets(b), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if got := [4]int32{runs[0].Load(), runs[1].Load(), runs[2].Load(), runs[3].Load()}; got != [4]int32{1, 1, 0, 0} {
				t.Fatalf("runs of a, b, c, d after the run for b: %v, want [1 1 0 0]", got)
			}
			for _, h := range []graph.Task[int]{c, d} {
				if s := h.State(); s != graph.Idle {
					t.Errorf("%s, left out of the run for b: %v, want idle", h.Name(), s)
				}
				if _, err := h.Wait(t.Context()); !errors.Is(err, graph.ErrNotScheduled) {
					t.Errorf("%s.Wait after the run for b: %v, want ErrNotScheduled", h.Name(), err)
				}
			}
			if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if got := [4]int32{runs[0].Load(), runs[1].Load(), runs[2].Load(), runs[3].Load()}; got != [4]int32{2, 1, 1, 1} {
				// a was released by the run for b, so it runs again; b was kept.
				t.Fatalf("runs of a, b, c, d after the full run: %v, want [2 1 1 1]", got)
			}
			if v, err := c.Result(); v != 3 || err != nil {
				t.Fatalf("c: %v, %v; want 3", v, err)
			}
		})
	}
}

// TestTaskAddedBeforeItsInputIsReleasedReadsItComputedAgain: a task is
// added reading a kept result, which its holder then releases before the
// next run. The new task must wait for the input's new computation, not
// start as if the input still had its result (and read a zero).
func TestTaskAddedBeforeItsInputIsReleasedReadsItComputedAgain(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var kRuns atomic.Int32
			g := graph.New()
			kept := graph.Add(g, "kept", func(context.Context) (int, error) { kRuns.Add(1); return 42, nil }, graph.Keep())
			if err := runGuarded(t, t.Context(), g, exec.Targets(kept), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			// Ahead of kept in the queue, if it were ready.
			reader := graph.Add1(g, "reader", kept, func(_ context.Context, x int) (int, error) { return x + 1, nil }, graph.Priority(1))
			kept.Release()
			if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := reader.Result(); v != 43 || err != nil {
				t.Errorf("reader: %v, %v; want 43", v, err)
			}
			if k := kRuns.Load(); k != 2 {
				t.Errorf("kept ran %d times, want 2 (once more after its release)", k)
			}
		})
	}
}

// TestTaskAddedAfterItsInputFailedWaitsForItsRerun: a task added after a
// run in which its input failed waits for the input's next attempt, in
// the next run, and reads its result.
func TestTaskAddedAfterItsInputFailedWaitsForItsRerun(t *testing.T) {
	var flakyRuns atomic.Int32
	g := graph.New()
	flaky := graph.Add(g, "flaky", func(context.Context) (int, error) {
		if flakyRuns.Add(1) == 1 {
			return 0, errBoom
		}
		return 10, nil
	})
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); !errors.Is(err, errBoom) {
		t.Fatalf("first run = %v, want errBoom", err)
	}
	reader := graph.Add1(g, "reader", flaky, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	if s := reader.State(); s != graph.Idle {
		t.Fatalf("reader before the second run: %v, want idle", s)
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatalf("second run = %v", err)
	}
	if v, err := reader.Result(); v != 11 || err != nil {
		t.Fatalf("reader: %v, %v; want 11", v, err)
	}
}

// TestNewTasksStartInPriorityOrderAfterOlderOnes: on one worker, a rerun
// starts the tasks it runs again and the tasks added since in priority
// order, then creation order, whichever group they are in.
func TestNewTasksStartInPriorityOrderAfterOlderOnes(t *testing.T) {
	var order []string
	record := func(name string) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { order = append(order, name); return 0, nil }
	}
	var fails atomic.Bool
	fails.Store(true)
	g := graph.New()
	graph.Add(g, "old", func(context.Context) (int, error) {
		order = append(order, "old")
		if fails.Swap(false) {
			return 0, errBoom
		}
		return 0, nil
	})
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); !errors.Is(err, errBoom) {
		t.Fatalf("first run = %v, want errBoom", err)
	}
	order = nil
	graph.Add(g, "new", record("new"))
	graph.Add(g, "urgent", record("urgent"), graph.Priority(5))
	graph.Add(g, "late", record("late"), graph.Priority(-1))
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(order), "[urgent old new late]"; got != want {
		t.Fatalf("start order %s, want %s", got, want)
	}
}

// TestTaskLeftOutByARunIsNotClaimedWhileJoiningTheNext: a task left out
// of a run for targets is prepared for a run that did not take it. When a
// later run pulls it in (a new task reads it) while another task keeps
// awaiting it, the awaiting task may claim and run it only once it is
// ready in that run, and it runs once: its join must never show it Ready
// before it has been prepared for the run (found by a random run, seed
// 21500597 of TestRandomGrowingRuns with waits, under -race).
func TestTaskLeftOutByARunIsNotClaimedWhileJoiningTheNext(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 30
	}
	for round := range rounds {
		var xRuns atomic.Int32
		g := graph.New()
		x := graph.Add(g, "x", func(context.Context) (int, error) { xRuns.Add(1); return 1, nil })
		other := graph.Add(g, "other", func(context.Context) (int, error) { return 0, nil })
		if err := runGuarded(t, t.Context(), g, exec.Targets(other), exec.Workers(2)); err != nil {
			t.Fatal(err)
		}
		inRun := make(chan struct{})
		puller := graph.Add(g, "puller", func(ctx context.Context) (int, error) {
			<-inRun
			graph.Add1(dynamic.Scope(ctx), "reader", x, func(_ context.Context, v int) (int, error) { return v, nil })
			return 0, nil
		})
		awaiter := graph.Add(g, "awaiter", func(ctx context.Context) (int, error) {
			close(inRun)
			for {
				err := dynamic.WaitAll(ctx, x)
				if !errors.Is(err, graph.ErrNotScheduled) {
					return 0, err
				}
			}
		})
		if err := runGuarded(t, t.Context(), g, exec.Targets(puller, awaiter), exec.Workers(2)); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if k := xRuns.Load(); k != 1 {
			t.Fatalf("round %d: x ran %d times in one run, want once", round, k)
		}
	}
}

// TestKeptTaskAddedBeforeAWholeRunStaysKept: a task built with Keep and
// added before a run of the whole graph keeps its result through a later
// run for targets that reads it (Keep's promise), and is not computed
// again (found by TestRandomReruns, seed 274: the task was prepared for
// the run as it was added, and that preparation forgot Keep's count).
func TestKeptTaskAddedBeforeAWholeRunStaysKept(t *testing.T) {
	var runs atomic.Int32
	g := graph.New()
	kept := graph.Add(g, "kept", func(context.Context) (int, error) { runs.Add(1); return 42, nil }, graph.Keep())
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	reader := graph.Add1(g, "reader", kept, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	if err := runGuarded(t, t.Context(), g, exec.Targets(reader), exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if v, err := kept.Result(); v != 42 || err != nil {
		t.Fatalf("kept after a run for targets that read it: %v, %v (state %v); want 42", v, err, kept.State())
	}
	if k := runs.Load(); k != 1 {
		t.Fatalf("kept ran %d times, want once", k)
	}
}
