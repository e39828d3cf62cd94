package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"go.uber.org/goleak"
)

// TestRunCancelReleasesEveryWait: tasks blocked in every kind of wait
// inside a run, and client goroutines blocked in every kind of wait
// outside it, all return once the run's context is cancelled, with errors
// that reach context.Canceled (or with the awaited task marked Cancelled);
// Run returns context.Canceled; no goroutine is left behind.
func TestRunCancelReleasesEveryWait(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// stuck never finishes by itself: it waits for the run's end.
			stuckStarted := make(chan struct{})
			stuck := graph.Add(g, "stuck", func(ctx context.Context) (int, error) {
				close(stuckStarted)
				<-ctx.Done()
				return 0, ctx.Err()
			}, graph.Priority(10))
			// never is never started: it reads stuck.
			never := graph.Add1(g, "never", stuck, func(_ context.Context, x int) (int, error) { return x, nil })

			var mu sync.Mutex
			inside := map[string]error{}
			waiting := sync.WaitGroup{}
			waiter := func(name string, wait func(ctx context.Context) error) {
				waiting.Add(1)
				graph.Add(g, name, func(ctx context.Context) (int, error) {
					// each waiter also waits on a child of its own that blocks
					child := graph.Add(dynamic.Scope(ctx), name+".child", func(ctx context.Context) (int, error) {
						<-ctx.Done()
						return 0, ctx.Err()
					})
					waiting.Done()
					err := wait(ctx)
					if err == nil {
						_, err = child.Wait(ctx)
					}
					mu.Lock()
					inside[name] = err
					mu.Unlock()
					return 0, err
				})
			}
			waiter("in.Wait", func(ctx context.Context) error { _, err := never.Wait(ctx); return err })
			waiter("in.WaitAll", func(ctx context.Context) error { return dynamic.WaitAll(ctx, stuck, never) })
			waiter("in.WaitFirst", func(ctx context.Context) error { _, err := dynamic.WaitFirst(ctx, never); return err })
			waiter("in.Gather", func(ctx context.Context) error {
				_, err := dynamic.Gather(ctx, dynamic.Raise, stuck, never)
				return err
			})
			waiter("in.Gather/Skip", func(ctx context.Context) error {
				_, err := dynamic.Gather(ctx, dynamic.Skip, never)
				return err
			})
			waiter("in.AsCompleted", func(ctx context.Context) error {
				for _, err := range dynamic.AsCompleted(never).All(ctx) {
					return err
				}
				return nil
			})

			runErr := make(chan error, 1)
			go func() { runErr <- exec.Run(ctx, g, exec.Workers(workers)) }()
			awaitClosed(t, stuckStarted, "stuck to start")

			// Clients wait with a context of their own that is never
			// cancelled: only the run's end releases them.
			bg := context.Background()
			clients := map[string]func() error{
				"Wait": func() error { _, err := never.Wait(bg); return err },
				// WaitAll and WaitFirst report only failures of the wait
				// itself: the run's end finishes the tasks (cancelled), so
				// they return nil and the tasks tell why.
				"WaitAll": func() error {
					if err := dynamic.WaitAll(bg, stuck, never); err != nil {
						return fmt.Errorf("WaitAll failed itself: %w", err)
					}
					return never.Err()
				},
				"WaitFirst": func() error {
					r, err := dynamic.WaitFirst(bg, stuck, never)
					if err != nil || r.Ref() == (graph.Ref{}) {
						return fmt.Errorf("WaitFirst = %v, %w", r, err)
					}
					return r.Err()
				},
				"Gather": func() error { _, err := dynamic.Gather(bg, dynamic.Raise, stuck); return err },
				"AsCompleted": func() error {
					for task, err := range dynamic.AsCompleted(never, stuck).All(bg) {
						if err != nil {
							return err
						}
						if task.Err() == nil {
							return fmt.Errorf("%s yielded without error", task.Name())
						}
					}
					return never.Err()
				},
			}
			outside := make(map[string]error)
			var wg sync.WaitGroup
			for name, wait := range clients {
				wg.Go(func() {
					err := wait()
					mu.Lock()
					outside[name] = err
					mu.Unlock()
				})
			}
			// Let the waiters inside the run reach their waits where the pool
			// lets them start at all (with one worker, stuck holds it).
			if workers > 1 {
				waitGroupBounded(t, &waiting, "waiters to start")
			}
			cancel()
			select {
			case err := <-runErr:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run = %v; want context.Canceled", err)
				}
			case <-doneAfter(liveness):
				t.Fatalf("Run did not return after its context was cancelled")
			}
			waitGroupBounded(t, &wg, "client waits")

			for name, err := range outside {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("client %s = %v; want an error reaching context.Canceled", name, err)
				}
			}
			mu.Lock()
			for name, err := range inside {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("task %s's wait = %v; want an error reaching context.Canceled", name, err)
				}
			}
			mu.Unlock()
			for _, task := range []graph.Task[int]{stuck, never} {
				if s := task.State(); s != graph.Cancelled {
					t.Errorf("%s is %v; want cancelled", task.Name(), s)
				}
				if err := task.Err(); !errors.Is(err, context.Canceled) {
					t.Errorf("%s.Err() = %v; want an error reaching context.Canceled", task.Name(), err)
				}
			}
			for r := range g.Tasks() {
				if s := r.State(); !s.Terminal() {
					t.Errorf("%s is %v after the run; want a final state", r.Name(), s)
				}
			}
		})
	}
}

