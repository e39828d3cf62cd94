package core

import (
	"errors"
	"sync"
	"testing"
)

// TestEmittedTaskCountsItsFlowDownOnce races the completion of a task a
// flow emitted against the flow's Retry letting go of it: exactly one of
// them must take the task's count off the flow (see joinsCreator), for
// every way a task finishes. Two would let the flow finish while a task
// it joins still runs; none would leave it joining for ever.
func TestEmittedTaskCountsItsFlowDownOnce(t *testing.T) {
	errEnd := errors.New("ended")
	for _, c := range []struct {
		name   string
		from   State
		finish func(n *Node) []*Node
	}{
		{"done", Running, func(n *Node) []*Node { return n.Finish(Done, nil, nil) }},
		{"failed", Running, func(n *Node) []*Node { return n.Finish(Failed, errEnd, nil) }},
		{"cancelled waiting", Waiting, func(n *Node) []*Node { r, _ := n.Cancel(errEnd, nil); return r }},
		{"aborted waiting", Waiting, func(n *Node) []*Node { r, _ := n.Abort(Failed, errEnd, nil); return r }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var g Graph
			flow := NewDetached("flow", 0, 0)
			flow.SetOptions(&Options{Join: true})
			g.mu.Lock()
			g.Add(flow, nil, "", nil)
			g.mu.Unlock()
			for i := range 2000 {
				n := NewDetached("emitted", 0, 0)
				g.mu.Lock()
				g.Add(n, flow, "", nil)
				g.mu.Unlock()
				flow.state.Store(uint32(Joining))
				flow.pending.Store(1)
				n.state.Store(uint32(c.from) | joinsCreator)
				var wg sync.WaitGroup
				var ready []*Node
				wg.Go(func() { ready = c.finish(n) })
				wg.Go(func() {
					if n.dropCreator() {
						flow.pending.Add(-1)
					}
				})
				wg.Wait()
				if p := flow.pending.Load(); p != 0 {
					t.Fatalf("round %d: the flow's count is %d after its task finished and it let go, want 0", i, p)
				}
				// Whoever took the count made the flow ready: the completion
				// hands it back, a Retry leaves it to the executor.
				if len(ready) > 0 && (ready[0] != flow || flow.State() != Ready) {
					t.Fatalf("round %d: completion made %v ready, flow in state %v", i, ready, flow.State())
				}
			}
		})
	}
}
