package exec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestTaskErrorReachesCallerThroughEveryPath checks that a task's error
// fails it and that errors.Is finds the sentinel through Err, Result, Wait
// and Run's *exec.Error, which names the task.
func TestTaskErrorReachesCallerThroughEveryPath(t *testing.T) {
	g := graph.New()
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, fmt.Errorf("fetching: %w", errBoom) })
	err := runGuarded(t, t.Context(), g)

	if s := bad.State(); s != graph.Failed {
		t.Errorf("state %v, want failed", s)
	}
	if !errors.Is(bad.Err(), errBoom) {
		t.Errorf("Err() = %v, does not reach the sentinel", bad.Err())
	}
	if v, rerr := bad.Result(); v != 0 || !errors.Is(rerr, errBoom) {
		t.Errorf("Result() = %v, %v; want 0 and the sentinel", v, rerr)
	}
	if _, werr := bad.Wait(t.Context()); !errors.Is(werr, errBoom) {
		t.Errorf("Wait() error %v does not reach the sentinel", werr)
	}
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, does not reach the sentinel", err)
	}
	var ee *exec.Error
	if !errors.As(err, &ee) {
		t.Fatalf("Run = %T, want *exec.Error", err)
	}
	if ee.Failed != 1 || ee.Skipped != 0 || len(ee.Errs) != 1 {
		t.Fatalf("Run's error = %+v, want one failure", ee)
	}
	var ge *graph.Error
	if !errors.As(ee.Errs[0], &ge) || ge.Task != "bad" {
		t.Errorf("listed failure %v does not name task %q", ee.Errs[0], "bad")
	}
}

// TestPanicBecomesPanicError checks that a panicking task fails with a
// *graph.PanicError holding the value and the panicking stack, that a
// panic with an error value unwraps to it, and that the run goes on.
func TestPanicBecomesPanicError(t *testing.T) {
	g := graph.New()
	p := graph.Add(g, "p", func(context.Context) (int, error) { panic("oops") })
	pe := graph.Add(g, "pe", func(context.Context) (int, error) { panic(fmt.Errorf("wrapped: %w", errBoom)) })
	ok := graph.Add(g, "ok", func(context.Context) (int, error) { return 1, nil })
	err := runGuarded(t, t.Context(), g, exec.Workers(2))

	var perr *graph.PanicError
	if !errors.As(p.Err(), &perr) {
		t.Fatalf("Err() = %v (%T), want *graph.PanicError", p.Err(), p.Err())
	}
	if perr.Value != "oops" || perr.Task != "p" {
		t.Errorf("PanicError{Task: %q, Value: %v}, want p, oops", perr.Task, perr.Value)
	}
	if len(perr.Stack) == 0 || !bytes.Contains(perr.Stack, []byte("TestPanicBecomesPanicError")) {
		t.Errorf("Stack does not show the panicking function:\n%s", perr.Stack)
	}
	if !errors.Is(pe.Err(), errBoom) {
		t.Errorf("panic(error) gives %v, which does not unwrap to the value", pe.Err())
	}
	if !errors.As(err, &perr) || !errors.Is(err, errBoom) {
		t.Errorf("Run = %v, does not reach both panics", err)
	}
	if v, err := ok.Result(); v != 1 || err != nil {
		t.Errorf("independent task: %v, %v; want 1, nil", v, err)
	}
}

