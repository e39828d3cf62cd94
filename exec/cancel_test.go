package exec_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestCancelStartsNothingAfterCancel has, on one worker, the first task
// cancel the run's context and return: no other task may start after
// that, Run returns context.Canceled, and the tasks that never ran end
// cancelled with an error reaching context.Canceled.
func TestCancelStartsNothingAfterCancel(t *testing.T) {
	for i := range 20 { // the property must hold every time, not usually
		ctx, cancel := context.WithCancel(t.Context())
		var late atomic.Int32
		g := graph.New()
		first := graph.Add(g, "first", func(context.Context) (int, error) { cancel(); return 1, nil }, graph.Priority(1))
		next := graph.Add1(g, "next", first, func(_ context.Context, x int) (int, error) { late.Add(1); return x, nil })
		var rest []graph.Task[int]
		for k := range 10 {
			rest = append(rest, graph.Add(g, fmt.Sprint("r", k), func(context.Context) (int, error) { late.Add(1); return k, nil }))
		}
		err := runGuarded(t, ctx, g, exec.Workers(1))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Run = %v, want context.Canceled", i, err)
		}
		if n := late.Load(); n != 0 {
			t.Fatalf("round %d: %d tasks started after the run's context was cancelled", i, n)
		}
		for _, h := range append(rest, next) {
			if s := h.State(); s != graph.Cancelled || !errors.Is(h.Err(), context.Canceled) {
				t.Fatalf("round %d: %s is %v with %v; want cancelled with context.Canceled", i, h.Name(), s, h.Err())
			}
		}
	}
}

// TestCancelInAChainStartsNotTheNext: in a chain, with nothing else
// queued, a task's completion takes its only reader to run next on the
// same worker (see core.Node.FinishInline). If the task cancelled the
// run's context, the reader must not start, and must end cancelled.
func TestCancelInAChainStartsNotTheNext(t *testing.T) {
	for _, workers := range []int{1, 2} {
		ctx, cancel := context.WithCancel(t.Context())
		var late atomic.Int32
		g := graph.New()
		first := graph.Add(g, "first", func(context.Context) (int, error) { cancel(); return 1, nil })
		next := graph.Add1(g, "next", first, func(_ context.Context, x int) (int, error) { late.Add(1); return x, nil })
		last := graph.Add1(g, "last", next, func(_ context.Context, x int) (int, error) { late.Add(1); return x, nil })
		err := runGuarded(t, ctx, g, exec.Workers(workers))
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("workers %d: Run = %v, want context.Canceled", workers, err)
		}
		if n := late.Load(); n != 0 {
			t.Fatalf("workers %d: %d tasks started after the run's context was cancelled", workers, n)
		}
		for _, h := range []graph.Task[int]{next, last} {
			if s := h.State(); s != graph.Cancelled || !errors.Is(h.Err(), context.Canceled) {
				t.Fatalf("workers %d: %s is %v with %v; want cancelled with context.Canceled", workers, h.Name(), s, h.Err())
			}
		}
	}
}

// TestCancelledContextStartsNothing runs a graph with a context that is
// already cancelled: nothing may start.
func TestCancelledContextStartsNothing(t *testing.T) {
	for i := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var ran atomic.Int32
		g := graph.New()
		for k := range 8 {
			graph.Add(g, fmt.Sprint("t", k), func(context.Context) (int, error) { ran.Add(1); return k, nil })
		}
		err := runGuarded(t, ctx, g, exec.Workers(2))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Run = %v, want context.Canceled", i, err)
		}
		if n := ran.Load(); n != 0 {
			t.Fatalf("round %d: %d tasks ran under a context cancelled before Run", i, n)
		}
	}
}

// TestCancelReachesRunningTasks cancels the context from outside while a
// task runs: the task sees ctx.Done, Run returns context.Canceled, and a
// consumer that never started ends cancelled.
func TestCancelReachesRunningTasks(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	running := make(chan struct{})
	var sawDone atomic.Bool
	g := graph.New()
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
		close(running)
		err := blockUntil(ctx, nil)
		sawDone.Store(errors.Is(err, context.Canceled))
		return 0, err
	})
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
	done := make(chan error, 1)
	go func() { done <- exec.Run(ctx, g, exec.Workers(2)) }()
	awaitClosed(t, running, "task a to start")
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(liveness):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if !sawDone.Load() {
		t.Fatal("the running task did not see ctx.Done")
	}
	if !errors.Is(a.Err(), context.Canceled) {
		t.Errorf("a: Err() = %v, want context.Canceled", a.Err())
	}
	if s := b.State(); s == graph.Done || s == graph.Running || s == graph.Waiting || s == graph.Ready {
		t.Errorf("b is %v after the cancelled run", s)
	}
}

