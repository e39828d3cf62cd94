package exec

import (
	"sync/atomic"

	"github.com/evolve-dag/evolve/internal/chaos"
	"github.com/evolve-dag/evolve/internal/core"
)

// keptEntry holds a kept task, or nil.
type keptEntry = atomic.Pointer[core.Node]

// Kept tasks. A task that a running task adds, ready at once (it has no
// inputs), is usually the next thing its creator waits for: fib adds two
// children, waits for both, and runs them on its own slot (see Await).
// Queuing such a task takes the runner's lock, and with several workers
// adding tasks, every one of them queued on that lock behind the others:
// fib on two workers was slower than on one.
//
// So the worker running the creator keeps the task in an entry of its own
// (worker.kept) instead of queuing it, while no other worker could take
// it anyway. The invariant: a kept task is out of the queue only while its
// creator runs with none of its goroutines blocked in a wait, every task
// of the graph has priority 0, and no worker has looked for a task since;
// whoever ends one of those queues it first.
//
// Each such end is a store followed by a look at the entries, and keeping
// is a store to an entry followed by a look at the conditions. Go's
// atomics are sequentially consistent, so of two such pairs racing, at
// least one side sees the other's store: the keeper takes its task back
// and queues it, or whoever ended the condition finds the task.
//   - The creator finishing: its state switches, then its completion
//     queues what its worker kept (complete, also just before the switch,
//     so that the task is ranked with the creator's consumers).
//   - A goroutine of the creator blocking in a wait: it counts itself away
//     (worker.slot), then queues what its worker, and each worker whose
//     claim it runs inside of, kept (secede).
//   - A worker looking for a task: about to take one from the queue, it
//     first queues every kept task (loop); about to park, it counts itself
//     idle (runner.idlers), then takes the best kept task (stealLocked).
//     Both look at the workers listed as keeping (see listLocked), and a
//     worker lists itself before it looks at the conditions. A worker
//     taking the next root of the open span (nextRoot) does not look: a
//     kept task ranks after every root (see nextRoot).
//   - A task with a priority joining the graph: it sets the graph's ranked
//     flag, then the next claim queues every kept task (claimLocked).
//
// A kept task is Ready and in the graph's index like any other: claiming
// it (Await), cancelling it, or ending the run works as if it were
// queued. An entry whose task has been claimed or cancelled meanwhile is
// free again, and is left as it is until a task is kept there (clearing
// it would cost an atomic exchange per task).
//
// The run's count. A task Spawn adds that its worker may keep reaches the
// run out of the run's count of unfinished tasks (core's outOfCount; see
// Admit), so that a fib task's
// children, kept and then run by their creator's claim, cost the count
// nothing: counting each up and down again was two atomic operations on
// a word that every worker writes (fib on two workers: 0.89x the time).
// The invariant: a task out of the count is kept by the worker running
// its creator, or runs inside a claim that a goroutine of a running task
// holds; either way a task the run counts runs beneath it (a chain of
// claims begins with a task taken from the queue), or the run is held
// open for the claim, so the count cannot reach zero first. Whoever ends
// that counts the task before it is queued or finished:
//   - Leaving an entry by any way but a claim (the creator finishing or
//     waiting, a worker looking for work, Spawned giving up, a Cancel)
//     counts the task (count).
//   - A claim is taken by a goroutine of a running task (Await), which
//     covers what the claim runs until it leaves Running. A goroutine of
//     the task other than its function's may hold the claim as the
//     function returns: the claim, once taken, looks at the task's state,
//     and the task, once out of Running, looks at the claim (complete).
//     Both are a write followed by a read of the other's word, so at least
//     one sees the other: the claim counts the task it runs (covered), or
//     the task holds the run open until the claim ends (holdOpen,
//     dropClaimLocked). A flow's claims always count what they run: its
//     completion may come on another worker than its claims.

// keptEntries is the number of tasks a worker keeps: the two children of
// a fork-join; a wider fan-out queues the rest as before.
const keptEntries = 2