// TestConsumersOfFailedTaskAreSkipped checks, for pools of one and four,
// that consumers of a failed task never run and fail with a *graph.SkipError
// naming the task where the failure started and wrapping its error (also
// two levels down, and through a diamond), while an independent branch runs.
func TestConsumersOfFailedTaskAreSkipped(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			var ran atomic.Int32
			inc := func(_ context.Context, x int) (int, error) { ran.Add(1); return x + 1, nil }
			g := graph.New()
			a := graph.Add(g, "a", func(context.Context) (int, error) { return 0, errBoom })
			b := graph.Add1(g, "b", a, inc)
			c := graph.Add1(g, "c", b, inc)
			d := graph.Add1(g, "d", a, inc)
			e := graph.Add2(g, "e", c, d, func(_ context.Context, x, y int) (int, error) { ran.Add(1); return x + y, nil })
			other := graph.Add(g, "other", func(context.Context) (int, error) { return 7, nil })
			indep := graph.Add1(g, "indep", other, func(_ context.Context, x int) (int, error) { return x * 2, nil })
			err := runGuarded(t, t.Context(), g, exec.Workers(workers))

			if n := ran.Load(); n != 0 {
				t.Errorf("%d consumers of the failed task ran", n)
			}
			for _, h := range []graph.Task[int]{b, c, d, e} {
				var se *graph.SkipError
				if !errors.As(h.Err(), &se) {
					t.Errorf("%s: Err() = %v (%T), want *graph.SkipError", h.Name(), h.Err(), h.Err())
					continue
				}
				if se.Task != h.Name() || se.Failed != "a" {
					t.Errorf("%s: SkipError{Task: %q, Failed: %q}, want %q, %q", h.Name(), se.Task, se.Failed, h.Name(), "a")
				}
				if !errors.Is(h.Err(), errBoom) {
					t.Errorf("%s: %v does not wrap the failed task's error", h.Name(), h.Err())
				}
				if h.State() != graph.Skipped {
					t.Errorf("%s: state %v, want skipped", h.Name(), h.State())
				}
				if _, rerr := h.Result(); !errors.Is(rerr, errBoom) {
					t.Errorf("%s: Result() error %v does not reach the cause", h.Name(), rerr)
				}
			}
			if v, err := indep.Result(); v != 14 || err != nil {
				t.Errorf("independent branch: %v, %v; want 14, nil", v, err)
			}
			var ee *exec.Error
			if !errors.As(err, &ee) || ee.Failed != 1 || ee.Skipped != 4 {
				t.Errorf("Run = %v, want *exec.Error with 1 failed, 4 skipped", err)
			}
		})
	}
}

// TestRunErrorListsEveryFailure checks that Run's error reaches each of
// several distinct failures and names them.
func TestRunErrorListsEveryFailure(t *testing.T) {
	errA, errB := errors.New("a broke"), errors.New("b broke")
	g := graph.New()
	graph.Add(g, "a", func(context.Context) (int, error) { return 0, errA })
	graph.Add(g, "b", func(context.Context) (int, error) { return 0, errB })
	err := runGuarded(t, t.Context(), g, exec.Workers(2))
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("Run = %v, want both failures", err)
	}
	var ee *exec.Error
	if !errors.As(err, &ee) || ee.Failed != 2 {
		t.Fatalf("Run = %v, want *exec.Error with 2 failures", err)
	}
}

// TestStopOnErrorStartsNothingAfterFailure runs, on one worker, a failing
// task of the highest priority ahead of many independent tasks: with
// StopOnError none of them may start, and they end cancelled.
func TestStopOnErrorStartsNothingAfterFailure(t *testing.T) {
	for i := range 20 { // the property must hold every time, not usually
		var started atomic.Int32
		g := graph.New()
		graph.Add(g, "fail", func(context.Context) (int, error) { return 0, errBoom }, graph.Priority(10))
		var rest []graph.Task[int]
		for k := range 20 {
			rest = append(rest, graph.Add(g, fmt.Sprint("r", k), func(context.Context) (int, error) {
				started.Add(1)
				return k, nil
			}))
		}
		err := runGuarded(t, t.Context(), g, exec.Workers(1), exec.StopOnError())
		if !errors.Is(err, errBoom) {
			t.Fatalf("round %d: Run = %v, does not reach the failure", i, err)
		}
		if n := started.Load(); n != 0 {
			t.Fatalf("round %d: %d tasks started after the failure with StopOnError", i, n)
		}
		for _, h := range rest {
			if s := h.State(); s != graph.Cancelled {
				t.Fatalf("round %d: %s is %v, want cancelled", i, h.Name(), s)
			}
		}
	}
}

// TestStopOnErrorCancelsRunningTasks checks that with StopOnError a task
// running when another fails sees its context cancelled, and that Run
// returns an error reaching the failure.
func TestStopOnErrorCancelsRunningTasks(t *testing.T) {
	running := make(chan struct{})
	var sawCancel atomic.Bool
	g := graph.New()
	graph.Add(g, "long", func(ctx context.Context) (int, error) {
		close(running)
		err := blockUntil(ctx, nil)
		sawCancel.Store(errors.Is(err, context.Canceled))
		return 0, err
	})
	graph.Add(g, "fail", func(ctx context.Context) (int, error) {
		if err := blockUntil(ctx, running); err != nil {
			return 0, err
		}
		return 0, errBoom
	})
	err := runGuarded(t, t.Context(), g, exec.Workers(2), exec.StopOnError())
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, does not reach the failure", err)
	}
	if !sawCancel.Load() {
		t.Fatal("the running task did not see its context cancelled")
	}
}

