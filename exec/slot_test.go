package exec

import (
	"testing"

	"github.com/evolve-dag/evolve/internal/core"
)

// TestWaitAfterItsTaskLeftTheWorkerGivesNothingBack: a goroutine of a
// task began a wait while the task ran on w, and the task returned before
// the goroutine parked; w may run another task now. The wait must not
// count itself away on w's slot word, which that next task's first wait
// would then not find first (it would keep its slot while it waits: a
// run with one worker hung so, in the evolvechaos build, seed 252147965).
func TestWaitAfterItsTaskLeftTheWorkerGivesNothingBack(t *testing.T) {
	k := newKeptChild(t)
	r, w, p := k.r, k.w, k.parent
	if !p.CAS(core.Running, core.Done) {
		t.Fatalf("parent is %v, want running", p.State())
	}
	if r.secede(w, &parked{self: p, wt: core.NewWaiter(p)}) {
		t.Fatal("secede of a wait whose task has returned recorded it")
	}
	if v := w.slot.Load(); v != 0 {
		t.Errorf("w's slot word is %d after the refused wait, want 0", v)
	}
	if len(r.parked) != 0 {
		t.Errorf("%d waits recorded as parked, want none", len(r.parked))
	}
}

// TestWorkerRenewedWhileGoroutinesOfItsLastTaskUseItsSlot: a task
// finished on w while a goroutine of it still waits through w (counted
// away on w's slot word); the next task must run on a worker with a word
// of its own, and what w counted as finished must be settled, not left
// on a worker nobody runs.
func TestWorkerRenewedWhileGoroutinesOfItsLastTaskUseItsSlot(t *testing.T) {
	k := newKeptChild(t)
	r, w := k.r, k.w
	if got := r.renew(w); got != w {
		t.Fatal("renew replaced a worker whose slot word nobody uses")
	}
	w.slot.Add(awayOne)
	w.settled = 2
	before := r.outstanding.Load()
	nw := r.renew(w)
	switch {
	case nw == w:
		t.Fatal("renew kept a worker whose slot word a goroutine of its last task uses")
	case nw.slot.Load() != 0 || nw.id != w.id || nw.wake != w.wake || nw.ctx.Awaiter != core.Awaiter(nw):
		t.Errorf("the new worker: slot %d, id %d (want %d), same wake channel %v, its own awaiter %v",
			nw.slot.Load(), nw.id, w.id, nw.wake == w.wake, nw.ctx.Awaiter == core.Awaiter(nw))
	case w.slot.Load() != awayOne:
		t.Errorf("the old worker's slot word is %d, want the goroutine still counted", w.slot.Load())
	}
	if w.settled != 0 || r.outstanding.Load() != before-2 {
		t.Errorf("settled %d on the old worker, outstanding %d (was %d); want them settled", w.settled, r.outstanding.Load(), before)
	}
}