// Admit implements core.Run: n, which a task whose function runs on h is
// about to add without the graph's lock, reaches the run out of its count
// if h's worker may keep it (every task of the graph has priority 0, and
// an entry is free as Admit looks), and is counted at once otherwise, so
// that the tasks a worker cannot keep (a fan-out's third child on) cost
// one count, not a count and the flag's clearing.
func (r *runner) Admit(n *core.Node, h *core.Host) (outOfCount, ok bool) {
	if w, _ := h.Awaiter.(*worker); w != nil && n.Priority() == 0 && !r.g.Ranked() {
		if e, _ := w.freeKept(); e != nil {
			return true, !r.ending.Load() && r.outstanding.Load() > 0
		}
	}
	return false, r.join()
}

// Spawned implements core.Run: n, added without the graph's lock (see
// core.Graph.Spawn) by parent, whose function runs on h, is queued if
// Admit counted it; otherwise it is kept by h's worker out of the run's
// count, or counted and queued, or, if the run has ended or is ending (a
// goroutine that outlived parent added n as the run finished), left to
// the run's end (see count).
func (r *runner) Spawned(n *core.Node, h *core.Host, parent *core.Node) {
	if !n.OutOfCount() {
		r.Ready(n)
		return
	}
	w, _ := h.Awaiter.(*worker)
	if w == nil || r.g.Ranked() {
		r.readyCounted(n)
		return
	}
	e, old := w.freeKept()
	if e == nil || !e.CompareAndSwap(old, n) {
		r.readyCounted(n)
		return
	}
	if !w.listed.Load() {
		r.mu.Lock()
		r.listLocked(w)
		r.mu.Unlock()
	}
	if chaos.On {
		chaos.Pause()
	}
	if r.idlers.Load() == 0 && w.slot.Load() < awayOne && parent.State() == core.Running && !r.g.Ranked() {
		return
	}
	if e.CompareAndSwap(n, nil) { // nobody took it meanwhile
		r.readyCounted(n)
	}
}

// readyCounted queues n, a task Spawn added that no worker keeps, once the
// run counts it (see count).
func (r *runner) readyCounted(n *core.Node) {
	if r.count(n, false) {
		r.Ready(n)
	}
}

// count makes the run count n if n is Ready out of the run's count, for a
// caller about to queue it or finish it, and reports whether the run may
// take n: false only once the run has ended or is ending, and then n is
// left to the run's end to cancel (stray). While n is out of the count,
// something the run counts covers n (see the invariant above), but for a
// moment: a goroutine of a task may keep n as the task returns, until it
// sees the task gone and takes n back, and another worker may take n
// first. If n was claimed, cancelled or counted by another goroutine
// meanwhile, the count is undone. locked says whether the caller holds
// r.mu.
func (r *runner) count(n *core.Node, locked bool) bool {
	if !n.OutOfCount() {
		return true
	}
	if chaos.On && !locked { // a pause holding r.mu would stall a synctest bubble
		chaos.Pause()
	}
	if !r.join() {
		r.stray(n, locked)
		return false
	}
	if !n.TakeIntoCount() {
		if !locked {
			r.settle(1)
		} else if r.outstanding.Add(-1) == 0 {
			r.finishLocked()
		}
	}
	return true
}

// stray makes the run's end cancel n, a task out of the run's count that
// the run can no longer count (see count): the end looks for unfinished
// tasks only while the run counts some (core's Graph.End), so a task a
// goroutine of a task kept as the task returned, taken from its entry by
// another worker in the moment the run's count had reached zero and the
// run was not yet marked finished, would be left Ready after the run
// (found by reading: TestKeptTaskTheRunCannotCountIsCancelledAtItsEnd;
// the Ready task of seed 150655542 had another cause, in core's
// Graph.Spawn). So n is counted for
// the end, or cancelled if the end has been (core's Graph.Stray), under
// the graph's lock, which orders it with the end's look.
//
// A caller that holds r.mu cannot take the graph's lock (it comes before
// r.mu): it leaves n in r.strays, and lets r.mu go with unlock, which
// gives n to the graph. Counting n for the end at once, under r.mu, is
// right only for a worker's goroutine, which the end waits for; a
// goroutine a task started is none, and may find n as it begins a wait
// after the end has looked (found by reading, while looking for the cause
// of seed 181064136; the evolvechaos build meets it within 100,000 seeds,
// plain streams never did: TestKeptTaskTakenAfterTheRunsEndIsCancelled).
// So whoever finds a stray hands it on, and nothing depends on who it is.
func (r *runner) stray(n *core.Node, locked bool) {
	if locked {
		r.strays = append(r.strays, n)
		return
	}
	r.g.Stray(r, n, r.epoch)
}

