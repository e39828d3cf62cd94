package core

import (
	"errors"
	"runtime"
	"testing"
)

// TestFailureIsSeenWithItsError: a node that never ran and is finished as
// cancelled or failed (Cancel, Abort) switches its state and stores its
// error in one critical section of its lock. They used to switch the state
// first and take the lock after: a reader that saw the node cancelled and
// then read its error found nil, and graph's Task.Result returned the zero
// value as a success. The random runs found it (EVOLVE_STRESS_MIX=waits,
// seeds 1064561 and 3000530, about once in a million runs): a task waiting
// for another read 0 while a client cancelled it.
//
// The test holds the node's lock, as a reader of an outcome does, while
// another goroutine finishes the node: the state must not change before
// the lock is free.
func TestFailureIsSeenWithItsError(t *testing.T) {
	errEnd := errors.New("ended")
	for _, c := range []struct {
		name      string
		from, end State
		finish    func(n *Node)
	}{
		{"cancel ready", Ready, Cancelled, func(n *Node) { n.Cancel(errEnd, nil) }},
		{"cancel waiting", Waiting, Cancelled, func(n *Node) { n.Cancel(errEnd, nil) }},
		{"abort waiting", Waiting, Failed, func(n *Node) { n.Abort(Failed, errEnd, nil) }},
		{"abort joining", Joining, Failed, func(n *Node) { n.Abort(Failed, errEnd, nil) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := NewDetached("n", 0, 0)
			n.SetState(c.from)
			n.Lock()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.finish(n)
			}()
			for range 1000 {
				if s := n.State(); s != c.from {
					n.Unlock()
					<-done
					t.Fatalf("the node became %v while a reader held its lock: that reader would find no error", s)
				}
				runtime.Gosched()
			}
			n.Unlock()
			<-done
			if s, err := n.State(), n.Err(); s != c.end || !errors.Is(err, errEnd) {
				t.Fatalf("after finishing: %v with %v, want %v with %v", s, err, c.end, errEnd)
			}
		})
	}
}

// TestCancelForAnEndedRunDoesNothing: a client that found a node's run
// (RunOf) and cancels through it after that run ended and another began
// must not finish the node in the new run on the old one's behalf: the
// new run would wait for it forever.
func TestCancelForAnEndedRunDoesNothing(t *testing.T) {
	g := &Graph{}
	n := newNoInput()
	g.mu.Lock()
	g.Add(n, n.Deps(), "n", nil, "", nil, 0)
	g.mu.Unlock()
	old, cur := &fakeRun{g: g}, &fakeRun{g: g}
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
		g.Add(n, n.Deps(), "n", nil, "", nil, 0)
		g.mu.Unlock()
		return n
	}
	a := add(newNoInput())
	b := add(newOneInput(a)) // a's only reader
	c := add(newNoInput())
	d := add(newOneInput(c)) // c has two readers: d and e
	e := add(newOneInput(c))
	r := &fakeRun{g: g}
	if err := g.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{a, c} {
		if !n.CAS(Ready, Running) {
			t.Fatalf("node %d is %v, want ready", n.ID(), n.State())
		}
	}
	ready, next, _ := a.FinishInline(a.Graph(), Done, nil, nil)
	if next != b || len(ready) != 0 || b.State() != Running {
		t.Fatalf("a's completion: next %v, ready %v, b %v; want b claimed Running, nothing queued", next, ready, b.State())
	}
	ready, next, _ = c.FinishInline(c.Graph(), Done, nil, nil)
	if next != nil || len(ready) != 2 || d.State() != Ready || e.State() != Ready {
		t.Fatalf("c's completion: next %v, ready %d, d %v, e %v; want no claim, both ready", next, len(ready), d.State(), e.State())
	}
}

// TestCancelOfARunningNodeIsKept: a Cancel that reaches a running node,
// and says so, makes the node's completion refuse Done, so that its
// result is discarded as Cancel promises, in both of the completion's
// paths (with an ext, and without); a Cancel that comes after the
// completion stored Done says the node had finished. They were a check
// and a switch apart: the executor checked for a cancel after the
// function returned and stored Done a moment later, and Cancel looked at
// the state and then set its flag, so that a Cancel in between reported
// success while the result stayed. TestRandomTaskGoroutines found it
// (about one seed in twenty thousand on three workers).
func TestCancelOfARunningNodeIsKept(t *testing.T) {
	errEnd := errors.New("ended")
	for _, withExt := range []bool{false, true} {
		n := NewDetached("n", 0, 0)
		if !withExt {
			n.xp.Store(nil)
		}
		n.SetState(Running)
		if _, out := n.Cancel(errEnd, nil); out != CancelRunning {
			t.Fatalf("ext %v: Cancel of a running node: %v, want CancelRunning", withExt, out)
		}
		if _, ok := n.Finish(n.Graph(), Done, nil, nil); ok || n.State() != Running {
			t.Fatalf("ext %v: Finish(Done) after a Cancel: ok %v, state %v; want refused, still running", withExt, ok, n.State())
		}
		if _, ok := n.Finish(n.Graph(), Cancelled, errEnd, nil); !ok || n.State() != Cancelled || !errors.Is(n.Err(), errEnd) {
			t.Fatalf("ext %v: Finish(Cancelled): ok %v, %v with %v", withExt, ok, n.State(), n.Err())
		}

		m := NewDetached("m", 0, 0)
		if !withExt {
			m.xp.Store(nil)
		}
		m.SetState(Running)
		if _, ok := m.Finish(m.Graph(), Done, nil, nil); !ok {
			t.Fatalf("ext %v: Finish(Done) without a Cancel was refused", withExt)
		}
		if _, out := m.Cancel(errEnd, nil); out != NotCancelled || m.State() != Done {
			t.Fatalf("ext %v: Cancel after Done: %v, state %v; want NotCancelled, done", withExt, out, m.State())
		}
	}
}
