package exec_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// The run's roots taken from an open span (see exec/open.go): what a
// worker holds in its lane is still queued.

// TestTaskWaitingForARootInALaneIsNotStranded: a root's task waits for a
// task that needs a root its worker took into its lane, on one worker.
// The waiting task gives its slot back, and the worker that replaces it
// takes the roots from the lane: the run ends.
func TestTaskWaitingForARootInALaneIsNotStranded(t *testing.T) {
	for _, workers := range []int{1, 2} {
		g := graph.New()
		ts := make([]graph.Task[int], 100)
		var sum atomic.Int64
		var reader graph.Task[int] // reads ts[10]
		for i := range ts {
			if i == 2 {
				ts[i] = graph.Add(g, "waiter", func(ctx context.Context) (int, error) {
					// The worker took ts[10] into its lane with ts[2] (ts[1]
					// filled it with ts[2] to ts[24]): a wait for its reader,
					// which the waiter cannot run itself.
					return reader.Wait(ctx)
				})
				continue
			}
			ts[i] = graph.Add(g, "root", func(context.Context) (int, error) { sum.Add(1); return i, nil })
		}
		reader = graph.Add1(g, "reader", ts[10], func(_ context.Context, v int) (int, error) { return v + 1, nil })
		if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		if v, err := ts[2].Result(); v != 11 || err != nil {
			t.Fatalf("%d workers: the waiter got %d, %v; want 11", workers, v, err)
		}
		if sum.Load() != 99 {
			t.Fatalf("%d workers: %d roots ran, want 99", workers, sum.Load())
		}
	}
}

// TestTaskAddedByARootStartsInPriorityOrder: on one worker, tasks that a
// root adds while the roots are taken from an open span start in
// priority order with the roots left: one of a higher priority at once,
// one of the same after every root (it was created after them), one of a
// lower one last.
func TestTaskAddedByARootStartsInPriorityOrder(t *testing.T) {
	var order []string
	record := func(name string) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { order = append(order, name); return 0, nil }
	}
	g := graph.New()
	for i := range 200 {
		graph.Add(g, "root", func(ctx context.Context) (int, error) {
			order = append(order, fmt.Sprint(i))
			if i == 100 {
				s := dynamic.Scope(ctx)
				graph.Add(s, "late", record("late"), graph.Priority(-1))
				graph.Add(s, "plain", record("plain"))
				graph.Add(s, "urgent", record("urgent"), graph.Priority(1))
			}
			return 0, nil
		})
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 200 {
		want = append(want, fmt.Sprint(i))
		if i == 100 {
			want = append(want, "urgent")
		}
	}
	want = append(want, "plain", "late")
	if !slices.Equal(order, want) {
		t.Fatalf("start order\n got %v\nwant %v", order, want)
	}
}
