package core

import (
	"context"
	"testing"
	"time"
)

// noInput is a body without inputs.
type noInput struct{ n Node }

// newNoInput returns the node of a new body.
func newNoInput() *Node {
	b := &noInput{}
	b.n.Init(0, b)
	return &b.n
}

func (*noInput) Run(context.Context, Consumer) error { return nil }
func (*noInput) Inputs() []*Node                     { return nil }
func (*noInput) Drop()                               {}
func (*noInput) Handle() any                         { return nil }

// releasingRun is a run for targets: it releases results.
type releasingRun struct{ fakeRun }

func (*releasingRun) Releasing() bool { return true }

// TestReleaseDuringCompletionKeepsNewReadersWaiting: a completion without
// an ext counts its consumers down without the node's lock, after it has
// switched the node to Done. A consumer that read the result meanwhile may
// release it, and a new reader may then have it computed again: that new
// reader must wait for the new result, and not be counted down by the
// completion still going through the old consumers. Release used to mark
// the node as counted, so the new reader joined at once, counted the
// recomputed input as pending, and then the old completion counted it down:
// it ran before its input and read a dropped (zero) value. The stress test
// found it (EVOLVE_STRESS_MIX=flows, about one run in 180,000).
func TestReleaseDuringCompletionKeepsNewReadersWaiting(t *testing.T) {
	var g Graph
	x := newNoInput()
	c := newOneInput(x)
	g.Lock()
	g.Add(x, x.Deps(), "x", nil, "", nil, 0)
	g.Add(c, c.Deps(), "c", nil, "", nil, 0) // linked: x's completion will count c down if c is in its run
	g.Unlock()
	r := &releasingRun{}
	if err := g.Begin(r, []*Node{x}); err != nil { // a run for x alone: c is not in it
		t.Fatal(err)
	}
	x.users.Store(0) // nobody keeps x: as if its only reader had read it
	if !x.CAS(Ready, Running) {
		t.Fatalf("x is %v, want ready", x.State())
	}
	// The first half of x's completion, as Finish's path without a lock
	// does it: the state says Done, the consumers are not counted yet.
	x.store(uint32(Done))
	if !x.Release() {
		t.Fatal("Release did not release a result nobody reads")
	}
	// A new reader of x joins the run now (a client reads c): x must be
	// computed again first.
	joined := make(chan struct{})
	go func() {
		g.Lock()
		g.activate(c)
		g.Unlock()
		close(joined)
	}()
	// It waits for x's completion to end, as it should, and never joins
	// here; a broken executor joins at once. The bound only says how long
	// the test gives a broken executor to show itself.
	select {
	case <-joined:
	case <-time.After(10 * time.Millisecond):
	}
	// The second half of x's completion.
	x.countDownConsumers(x.Graph(), false, nil)
	x.state.Or(counted)
	<-joined
	if s, p := c.State(), c.pending(); s != Waiting || p != 1 {
		t.Fatalf("the new reader is %v with %d input(s) pending; want waiting for x, computed again", s, p)
	}
	if s := x.State(); s != Ready {
		t.Fatalf("x is %v; want ready, to be computed again", s)
	}
}