// TestCancelMarksQueuedTasksCancelled keeps the only worker busy until the
// context is cancelled from outside; queued tasks must never start and must
// end cancelled. It tries several rounds, since the busy task's return and
// the run's reaction to the cancel race.
func TestCancelMarksQueuedTasksCancelled(t *testing.T) {
	for round := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		running := make(chan struct{})
		var late atomic.Int32
		g := graph.New()
		graph.Add(g, "busy", func(ctx context.Context) (int, error) {
			close(running)
			return 0, blockUntil(ctx, nil)
		}, graph.Priority(1))
		var queued []graph.Task[int]
		for k := range 5 {
			queued = append(queued, graph.Add(g, fmt.Sprint("q", k), func(context.Context) (int, error) { late.Add(1); return k, nil }))
		}
		done := make(chan error, 1)
		go func() { done <- exec.Run(ctx, g, exec.Workers(1)) }()
		awaitClosed(t, running, "the busy task to start")
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(liveness):
			t.Fatal("Run did not return after cancel")
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Run = %v, want context.Canceled", round, err)
		}
		if n := late.Load(); n != 0 {
			t.Fatalf("round %d: %d queued tasks started after cancel", round, n)
		}
		for _, h := range queued {
			if s := h.State(); s != graph.Cancelled || !errors.Is(h.Err(), context.Canceled) {
				t.Fatalf("round %d: %s: %v with %v; want cancelled with context.Canceled", round, h.Name(), s, h.Err())
			}
			if _, rerr := h.Result(); !errors.Is(rerr, context.Canceled) {
				t.Fatalf("round %d: %s: Result() error %v, want context.Canceled", round, h.Name(), rerr)
			}
		}
	}
}

// TestDeadlineEndsRun runs tasks that wait for their context under a
// deadline: Run returns an error reaching context.DeadlineExceeded, and so
// do the tasks.
func TestDeadlineEndsRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	g := graph.New()
	wait := func(ctx context.Context) (int, error) { return 0, blockUntil(ctx, nil) }
	a := graph.Add(g, "a", wait)
	b := graph.Add(g, "b", wait)
	graph.Add2(g, "c", a, b, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	err := runGuarded(t, ctx, g, exec.Workers(2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
	}
	for _, h := range []graph.Task[int]{a, b} {
		if !errors.Is(h.Err(), context.DeadlineExceeded) {
			t.Errorf("%s: Err() = %v, want context.DeadlineExceeded", h.Name(), h.Err())
		}
	}
}

// TestDeadlineMarksQueuedTasks checks, over several rounds, that a task
// still queued when the deadline passes never starts and ends cancelled
// with context.DeadlineExceeded.
func TestDeadlineMarksQueuedTasks(t *testing.T) {
	for round := range 10 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
		g := graph.New()
		graph.Add(g, "busy", func(ctx context.Context) (int, error) { return 0, blockUntil(ctx, nil) }, graph.Priority(1))
		queued := graph.Add(g, "queued", func(context.Context) (int, error) { return 1, nil })
		err := runGuarded(t, ctx, g, exec.Workers(1))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: Run = %v, want context.DeadlineExceeded", round, err)
		}
		if s := queued.State(); s != graph.Cancelled || !errors.Is(queued.Err(), context.DeadlineExceeded) {
			t.Fatalf("round %d: queued task: %v with %v; want cancelled with context.DeadlineExceeded", round, s, queued.Err())
		}
	}
}

// runCancelledWhileRunning runs tasks named "t0".."t<k-1>" on k workers,
// each running body, cancels ctx with cause once all have started, and
// returns the tasks and Run's error. No task is queued when the cancel
// comes: every task of the run is running.
func runCancelledWhileRunning(t *testing.T, k int, cause error, body func(ctx context.Context) (int, error)) ([]graph.Task[int], error) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	g := graph.New()
	started := make(chan struct{}, k)
	var ts []graph.Task[int]
	for i := range k {
		ts = append(ts, graph.Add(g, fmt.Sprint("t", i), func(ctx context.Context) (int, error) {
			started <- struct{}{}
			return body(ctx)
		}))
	}
	done := make(chan error, 1)
	go func() { done <- exec.Run(ctx, g, exec.Workers(k)) }()
	for range k {
		select {
		case <-started:
		case <-time.After(liveness):
			t.Fatal("the tasks did not all start")
		}
	}
	cancel(cause)
	select {
	case err := <-done:
		return ts, err
	case <-time.After(liveness):
		t.Fatal("Run did not return after cancel")
		return nil, nil
	}
}

