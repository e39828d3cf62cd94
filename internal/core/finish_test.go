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
