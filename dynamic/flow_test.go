package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestFlowJoinsEverythingItEmitted: a flow emits a diamond and a side task
// and returns without waiting; the flow's consumer starts only after every
// emitted task finished, the side task included (which finishes after the
// returned task), and it reads the returned task's result.
func TestFlowJoinsEverythingItEmitted(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var events log
			side := make(chan struct{})
			var result graph.Task[int]
			emitted := []string{"a", "b", "c", "d", "side"}
			fl := graph.Flow(g, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
				a := graph.Add(b, "a", func(context.Context) (int, error) { return 1, nil })
				l := graph.Add1(b, "b", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })
				r := graph.Add1(b, "c", a, func(_ context.Context, x int) (int, error) { return x * 10, nil })
				result = graph.Add2(b, "d", l, r, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
				graph.Add(b, "side", func(ctx context.Context) (int, error) { return 0, block(ctx, side) }, graph.Priority(-5))
				return result, nil
			})
			consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (string, error) {
				return fmt.Sprint("got ", x), nil
			})
			e := start(t, g, exec.Workers(workers), exec.Observe(events.observer(exec.EventStarted, exec.EventFinished)))
			// The flow's function returns without waiting, and the returned
			// task finishes, while side still blocks: the flow joins, its
			// consumer waits. (Seeing the flow Joining orders the read of
			// result after the flow's function wrote it.)
			eventually(t, "the flow's function returns and the flow joins", func() bool { return fl.State() == graph.Joining })
			awaitClosed(t, result.Done(), "the returned task")
			if s := fl.State(); s != graph.Joining {
				t.Errorf("flow is %v after the returned task finished, side still running; want joining", s)
			}
			if s := consumer.State(); s != graph.Waiting {
				t.Errorf("consumer is %v while the flow joins; want waiting", s)
			}
			close(side)
			if err := finish(t, e); err != nil {
				t.Fatalf("run: %v", err)
			}
			check(t, consumer, "got 12")
			check(t, fl, 12)
			log := events.all()
			startC := slices.Index(log, "started consumer")
			if startC < 0 {
				t.Fatalf("consumer never started: %q", log)
			}
			for _, name := range emitted {
				if i := slices.Index(log, "finished "+name); i < 0 || i > startC {
					t.Errorf("%s finished at %d, consumer started at %d; want every emitted task finished first: %q", name, i, startC, log)
				}
			}
			if i := slices.Index(log, "finished flow"); i < 0 || i > startC {
				t.Errorf("flow finished at %d, consumer started at %d: %q", i, startC, log)
			}
			for _, name := range emitted {
				if c := findRef(g, name).Creator(); c != fl.Ref() {
					t.Errorf("%s.Creator() = %v; want flow", name, c)
				}
			}
		})
	}
}

// findRef returns the first task of g with the given name.
func findRef(g *graph.Graph, name string) graph.Ref {
	for r := range g.Tasks() {
		if r.Name() == name {
			return r
		}
	}
	return graph.Ref{}
}

// TestFlowEmittedFailureFailsTheFlow: when a task a flow emitted fails, the
// flow fails with a *graph.SkipError naming that task (even when the
// returned task is another one, and when the failure reached the returned
// task through an input), errors.Is reaches the cause, and the flow's
// consumers never run.
func TestFlowEmittedFailureFailsTheFlow(t *testing.T) {
	cases := []struct {
		name string
		emit func(b graph.Builder) graph.Task[int]
	}{
		{"side task fails", func(b graph.Builder) graph.Task[int] {
			graph.Add(b, "bad", func(context.Context) (int, error) { return 0, errBoom })
			return graph.Add(b, "ok", func(context.Context) (int, error) { return 1, nil })
		}},
		{"returned task's input fails", func(b graph.Builder) graph.Task[int] {
			bad := graph.Add(b, "bad", func(context.Context) (int, error) { return 0, fmt.Errorf("wrapped: %w", errBoom) })
			return graph.Add1(b, "ok", bad, func(_ context.Context, x int) (int, error) { return x, nil })
		}},
		{"returned task fails", func(b graph.Builder) graph.Task[int] {
			graph.Add(b, "fine", func(context.Context) (int, error) { return 1, nil })
			return graph.Add(b, "bad", func(context.Context) (int, error) { return 0, errBoom })
		}},
		{"nested flow's task fails", func(b graph.Builder) graph.Task[int] {
			return graph.Flow(b, "inner", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
				return graph.Add(b, "bad", func(context.Context) (int, error) { return 0, errBoom }), nil
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph.New()
			fl := graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
				return c.emit(b), nil
			})
			ran := false
			consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { ran = true; return x, nil })
			independent := graph.Add(g, "independent", func(context.Context) (int, error) { return 7, nil })
			err := run(t, g, exec.Workers(2))
			if !errors.Is(err, errBoom) {
				t.Errorf("Run = %v; want an error reaching errBoom", err)
			}
			_, ferr := fl.Result()
			var se *graph.SkipError
			if !errors.As(ferr, &se) {
				t.Fatalf("flow error = %v (state %v); want a *graph.SkipError", ferr, fl.State())
			}
			if se.Task != "flow" || se.Failed != "bad" || !errors.Is(ferr, errBoom) {
				t.Errorf("flow error = %+v; want Task flow, Failed bad, reaching errBoom", se)
			}
			if s := fl.State(); s == graph.Done {
				t.Errorf("flow state = %v; want it not done", s)
			}
			if ran || consumer.State() != graph.Skipped {
				t.Errorf("consumer ran=%v state=%v; want never run, skipped", ran, consumer.State())
			}
			if _, cerr := consumer.Result(); !errors.As(cerr, &se) || se.Failed != "bad" || !errors.Is(cerr, errBoom) {
				t.Errorf("consumer error = %v; want a SkipError naming bad and reaching errBoom", cerr)
			}
			check(t, independent, 7)
		})
	}
}