// unlock lets r.mu go, and gives the graph the strays this goroutine
// found while it held r.mu (see stray). Every goroutine that may count a
// kept task with r.mu held lets it go with unlock; one that holds the
// graph's lock never counts a kept task.
func (r *runner) unlock() {
	if len(r.strays) == 0 {
		r.mu.Unlock()
		return
	}
	strays := r.strays
	r.strays = nil
	r.mu.Unlock()
	for _, n := range strays {
		r.g.Stray(r, n, r.epoch)
	}
}

// freeKept returns an entry of w's that holds no task still ready, and
// what it holds, or nil. The caller keeps a task there with a
// compare-and-swap from that value: goroutines of w's task adding tasks
// at once, or a worker emptying the entry, may race for it.
func (w *worker) freeKept() (*keptEntry, *core.Node) {
	for i := range w.kept {
		if n := w.kept[i].Load(); n == nil || n.State() != core.Ready {
			return &w.kept[i], n
		}
	}
	return nil, nil
}

// keeps reports whether w may keep a task; cheap enough to ask on every
// completion.
func (w *worker) keeps() bool {
	for i := range w.kept {
		if w.kept[i].Load() != nil {
			return true
		}
	}
	return false
}

// publishKept queues what w kept. Called by the goroutine that runs w's
// task, before and after it finishes (see complete).
func (r *runner) publishKept(w *worker) {
	var buf [keptEntries]*core.Node
	k := 0
	for i := range w.kept {
		if n := w.kept[i].Load(); n != nil && n.State() == core.Ready && w.kept[i].CompareAndSwap(n, nil) {
			if !r.count(n, false) {
				continue
			}
			buf[k] = n
			k++
		}
	}
	if k > 0 {
		r.enqueue(buf[:k])
	}
}

// takeKeptLocked queues what w kept and reports whether it queued
// anything. The caller holds r.mu and wakes workers as needed.
func (r *runner) takeKeptLocked(w *worker) bool {
	took := false
	for i := range w.kept {
		if n := w.kept[i].Load(); n != nil && n.State() == core.Ready && w.kept[i].CompareAndSwap(n, nil) {
			if !r.count(n, true) {
				continue
			}
			r.pushLocked(n)
			took = true
		}
	}
	return took
}

// The listed workers. A worker that keeps a task is listed (runner.listed)
// from before it looks at the conditions under which it may keep it, so
// that whoever looks for kept tasks under r.mu finds it; a look unlists
// each worker after it took its tasks, clears the worker's flag, and takes
// again, so that a task kept in between is taken, or, kept after, lists
// the worker again. So a look costs the workers that kept something since
// the last one, not every worker of the run (a run whose tasks block in
// waits has hundreds of them).

// listLocked lists w, unless it is listed. The caller holds r.mu.
func (r *runner) listLocked(w *worker) {
	if !w.listed.Load() {
		w.listed.Store(true)
		r.listed = append(r.listed, w)
	}
}

// takeAllKeptLocked queues what every listed worker kept, unlists them,
// and reports whether it queued anything. The caller holds r.mu.
func (r *runner) takeAllKeptLocked() bool {
	took := false
	for i, w := range r.listed {
		if r.takeKeptLocked(w) {
			took = true
		}
		w.listed.Store(false)
		if r.takeKeptLocked(w) {
			took = true
		}
		r.listed[i] = nil
	}
	r.listed = r.listed[:0]
	if took {
		r.noteQueueLocked()
	}
	return took
}

// stealLocked queues the best task a listed worker kept, for a worker about
// to park that counted itself idle, and reports whether it found one. The
// caller holds r.mu.
func (r *runner) stealLocked() bool {
	for {
		var best *core.Node
		var at *keptEntry
		for _, w := range r.listed {
			for i := range w.kept {
				if n := w.kept[i].Load(); n != nil && n.State() == core.Ready && (best == nil || before(n, best)) {
					best, at = n, &w.kept[i]
				}
			}
		}
		if best == nil {
			return false
		}
		if at.CompareAndSwap(best, nil) {
			if !r.count(best, true) {
				return false
			}
			r.pushLocked(best)
			r.noteQueueLocked()
			return true
		}
	}
}