// TestKeepGoingIsTheDefault checks that without StopOnError a failure
// cancels nothing: a running independent task keeps a live context and its
// result.
func TestKeepGoingIsTheDefault(t *testing.T) {
	failed := make(chan struct{})
	g := graph.New()
	f := graph.Add(g, "fail", func(context.Context) (int, error) { defer close(failed); return 0, errBoom })
	long := graph.Add(g, "long", func(ctx context.Context) (int, error) {
		awaitErr := blockUntil(ctx, failed)
		if awaitErr != nil {
			return 0, awaitErr
		}
		return 1, ctx.Err()
	})
	graph.Add1(g, "after", long, func(_ context.Context, x int) (int, error) { return x, nil })
	err := runGuarded(t, t.Context(), g, exec.Workers(2))
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v", err)
	}
	if v, err := long.Result(); v != 1 || err != nil {
		t.Fatalf("independent task: %v, %v; want 1, nil", v, err)
	}
	if f.State() != graph.Failed {
		t.Fatalf("failed task is %v", f.State())
	}
}

// TestRunErrorCountsAndNamesCancelledTasks cancels two tasks with
// Task.Cancel, one queued and one running (built Cancellable), each read
// by a task that is then skipped: Run's *exec.Error must count both as
// cancelled and name each with graph.ErrCancelled, in its Errs and its
// message, not only count the skipped readers.
func TestRunErrorCountsAndNamesCancelledTasks(t *testing.T) {
	g := graph.New()
	entered := make(chan struct{})
	running := graph.Add(g, "running", func(ctx context.Context) (int, error) {
		close(entered)
		<-ctx.Done()
		return 0, ctx.Err()
	}, graph.Cancellable(), graph.Priority(1))
	var queued graph.Task[int]
	graph.Add(g, "canceller", func(ctx context.Context) (int, error) {
		if err := blockUntil(ctx, entered); err != nil {
			return 0, err
		}
		if !queued.Cancel() || !running.Cancel() {
			return 0, errors.New("Cancel reported a task of the run not in it")
		}
		return 0, nil
	}, graph.Priority(1))
	queued = graph.Add(g, "queued", func(context.Context) (int, error) { return 1, nil })
	for _, in := range []graph.Task[int]{running, queued} {
		graph.Add1(g, "reader of "+in.Name(), in, func(_ context.Context, x int) (int, error) { return x, nil })
	}
	err := runGuarded(t, t.Context(), g, exec.Workers(2))

	var ee *exec.Error
	if !errors.As(err, &ee) {
		t.Fatalf("Run = %v, want an *exec.Error", err)
	}
	if ee.Failed != 0 || ee.Skipped != 2 || ee.Cancelled != 2 {
		t.Errorf("Run's error = %+v, want 0 failed, 2 skipped, 2 cancelled", ee)
	}
	named := map[string]bool{}
	for _, e := range ee.Errs {
		var ge *graph.Error
		if errors.As(e, &ge) && errors.Is(e, graph.ErrCancelled) {
			named[ge.Task] = true
		}
	}
	if !named["queued"] || !named["running"] {
		t.Errorf("Errs = %v, want a *graph.Error with ErrCancelled for queued and for running", ee.Errs)
	}
	msg := err.Error()
	for _, want := range []string{"2 cancelled", `"queued"`, `"running"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("Run's message %q does not contain %s", msg, want)
		}
	}
}

// TestRunWhoseOnlyProblemIsACancel: a task cancelled with Task.Cancel, and
// nothing else wrong, still means not every task succeeded: the run says
// so, counting and naming the task, and nil would tell the caller all went
// well. Before, such a run returned nil, or "0 task(s) failed, 1 skipped"
// when the task had a reader.
func TestRunWhoseOnlyProblemIsACancel(t *testing.T) {
	for _, reader := range []bool{false, true} {
		g := graph.New()
		var victim graph.Task[int]
		graph.Add(g, "canceller", func(context.Context) (int, error) {
			victim.Cancel()
			return 0, nil
		}, graph.Priority(1))
		victim = graph.Add(g, "victim", func(context.Context) (int, error) { return 1, nil })
		if reader {
			graph.Add1(g, "reader", victim, func(_ context.Context, x int) (int, error) { return x, nil })
		}
		err := runGuarded(t, t.Context(), g, exec.Workers(1))
		var ee *exec.Error
		if !errors.As(err, &ee) || ee.Cancelled != 1 || ee.Failed != 0 || !errors.Is(err, graph.ErrCancelled) {
			t.Fatalf("reader=%v: Run = %v, want an *exec.Error with one task cancelled", reader, err)
		}
		if !strings.Contains(err.Error(), `"victim"`) {
			t.Errorf("reader=%v: %q does not name the cancelled task", reader, err)
		}
	}
}
