package exec_test

import (
	"context"
	"errors"
	"fmt"
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
		first := graph.Go(g, "first", func(context.Context) (int, error) { cancel(); return 1, nil }, graph.Priority(1))
		next := graph.Go1(g, "next", first, func(_ context.Context, x int) (int, error) { late.Add(1); return x, nil })
		var rest []*graph.Task[int]
		for k := range 10 {
			rest = append(rest, graph.Go(g, fmt.Sprint("r", k), func(context.Context) (int, error) { late.Add(1); return k, nil }))
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

// TestCancelledContextStartsNothing runs a graph with a context that is
// already cancelled: nothing may start.
func TestCancelledContextStartsNothing(t *testing.T) {
	for i := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var ran atomic.Int32
		g := graph.New()
		for k := range 8 {
			graph.Go(g, fmt.Sprint("t", k), func(context.Context) (int, error) { ran.Add(1); return k, nil })
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
	a := graph.Go(g, "a", func(ctx context.Context) (int, error) {
		close(running)
		err := blockUntil(ctx, nil)
		sawDone.Store(errors.Is(err, context.Canceled))
		return 0, err
	})
	b := graph.Go1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
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
		graph.Go(g, "busy", func(ctx context.Context) (int, error) {
			close(running)
			return 0, blockUntil(ctx, nil)
		}, graph.Priority(1))
		var queued []*graph.Task[int]
		for k := range 5 {
			queued = append(queued, graph.Go(g, fmt.Sprint("q", k), func(context.Context) (int, error) { late.Add(1); return k, nil }))
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
	a := graph.Go(g, "a", wait)
	b := graph.Go(g, "b", wait)
	graph.Go2(g, "c", a, b, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	err := runGuarded(t, ctx, g, exec.Workers(2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
	}
	for _, h := range []*graph.Task[int]{a, b} {
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
		graph.Go(g, "busy", func(ctx context.Context) (int, error) { return 0, blockUntil(ctx, nil) }, graph.Priority(1))
		queued := graph.Go(g, "queued", func(context.Context) (int, error) { return 1, nil })
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
