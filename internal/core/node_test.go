package core

import (
	"context"
	"errors"
	"fmt"
	"reflect"
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

// The node's size and its pointers are part of the cost of every task (see
// Node): a change that grows either should be a decision, not an accident.
// The host pointer took it from 96 to 104 bytes, so that each task has a
// context of its own without allocating one (see Host); holding the
// creator and the consumers by number took it back to 96, and from 9
// pointer words to 6.
func TestNodeSize(t *testing.T) {
	if got := unsafe.Sizeof(Node{}); got > 72 {
		t.Errorf("Node is %d bytes, want at most 72", got)
	}
	if got := pointerWords(reflect.TypeFor[Node]()); got > 3 {
		t.Errorf("Node has %d pointer words, want at most 3", got)
	}
	if got := pointerWords(reflect.TypeFor[edge]()); got != 0 {
		t.Errorf("edge has %d pointer words, want none", got)
	}
	// Every task that waits, fails or has options allocates an ext.
	if got := unsafe.Sizeof(ext{}); got > 96 {
		t.Errorf("ext is %d bytes, want at most 96", got)
	}
}

func TestFull(t *testing.T) {
	var g Graph
	if g.Full(3) != nil {
		t.Fatal("an empty graph is full")
	}
	g.nodes.n = MaxNodes
	if g.Full(0) == nil {
		t.Fatalf("a graph of %d nodes is not full", g.nodes.n)
	}
	g.nodes.n = 0
	g.edges.n = maxEdges - 2
	if err := g.Full(2); err != nil {
		t.Fatalf("a graph of %d links is full for a task of 2 inputs: %v", g.edges.n, err)
	}
	if g.Full(3) == nil {
		t.Fatalf("a graph of %d links is not full for a task of 3 inputs", g.edges.n)
	}
}

func TestSuccsKeepsOrder(t *testing.T) {
	var g Graph
	in := NewDetached("in", 0, 0)
	g.Lock()
	g.Add(in, in.Deps(), in.Name(), nil, "", nil, 0)
	var want []*Node
	for range 4 {
		c := newOneInput(in)
		g.Add(c, c.Deps(), "c", nil, "", nil, 0)
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

// oneInput is a body that reads one input. Like every body, it begins
// with its node (see Node.Init).
type oneInput struct {
	n  Node
	in *Node
}

// newOneInput returns the node of a new body reading in.
func newOneInput(in *Node) *Node {
	b := &oneInput{in: in}
	b.n.Init(0, b)
	return &b.n
}

func (b *oneInput) Run(ctx context.Context, c Consumer) error { return nil }
func (b *oneInput) Inputs() []*Node                           { return []*Node{b.in} }
func (b *oneInput) Drop()                                     {}
func (b *oneInput) Handle() any                               { return nil }

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
	wg.Go(func() { // and the pending count in its upper half
		for range rounds {
			n.AddPending(2)
			n.AddPending(-1)
			n.countDownTo(Running, Running, Waiting, 0) // never Running: only counts
		}
	})
	wg.Wait()
	if count != goroutines*rounds {
		t.Fatalf("count = %d, want %d: the lock let two holders in", count, goroutines*rounds)
	}
	if v := n.state.Load(); v&lockBit != 0 || v&announceMask != 0 || n.pending() != 0 {
		t.Fatalf("state word %#x: lock or announcements left over, or pending %d, want 0", v, n.pending())
	}
}

// TestCountDownIsOneWrite: the pending count shares the state's word, so
// the last count down makes the node ready (or running) in the same
// write, and only then; a count below zero or a withdrawal never carries
// into the other half.
func TestCountDownIsOneWrite(t *testing.T) {
	n := NewDetached("n", 0, 0)
	n.SetState(Waiting)
	n.SetPending(2)
	if n.CountDown(Waiting, Ready) || n.State() != Waiting || n.pending() != 1 {
		t.Fatalf("first of two counted down: %v with %d pending, want waiting with 1", n.State(), n.pending())
	}
	if !n.countDownTo(Waiting, Waiting, Running, poisoned) || n.State() != Running || n.pending() != 0 || !n.Poisoned() {
		t.Fatalf("last counted down: %v with %d pending, poisoned %v; want running, 0, poisoned", n.State(), n.pending(), n.Poisoned())
	}
	// Not in the state it may be moved from: counted, not moved.
	n.SetPending(1)
	if n.CountDown(Waiting, Ready) || n.State() != Running || n.pending() != 0 {
		t.Fatalf("counted down while running: %v with %d pending, want running with 0", n.State(), n.pending())
	}
	// Below zero (a guard taken back late) and back, with announcements.
	n.announce()
	n.AddPending(-1)
	n.withdraw()
	if v := n.state.Load(); n.pending() != -1 || v&announceMask != 0 || n.State() != Running {
		t.Fatalf("word %#x: pending %d, state %v; want -1, no announcement, running", v, n.pending(), n.State())
	}
	n.AddPending(1)
	if v := n.state.Load(); v&^uint64(poisoned) != uint64(Running) {
		t.Fatalf("word %#x, want only running and poisoned", v)
	}
	// A joining flow's waiters count it down from Joining too.
	n.store(uint32(Joining))
	n.SetPending(1)
	if !n.countDownTo(Waiting, Joining, Ready, 0) || n.State() != Ready {
		t.Fatalf("a joining flow counted down to zero is %v, want ready", n.State())
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
	if v := n.state.Load(); v != uint64(Done) {
		t.Fatalf("after unlock and withdraw: word %#x, want %#x", v, uint64(Done))
	}
}

// pointerWords counts the words of a value of type t that the collector
// follows.
func pointerWords(t reflect.Type) int {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func, reflect.String, reflect.Slice:
		return 1
	case reflect.Interface:
		return 1 // the data word: the collector does not follow the type word
	case reflect.Array:
		return t.Len() * pointerWords(t.Elem())
	case reflect.Struct:
		k := 0
		for i := range t.NumField() {
			k += pointerWords(t.Field(i).Type)
		}
		return k
	}
	return 0
}

// TestNamesByNumber: a node finds its name in its graph's names; a loop
// of one or two names stores each once, other names are stored as they
// come and still read back right, and a waiter reads its owner's.
func TestNamesByNumber(t *testing.T) {
	var g Graph
	g.Lock()
	defer g.Unlock()
	add := func(name string) *Node {
		n := NewDetached("", 0, 0)
		g.Add(n, n.Deps(), name, nil, "", nil, 0)
		return n
	}
	var nodes []*Node
	var want []string
	for i := range 1000 {
		name := [2]string{"leaf", "sum"}[i%2]
		nodes, want = append(nodes, add(name)), append(want, name)
	}
	if k := g.names.len(); k != 2 {
		t.Errorf("1,000 tasks of two names in turn stored %d names, want 2", k)
	}
	for i := range 300 {
		name := [3]string{"a", "b", "c"}[i%3]
		if i%50 == 0 {
			name = fmt.Sprintf("task %d", i)
		}
		nodes, want = append(nodes, add(name)), append(want, name)
	}
	for i, n := range nodes {
		if n.Name() != want[i] {
			t.Fatalf("node %d is named %q, want %q", i, n.Name(), want[i])
		}
	}
	if w := NewWaiter(nodes[1]); w.Name() != "sum" {
		t.Errorf("a waiter of %q is named %q", nodes[1].Name(), w.Name())
	}
	n := NewDetached("", 0, 0)
	n.Reject("bad", errors.New("no"))
	if n.Name() != "bad" || n.Graph() != nil || n.State() != Failed {
		t.Errorf("a rejected node: name %q, graph %p, state %v", n.Name(), n.Graph(), n.State())
	}
}
