package dynamic_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestRegistrationsRaceCompletions races every way of registering for a
// task's completion (linking a consumer, a Done channel, an as-completed
// watch) against that task finishing at once on another goroutine. A
// completion that misses a registration hangs the run or a wait; one that
// counts it twice runs a consumer early with a zero input.
func TestRegistrationsRaceCompletions(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		g := graph.New()
		ctx, cancel := context.WithTimeout(context.Background(), liveness)
		defer cancel()
		e, err := exec.Start(ctx, g, exec.Workers(workers))
		if err != nil {
			t.Fatal(err)
		}
		const clients, rounds = 4, 300
		var ran, bad atomic.Int64
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ac := dynamic.AsCompleted[graph.Task[int]]()
				for i := range rounds {
					want := c*rounds + i + 1
					a := graph.Add(g, "a", func(context.Context) (int, error) { return want, nil })
					b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) {
						if x != want {
							bad.Add(1)
						}
						ran.Add(1)
						return x, nil
					})
					ac.Add(a)
					switch i % 3 {
					case 0:
						awaitClosed(t, a.Done(), "Done of a task that finishes at once")
					case 1:
						if _, err := b.Wait(ctx); err != nil {
							t.Errorf("wait for a consumer: %v", err)
						}
					}
				}
				got := 0
				for _, err := range ac.All(ctx) {
					if err != nil {
						t.Errorf("as-completed: %v", err)
					}
					got++
				}
				if got != rounds {
					t.Errorf("as-completed yielded %d tasks, want %d", got, rounds)
				}
			}()
		}
		// Tasks from tasks, too: each links a consumer to a sibling that is
		// finishing on another worker.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				graph.Add(g, "parent", func(ctx context.Context) (int, error) {
					s := dynamic.Scope(ctx)
					x := graph.Add(s, "x", func(context.Context) (int, error) { return i, nil })
					y := graph.Add1(s, "y", x, func(_ context.Context, v int) (int, error) {
						if v != i {
							bad.Add(1)
						}
						ran.Add(1)
						return v, nil
					})
					return y.Wait(ctx)
				})
			}
		}()
		wg.Wait()
		e.Close()
		if err := e.Wait(); err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		if want := int64(clients*rounds + rounds); ran.Load() != want {
			t.Errorf("workers=%d: %d consumers ran, want %d", workers, ran.Load(), want)
		}
		if bad.Load() != 0 {
			t.Errorf("workers=%d: %d consumers read a wrong input", workers, bad.Load())
		}
	}
}

// TestConsumerOfFinishingTaskWaitsForItsOtherInput adds consumers of two
// inputs while the first is finishing on another goroutine and the second
// is held back: none may run before the second finishes. A completion that
// counted down a consumer which, seeing its input finished, had not counted
// it, ran such consumers early.
func TestConsumerOfFinishingTaskWaitsForItsOtherInput(t *testing.T) {
	for _, workers := range []int{2, 4} {
		g := graph.New()
		e := start(t, g, exec.Workers(workers))
		release := make(chan struct{})
		gate := graph.Add(g, "gate", func(ctx context.Context) (int, error) { return 0, block(ctx, release) })
		clients, rounds := 3, 2000
		if raceEnabled {
			rounds = 500 // the race detector makes each add ten times slower: stay well inside liveness
		}
		var ran, early atomic.Int64
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for i := range rounds {
					a := graph.Add(g, "a", func(context.Context) (int, error) { return i, nil })
					graph.Add2(g, "c", a, gate, func(context.Context, int, int) (int, error) {
						if gate.State() != graph.Done {
							early.Add(1)
						}
						ran.Add(1)
						return 0, nil
					})
				}
			})
		}
		wg.Wait()
		close(release)
		if err := finish(t, e); err != nil {
			t.Fatalf("workers=%d: %v", workers, err)
		}
		if early.Load() != 0 {
			t.Errorf("workers=%d: %d consumers ran before their held-back input finished", workers, early.Load())
		}
		if want := int64(clients * rounds); ran.Load() != want {
			t.Errorf("workers=%d: %d consumers ran, want %d", workers, ran.Load(), want)
		}
	}
}