// TestFlowInsideTask: a task adds a flow to the running graph and waits for
// it; the wait ends only when everything the flow emitted finished.
func TestFlowInsideTask(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var events log
			root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
				fl := graph.Flow(dynamic.Scope(ctx), "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
					for i := range 5 {
						graph.Add(b, fmt.Sprint("e", i), func(context.Context) (int, error) {
							events.add(fmt.Sprint("e", i))
							return i, nil
						}, graph.Priority(-i))
					}
					// The returned task is the first one emitted: the others
					// still hold the flow.
					return graph.Add(b, "first", func(context.Context) (int, error) { return 40, nil }, graph.Priority(9)), nil
				})
				v, err := fl.Wait(ctx)
				events.add("root resumed")
				return v + 2, err
			})
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			check(t, root, 42)
			log := events.all()
			if len(log) != 6 || log[5] != "root resumed" {
				t.Errorf("events = %q; want the five emitted tasks, then root resumed", log)
			}
		})
	}
}

// TestFlowEmittingReaderOfItsOwnReaderFailsWithCycle: a flow emits a task
// that reads a task that reads the flow. The flow joins what it emitted, so
// none of the three can ever finish, and no task waits anywhere for Await
// to notice. The run must not hang: the emitted task fails with a
// *graph.DeadlockError naming the cycle, the flow ends with a
// *graph.SkipError naming it (as when any emitted task fails), the reader
// is skipped, and the run ends.
//
// With quick flows before it: the runner lists every flow that begins to
// join and drops the finished ones only from time to time (when the list
// doubles, and at a stall search). 500 flows finish first, at a higher
// priority, so the list is compacted several times while some of them are
// still listed and running; the cycle must still be found from the flow
// that joins last.
func TestFlowEmittingReaderOfItsOwnReaderFailsWithCycle(t *testing.T) {
	for _, c := range []struct{ workers, quick int }{{1, 0}, {2, 0}, {1, 500}, {2, 500}} {
		t.Run(fmt.Sprintf("workers=%d/quick=%d", c.workers, c.quick), func(t *testing.T) {
			g := graph.New()
			var quick []graph.Task[int]
			for i := range c.quick {
				quick = append(quick, graph.Flow(g, "quick", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
					return graph.Add(b, "child", func(context.Context) (int, error) { return i, nil }), nil
				}, graph.Priority(1)))
			}
			var reader, emitted graph.Task[int]
			fl := graph.Flow(g, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
				emitted = graph.Add1(b, "emitted", reader, func(_ context.Context, x int) (int, error) { return x, nil })
				return emitted, nil
			})
			reader = graph.Add1(g, "reader", fl, func(_ context.Context, x int) (int, error) { return x, nil })
			after := graph.Add(g, "independent", func(context.Context) (int, error) { return 7, nil })
			err := run(t, g, exec.Workers(c.workers))
			var ee *exec.Error
			if !errors.As(err, &ee) {
				t.Fatalf("run: %v; want an *exec.Error", err)
			}
			if got, _ := deadlockCycle(emitted.Err()); !slices.Equal(got, []string{"emitted", "reader", "flow", "emitted"}) {
				t.Errorf("emitted: %v; want a *graph.DeadlockError with cycle emitted -> reader -> flow -> emitted", emitted.Err())
			}
			for i, q := range quick {
				check(t, q, i)
			}
			var se *graph.SkipError
			if !errors.As(fl.Err(), &se) || se.Failed != "emitted" {
				t.Errorf("flow: %v, %v; want a *graph.SkipError naming emitted", fl.State(), fl.Err())
			}
			if reader.State() != graph.Skipped {
				t.Errorf("reader: %v; want skipped", reader.State())
			}
			check(t, after, 7)
		})
	}
}

