package exec

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestWaiterReactionBeatsQueuedWork: the async style. A client waits with
// Task.Wait for a task while an older, lower-priority task is queued behind
// it on the only worker; when the awaited task finishes, the client reacts
// by adding higher-priority work in a batch. The worker holds back until
// the reaction is queued, so the new work starts before the old, as a
// greedy scheduler with an instant client would run it. waiterBound is set
// long enough never to run out, so the test does not depend on how fast
// the client goroutine gets scheduled.
func TestWaiterReactionBeatsQueuedWork(t *testing.T) {
	defer func(b time.Duration) { waiterBound = b }(waiterBound)
	waiterBound = time.Minute

	for round := range 20 {
		var mu sync.Mutex
		var order []string
		task := func(name string) func(context.Context) (int, error) {
			return func(context.Context) (int, error) {
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
				return 0, nil
			}
		}
		g := graph.New()
		release := make(chan struct{})
		awaited := graph.Go(g, "awaited", func(ctx context.Context) (int, error) {
			<-release
			return task("awaited")(ctx)
		})
		graph.Go(g, "old", task("old"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		e, err := Start(ctx, g, Workers(1))
		if err != nil {
			t.Fatal(err)
		}
		reacted := make(chan error, 1)
		cg := g.Core(core.Key{})
		before := cg.ClientActs()
		go func() {
			if _, err := awaited.Wait(ctx); err != nil {
				reacted <- err
				return
			}
			reacted <- graph.Batch(g, func(b graph.Builder) {
				first := graph.Go(b, "new", task("new"), graph.Priority(1))
				graph.Go1(b, "next", first, func(ctx context.Context, _ int) (int, error) { return task("next")(ctx) }, graph.Priority(1))
			})
		}()
		// Release the awaited task once the client has begun its wait, so
		// that the completion wakes it.
		for cg.ClientActs() == before {
			if ctx.Err() != nil {
				t.Fatal("the client never began its wait")
			}
			time.Sleep(50 * time.Microsecond)
		}
		close(release)
		if err := <-reacted; err != nil {
			t.Fatal(err)
		}
		e.Close()
		if err := e.Wait(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if want := []string{"awaited", "new", "next", "old"}; !slices.Equal(order, want) {
			t.Fatalf("round %d: ran %v, want %v", round, order, want)
		}
	}
}

// TestCancelBeforeStartNeverStarts: a task whose cancellation lands after
// it was moved to Running and before its function started (the moment
// between a worker's claim and its call) never starts, as Task.Cancel
// promises for a task that has not started, and ends Cancelled.
func TestCancelBeforeStartNeverStarts(t *testing.T) {
	g := graph.New()
	ran := false
	task := graph.Go(g, "t", func(context.Context) (int, error) { ran = true; return 1, nil })
	cg := g.Core(core.Key{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRunner(ctx, cg, &config{workers: 1})
	r.outstanding.Store(1) // the Close hold, as Start takes it
	r.starting = true
	if err := cg.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	r.starting = false
	n := task.Core(core.Key{})
	if !n.CAS(core.Ready, core.Running) {
		t.Fatalf("task is %v, want ready", n.State())
	}
	if !task.Cancel() {
		t.Fatal("Cancel reported the task not in a run")
	}
	w := &worker{r: r}
	w.ctx.Awaiter, w.ctx.Context = w, r.ctx
	r.execute(w, n, false)
	if ran {
		t.Error("the function of a task cancelled before it started ran")
	}
	if s := task.State(); s != graph.Cancelled {
		t.Errorf("task is %v, want cancelled", s)
	}
	if !errors.Is(task.Err(), graph.ErrCancelled) {
		t.Errorf("Err() = %v, want ErrCancelled", task.Err())
	}
	r.mu.Lock()
	r.settleLocked(w) // the task
	r.mu.Unlock()
	r.settle(1) // the Close hold: the run is finished
	cg.End(false, nil, nil)
}
