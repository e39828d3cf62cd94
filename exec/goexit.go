package exec

import (
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Goexit. A function that ends its goroutine (runtime.Goexit, as t.FailNow
// does when a test calls it from a task) never returns to the executor:
// every frame on that goroutine unwinds, running only its deferred calls.
// Left as it was, the task never finished and the worker's slot was never
// given back, so the run hung. So each frame that the executor keeps on
// such a goroutine undoes its part on the way out, innermost first:
//   - a task's function (attempt): the task fails with graph.ErrGoexit,
//     and a claim it ran in is let go (goexited);
//   - a function of a fork-join call (runJob): it fails with
//     graph.ErrGoexit; what the call, or a worker running part of it, had
//     left to run fails too, without running, since the goroutine that
//     was to run it is gone (runJob on the caller's goroutine, runLent on
//     a worker's);
//   - a worker goroutine (loop): it gives back the slot it held, as if it
//     had parked for good, so that another goroutine is woken or started
//     for the work queued.
// A task whose function ran the failing one on its goroutine (a claim,
// or a call of Join) fails in turn, as its own frame unwinds: its
// goroutine is gone too.

// goexitErr is the error of task or call n whose goroutine ended.
func goexitErr(n *core.Node) error {
	return &graph.Error{Task: n.Name(), Err: graph.ErrGoexit}
}

// goexited finishes n, whose function ended the goroutine running it on
// w, failed with graph.ErrGoexit, and lets go of the claim it ran in if w
// is a stand-in. Called from attempt's deferred function, on the way out.
func (r *runner) goexited(w *worker, n *core.Node) {
	r.complete(w, n, core.Failed, goexitErr(n), false)
	if w.outer == nil {
		return // a worker's own task: loop gives the slot back
	}
	// n ran in a claim on its claimer's slot (runClaimed, whose end does
	// not come): the stand-in is not used again.
	if k := w.settled; k > 0 {
		w.settled = 0
		r.settle(k)
	}
	r.unclaim(w.outer)
}

// workerGoexited gives back what w's goroutine held as it ends in the
// middle of a task or a lent function: the slot, if it held one, and its
// place among the live workers; then it wakes or starts another for the
// work queued, and breaks a stall its end made.
func (r *runner) workerGoexited(w *worker, holding bool) {
	r.mu.Lock()
	if holding {
		r.holders--
	}
	r.live--
	r.settleLocked(w)
	stalled := r.stalledLocked()
	r.wakeLocked()
	r.mu.Unlock()
	if stalled {
		r.breakStall()
	}
}
