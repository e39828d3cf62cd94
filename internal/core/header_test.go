package core

import (
	"errors"
	"testing"
	"unsafe"
)

// TestSlabNodesFindTheirGraph: a node cut from a slab holds no graph but
// how far its slab's header is (see SlabHeader), and every question that
// needs its graph finds it there; a node that holds its graph, one that
// could not be added, a waiter and a notifier answer as before. TaskOf
// and Running, the small forms the executor inlines, agree with Graph,
// Kind and State.
func TestSlabNodesFindTheirGraph(t *testing.T) {
	var g, other Graph
	slab := make([]noInput, 4) // slab[0] is the header
	g.SlabHeader(&slab[0].n)
	size := uint32(unsafe.Sizeof(slab[0]))
	for i := 1; i < len(slab); i++ {
		slab[i].n.Init(0, &slab[i])
		g.mu.Lock()
		g.Add(&slab[i].n, nil, "cut", nil, "", nil, uint32(i)*size)
		g.mu.Unlock()
	}
	own := newNoInput()
	g.mu.Lock()
	g.Add(own, nil, "own", nil, "", nil, 0)
	g.mu.Unlock()
	rejected := newNoInput()
	rejected.Reject("rejected", errors.New("bad input"))
	waiter := NewWaiter(&slab[2].n)
	notifier := NewNotifier(func(*Node) {})

	for _, c := range []struct {
		name  string
		n     *Node
		graph *Graph
		task  bool
	}{
		{"cut 1", &slab[1].n, &g, true},
		{"cut 3", &slab[3].n, &g, true},
		{"own", own, &g, true},
		{"rejected", rejected, nil, true},
		{"waiter", waiter, &g, false},
		{"notifier", notifier, nil, false},
	} {
		if got := c.n.Graph(); got != c.graph {
			t.Errorf("%s: Graph() = %p, want %p", c.name, got, c.graph)
		}
		for _, gg := range []*Graph{&g, &other} {
			want := c.n.Graph() == gg && c.n.Kind() == Task
			if got := c.n.TaskOf(gg); got != want {
				t.Errorf("%s: TaskOf = %v, Graph() == g && Kind() == Task is %v", c.name, got, want)
			}
		}
		if got, want := c.n.Running(), c.n.State() == Running; got != want {
			t.Errorf("%s: Running() = %v, State() = %v", c.name, got, c.n.State())
		}
		if c.n.Parent() != nil {
			t.Errorf("%s: Parent() = %v, want none", c.name, c.n.Parent())
		}
	}
	if got := slab[2].n.Name(); got != "cut" {
		t.Errorf("a cut node's name: %q, want %q", got, "cut")
	}
	if got := slab[2].n.State(); got != Idle {
		t.Errorf("a cut node prepared ahead reads %v, want idle", got)
	}
}