// TestWaitForFlowThatComesToNeedTheWaiter: a task waits for a flow it
// added, which then emits a task reading a reader of the waiter. The run
// must end with the cycle reported, the waiter failed and its reader
// skipped, in both ways the cycle can close:
//
//   - claimed: the waiter runs the flow itself (a claim), so the cycle is
//     complete when the waiter comes to park.
//   - parked: a task queued at a higher priority keeps the waiter from
//     claiming the flow, so it parks first, and the cycle closes later
//     without any wait beginning.
//
// Either way the run stalls with the cycle in place, and the stall search
// ends the wait on it, the waiter's, rather than failing a task: a wait's
// error is one its task can handle.
func TestWaitForFlowThatComesToNeedTheWaiter(t *testing.T) {
	for _, parked := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("parked=%v/workers=%d", parked, workers), func(t *testing.T) {
				g := graph.New()
				var reader, emitted graph.Task[int]
				waiter := graph.Add(g, "waiter", func(ctx context.Context) (int, error) {
					s := dynamic.Scope(ctx)
					if parked {
						graph.Add(s, "first", func(context.Context) (int, error) { return 0, nil }, graph.Priority(1))
					}
					fl := graph.Flow(s, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
						emitted = graph.Add1(b, "emitted", reader, func(_ context.Context, x int) (int, error) { return x, nil })
						return emitted, nil
					})
					return fl.Wait(ctx)
				})
				reader = graph.Add1(g, "reader", waiter, func(_ context.Context, x int) (int, error) { return x, nil })
				if err := run(t, g, exec.Workers(workers)); err == nil {
					t.Fatal("run succeeded; want the deadlock reported")
				}
				at := "emitted"
				cycle, _ := deadlockCycle(emitted.Err())
				var se *graph.SkipError // the wait returned the flow's error, a skip for emitted's
				if c, ok := deadlockCycle(waiter.Err()); ok && !errors.As(waiter.Err(), &se) {
					at, cycle = "waiter", c
				}
				if at != "waiter" {
					t.Errorf("cycle reported at %s (waiter: %v; emitted: %v); want at the waiter's wait", at, waiter.Err(), emitted.Err())
				}
				if len(cycle) == 0 || cycle[0] != at || cycle[len(cycle)-1] != at || !slices.Contains(cycle, "waiter") || !slices.Contains(cycle, "emitted") {
					t.Errorf("%s: cycle %q; want one from %[1]s through waiter and emitted (waiter: %v; emitted: %v)", at, cycle, waiter.Err(), emitted.Err())
				}
				if waiter.State() != graph.Failed {
					t.Errorf("waiter: %v; want failed", waiter.State())
				}
				if reader.State() != graph.Skipped {
					t.Errorf("reader: %v; want skipped", reader.State())
				}
			})
		}
	}
}

// TestFlowInTargetedRunKeepsWhatItReturns: in a run for a target, which
// releases results once their readers have read them, a flow returns a
// task that another emitted task reads. The flow must still take the
// returned task's result when it joins; after that, the result is
// released like any other.
func TestFlowInTargetedRunKeepsWhatItReturns(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var a graph.Task[int]
			fl := graph.Flow(g, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
				a = graph.Add(b, "a", func(context.Context) (int, error) { return 20, nil })
				graph.Add1(b, "reader", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })
				return a, nil
			})
			consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { return x + 1, nil })
			if err := run(t, g, exec.Workers(workers), exec.Targets(consumer)); err != nil {
				t.Fatalf("run: %v", err)
			}
			check(t, consumer, 21)
			if _, err := a.Result(); !errors.Is(err, graph.ErrReleased) {
				t.Errorf("a: %v; want it released once the flow took it", err)
			}
		})
	}
}

