package exec

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Await implements core.Awaiter: code running inside a task waits for nodes
// without holding the task's worker slot (Dask's secede and rejoin, done for
// the user).
//
// Policy. An awaited task that is ready and not started, and that no ready
// task outranks in priority, runs at once on the waiter's own slot and
// goroutine: the waiter needs it first, and running it there costs no
// hand-off (this is how fib, where every task waits for two children, runs
// in a pool of one at near function-call cost). Otherwise the waiter gives
// its slot back to the pool, blocks, and on wake-up queues for a slot again
// at its own priority and creation order, like any ready task.
//
// A wait that could never end (what it waits for needs the waiting task)
// returns a *graph.DeadlockError once nothing else in the run can go on
// (see the runner's notes on stalls); a wait for the waiting task itself
// returns one at once.
func (w *worker) Await(ctx context.Context, nodes []*core.Node) error {
	r := w.r
	self := core.Current(ctx)
	if err := check(self, nodes); err != nil {
		return err
	}
	// nodes is never changed: the record of a parked wait shares it with
	// stall searches.
	rest := nodes
	var sub *worker
	r.mu.Lock()
	for {
		if !slices.ContainsFunc(rest, func(n *core.Node) bool { return !n.State().Terminal() }) {
			w.putSubLocked(sub)
			r.mu.Unlock()
			return nil
		}
		n := r.claimLocked(w, rest)
		if n == nil {
			break
		}
		if sub == nil {
			sub = w.getSubLocked(self, rest)
		}
		r.mu.Unlock()
		r.execute(sub, n, false)
		r.mu.Lock() // held on to the next claim: one lock per awaited task run here
		r.settleLocked(sub)
		w.claim = false
		if w.away > 0 {
			// Another goroutine of this task began to wait meanwhile and could
			// not give the slot back while it was in use: give it now.
			r.live--
			stalled := r.releaseSlotLocked()
			r.wakeLocked()
			if stalled {
				r.mu.Unlock()
				r.breakStall()
				r.mu.Lock()
			}
		}
	}
	w.putSubLocked(sub)
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}

	wt := core.NewWaiter(self)
	wt.Pending().Store(1) // a guard while the watches are set up
	for _, n := range rest {
		n.Watch(wt) // a no-op for nodes that finished
	}
	if wt.Pending().Add(-1) == 0 && wt.CAS(core.Waiting, core.Running) {
		return nil // everything finished meanwhile
	}
	p := &parked{self: self, wt: wt, on: rest, chain: w.chain()}
	return r.park(ctx, w, p, func() {
		for _, n := range rest {
			n.Unwatch(wt)
		}
	})
}

// parked is a goroutine of a task blocked in a wait, as stall searches see
// it. The runner holds it in r.parked from just before the goroutine gives
// its slot back until it has one again.
type parked struct {
	self  *core.Node   // the waiting task
	wt    *core.Node   // its waiter: made ready to resume the goroutine
	on    []*core.Node // what it waits for; never changed
	any   bool         // it resumes when any one of on finishes (Block), not all (Await)
	chain []claim      // the claims its goroutine runs inside of, innermost first
	// err, once set, is what the wait returns: a stall search found it on a
	// cycle (see breakCycle). Set before wt is made ready.
	err atomic.Pointer[graph.DeadlockError]
}

// claim is a task running what it awaits on its own goroutine: it cannot
// go on before awaits have finished, though its goroutine runs another
// task's body (see getSub).
type claim struct {
	claimer *core.Node
	awaits  []*core.Node
}

// chain returns the claims that w's goroutine runs inside of, innermost
// first.
func (w *worker) chain() []claim {
	var out []claim
	for s := w; s.outer != nil; s = s.outer {
		if s.claimer != nil {
			out = append(out, claim{s.claimer, s.awaits})
		}
	}
	return out
}

// park blocks the goroutine of p until p's waiter is handed a slot: the
// slot goes back to the pool meanwhile. If ctx ends first, withdraw undoes
// what would make the waiter ready, and the wait returns ctx's error once
// the task has a slot again: while the run goes on it queues for one like
// any resumption, so that a wait cut short by the task's own timeout or
// cancellation never lets more bodies run than the pool's bound; once the
// run stops, nobody hands slots over any more, and it takes one at once.
// A wait that a stall search ended returns the *graph.DeadlockError it
// was given.
func (r *runner) park(ctx context.Context, w *worker, p *parked, withdraw func()) error {
	wt := p.wt
	r.secede(w, p)
	var err error
	handed := true
	select {
	case <-wt.Wake():
	case <-ctx.Done():
		err = ctx.Err()
		if wt.CAS(core.Waiting, core.Ready) {
			withdraw()
			r.enqueue([]*core.Node{wt})
		}
		select {
		case <-wt.Wake():
		case <-r.ctx.Done():
			if wt.CAS(core.Ready, core.Cancelled) {
				handed = false
			} else {
				<-wt.Wake() // a worker is handing its slot over: take it, to keep the count right
			}
		}
	}
	r.rejoin(w, p, handed)
	if de := p.err.Load(); de != nil {
		withdraw()
		return de
	}
	return err
}