// TestCancelWhileEveryTaskRunsReturnsCtxErr cancels the context while
// every task of the run runs, and each gives up returning ctx.Err(): the
// tasks end cancelled, so Run must say the run was cancelled, not that it
// succeeded.
func TestCancelWhileEveryTaskRunsReturnsCtxErr(t *testing.T) {
	ts, err := runCancelledWhileRunning(t, 2, nil, func(ctx context.Context) (int, error) {
		return 0, blockUntil(ctx, nil)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	for _, h := range ts {
		if _, rerr := h.Result(); !errors.Is(rerr, context.Canceled) {
			t.Errorf("%s: Result() error %v, want context.Canceled", h.Name(), rerr)
		}
	}
}

// TestCancelWithCauseReturnsBoth cancels with a cause: Run's error reaches
// both the context's error and its cause.
func TestCancelWithCauseReturnsBoth(t *testing.T) {
	cause := errors.New("shutting down")
	_, err := runCancelledWhileRunning(t, 1, cause, func(ctx context.Context) (int, error) {
		return 0, blockUntil(ctx, nil)
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
		t.Fatalf("Run = %v, want an error reaching context.Canceled and the cause", err)
	}
}

// TestCancelThenOwnErrorReturnsCtxErrAndFailures cancels the context while
// every task runs; they give up with errors of their own. Run's error must
// reach the context's error and be an *exec.Error listing the failures.
func TestCancelThenOwnErrorReturnsCtxErrAndFailures(t *testing.T) {
	_, err := runCancelledWhileRunning(t, 2, nil, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, fmt.Errorf("gave up: %w", errBoom)
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, does not reach context.Canceled", err)
	}
	var ee *exec.Error
	if !errors.As(err, &ee) {
		t.Fatalf("Run = %v (%T), want an *exec.Error", err, err)
	}
	if ee.Failed != 2 || !errors.Is(err, errBoom) {
		t.Errorf("Run = %+v, want 2 failures reaching errBoom", ee)
	}
	if !strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run's message %q names neither the cancel nor the failures", err)
	}
}

// TestCancelAfterTheEndReturnsNil cancels the context only after every
// task of the run succeeded: the run succeeded, and says so.
func TestCancelAfterTheEndReturnsNil(t *testing.T) {
	for round := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		g := graph.New()
		var ts []graph.Task[int]
		for i := range 4 {
			ts = append(ts, graph.Add(g, fmt.Sprint("t", i), func(context.Context) (int, error) { return i, nil }))
		}
		e, err := exec.Start(ctx, g, exec.Workers(2))
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		for _, h := range ts {
			awaitClosed(t, h.Done(), h.Name())
		}
		cancel() // every task succeeded: perhaps before the run has wound up, never before it ended
		if err := waitGuarded(t, e); err != nil {
			t.Fatalf("round %d: Wait = %v after every task succeeded, want nil", round, err)
		}
	}
}

// TestCancelledTaskThatSucceedsAnyway cancels the context while the only
// task runs; the task ignores it and succeeds. Every task succeeded, so
// the run did too.
func TestCancelledTaskThatSucceedsAnyway(t *testing.T) {
	ts, err := runCancelledWhileRunning(t, 1, nil, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 7, nil
	})
	if err != nil {
		t.Fatalf("Run = %v, want nil: the task succeeded", err)
	}
	if v, rerr := ts[0].Result(); v != 7 || rerr != nil {
		t.Errorf("Result() = %v, %v; want 7, nil", v, rerr)
	}
}

// TestStopWhileEveryTaskRunsReturnsCanceled is the same through
// Execution.Stop on a closed run: Wait reports the stop.
func TestStopWhileEveryTaskRunsReturnsCanceled(t *testing.T) {
	g := graph.New()
	started := make(chan struct{})
	graph.Add(g, "t", func(ctx context.Context) (int, error) {
		close(started)
		return 0, blockUntil(ctx, nil)
	})
	e, err := exec.Start(t.Context(), g, exec.Workers(1))
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	awaitClosed(t, started, "the task to start")
	e.Stop()
	if err := waitGuarded(t, e); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v after Stop, want context.Canceled", err)
	}
}
