package exec

import (
	"context"
	"errors"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestCancelBeforeStartNeverStarts: a task whose cancellation lands after
// it was moved to Running and before its function started (the moment
// between a worker's claim and its call) never starts, as Task.Cancel
// promises for a task that has not started, and ends Cancelled.
func TestCancelBeforeStartNeverStarts(t *testing.T) {
	g := graph.New()
	ran := false
	task := graph.Add(g, "t", func(context.Context) (int, error) { ran = true; return 1, nil })
	cg := graphCore(g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newRunner(ctx, cg, &config{workers: 1})
	r.outstanding.Store(1) // the Close hold, as Start takes it
	if err := cg.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	n := refNode(task.Ref())
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
	cg.End(func() bool { return false }, nil, nil)
}
