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
		{"done", Running, func(n *Node) []*Node { r, _ := n.Finish(n.Graph(), Done, nil, nil); return r }},
		{"failed", Running, func(n *Node) []*Node { r, _ := n.Finish(n.Graph(), Failed, errEnd, nil); return r }},
		{"cancelled waiting", Waiting, func(n *Node) []*Node { r, _ := n.Cancel(errEnd, nil); return r }},
		{"aborted waiting", Waiting, func(n *Node) []*Node { r, _ := n.Abort(Failed, errEnd, nil); return r }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var g Graph
			flow := NewDetached("flow", 0, 0)
			flow.SetOptions(&Options{Join: true})
			g.mu.Lock()
			g.Add(flow, flow.Deps(), flow.Name(), nil, "", nil, 0)
			g.mu.Unlock()
			for i := range 2000 {
				n := NewDetached("emitted", 0, 0)
				g.mu.Lock()
				g.Add(n, n.Deps(), n.Name(), flow, "", nil, 0)
				g.mu.Unlock()
				flow.state.Store(uint64(Joining))
				flow.SetPending(1)
				n.state.Store(uint64(c.from) | joinsCreator)
				var wg sync.WaitGroup
				var ready []*Node
				wg.Go(func() { ready = c.finish(n) })
				wg.Go(func() {
					if n.dropCreator(flow) {
						flow.AddPending(-1)
					}
				})
				wg.Wait()
				if p := flow.pending(); p != 0 {
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

// TestRetryLetsGoOfOnlyWhatItEmitted: a flow joins the tasks it emitted
// and, by watching it, the task its function returned, which another flow
// may have emitted. Its Retry must take back its own counts only: the
// other flow's task still counts the other flow down when it finishes.
// The executor retries a flow only before its function returned a task,
// so it never asks this of Retry; the test holds dropCreator to its
// word all the same.
func TestRetryLetsGoOfOnlyWhatItEmitted(t *testing.T) {
	var g Graph
	a, b := NewDetached("a", 0, 0), NewDetached("b", 0, 0)
	a.SetOptions(&Options{Join: true})
	b.SetOptions(&Options{Join: true})
	g.mu.Lock()
	g.Add(a, a.Deps(), a.Name(), nil, "", nil, 0)
	g.Add(b, b.Deps(), b.Name(), nil, "", nil, 0)
	own, other := NewDetached("own", 0, 0), NewDetached("other", 0, 0)
	g.Add(own, own.Deps(), own.Name(), a, "", nil, 0)
	g.Add(other, other.Deps(), other.Name(), b, "", nil, 0)
	g.mu.Unlock()
	for _, f := range []*Node{a, b} {
		f.state.Store(uint64(Joining))
	}
	// a emitted own; b emitted other, which a's function returned.
	own.state.Store(uint64(Running) | joinsCreator)
	other.state.Store(uint64(Running) | joinsCreator)
	a.SetPending(1)
	a.AddJoin(own)
	b.SetPending(1)
	b.AddJoin(other)
	a.AddJoin(other)
	if !other.Watch(a) {
		t.Fatal("other finished before a watched it")
	}
	if p := a.pending(); p != 2 {
		t.Fatalf("a waits for %d tasks, want 2", p)
	}
	a.Retry()
	if p := a.pending(); p != 0 {
		t.Errorf("after a's Retry a waits for %d tasks, want 0", p)
	}
	if p := b.pending(); p != 1 {
		t.Errorf("a's Retry changed b's count to %d, want 1", p)
	}
	ready, _ := other.Finish(other.Graph(), Done, nil, nil)
	if len(ready) != 1 || ready[0] != b || b.pending() != 0 {
		t.Errorf("other's completion made %v ready and left b waiting for %d, want b ready", ready, b.pending())
	}
	if p := a.pending(); p != 0 {
		t.Errorf("other's completion counted a down to %d: a had let go of it", p)
	}
	own.Finish(own.Graph(), Done, nil, nil)
	if p := a.pending(); p != 0 {
		t.Errorf("own's completion counted a down to %d after a let go of it", p)
	}
}