// Block implements core.Awaiter: it waits for sig without holding the slot.
// The signal makes the resumption ready from inside the completion that
// fires it, so the task queues for a slot again at its own priority, in
// order, as Await does.
func (w *worker) Block(ctx context.Context, sig *core.Signal, on []*core.Node) error {
	self := core.Current(ctx)
	if err := check(self, on); err != nil {
		return err
	}
	r := w.r
	wt := core.NewWaiter(self)
	if !sig.Arm(wt, r) {
		return nil // fired already
	}
	p := &parked{self: self, wt: wt, on: on, any: true, chain: w.chain()}
	return r.park(ctx, w, p, func() { sig.Disarm(wt) })
}

var _ core.Awaiter = (*worker)(nil)

// getSubLocked returns a worker for w's goroutine to run an awaited task
// on, as w's stand-in: its own current task and context, w's id in
// events. It remembers that claimer, the task of w, awaits nodes
// meanwhile (see chain). The caller holds r.mu and w's claim.
//
// Each worker keeps one stand-in spare, and each stand-in its own for
// the next level of nesting, so that fib, whose every task awaits its
// children, takes none from a pool (a sync.Pool's Get and Put cost a
// spawned task 5 % of its time). Several goroutines of one task may
// await at once, but only the one holding w's claim runs an awaited task,
// and the spare is taken and given back under r.mu: a goroutine that
// finds it taken makes another.
func (w *worker) getSubLocked(claimer *core.Node, nodes []*core.Node) *worker {
	sub := w.spare
	w.spare = nil
	if sub == nil {
		sub = &worker{r: w.r}
		sub.ctx.Awaiter = sub
		sub.ctx.Context = w.r.ctx
	}
	sub.id = w.id
	sub.outer, sub.claimer, sub.awaits = w, claimer, nodes
	return sub
}

// putSubLocked gives back a stand-in from getSubLocked, if any. The caller
// holds r.mu.
func (w *worker) putSubLocked(sub *worker) {
	if sub != nil {
		sub.outer, sub.claimer, sub.awaits = nil, nil, nil
		if w.spare == nil {
			w.spare = sub
		}
	}
}

// secede records p, a goroutine of w's task about to block, and gives the
// task's slot back to the pool while it waits; only the first of several
// concurrent waiters has one to give. The record comes first: a stall
// that the slot's release brings about must see the wait.
func (r *runner) secede(w *worker, p *parked) {
	r.mu.Lock()
	r.parked[p] = struct{}{}
	w.away++
	stalled := false
	if w.away == 1 && !w.claim { // while a claim runs, the claim gives the slot back when it ends
		r.live--
		stalled = r.releaseSlotLocked()
		r.wakeLocked()
	}
	r.mu.Unlock()
	if stalled {
		r.breakStall()
	}
}

// rejoin ends the wait of p. handed tells whether a worker handed this
// goroutine a slot (through the waiter node); if not (the wait was
// cancelled), the slot is taken back without queueing, since the run is
// stopping anyway.
func (r *runner) rejoin(w *worker, p *parked, handed bool) {
	r.mu.Lock()
	delete(r.parked, p)
	w.away--
	stalled := false
	switch {
	case w.away > 0 && handed:
		// other goroutines of this task still wait: the slot is not ours yet
		stalled = r.releaseSlotLocked()
		r.wakeLocked()
	case w.away == 0 && !handed:
		r.takeSlotLocked()
		r.live++
	case w.away == 0:
		r.live++
	}
	r.mu.Unlock()
	if stalled {
		r.breakStall()
	}
}

// check returns an error if the wait of self for nodes can never begin or
// end: a node is in no run (or held back by an open Batch), or is self.
// Longer cycles are found when the run stalls (see breakStall).
func check(self *core.Node, nodes []*core.Node) error {
	for _, n := range nodes {
		if err := waitable(n); err != nil {
			return err
		}
		if n == self {
			return &graph.DeadlockError{Cycle: []string{self.Name(), self.Name()}}
		}
	}
	return nil
}

// claimLocked returns an awaited node that the waiter may run itself,
// moved to Running: the best ready one among rest, when no queued task has
// a higher priority and the waiter still holds its slot. The caller holds
// r.mu.
func (r *runner) claimLocked(w *worker, rest []*core.Node) *core.Node { // rest may hold finished nodes
	if w.away > 0 || w.claim || r.halted() {
		return nil // the slot is not this goroutine's to use
	}
	var best *core.Node
	for _, n := range rest {
		if n.Kind() == core.Task && n.State() == core.Ready && n.Graph() == r.g && (best == nil || before(n, best)) {
			best = n
		}
	}
	if best == nil {
		return nil
	}
	top := r.q.peekLive()
	r.noteQueueLocked()
	if top != nil && top.Priority() > best.Priority() {
		return nil
	}
	if !best.CAS(core.Ready, core.Running) {
		return nil
	}
	r.q.dropDeadTail()
	r.noteQueueLocked()
	w.claim = true
	return best
}
