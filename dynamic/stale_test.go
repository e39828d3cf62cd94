package dynamic_test

import (
	"context"
	"errors"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestContextKeptPastItsTask has task a hand its context to a goroutine
// and return; on the same (only) worker, b runs next and waits for the
// goroutine, which then adds a task through Scope and waits with a's
// context. None of that may act as b, the worker's task now: each wait
// fails with graph.ErrTaskReturned naming a, and the added task fails to
// build with it, with no creator. The context still reports the run's end.
func TestContextKeptPastItsTask(t *testing.T) {
	g := graph.New()
	bRuns, gone := make(chan struct{}), make(chan struct{})
	var (
		kept  context.Context
		late  graph.Task[int]
		waits = map[string]error{}
		errOn error // ctx.Err() while the run goes on
		x     graph.Task[int]
	)
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
		kept = ctx
		go func() {
			defer close(gone)
			if err := block(ctx, bRuns); err != nil {
				waits["b to start"] = err
				return
			}
			late = graph.Add(dynamic.Scope(ctx), "late", func(context.Context) (int, error) { return 1, nil })
			_, waits["Task.Wait"] = x.Wait(ctx)
			waits["WaitAll"] = dynamic.WaitAll(ctx, x)
			_, _, waits["AsCompleted.Next"] = dynamic.AsCompleted(x).Next(ctx)
			waits["WaitAll(Ref)"] = dynamic.WaitAll(ctx, x.Ref())
			errOn = ctx.Err()
		}()
		return 1, nil
	})
	waits["Task.Wait, finished"] = nil
	b := graph.Add1(g, "b", a, func(ctx context.Context, v int) (int, error) {
		close(bRuns)
		return v, block(ctx, gone)
	})
	x = graph.Add1(g, "x", b, func(_ context.Context, v int) (int, error) { return v, nil })
	if err := run(t, g, exec.Workers(1)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	_, waits["Task.Wait, finished"] = a.Wait(kept)

	for what, err := range waits {
		var ge *graph.Error
		if !errors.Is(err, graph.ErrTaskReturned) || !errors.As(err, &ge) || ge.Task != "a" {
			t.Errorf("%s with a's context after a returned: %v; want graph.ErrTaskReturned naming a", what, err)
		}
	}
	if late.Ref() == (graph.Ref{}) {
		t.Fatal("the goroutine did not add its task")
	}
	if err := late.Err(); !errors.Is(err, graph.ErrTaskReturned) || late.State() != graph.Failed {
		t.Errorf("task added through Scope after a returned: %v, %v; want failed with graph.ErrTaskReturned", late.State(), err)
	}
	if c := late.Creator(); c != (graph.Ref{}) {
		t.Errorf("task added through Scope after a returned has creator %s; want none", c.Name())
	}
	if errOn != nil {
		t.Errorf("a's context while the run went on: Err() = %v; want nil (it is the run's)", errOn)
	}
	select {
	case <-kept.Done():
	default:
		t.Error("a's context is not done after its run ended")
	}
}

// TestContextKeptIntoTheNextRun keeps a task's context from a run where
// the task failed into the next run, which runs the task again, and
// reads it all along: what is added through it between the runs fails
// with graph.ErrTaskReturned, and while the task runs again it is
// recorded as created by that task, never by another. (Run with -race:
// the second run points the task at its new worker while the goroutine
// reads.)
func TestContextKeptIntoTheNextRun(t *testing.T) {
	g := graph.New()
	var kept context.Context
	var calls int
	again, checked, stop, gone := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	var during graph.Task[int]
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
		calls++
		if calls == 1 {
			kept = ctx
			return 0, errBoom // so that the next run runs a again
		}
		close(again)
		return 1, block(ctx, checked)
	})
	if err := run(t, g, exec.Workers(1)); !errors.Is(err, errBoom) {
		t.Fatalf("first run: %v, want errBoom", err)
	}
	between := graph.Add(dynamic.Scope(kept), "between", func(context.Context) (int, error) { return 0, nil })
	go func() {
		defer close(gone)
		for { // read all along, while the next run starts a again
			select {
			case <-again:
				during = graph.Add(dynamic.Scope(kept), "during", func(context.Context) (int, error) { return 0, nil })
				close(checked)
				<-stop
				return
			case <-stop:
				return
			default:
				_ = dynamic.Scope(kept)
				_ = kept.Err()
			}
		}
	}()
	err := run(t, g, exec.Workers(1))
	close(stop)
	<-gone
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if !errors.Is(between.Err(), graph.ErrTaskReturned) || between.Creator() != (graph.Ref{}) {
		t.Errorf("task added between the runs: %v, creator %v; want graph.ErrTaskReturned, none", between.Err(), between.Creator())
	}
	if during.Ref() == (graph.Ref{}) {
		t.Fatal("the goroutine added nothing while a ran again")
	}
	if c := during.Creator(); c != (graph.Ref{}) && c != a.Ref() || c == (graph.Ref{}) && !errors.Is(during.Err(), graph.ErrTaskReturned) {
		t.Errorf("task added while a ran again: creator %v, %v; want a, or graph.ErrTaskReturned", c, during.Err())
	}
}
