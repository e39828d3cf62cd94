package dynamic_test

import (
	"context"
	"errors"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestAddWhileExecutionEnds: a client keeps adding tasks to an open
// execution while it is closed and ends. Every task it added must end
// (done, or cancelled because the run ended first) or never have joined
// the run (then Wait says it was not scheduled): none may stay ready in a
// run that is over, with a Wait that never returns. Before the fix, a task
// added between the moment the last task finished and the moment the run
// let go of the graph joined a run that no worker served any more.
func TestAddWhileExecutionEnds(t *testing.T) {
	for round := range 100 {
		g := graph.New()
		graph.Add(g, "first", func(context.Context) (int, error) { return 1, nil })
		e, err := exec.Start(t.Context(), g, exec.Workers(1))
		if err != nil {
			t.Fatal(err)
		}
		var added []graph.Task[int]
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				ended := false
				select {
				case <-e.Done():
					ended = true
				default:
				}
				added = append(added, graph.Add(g, "late", func(context.Context) (int, error) { return 2, nil }))
				if ended || i == 10_000 {
					return
				}
				if i == 2 {
					e.Close()
				}
			}
		}()
		<-done
		if err := e.Wait(); err != nil {
			t.Fatalf("round %d: run: %v", round, err)
		}
		for i, task := range added {
			ctx, cancel := context.WithTimeoutCause(t.Context(), liveness, errLiveness)
			v, err := task.Wait(ctx)
			cancel()
			switch {
			case errors.Is(err, errLiveness) || errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("round %d: task %d of %d (%v) never ended after the run did", round, i, len(added), task.State())
			case err == nil && v != 2:
				t.Fatalf("round %d: task %d read %d, want 2", round, i, v)
			case err != nil && !errors.Is(err, graph.ErrCancelled) && !errors.Is(err, graph.ErrNotScheduled):
				t.Fatalf("round %d: task %d: %v; want done, cancelled or not scheduled", round, i, err)
			}
		}
	}
}
