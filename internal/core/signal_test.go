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

type fakeRun struct {
	g     *Graph // for QueueSpan
	ready []*Node
}

func (f *fakeRun) Activated(int) {}
func (f *fakeRun) Queue(n *Node) { f.ready = append(f.ready, n) }
func (f *fakeRun) QueueSpan(from, to int64) {
	for id := from; id < to; id++ {
		f.ready = append(f.ready, f.g.At(id))
	}
}
func (f *fakeRun) Ready(n *Node)                     { f.ready = append(f.ready, n) }
func (f *fakeRun) Observed() bool                    { return false }
func (f *fakeRun) ReadyAll(ns []*Node)               { f.ready = append(f.ready, ns...) }
func (f *fakeRun) Releasing() bool                   { return false }
func (f *fakeRun) Cancel(n *Node) bool               { return false }
func (f *fakeRun) Added(n *Node)                     {}
func (f *fakeRun) Admit(*Node, *Host) (bool, bool)   { return false, false }
func (f *fakeRun) Leave()                            {}
func (f *fakeRun) Spawned(n *Node, _ *Host, _ *Node) { f.Ready(n) }
func (f *fakeRun) Ending() error                     { return nil }
