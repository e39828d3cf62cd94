package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// In a run for targets a result is released once the tasks that read it
// as an input have. These tests check that Task.Wait and dynamic.Gather
// read results by handle as safely: a parent adds a child and a reader of
// the child, and reads the child's result after the reader has run (the
// result was released: it is computed again) or before (it is held until
// read, then released by the reader as usual).

// readFunc reads a task's result by handle.
type readFunc func(ctx context.Context, t graph.Task[int]) (int, error)

// readers are the ways of reading a child's result by handle that hold it.
var readers = []struct {
	name string
	read readFunc
}{
	{"Wait", func(ctx context.Context, t graph.Task[int]) (int, error) { return t.Wait(ctx) }},
	{"Gather", func(ctx context.Context, t graph.Task[int]) (int, error) {
		vs, err := dynamic.Gather(ctx, dynamic.Raise, t)
		if err != nil {
			return 0, err
		}
		return vs[0], nil
	}},
}

// eachReader runs test for every reader, on one and two workers.
func eachReader(t *testing.T, test func(t *testing.T, read readFunc, workers int)) {
	for _, rd := range readers {
		for _, workers := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/workers=%d", rd.name, workers), func(t *testing.T) {
				test(t, rd.read, workers)
			})
		}
	}
}

// runParent runs a parent task, whose body is given the child's function,
// in a run for the parent alone, checks that it returns 21, and returns
// how many times the child's function ran.
func runParent(t *testing.T, workers int, body func(ctx context.Context, child func(context.Context) (int, error)) (int, error)) int32 {
	t.Helper()
	g := graph.New()
	var runs atomic.Int32
	child := func(context.Context) (int, error) { runs.Add(1); return 20, nil }
	parent := graph.Add(g, "parent", func(ctx context.Context) (int, error) { return body(ctx, child) })
	if err := run(t, g, exec.Workers(workers), exec.Targets(parent)); err != nil {
		t.Fatalf("run: %v", err)
	}
	check(t, parent, 21)
	return runs.Load()
}

func TestWaitReadsAReleasedResultAgain(t *testing.T) {
	eachReader(t, func(t *testing.T, read readFunc, workers int) {
		runs := runParent(t, workers, func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			s := dynamic.Scope(ctx)
			child := graph.Add(s, "child", fn)
			reader := graph.Add1(s, "reader", child, func(_ context.Context, x int) (int, error) { return x + 1, nil })
			// Once the reader has run, the child's result is gone.
			if err := dynamic.WaitAll(ctx, reader); err != nil {
				return 0, err
			}
			if _, err := child.Result(); !errors.Is(err, graph.ErrReleased) {
				return 0, fmt.Errorf("child before the second read: %v; want it released", err)
			}
			v, err := read(ctx, child)
			return v + 1, err
		})
		if runs != 2 {
			t.Errorf("child ran %d times, want 2 (once more for the read)", runs)
		}
	})
}

func TestWaitHoldsAResultUntilRead(t *testing.T) {
	eachReader(t, func(t *testing.T, read readFunc, workers int) {
		var reader graph.Task[int]
		runs := runParent(t, workers, func(ctx context.Context, fn func(context.Context) (int, error)) (int, error) {
			s := dynamic.Scope(ctx)
			// With one worker: first outranks the child, so the parent
			// cannot run the child itself and parks; when the child is
			// done, the reader outranks the parent's resumption, so it
			// reads the child (and would release it) before the parent
			// does.
			graph.Add(s, "first", func(context.Context) (int, error) { return 0, nil }, graph.Priority(2))
			child := graph.Add(s, "child", fn)
			reader = graph.Add1(s, "reader", child, func(_ context.Context, x int) (int, error) { return x + 1, nil }, graph.Priority(1))
			v, err := read(ctx, child)
			return v + 1, err
		})
		if runs != 1 {
			t.Errorf("child ran %d times, want once", runs)
		}
		if reader.State() != graph.Done && reader.State() != graph.Released {
			t.Errorf("reader: %v; want it run", reader.State())
		}
	})
}

// TestClientWaitReadsAReleasedResultAgain: the same for a client of an open
// run for targets: it adds a task and a reader of it, and reads the task
// with Wait once the reader has run.
func TestClientWaitReadsAReleasedResultAgain(t *testing.T) {
	g := graph.New()
	anchor := graph.Add(g, "anchor", func(context.Context) (int, error) { return 0, nil })
	e := start(t, g, exec.Workers(2), exec.Targets(anchor))
	var runs atomic.Int32
	task := graph.Add(g, "task", func(context.Context) (int, error) { runs.Add(1); return 20, nil })
	reader := graph.Add1(g, "reader", task, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	if v, err := reader.Wait(t.Context()); v != 21 || err != nil {
		t.Fatalf("reader: %d, %v; want 21", v, err)
	}
	if _, err := task.Result(); !errors.Is(err, graph.ErrReleased) {
		t.Fatalf("task after its reader: %v; want it released", err)
	}
	if v, err := task.Wait(t.Context()); v != 20 || err != nil {
		t.Fatalf("task, read again: %d, %v; want 20", v, err)
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("task ran %d times, want 2 (once more for the read)", n)
	}
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
}
