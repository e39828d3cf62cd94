package core

import "testing"

// TestSignalArm checks the in-task side: a firing makes the armed waiter
// ready through the run, a firing with nothing armed makes the next Arm
// return at once, and Disarm takes a waiter back.
func TestSignalArm(t *testing.T) {
	s := NewSignal()
	r := &fakeRun{}
	w := NewWaiter(nil)
	if !s.Arm(w, r) {
		t.Fatal("Arm on a signal that never fired returned false")
	}
	s.Fire()
	if len(r.ready) != 1 || r.ready[0] != w || w.State() != Ready {
		t.Fatalf("the armed waiter was not made ready: %v, state %v", r.ready, w.State())
	}
	s.Fire() // nothing armed: remembered
	if s.Arm(NewWaiter(nil), r) {
		t.Fatal("Arm after an unclaimed firing did not return at once")
	}
	w2 := NewWaiter(nil)
	if !s.Arm(w2, r) {
		t.Fatal("Arm after the firing was claimed returned false")
	}
	s.Disarm(w2)
	s.Fire()
	if len(r.ready) != 1 {
		t.Fatalf("a disarmed waiter was made ready")
	}
}

type fakeRun struct{ ready []*Node }

func (f *fakeRun) Activated(int)       {}
func (f *fakeRun) Queue(n *Node)       { f.ready = append(f.ready, n) }
func (f *fakeRun) Ready(n *Node)       { f.ready = append(f.ready, n) }
func (f *fakeRun) Observed() bool      { return false }
func (f *fakeRun) ReadyAll(ns []*Node) { f.ready = append(f.ready, ns...) }
func (f *fakeRun) Releasing() bool     { return false }
func (f *fakeRun) Cancel(n *Node) bool { return false }
func (f *fakeRun) Added(n *Node)       {}

// TestCancelForAnEndedRunDoesNothing: a client that found a node's run
// (RunOf) and cancels through it after that run ended and another began
// must not finish the node in the new run on the old one's behalf: the
// new run would wait for it forever.
func TestCancelForAnEndedRunDoesNothing(t *testing.T) {
	g := &Graph{}
	n := newNoInput()
	g.mu.Lock()
	g.Add(n, "n", nil, "", nil)
	g.mu.Unlock()
	old, cur := &fakeRun{}, &fakeRun{}
	if err := g.Begin(old, nil); err != nil {
		t.Fatal(err)
	}
	if _, out := g.Cancel(old, n, nil); out != CancelledNow {
		t.Fatalf("Cancel in the node's own run: %v, want CancelledNow", out)
	}
	g.End(func() bool { return false }, nil, nil)
	if err := g.Begin(cur, nil); err != nil {
		t.Fatal(err)
	}
	if _, out := g.Cancel(old, n, nil); out != NotCancelled || n.State() != Ready {
		t.Fatalf("Cancel through the ended run: %v, node %v; want NotCancelled, ready", out, n.State())
	}
	if _, out := g.Cancel(cur, n, nil); out != CancelledNow {
		t.Fatalf("Cancel through the node's run: %v, want CancelledNow", out)
	}
}

// TestFinishInlineClaimsTheOnlyReader: a completion whose node has one
// reader, made ready by it, moves the reader straight to Running and
// returns it; a node with two readers claims nothing, and both are made
// ready as Finish makes them.
func TestFinishInlineClaimsTheOnlyReader(t *testing.T) {
	g := &Graph{}
	add := func(n *Node) *Node {
		g.mu.Lock()
		g.Add(n, "n", nil, "", nil)
		g.mu.Unlock()
		return n
	}
	a := add(newNoInput())
	b := add(newOneInput(a)) // a's only reader
	c := add(newNoInput())
	d := add(newOneInput(c)) // c has two readers: d and e
	e := add(newOneInput(c))
	r := &fakeRun{}
	if err := g.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{a, c} {
		if !n.CAS(Ready, Running) {
			t.Fatalf("node %d is %v, want ready", n.ID(), n.State())
		}
	}
	ready, next := a.FinishInline(Done, nil, nil)
	if next != b || len(ready) != 0 || b.State() != Running {
		t.Fatalf("a's completion: next %v, ready %v, b %v; want b claimed Running, nothing queued", next, ready, b.State())
	}
	ready, next = c.FinishInline(Done, nil, nil)
	if next != nil || len(ready) != 2 || d.State() != Ready || e.State() != Ready {
		t.Fatalf("c's completion: next %v, ready %d, d %v, e %v; want no claim, both ready", next, len(ready), d.State(), e.State())
	}
}
