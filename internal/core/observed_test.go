package core

import (
	"slices"
	"testing"
)

// logRun is an observed Run that logs what the graph tells it, in order.
type logRun struct {
	g   *Graph
	log []string
}

func (r *logRun) Activated(int) {}
func (r *logRun) Queue(n *Node) { r.log = append(r.log, "queue "+n.Name()) }
func (r *logRun) QueueSpan(from, to int64) {
	for id := from; id < to; id++ {
		r.Queue(r.g.At(id))
	}
}
func (r *logRun) Ready(n *Node)                     { r.log = append(r.log, "ready "+n.Name()) }
func (r *logRun) ReadyAll(ns []*Node)               {}
func (r *logRun) Releasing() bool                   { return false }
func (r *logRun) Observed() bool                    { return true }
func (r *logRun) Cancel(*Node) bool                 { return false }
func (r *logRun) Added(n *Node)                     { r.log = append(r.log, "added "+n.Name()) }
func (r *logRun) Admit(*Node, *Host) (bool, bool)   { return false, false }
func (r *logRun) Leave()                            {}
func (r *logRun) Spawned(n *Node, _ *Host, _ *Node) { r.Ready(n) }
func (r *logRun) Ending() error                     { return nil }

// TestObservedRunHearsOfAnAddedNodeFirst: a node added to an observed run
// is told to the run (Added, for EventCreated) only once the graph's lock
// is released, and it cannot become ready before that, even when its
// input finishes in between on another goroutine: otherwise the finishing
// worker would queue it, and tell EventReady and EventStarted, before
// EventCreated.
func TestObservedRunHearsOfAnAddedNodeFirst(t *testing.T) {
	for _, inputDone := range []bool{false, true} {
		var g Graph
		a := NewDetached("a", 0, 0)
		g.Lock()
		g.Add(a, a.Deps(), a.Name(), nil, "", nil, 0)
		g.Unlock()
		r := &logRun{g: &g}
		if err := g.Begin(r, nil); err != nil {
			t.Fatal(err)
		}
		if !a.CAS(Ready, Running) { // a worker runs a
			t.Fatalf("a is %v, want ready", a.State())
		}
		if inputDone {
			a.Finish(a.Graph(), Done, nil, nil)
		}
		n := newOneInput(a)
		g.Lock()
		g.Add(n, n.Deps(), "n", nil, "", nil, 0)
		if !inputDone {
			// a finishes on its worker while the adder still holds the lock.
			if ready, _ := a.Finish(a.Graph(), Done, nil, nil); slices.Contains(ready, n) {
				t.Errorf("the input's completion made n ready before the run heard of n")
			}
		}
		if len(r.log) > 1 {
			t.Errorf("input done %v: the run was told %v with the graph's lock held", inputDone, r.log[1:])
		}
		g.Unlock()
		if want := []string{"queue a", "added n", "ready n"}; !slices.Equal(r.log, want) {
			t.Errorf("input done %v: the run was told %v, want %v", inputDone, r.log, want)
		}
		g.End(func() bool { return false }, nil, nil)
	}
}
