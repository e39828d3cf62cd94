package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestClientsSubmitWhileRunning: 8 goroutines each add 200 pairs of tasks
// (a source and a task reading it, some reading another goroutine's
// tasks) to a graph while it runs, and wait for their own; every task runs
// once with the right result and the run ends cleanly after Close.
func TestClientsSubmitWhileRunning(t *testing.T) {
	const clients, per = 8, 200
	g := graph.New()
	var runs atomic.Int64
	seed := graph.Add(g, "seed", func(context.Context) (int, error) { runs.Add(1); return 1000, nil })
	e := start(t, g, exec.Workers(4))
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), liveness)
			defer cancel()
			var mine []graph.Task[int]
			for i := range per {
				src := graph.Add(g, "src", func(context.Context) (int, error) { runs.Add(1); return c*per + i, nil }, graph.Priority(i%3))
				dbl := graph.Add2(g, "dbl", src, seed, func(_ context.Context, x, s int) (int, error) {
					runs.Add(1)
					return 2*x + s, nil
				})
				mine = append(mine, dbl)
				if i%50 == 49 { // wait now and then, as a client reacting to results would
					if v, err := dbl.Wait(ctx); err != nil || v != 2*(c*per+i)+1000 {
						errs <- fmt.Errorf("client %d: task %d = %v, %v", c, i, v, err)
						return
					}
				}
			}
			for i, d := range mine {
				v, err := d.Wait(ctx)
				if want := 2*(c*per+i) + 1000; err != nil || v != want {
					errs <- fmt.Errorf("client %d: task %d = %v, %v; want %d", c, i, v, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := runs.Load(); n != 1+2*clients*per {
		t.Errorf("%d bodies ran; want %d", n, 1+2*clients*per)
	}
	if n := g.Len(); n != 1+2*clients*per {
		t.Errorf("g.Len() = %d; want %d", n, 1+2*clients*per)
	}
}

// TestOpenRunStaysOpenWhileClientsAdd: a client adds, one after another,
// a task and a reader of it to an open run in which nothing else is
// pending, and waits for the reader. The run must stay open (it holds until
// Close) however the reader's input finishes around the reader's joining:
// every wait succeeds and the run has not ended.
func TestOpenRunStaysOpenWhileClientsAdd(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(2))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	for i := range 3000 {
		src := graph.Add(g, "src", func(context.Context) (int, error) { return i, nil })
		dbl := graph.Add1(g, "dbl", src, func(_ context.Context, x int) (int, error) { return 2 * x, nil })
		if v, err := dbl.Wait(ctx); err != nil || v != 2*i {
			t.Fatalf("round %d: Wait = %v, %v; want %d (run ended: %v)", i, v, err, 2*i, isClosed(e.Done()))
		}
	}
	select {
	case <-e.Done():
		t.Fatalf("the run ended before Close")
	default:
	}
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestFutureWaitTimesOut: Wait with a context that expires returns
// context.DeadlineExceeded while the task still runs, and the task is not
// disturbed: a later Wait gets its result.
func TestFutureWaitTimesOut(t *testing.T) {
	g := graph.New()
	release := make(chan struct{})
	entered := make(chan struct{})
	task := graph.Add(g, "slow", func(ctx context.Context) (int, error) {
		close(entered)
		return 5, block(ctx, release)
	})
	e := start(t, g, exec.Workers(1))
	awaitClosed(t, entered, "slow to start")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	returned := make(chan struct{})
	var v int
	var err error
	go func() { v, err = task.Wait(ctx); close(returned) }()
	awaitClosed(t, returned, "Wait with an expiring context")
	if !errors.Is(err, context.DeadlineExceeded) || v != 0 {
		t.Errorf("Wait = %v, %v; want 0, context.DeadlineExceeded", v, err)
	}
	if s := task.State(); s != graph.Running {
		t.Errorf("task is %v after the wait gave up; want running", s)
	}
	select {
	case <-task.Done():
		t.Errorf("Done is closed while the task runs")
	default:
	}
	close(release)
	awaitClosed(t, task.Done(), "Done after the task finished")
	if v, err := task.Wait(context.Background()); v != 5 || err != nil {
		t.Errorf("second Wait = %v, %v; want 5, nil", v, err)
	}
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestFutureStateProgression: a task goes idle (built), waiting (in the run,
// input not done), ready (inputs done, the only worker busy), running,
// done; Done closes at the end and Result/Err follow.
func TestFutureStateProgression(t *testing.T) {
	g := graph.New()
	gate := gates(3)
	entered := gates(3)
	a := graph.Add(g, "A", func(ctx context.Context) (int, error) {
		close(entered[0])
		return 1, block(ctx, gate[0])
	}, graph.Priority(2))
	graph.Add(g, "C", func(ctx context.Context) (int, error) {
		close(entered[1])
		return 0, block(ctx, gate[1])
	}, graph.Priority(1))
	task := graph.Add1(g, "T", a, func(ctx context.Context, x int) (int, error) {
		close(entered[2])
		return x + 1, block(ctx, gate[2])
	})
	want := func(s graph.State) {
		t.Helper()
		if got := task.State(); got != s {
			t.Fatalf("T is %v; want %v", got, s)
		}
	}
	want(graph.Idle)
	if _, err := task.Result(); !errors.Is(err, graph.ErrNotDone) {
		t.Errorf("Result before the run = %v; want ErrNotDone", err)
	}
	e := start(t, g, exec.Workers(1))
	awaitClosed(t, entered[0], "A to start")
	want(graph.Waiting)
	close(gate[0])
	awaitClosed(t, entered[1], "C to start") // C outranks T, so it took the worker
	want(graph.Ready)
	if task.Err() != nil {
		t.Errorf("Err of an unfinished task = %v; want nil", task.Err())
	}
	close(gate[1])
	awaitClosed(t, entered[2], "T to start")
	want(graph.Running)
	select {
	case <-task.Done():
		t.Fatalf("Done closed while T runs")
	default:
	}
	close(gate[2])
	awaitClosed(t, task.Done(), "T's Done")
	want(graph.Done)
	check(t, task, 2)
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestCancelNotStartedTask: cancelling a task that has not started makes it
// Cancelled at once; it never runs, its readers are skipped without
// running, and waiting for it reports graph.ErrCancelled.
func TestCancelNotStartedTask(t *testing.T) {
	g := graph.New()
	release := make(chan struct{})
	entered := make(chan struct{})
	graph.Add(g, "busy", func(ctx context.Context) (int, error) { close(entered); return 0, block(ctx, release) }, graph.Priority(1))
	var ran, readerRan atomic.Bool
	victim := graph.Add(g, "victim", func(context.Context) (int, error) { ran.Store(true); return 1, nil })
	reader := graph.Add1(g, "reader", victim, func(_ context.Context, x int) (int, error) { readerRan.Store(true); return x, nil })
	other := graph.Add(g, "other", func(context.Context) (int, error) { return 2, nil })
	e := start(t, g, exec.Workers(1))
	awaitClosed(t, entered, "busy to start")
	if s := victim.State(); s != graph.Ready {
		t.Fatalf("victim is %v before Cancel; want ready (not started)", s)
	}
	if !victim.Cancel() {
		t.Errorf("Cancel() = false on a task in the run; want true")
	}
	if s := victim.State(); s != graph.Cancelled {
		t.Errorf("victim is %v right after Cancel; want cancelled", s)
	}
	if _, err := victim.Wait(context.Background()); !errors.Is(err, graph.ErrCancelled) {
		t.Errorf("victim.Wait = %v; want graph.ErrCancelled", err)
	}
	if victim.Cancel() {
		t.Errorf("a second Cancel() = true; want false (already finished)")
	}
	close(release)
	err := finish(t, e)
	if ran.Load() || readerRan.Load() {
		t.Errorf("victim ran: %v, reader ran: %v; want neither", ran.Load(), readerRan.Load())
	}
	if s := reader.State(); s != graph.Skipped {
		t.Errorf("reader is %v; want skipped", s)
	}
	var se *graph.SkipError
	if _, rerr := reader.Result(); !errors.As(rerr, &se) || se.Failed != "victim" || !errors.Is(rerr, graph.ErrCancelled) {
		t.Errorf("reader error = %v; want a SkipError naming victim that reaches ErrCancelled", rerr)
	}
	check(t, other, 2)
	var xe *exec.Error
	if !errors.As(err, &xe) || xe.Skipped != 1 {
		t.Errorf("run = %v; want an *exec.Error with one skipped task", err)
	}
}

// TestCancelRunningCancellableTask: cancelling a running task built with
// graph.Cancellable cancels the context its function runs with; the task
// ends Cancelled, its reader is skipped, and the rest of the run goes on.
func TestCancelRunningCancellableTask(t *testing.T) {
	g := graph.New()
	entered := make(chan struct{})
	var sawCancel atomic.Bool
	victim := graph.Add(g, "victim", func(ctx context.Context) (int, error) {
		close(entered)
		select {
		case <-ctx.Done():
			sawCancel.Store(errors.Is(ctx.Err(), context.Canceled))
			return 0, ctx.Err()
		case <-time.After(liveness):
			return 1, nil
		}
	}, graph.Cancellable())
	var readerRan atomic.Bool
	reader := graph.Add1(g, "reader", victim, func(_ context.Context, x int) (int, error) { readerRan.Store(true); return x, nil })
	other := graph.Add(g, "other", func(context.Context) (int, error) { return 2, nil })
	e := start(t, g, exec.Workers(2))
	awaitClosed(t, entered, "victim to start")
	if !victim.Cancel() {
		t.Errorf("Cancel() = false on a running task; want true")
	}
	awaitClosed(t, victim.Done(), "victim to end after Cancel")
	if !sawCancel.Load() {
		t.Errorf("victim's context was not cancelled")
	}
	if s := victim.State(); s != graph.Cancelled {
		t.Errorf("victim is %v; want cancelled", s)
	}
	if err := victim.Err(); !errors.Is(err, graph.ErrCancelled) {
		t.Errorf("victim.Err() = %v; want graph.ErrCancelled", err)
	}
	finish(t, e)
	if readerRan.Load() || reader.State() != graph.Skipped {
		t.Errorf("reader ran: %v, state %v; want not run, skipped", readerRan.Load(), reader.State())
	}
	check(t, other, 2)
}

// TestCancelRunningTaskFromInside: a task that spawned a cancellable child
// and waits for it can cancel it (from another child); the wait returns and
// reports the cancellation.
func TestCancelRunningTaskFromInside(t *testing.T) {
	g := graph.New()
	root := graph.Add(g, "root", func(ctx context.Context) (string, error) {
		s := dynamic.Scope(ctx)
		started := make(chan struct{})
		long := graph.Add(s, "long", func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		}, graph.Cancellable())
		graph.Add(s, "canceller", func(ctx context.Context) (bool, error) {
			if err := block(ctx, started); err != nil {
				return false, err
			}
			return long.Cancel(), nil
		})
		_, err := long.Wait(ctx)
		return fmt.Sprint(long.State(), " ", errors.Is(err, graph.ErrCancelled)), nil
	})
	// The run says that long did not succeed, and why.
	if err := run(t, g, exec.Workers(2)); !errors.Is(err, graph.ErrCancelled) {
		t.Fatalf("Run = %v, want an error counting long cancelled", err)
	}
	check(t, root, "cancelled true")
}

// TestWaitOnTaskInNoRun: waiting from outside any run for a task that no
// run was asked for returns graph.ErrNotScheduled at once, for Wait,
// AsCompleted, WaitFirst, WaitAll and Gather; also while the
// graph runs other tasks (the task was left out with Targets).
func TestWaitOnTaskInNoRun(t *testing.T) {
	waiters := map[string]func(ctx context.Context, t graph.Task[int]) error{
		"Wait": func(ctx context.Context, t graph.Task[int]) error { _, err := t.Wait(ctx); return err },
		"AsCompleted.Next": func(ctx context.Context, t graph.Task[int]) error {
			_, _, err := dynamic.AsCompleted(t).Next(ctx)
			return err
		},
		"AsCompleted.All": func(ctx context.Context, t graph.Task[int]) error {
			for _, err := range dynamic.AsCompleted(t).All(ctx) {
				return err
			}
			return errors.New("All yielded nothing")
		},
		"WaitFirst": func(ctx context.Context, t graph.Task[int]) error { _, err := dynamic.WaitFirst(ctx, t); return err },
		"WaitAll":   func(ctx context.Context, t graph.Task[int]) error { return dynamic.WaitAll(ctx, t) },
		"Gather": func(ctx context.Context, t graph.Task[int]) error {
			_, err := dynamic.Gather(ctx, dynamic.Raise, t)
			return err
		},
		"Gather/Skip": func(ctx context.Context, t graph.Task[int]) error {
			_, err := dynamic.Gather(ctx, dynamic.Skip, t)
			return err
		},
	}
	for name, wait := range waiters {
		t.Run(name, func(t *testing.T) {
			for _, running := range []bool{false, true} {
				g := graph.New()
				lonely := graph.Add(g, "lonely", func(context.Context) (int, error) { return 1, nil })
				release := make(chan struct{})
				if running {
					busy := graph.Add(g, "busy", func(ctx context.Context) (int, error) { return 0, block(ctx, release) })
					start(t, g, exec.Workers(1), exec.Targets(busy))
				}
				ctx, cancel := context.WithTimeout(context.Background(), liveness)
				err := wait(ctx, lonely)
				cancel()
				close(release)
				if !errors.Is(err, graph.ErrNotScheduled) {
					t.Errorf("running=%v: %s on a task in no run = %v; want graph.ErrNotScheduled", running, name, err)
				}
			}
		})
	}
	// A mix: one task in the run, one not. The wait must not hang on the
	// second once the first finished.
	t.Run("mixed", func(t *testing.T) {
		g := graph.New()
		lonely := graph.Add(g, "lonely", func(context.Context) (int, error) { return 1, nil })
		in := graph.Add(g, "in", func(context.Context) (int, error) { return 2, nil })
		start(t, g, exec.Workers(1), exec.Targets(in))
		ctx, cancel := context.WithTimeout(context.Background(), liveness)
		defer cancel()
		var errs []error
		for task, err := range dynamic.AsCompleted(in, lonely).All(ctx) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if task != in {
				t.Errorf("AsCompleted yielded %v; want only in", task)
			}
		}
		if len(errs) != 1 || !errors.Is(errs[0], graph.ErrNotScheduled) {
			t.Errorf("AsCompleted errors = %v; want one wrapping graph.ErrNotScheduled", errs)
		}
		if err := dynamic.WaitAll(ctx, in, lonely); !errors.Is(err, graph.ErrNotScheduled) {
			t.Errorf("WaitAll = %v; want graph.ErrNotScheduled", err)
		}
	})
}

// TestExecutionDoneWithoutWait: an open run's Done closes once it was
// closed and every task finished, even if nobody calls Wait.
func TestExecutionDoneWithoutWait(t *testing.T) {
	g := graph.New()
	task := graph.Add(g, "t", func(context.Context) (int, error) { return 1, nil })
	e := start(t, g, exec.Workers(1))
	awaitClosed(t, task.Done(), "the task")
	e.Close()
	awaitClosed(t, e.Done(), "Execution.Done after Close, without Wait")
	if err := e.Wait(); err != nil {
		t.Errorf("Wait = %v; want nil", err)
	}
}

// TestCancelRunningPlainTask: cancelling a running task not built
// Cancellable cannot stop its function, but its result is discarded: it
// ends Cancelled and its reader is skipped.
func TestCancelRunningPlainTask(t *testing.T) {
	g := graph.New()
	entered := make(chan struct{})
	release := make(chan struct{})
	victim := graph.Add(g, "victim", func(ctx context.Context) (int, error) {
		close(entered)
		return 1, block(ctx, release)
	})
	reader := graph.Add1(g, "reader", victim, nop1)
	e := start(t, g, exec.Workers(2))
	awaitClosed(t, entered, "victim to start")
	if !victim.Cancel() {
		t.Errorf("Cancel() = false on a running task; want true")
	}
	close(release)
	finish(t, e)
	if s := victim.State(); s != graph.Cancelled {
		t.Errorf("victim is %v; want cancelled (its result discarded)", s)
	}
	if _, err := victim.Result(); !errors.Is(err, graph.ErrCancelled) {
		t.Errorf("victim.Result() error = %v; want ErrCancelled", err)
	}
	if s := reader.State(); s != graph.Skipped {
		t.Errorf("reader is %v; want skipped", s)
	}
}

// TestCancelJoiningFlow: cancelling a flow whose function returned and that
// waits for what it emitted (Cancel reports true) discards its result like
// any running task's: it ends Cancelled and its consumer is skipped.
func TestCancelJoiningFlow(t *testing.T) {
	g := graph.New()
	release := make(chan struct{})
	fl := graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
		return graph.Add(b, "slow", func(ctx context.Context) (int, error) { return 1, block(ctx, release) }), nil
	})
	var consumerRan atomic.Bool
	consumer := graph.Add1(g, "consumer", fl, func(_ context.Context, x int) (int, error) { consumerRan.Store(true); return x, nil })
	e := start(t, g, exec.Workers(2))
	eventually(t, "the flow joins", func() bool { return fl.State() == graph.Joining })
	if !fl.Cancel() {
		t.Errorf("Cancel() = false on a joining flow; want true")
	}
	close(release)
	finish(t, e)
	if s := fl.State(); s != graph.Cancelled {
		t.Errorf("flow is %v after Cancel; want cancelled", s)
	}
	if consumerRan.Load() || consumer.State() != graph.Skipped {
		t.Errorf("consumer ran: %v, state %v; want not run, skipped", consumerRan.Load(), consumer.State())
	}
}
