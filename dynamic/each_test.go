package dynamic_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestAddEachFromATask: a running task maps over its items with AddEach,
// as the notebook's tasks do with client.map, and gathers the results;
// every task it added records it as their creator.
func TestAddEachFromATask(t *testing.T) {
	g := graph.New()
	var kids []graph.Task[int]
	parent := graph.Add(g, "f", func(ctx context.Context) (int, error) {
		kids = graph.AddEach(dynamic.Scope(ctx), "item", []int{1, 2, 3, 4, 5}, func(_ context.Context, x int) (int, error) { return 10 * x, nil })
		got, err := dynamic.Gather(ctx, dynamic.Raise, kids...)
		sum := 0
		for _, v := range got {
			sum += v
		}
		return sum, err
	})
	if err := run(t, g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := parent.Result(); v != 150 || err != nil {
		t.Fatalf("f = %v, %v; want 150", v, err)
	}
	for i, k := range kids {
		if k.Creator() != parent.Ref() {
			t.Fatalf("item %d: creator %v, want %v", i, k.Creator(), parent.Ref())
		}
	}
}

// TestAddEachReachesARunAsOneStep: a client's AddEach into a running graph
// whose worker is idle queues its tasks together when it returns, as a
// Batch does: none starts while the call is still adding the later ones,
// a few thousand, under several holds of the graph's lock. The first task
// to start counts the graph's tasks: one by one, it would often find only
// the first chunk.
func TestAddEachReachesARunAsOneStep(t *testing.T) {
	const k = 5000
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	for round := range 20 {
		base := g.Len()
		var seen atomic.Int64
		tasks := graph.AddEach(g, "item", make([]int, k), func(context.Context, int) (int, error) {
			seen.CompareAndSwap(0, int64(g.Len()-base))
			return 0, nil
		})
		if err := dynamic.WaitAll(ctx, tasks...); err != nil {
			t.Fatal(err)
		}
		if got := seen.Load(); got != k {
			t.Fatalf("round %d: the first task started with %d of the %d tasks in the graph", round, got, k)
		}
	}
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
}

// TestAddEachFromManyGoroutines: clients and tasks mapping at once over
// the same inputs, while the run goes on, each get every task they asked
// for, reading the right input (run it with -race).
func TestAddEachFromManyGoroutines(t *testing.T) {
	g := graph.New()
	in := graph.AddEach(g, "in", []int{1, 2, 3, 4, 5, 6, 7, 8}, func(_ context.Context, x int) (int, error) { return x, nil })
	e := start(t, g, exec.Workers(2))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	sums := make([]graph.Task[int], 8)
	var wg sync.WaitGroup
	for c := range sums {
		wg.Go(func() {
			if c%2 == 1 { // from a task
				sums[c] = graph.Add(g, "mapper", func(ctx context.Context) (int, error) {
					out := graph.AddEach1(dynamic.Scope(ctx), "times", in, func(_ context.Context, x int) (int, error) { return c * x, nil })
					vs, err := dynamic.Gather(ctx, dynamic.Raise, out...)
					return slices.Max(vs), err
				})
				return
			}
			out := graph.AddEach1(g, "times", in, func(_ context.Context, x int) (int, error) { return c * x, nil })
			sums[c] = graph.AddN(g, "max", out, func(_ context.Context, vs []int) (int, error) { return slices.Max(vs), nil })
		})
	}
	wg.Wait()
	for c, s := range sums {
		if v, err := s.Wait(ctx); v != 8*c || err != nil {
			t.Fatalf("goroutine %d: %v, %v; want %d", c, v, err, 8*c)
		}
	}
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
}