// TestFlowRetryJoinsOnlyTheLastAttempt: a flow built with Retries whose
// first attempt emits a task and fails; the second returns a task. Each
// attempt's emitted tasks belong to it: the retry starts a fresh join, so
// the flow succeeds with the second attempt's result without waiting for
// the first attempt's task, whatever that task does. That task is not
// cancelled: it runs to its end, and its failure is the run's, not the
// flow's. In full runs and in runs for targets:
//
//   - failed: the first attempt waits for its task, which fails, and then
//     fails itself; the second emits a task and returns it.
//   - running: the first attempt's task still runs when the flow is done.
//   - returned: the second attempt returns the first attempt's task, and
//     so joins it again.
func TestFlowRetryJoinsOnlyTheLastAttempt(t *testing.T) {
	for _, mode := range []string{"failed", "running", "returned"} {
		for _, targets := range []bool{false, true} {
			for _, workers := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/targets=%v/workers=%d", mode, targets, workers), func(t *testing.T) {
					testFlowRetry(t, mode, targets, workers)
				})
			}
		}
	}
}

func testFlowRetry(t *testing.T, mode string, targets bool, workers int) {
	g := graph.New()
	gate := make(chan struct{})
	var first graph.Task[int]
	attempts := 0
	fl := graph.Flow(g, "flow", func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
		attempts++
		if attempts > 1 {
			if mode == "returned" {
				return first, nil
			}
			return graph.Add(b, "second", func(context.Context) (int, error) { return 20, nil }), nil
		}
		switch mode {
		case "failed":
			first = graph.Add(b, "first", func(context.Context) (int, error) { return 0, errBoom })
			_, _ = first.Wait(ctx)
		case "running":
			// Below the second attempt's task, so that one worker runs
			// that one first.
			first = graph.Add(b, "first", func(ctx context.Context) (int, error) { return 1, block(ctx, gate) }, graph.Priority(-1))
		case "returned":
			first = graph.Add(b, "first", func(context.Context) (int, error) { return 20, nil })
		}
		return graph.Task[int]{}, errors.New("first attempt fails")
	}, graph.Retries(1, 0))
	consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	opts := []exec.Option{exec.Workers(workers)}
	if targets {
		opts = append(opts, exec.Targets(consumer))
	}
	e := start(t, g, opts...)
	awaitClosed(t, consumer.Done(), "the flow's consumer")
	check(t, consumer, 21)
	if !targets {
		check(t, fl, 20)
	}
	close(gate)
	err := finish(t, e)
	switch mode {
	case "failed":
		if !errors.Is(err, errBoom) || !errors.Is(first.Err(), errBoom) {
			t.Errorf("run: %v; first: %v; want the first attempt's task failed, and the run to say so", err, first.Err())
		}
	case "running":
		if err != nil {
			t.Errorf("run: %v", err)
		}
		check(t, first, 1)
	case "returned":
		if err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// TestFlowReturnsAReleasedTask: a flow returns a task whose result an
// earlier run for targets released. Like any new reader, the flow has it
// computed again.
func TestFlowReturnsAReleasedTask(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var runs atomic.Int32
			a := graph.Add(g, "a", func(context.Context) (int, error) { runs.Add(1); return 20, nil })
			reader := graph.Add1(g, "reader", a, func(_ context.Context, x int) (int, error) { return x, nil })
			if err := run(t, g, exec.Workers(workers), exec.Targets(reader)); err != nil {
				t.Fatal(err)
			}
			if a.State() != graph.Released {
				t.Fatalf("a: %v after the first run; want released", a.State())
			}
			fl := graph.Flow(g, "flow", func(context.Context, graph.Builder) (graph.Task[int], error) { return a, nil })
			consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { return x + 1, nil })
			if err := run(t, g, exec.Workers(workers), exec.Targets(consumer)); err != nil {
				t.Fatalf("run: %v", err)
			}
			check(t, consumer, 21)
			if n := runs.Load(); n != 2 {
				t.Errorf("a ran %d times; want 2 (once more for the flow)", n)
			}
		})
	}
}

// TestFlowReturnsATaskOutsideTheRun: a flow in a run for targets returns
// a task that the targets do not need, so it is not in the run. Like any
// new reader, the flow brings it in, in a run and in an open run.
//
// In an observed run too: bringing the task in happens under the graph's
// lock, and an observed run hears of a task made ready only once the lock
// is let go; releasing it without telling left the task ready and never
// queued, and the run hung (the stress test found it).
func TestFlowReturnsATaskOutsideTheRun(t *testing.T) {
	for _, open := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			for _, observed := range []bool{false, true} {
				t.Run(fmt.Sprintf("open=%v/workers=%d/observed=%v", open, workers, observed), func(t *testing.T) {
					flowReturnsATaskOutsideTheRun(t, open, workers, observed)
				})
			}
		}
	}
}

