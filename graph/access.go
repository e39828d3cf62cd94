package graph

import (
	"context"

	"github.com/evolve-dag/evolve/internal/access"
	"github.com/evolve-dag/evolve/internal/core"
)

// init gives evolve's other packages what they need of the engine behind
// the handles (see internal/access), so that no exported method shows it.
func init() {
	access.GraphCore = func(g *Graph) *core.Graph {
		if g == nil {
			return nil
		}
		return &g.c
	}
	access.RefNode = func(r Ref) *core.Node { return r.n }
	access.NodeRef = refOf
	access.Returned = returnedOf
	access.Waitable = waitable
	access.Await = func(ctx context.Context, nodes []*core.Node) error { return await(ctx, "dynamic: WaitAll", nodes) }
}
