package core

import "testing"

// TestCompletionWithoutConsumersIsCountedInItsSwitch: a task without
// consumers, finishing without the node's lock, is marked counted in the
// switch to its terminal state (no Or after it), and a consumer that joins
// the run afterwards finds it finished and does not wait for it.
func TestCompletionWithoutConsumersIsCountedInItsSwitch(t *testing.T) {
	g, x := begunWithOne(t)
	if !x.CAS(Ready, Running) {
		t.Fatalf("x is %v, want ready", x.State())
	}
	old, ok := x.storeEnd(Done, true)
	if !ok || old&counted != 0 {
		t.Fatalf("storeEnd: ok %v, old word %#x; want it to switch a running node", ok, old)
	}
	if v := x.state.Load(); v&counted == 0 || State(v&stateMask) != Done {
		t.Fatalf("word %#x after the switch of a node without consumers, want Done and counted", v)
	}
	// A consumer joining now reads x as finished.
	c := newOneInput(x)
	g.Lock()
	g.Add(c, c.Deps(), "c", nil, "", nil, 0)
	g.Unlock()
	if s, p := c.State(), c.pending(); s != Ready || p != 0 {
		t.Errorf("a consumer joining after x finished is %v waiting for %d, want ready", s, p)
	}
}

// TestLinkDuringARunKeepsTheCountAfterTheSwitch: a completion that found
// its node without consumers marks it counted in its switch only if no
// consumer linked itself since the node was prepared (linked) and nobody
// is registering (announced): such a consumer may have linked after the
// completion looked and counts on being counted down. A link made during
// a run flags the node; the run's preparation clears the flag.
func TestLinkDuringARunKeepsTheCountAfterTheSwitch(t *testing.T) {
	g, x := begunWithOne(t)
	if x.state.Load()&linked != 0 {
		t.Fatal("x is flagged linked at its run's start: a link made while building flagged it")
	}
	if !x.CAS(Ready, Running) {
		t.Fatalf("x is %v, want ready", x.State())
	}
	// A consumer joins the running graph: it links itself to x, running.
	c := newOneInput(x)
	g.Lock()
	g.Add(c, c.Deps(), "c", nil, "", nil, 0)
	g.Unlock()
	if x.state.Load()&linked == 0 {
		t.Fatal("a link made during the run did not flag x")
	}
	if c.State() != Waiting || c.pending() != 1 {
		t.Fatalf("c is %v waiting for %d, want waiting for x", c.State(), c.pending())
	}
	// The completion had looked before the link and found no consumer:
	// its switch must not mark x counted, and it counts c down.
	if _, ok := x.storeEnd(Done, true); !ok {
		t.Fatal("storeEnd refused to switch a running node")
	}
	if x.state.Load()&counted != 0 {
		t.Fatal("x was marked counted in its switch although a consumer linked itself during the run")
	}
	// Announced: the same.
	y := newNoInput()
	g.Lock()
	g.Add(y, y.Deps(), "y", nil, "", nil, 0)
	g.Unlock()
	y.SetState(Running)
	y.announce()
	y.storeEnd(Done, true)
	y.withdraw()
	if y.state.Load()&counted != 0 {
		t.Fatal("y was marked counted in its switch although a registration was under way")
	}
	// Finish itself, with the consumer linked: c is counted down.
	x.SetState(Running)
	x.state.Or(linked)
	ready, ok := x.Finish(x.Graph(), Done, nil, nil)
	if !ok || len(ready) != 1 || ready[0] != c {
		t.Fatalf("x's completion made %v ready (ok %v), want c", ready, ok)
	}
}

// begunWithOne returns a graph of one task without inputs, x, in a run
// begun with a fake executor.
func begunWithOne(t *testing.T) (*Graph, *Node) {
	t.Helper()
	g := new(Graph)
	x := newNoInput()
	g.Lock()
	g.Add(x, x.Deps(), "x", nil, "", nil, 0)
	g.Unlock()
	if err := g.Begin(&fakeRun{g: g}, nil); err != nil {
		t.Fatal(err)
	}
	return g, x
}

// TestCountedInTheSwitchOnlyWithConsumersInTheRun: a completion marks its
// task counted in its switch, before it counts the consumers it found
// down, only if each of them is in the run (and they are few): a
// consumer outside the run may join it while the walk goes on, to read a
// released result computed again, and only a counted flag set after the
// walk makes it wait (see TestReleaseDuringCompletionKeepsNewReadersWaiting,
// and the flows mix in the evolvechaos build, which reads a zero within
// seconds when this check is undone).
func TestCountedInTheSwitchOnlyWithConsumersInTheRun(t *testing.T) {
	var g Graph
	x, y := newNoInput(), newNoInput()
	cx := newOneInput(x)
	var cy []*Node
	for range maxEarly + 1 {
		cy = append(cy, newOneInput(y))
	}
	g.Lock()
	g.Add(x, x.Deps(), "x", nil, "", nil, 0)
	g.Add(cx, cx.Deps(), "cx", nil, "", nil, 0)
	g.Add(y, y.Deps(), "y", nil, "", nil, 0)
	for _, c := range cy {
		g.Add(c, c.Deps(), "cy", nil, "", nil, 0)
	}
	g.Unlock()
	heads := func(n *Node) (uint32, uint32, uint32) { return n.succ1.Load(), n.succ.Load(), n.epoch.Load() }

	// A run for x and y alone: cx and the cy are not in it.
	if err := g.Begin(&fakeRun{g: &g}, []*Node{x, y}); err != nil {
		t.Fatal(err)
	}
	if s1, s2, e := heads(x); consumersIn(x.Graph(), s1, s2, e) {
		t.Error("x's consumer is not in the run, yet x may be counted in its switch")
	}
	g.End(func() bool { return false }, nil, func(*Node) {})

	// A run of everything: cx is in it, and y has one consumer too many.
	if err := g.Begin(&fakeRun{g: &g}, nil); err != nil {
		t.Fatal(err)
	}
	if s1, s2, e := heads(x); !consumersIn(x.Graph(), s1, s2, e) {
		t.Error("x's only consumer is in the run, yet x may not be counted in its switch")
	}
	if s1, s2, e := heads(y); consumersIn(y.Graph(), s1, s2, e) {
		t.Errorf("y has %d consumers, more than %d, yet it may be counted in its switch", len(cy), maxEarly)
	}
	// x's completion, early: cx is counted down and made ready, x counted.
	if !x.CAS(Ready, Running) {
		t.Fatalf("x is %v, want ready", x.State())
	}
	ready, ok := x.Finish(x.Graph(), Done, nil, nil)
	if !ok || len(ready) != 1 || ready[0] != cx || x.state.Load()&counted == 0 {
		t.Errorf("x's completion made %v ready (ok %v), counted %v; want cx, and x counted", ready, ok, x.state.Load()&counted != 0)
	}
}
