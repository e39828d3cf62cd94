package core

import (
	"testing"
	"time"
)

// TestSignalReaction checks the bookkeeping behind letting a woken client
// react: a firing that wakes a waiting client reports it once, the client
// is reacting until it comes back to wait, and a firing while it still
// reacts (a busy client) does not ask anyone to wait for it.
func TestSignalReaction(t *testing.T) {
	s := NewSignal()
	if s.Reacting(time.Hour) {
		t.Fatal("a new signal reports a reaction")
	}
	if !s.Fire() {
		t.Fatal("the first firing did not report waking a waiting client")
	}
	if !s.Reacting(time.Hour) {
		t.Fatal("no reaction after a firing")
	}
	if s.Reacting(0) {
		t.Fatal("a reaction outlived its bound")
	}
	if s.Fire() {
		t.Fatal("a firing while the client still reacts reported a wake")
	}
	<-s.C() // the token of the firings
	s.Consume()
	s.Blocking()
	if s.Reacting(time.Hour) {
		t.Fatal("still reacting after the client came back to wait")
	}
	if !s.Fire() {
		t.Fatal("a firing after the client came back did not report a wake")
	}
}

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
	if s.Fire() {
		t.Fatal("a firing that woke a task reported a client wake")
	}
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
