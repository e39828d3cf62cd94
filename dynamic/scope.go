package dynamic

import (
	"context"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Scope returns the Builder through which the task running with ctx adds
// tasks to its graph. What it adds records the task as its creator and
// joins the run at once; building looks exactly as it does before a run.
// Outside a task (or given a nil ctx), Scope returns a Builder whose tasks
// fail to build with graph.ErrNilBuilder; with the context of a task whose
// function has returned (kept by a goroutine it started), one whose tasks
// fail to build with graph.ErrTaskReturned.
func Scope(ctx context.Context) graph.Builder {
	if ctx == nil {
		return graph.Within(graph.Ref{})
	}
	n := core.Current(ctx)
	if n == nil {
		if r := core.Returned(ctx); r != nil {
			return returned(r)
		}
		return graph.Within(graph.Ref{})
	}
	return graph.Within(nodeRef(n))
}