func flowReturnsATaskOutsideTheRun(t *testing.T, open bool, workers int, observed bool) {
	var obs []exec.Option
	if observed {
		obs = append(obs, exec.Observe(exec.ObserverFunc(func(exec.Event) {})))
	}
	g := graph.New()
	x := graph.Add(g, "x", func(context.Context) (int, error) { return 20, nil })
	fl := graph.Flow(g, "flow", func(context.Context, graph.Builder) (graph.Task[int], error) { return x, nil })
	consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	if !open {
		if err := run(t, g, append(obs, exec.Workers(workers), exec.Targets(consumer))...); err != nil {
			t.Fatalf("run: %v", err)
		}
	} else {
		anchor := graph.Add(g, "anchor", func(context.Context) (int, error) { return 0, nil })
		e := start(t, g, append(obs, exec.Workers(workers), exec.Targets(anchor))...)
		late := graph.Flow(g, "late", func(context.Context, graph.Builder) (graph.Task[int], error) { return x, nil })
		if v, err := late.Wait(t.Context()); v != 20 || err != nil {
			t.Errorf("late flow: %v, %v; want 20", v, err)
		}
		if err := finish(t, e); err != nil {
			t.Fatalf("run: %v", err)
		}
		if err := run(t, g, append(obs, exec.Workers(workers), exec.Targets(consumer))...); err != nil {
			t.Fatalf("second run: %v", err)
		}
	}
	check(t, consumer, 21)
}

// TestFlowReturningWhatItCannotJoinFails: a flow whose function returns
// itself (after emitting a task), nil with no error, a task of another
// graph, or a task that could not be built fails with an error on the
// flow saying so, in a full run and in a run for targets, and its
// consumer is skipped; the run does not hang.
func TestFlowReturningWhatItCannotJoinFails(t *testing.T) {
	other := graph.New()
	foreign := graph.Add(other, "foreign", func(context.Context) (int, error) { return 1, nil })
	cases := []struct {
		name   string
		ret    func(self graph.Task[int], b graph.Builder) graph.Task[int]
		expect func(err error) bool
	}{
		{"itself", func(self graph.Task[int], b graph.Builder) graph.Task[int] {
			graph.Add(b, "emitted", func(context.Context) (int, error) { return 1, nil })
			return self
		}, func(err error) bool {
			c, ok := deadlockCycle(err)
			return ok && slices.Equal(c, []string{"flow", "flow"})
		}},
		{"nil", func(graph.Task[int], graph.Builder) graph.Task[int] { return graph.Task[int]{} }, func(err error) bool {
			return errors.Is(err, graph.ErrNoTask) && strings.Contains(err.Error(), "no task")
		}},
		{"other graph", func(graph.Task[int], graph.Builder) graph.Task[int] { return foreign }, func(err error) bool {
			return errors.Is(err, graph.ErrOtherGraph) && strings.Contains(err.Error(), `"foreign"`)
		}},
		{"not built", func(_ graph.Task[int], b graph.Builder) graph.Task[int] {
			return graph.Add[int](b, "broken", nil)
		}, func(err error) bool {
			return errors.Is(err, graph.ErrNilFunc) && strings.Contains(err.Error(), `"broken"`)
		}},
	}
	for _, c := range cases {
		for _, targets := range []bool{false, true} {
			for _, read := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/targets=%v/consumer=%v", c.name, targets, read), func(t *testing.T) {
					g := graph.New()
					var fl graph.Task[int]
					fl = graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
						return c.ret(fl, b), nil
					})
					target := fl
					var consumer graph.Task[int]
					if read {
						consumer = graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { return x, nil })
						target = consumer
					}
					var opts []exec.Option
					if targets {
						opts = append(opts, exec.Targets(target))
					}
					if err := run(t, g, opts...); err == nil {
						t.Error("run succeeded; want the flow's failure")
					}
					var ge *graph.Error
					if fl.State() != graph.Failed || !errors.As(fl.Err(), &ge) || ge.Task != "flow" || !c.expect(fl.Err()) {
						t.Errorf("flow: %v, %v; want it failed, with an error on flow saying why", fl.State(), fl.Err())
					}
					if read && consumer.State() != graph.Skipped {
						t.Errorf("consumer: %v; want skipped", consumer.State())
					}
				})
			}
		}
	}
}
