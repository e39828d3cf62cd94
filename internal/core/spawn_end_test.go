package core

import (
	"errors"
	"testing"
)

// endingRun admits a spawned task out of its count and begins to end
// right after, before the task is given to it.
type endingRun struct {
	fakeRun
	ending  bool
	counted int
}

var errRunEnded = errors.New("the run ended")

func (r *endingRun) Admit(*Node, *Host) (bool, bool) {
	r.ending = true // the run's last counted task finishes, and its end begins
	return true, true
}
func (r *endingRun) Activated(k int) { r.counted += k }
func (r *endingRun) Ending() error {
	if r.ending {
		return errRunEnded
	}
	return nil
}

// TestSpawnedOutOfCountAsTheRunEndsIsCancelled: a goroutine of a task adds
// a task without the graph's lock, out of the run's count (its worker may
// keep it), and the run begins to end between the admission and the
// question whether it is ending: its count reached zero, and its end has
// not yet looked at the index. The end looks only while the run counts
// something, so the task must be counted for it (or cancelled, once the
// end has looked), not left to an end that will not look: it was left
// Ready after the run (TestRandomTaskGoroutines, seed 181064136, once in
// a million seeds).
func TestSpawnedOutOfCountAsTheRunEndsIsCancelled(t *testing.T) {
	g := &Graph{}
	p := newNoInput()
	g.Lock()
	g.Add(p, p.Deps(), "parent", nil, "", nil, 0)
	g.Unlock()
	r := &endingRun{fakeRun: fakeRun{g: g}}
	if err := g.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	// The first task a task adds in a run is added with the lock, which
	// lets the next ones be added without it (see table.settle).
	g.Lock()
	g.Add(newNoInput(), nil, "first", p, "", nil, 0)
	g.Unlock()
	r.counted = 0 // the end's look depends on the late task alone
	n := newNoInput()
	if !g.Spawn(&Host{Run: r}, n, "late", p) {
		t.Fatal("Spawn refused the task")
	}
	g.End(func() bool { return r.counted > 0 }, errRunEnded, nil)
	if s := n.State(); s != Cancelled {
		t.Errorf("the task added as the run ended is %v after the end, want cancelled", s)
	}
	if !errors.Is(n.Err(), errRunEnded) {
		t.Errorf("its error is %v, want the run's end", n.Err())
	}
}
