package graph

import (
	"testing"

	"github.com/evolve-dag/evolve/internal/access"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestStatesMatchCore: graph's states are the engine's, number for number
// and name for name, so stateOf is a plain conversion.
func TestStatesMatchCore(t *testing.T) {
	for s := core.Idle; s <= core.Released; s++ {
		if g := stateOf(s); uint32(g) != uint32(s) || g.String() != s.String() || g.Terminal() != s.Terminal() {
			t.Errorf("core state %d (%v) is graph state %d (%v)", s, s, g, g)
		}
	}
	if Released != State(core.Released) || Idle != State(core.Idle) {
		t.Error("the constants differ from core's")
	}
}

// TestAccessHooksSet: graph's init set every hook it owns (exec sets RunOf).
func TestAccessHooksSet(t *testing.T) {
	for name, h := range map[string]any{
		"GraphCore": access.GraphCore, "RefNode": access.RefNode, "NodeRef": access.NodeRef,
		"Returned": access.Returned, "Waitable": access.Waitable, "Await": access.Await,
	} {
		if h == nil {
			t.Errorf("access.%s is not set", name)
		}
	}
}
