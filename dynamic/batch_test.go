package dynamic_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// startLog records the order in which tasks start.
type startLog struct {
	mu    sync.Mutex
	names []string
}

func (l *startLog) task(name string) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		l.mu.Lock()
		l.names = append(l.names, name)
		l.mu.Unlock()
		return 0, nil
	}
}

func (l *startLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.names
	l.names = nil
	return out
}

// TestBatchQueuesTogether: a client adds a low-priority task and then a
// high-priority one to a run whose only worker is idle. Added one by one,
// the worker starts the first at once (the check below catches it within
// its grace period); in a batch, both are queued together when the batch
// ends, so priority decides.
func TestBatchQueuesTogether(t *testing.T) {
	const grace = 20 * time.Millisecond // ample for an idle worker to start a queued task
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	var log startLog
	for round := range 5 {
		var lo, hi graph.Task[int]
		err := graph.Batch(g, func(b graph.Builder) {
			lo = graph.Add(b, "lo", log.task("lo"))
			select {
			case <-lo.Done():
				t.Errorf("round %d: lo ran before the batch ended", round)
			case <-time.After(grace):
			}
			hi = graph.Add(b, "hi", log.task("hi"), graph.Priority(5))
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dynamic.WaitAll(ctx, lo, hi); err != nil {
			t.Fatal(err)
		}
		if got := log.take(); !slices.Equal(got, []string{"hi", "lo"}) {
			t.Fatalf("round %d: started %v, want [hi lo]", round, got)
		}
	}
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchKeepsTasksWaitingOnInputs: a task in a batch whose input is
// still running is not held back by the batch, and one whose input is in
// the same batch starts after it.
func TestBatchKeepsTasksWaitingOnInputs(t *testing.T) {
	g := graph.New()
	release := make(chan struct{})
	slow := graph.Add(g, "slow", func(context.Context) (int, error) { <-release; return 1, nil })
	e := start(t, g, exec.Workers(2))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	var after, first, second graph.Task[int]
	err := graph.Batch(g, func(b graph.Builder) {
		after = graph.Add1(b, "after", slow, func(_ context.Context, x int) (int, error) { return x + 1, nil })
		first = graph.Add(b, "first", func(context.Context) (int, error) { return 10, nil })
		second = graph.Add1(b, "second", first, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := second.Wait(ctx); err != nil || v != 11 {
		t.Fatalf("second = %v, %v; want 11", v, err)
	}
	if s := after.State(); s != graph.Waiting {
		t.Fatalf("after is %v while its input runs, want waiting", s)
	}
	close(release)
	if v, err := after.Wait(ctx); err != nil || v != 2 {
		t.Fatalf("after = %v, %v; want 2", v, err)
	}
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchPanicStillQueues: when fn panics, what it added is queued all
// the same, and the panic goes on to the caller.
func TestBatchPanicStillQueues(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	var added graph.Task[int]
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the panic of fn", v)
			}
		}()
		_ = graph.Batch(g, func(b graph.Builder) {
			added = graph.Add(b, "added", func(context.Context) (int, error) { return 7, nil })
			panic("boom")
		})
	}()
	if v, err := added.Wait(ctx); err != nil || v != 7 {
		t.Fatalf("task added before the panic = %v, %v; want 7", v, err)
	}
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchBuilderAfterReturn: the Builder of a batch that has returned
// adds tasks that are queued as usual, not held for ever.
func TestBatchBuilderAfterReturn(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	var kept graph.Builder
	if err := graph.Batch(g, func(b graph.Builder) { kept = b }); err != nil {
		t.Fatal(err)
	}
	late := graph.Add(kept, "late", func(context.Context) (int, error) { return 3, nil })
	if v, err := late.Wait(ctx); err != nil || v != 3 {
		t.Fatalf("late = %v, %v; want 3", v, err)
	}
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchOutsideRunAndInsideTask: before a run, Batch adds tasks as
// usual; inside a task, it adds children with the task as their creator.
func TestBatchOutsideRunAndInsideTask(t *testing.T) {
	g := graph.New()
	var kids []graph.Task[int]
	var parent graph.Task[int]
	err := graph.Batch(g, func(b graph.Builder) {
		parent = graph.Add(b, "parent", func(ctx context.Context) (int, error) {
			err := graph.Batch(dynamic.Scope(ctx), func(b graph.Builder) {
				for i := range 4 {
					kids = append(kids, graph.Add(b, "kid", func(context.Context) (int, error) { return i, nil }, graph.Priority(i)))
				}
			})
			if err != nil {
				return 0, err
			}
			vs, err := dynamic.Gather(ctx, dynamic.Raise, kids...)
			if err != nil {
				return 0, err
			}
			sum := 0
			for _, v := range vs {
				sum += v
			}
			return sum, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if parent.State() != graph.Idle {
		t.Fatalf("a task batched before the run is %v, want idle", parent.State())
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	if err := exec.Run(ctx, g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if v, err := parent.Result(); err != nil || v != 6 {
		t.Fatalf("parent = %v, %v; want 6", v, err)
	}
	for _, k := range kids {
		if c := k.Creator(); c != parent.Ref() {
			t.Errorf("%s was created by %v, want the parent", k.Name(), c)
		}
	}
}

func TestBatchBadInput(t *testing.T) {
	if err := graph.Batch(nil, func(graph.Builder) {}); !errors.Is(err, graph.ErrNilBuilder) {
		t.Errorf("nil builder: %v, want ErrNilBuilder", err)
	}
	if err := graph.Batch(graph.New(), nil); !errors.Is(err, graph.ErrNilFunc) {
		t.Errorf("nil func: %v, want ErrNilFunc", err)
	}
}

// TestWaitInsideBatchFails: waiting inside a batch's function for a task
// the batch holds back could never end; every way of waiting says so at
// once, from outside a task and from inside one.
func TestWaitInsideBatchFails(t *testing.T) {
	g := graph.New()
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	waits := map[string]func(context.Context, graph.Task[int]) error{
		"Wait": func(ctx context.Context, x graph.Task[int]) error { _, err := x.Wait(ctx); return err },
		"Gather": func(ctx context.Context, x graph.Task[int]) error {
			_, err := dynamic.Gather(ctx, dynamic.Raise, x)
			return err
		},
		"AsCompleted": func(ctx context.Context, x graph.Task[int]) error {
			for _, err := range dynamic.AsCompleted(x).All(ctx) {
				return err
			}
			return nil
		},
	}
	e := start(t, g, exec.Workers(2))
	for name, wait := range waits {
		var outside error
		err := graph.Batch(g, func(b graph.Builder) {
			x := graph.Add(b, "held", func(context.Context) (int, error) { return 1, nil })
			outside = wait(ctx, x)
		})
		if err != nil {
			t.Fatal(err)
		}
		if !errors.Is(outside, graph.ErrInBatch) {
			t.Errorf("%s from a client inside the batch: %v, want ErrInBatch", name, outside)
		}
		inTask := graph.Add(g, "waiter", func(ctx context.Context) (int, error) {
			var inside error
			err := graph.Batch(dynamic.Scope(ctx), func(b graph.Builder) {
				x := graph.Add(b, "held", func(context.Context) (int, error) { return 1, nil })
				inside = wait(ctx, x)
			})
			if err != nil {
				return 0, err
			}
			return 0, inside
		})
		if _, err := inTask.Wait(ctx); !errors.Is(err, graph.ErrInBatch) {
			t.Errorf("%s from a task inside the batch: %v, want ErrInBatch", name, err)
		}
	}
	e.Close()
	if err := e.Wait(); err == nil {
		t.Error("the run reported no failure, but the waiting tasks failed")
	}
}