// waitGroupBounded waits for wg, failing the test after liveness.
func waitGroupBounded(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	awaitClosed(t, done, what)
}

// TestExecutionStopReleasesClients: stopping an open run releases a client
// iterating as-completed and a client waiting for a future, and the run's
// Wait returns context.Canceled.
func TestExecutionStopReleasesClients(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(2))
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	b := graph.Add(g, "b", func(context.Context) (int, error) { return 1, nil })
	c := graph.Add1(g, "c", a, func(_ context.Context, x int) (int, error) { return x, nil })
	yielded := make(chan string, 3)
	errs := make(chan error, 2)
	go func() {
		for task, err := range dynamic.AsCompleted(a, b, c).All(context.Background()) {
			if err != nil {
				errs <- err
				return
			}
			yielded <- task.Name() + ":" + task.State().String()
		}
		errs <- nil
	}()
	go func() { _, err := c.Wait(context.Background()); errs <- err }()
	awaitClosed(t, b.Done(), "b")
	e.Stop()
	for range 2 {
		select {
		case err := <-errs:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("client = %v; want nil or context.Canceled", err)
			}
		case <-doneAfter(liveness):
			t.Fatalf("a client is still blocked after Stop")
		}
	}
	close(yielded)
	var got []string
	for s := range yielded {
		got = append(got, s)
	}
	if len(got) != 3 {
		t.Errorf("AsCompleted yielded %q; want all three tasks, a and c cancelled", got)
	}
	ended := make(chan error, 1)
	go func() { ended <- e.Wait() }()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v; want context.Canceled", err)
		}
	case <-doneAfter(liveness):
		t.Fatalf("Wait after Stop did not return")
	}
}

// TestCancelledTaskDoesNotRunAgainForNewReaders: a task cancelled in a run
// stays cancelled in it. A reader added later, even through a task not yet
// in the run that reads it, is skipped; the cancelled task never runs.
// (Bringing the later reader into the run used to run the cancelled task
// after all, so that its first reader had been skipped for a task that
// then succeeded.)
func TestCancelledTaskDoesNotRunAgainForNewReaders(t *testing.T) {
	g := graph.New()
	gate := make(chan struct{})
	var xRuns atomic.Int32
	target := graph.Add(g, "target", func(ctx context.Context) (int, error) { return 0, block(ctx, gate) })
	x := graph.Add(g, "x", func(context.Context) (int, error) { xRuns.Add(1); return 1, nil })
	z := graph.Add1(g, "z", x, func(_ context.Context, v int) (int, error) { return v, nil })
	// A run for target alone: x and z are not in it, and its one worker is
	// busy with target until the gate opens.
	e := start(t, g, exec.Workers(1), exec.Targets(target))
	eventually(t, "target runs", func() bool { return target.State() == graph.Running })
	r := graph.Add1(g, "r", x, func(_ context.Context, v int) (int, error) { return v, nil })
	if !x.Cancel() {
		t.Fatalf("Cancel of x, queued behind target, reported false (x is %v)", x.State())
	}
	s := graph.Add1(g, "s", z, func(_ context.Context, v int) (int, error) { return v, nil })
	close(gate)
	if err := finish(t, e); err == nil {
		t.Fatal("run succeeded; want the cancellation reported")
	}
	if n := xRuns.Load(); n != 0 {
		t.Errorf("x ran %d times after it was cancelled", n)
	}
	for _, c := range []struct {
		task graph.Task[int]
		want graph.State
	}{{x, graph.Cancelled}, {r, graph.Skipped}, {z, graph.Skipped}, {s, graph.Skipped}} {
		if got := c.task.State(); got != c.want {
			t.Errorf("%s: %v; want %v", c.task.Name(), got, c.want)
		}
	}
}
