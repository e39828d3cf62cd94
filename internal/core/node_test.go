package core

import (
	"context"
	"sync"
	"testing"
	"unsafe"
)

func TestKindIsDerived(t *testing.T) {
	cases := []struct {
		name string
		n    *Node
		want Kind
	}{
		{"waiter", NewWaiter(nil), Waiter},
		{"notifier", NewNotifier(func(*Node) {}), Notifier},
		{"detached task", NewDetached("t", 0, 1), Task},
	}
	for _, c := range cases {
		if got := c.n.Kind(); got != c.want {
			t.Errorf("%s: Kind() = %v, want %v", c.name, got, c.want)
		}
	}
	// A task whose ext was created (options, a failure) stays a task.
	n := NewDetached("t", 0, 2)
	n.SetOptions(&Options{Retries: 1})
	if n.Kind() != Task {
		t.Errorf("task with options: Kind() = %v, want Task", n.Kind())
	}
}

// The node's size is part of the cost of every task (see Node): a change
// that grows it should be a decision, not an accident. The host pointer
// took it from 96 to 104 bytes, so that each task has a context of its own
// without allocating one (see Host).
func TestNodeSize(t *testing.T) {
	if got := unsafe.Sizeof(Node{}); got > 104 {
		t.Errorf("Node is %d bytes, want at most 104", got)
	}
	// Every task that waits, fails or has options allocates an ext.
	if got := unsafe.Sizeof(ext{}); got > 96 {
		t.Errorf("ext is %d bytes, want at most 96", got)
	}
}

func TestFull(t *testing.T) {
	var g Graph
	if g.Full() {
		t.Fatal("an empty graph is full")
	}
	g.n = MaxNodes
	if !g.Full() {
		t.Fatalf("a graph of %d nodes is not full", g.n)
	}
}

func TestSuccsKeepsOrder(t *testing.T) {
	var g Graph
	in := NewDetached("in", 0, 0)
	g.Lock()
	g.Add(in, nil, "", nil)
	var want []*Node
	for range 4 {
		c := &Node{}
		c.Init("c", 0, oneInput{in})
		g.Add(c, nil, "", nil)
		want = append(want, c)
	}
	g.Unlock()
	got := g.Succs(in)
	if len(got) != len(want) {
		t.Fatalf("Succs has %d nodes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Succs[%d] is node %d, want %d", i, got[i].ID(), want[i].ID())
		}
	}
}

// oneInput is a body with one input, for tests of linking.
type oneInput struct{ in *Node }

func (b oneInput) Run(ctx context.Context, c Consumer) error { return nil }
func (b oneInput) NumInputs() int                            { return 1 }
func (b oneInput) Input(int) *Node                           { return b.in }
func (b oneInput) Drop()                                     {}
func (b oneInput) Handle() any                               { return nil }

// TestLockExcludes: the node's lock (a bit of the state word) gives mutual
// exclusion while other goroutines change the same word: state switches,
// flags, announcements.
func TestLockExcludes(t *testing.T) {
	n := NewDetached("n", 0, 0)
	n.SetState(Waiting)
	const goroutines, rounds = 8, 2000
	count := 0 // guarded by n's lock; the race detector checks that it is
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range rounds {
				n.lock()
				count++
				n.unlock()
			}
		})
	}
	wg.Go(func() { // the word's other users, all the while
		for i := range rounds {
			n.announce()
			n.state.Or(poisoned)
			if i%2 == 0 {
				n.CAS(Waiting, Ready)
			} else {
				n.CAS(Ready, Waiting)
			}
			n.withdraw()
		}
	})
	wg.Wait()
	if count != goroutines*rounds {
		t.Fatalf("count = %d, want %d: the lock let two holders in", count, goroutines*rounds)
	}
	if v := n.state.Load(); v&lockBit != 0 || v&announceMask != 0 {
		t.Fatalf("state word %#x: lock or announcements left over", v)
	}
}

// TestStoreKeepsLockAndAnnouncements: a state switch by the lock's holder,
// or by a completion while someone announces, keeps both.
func TestStoreKeepsLockAndAnnouncements(t *testing.T) {
	n := NewDetached("n", 0, 0)
	n.SetState(Running)
	n.announce()
	n.lock()
	n.store(uint32(Done))
	if v := n.state.Load(); v&lockBit == 0 || v&announceMask != announceOne || n.State() != Done {
		t.Fatalf("after store: word %#x, want Done with the lock and one announcement", v)
	}
	n.unlock()
	n.withdraw()
	if v := n.state.Load(); v != uint32(Done) {
		t.Fatalf("after unlock and withdraw: word %#x, want %#x", v, uint32(Done))
	}
}
