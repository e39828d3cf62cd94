package exec

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/chaos"
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
	if self == nil {
		return returnedErr(ctx)
	}
	if err := check(self, nodes); err != nil {
		return err
	}
	// nodes is never changed: the record of a parked wait shares it with
	// stall searches.
	rest := nodes
	// Claims look at the awaited tasks best first (see before): the first
	// ready one is the best, and the finished ones before it are not
	// looked at again, so that waiting for n tasks costs O(n log n) at
	// most, and O(n), with no copy, for tasks best first already, such as
	// children of one priority in the order they were added.
	order := rest
	if !slices.IsSortedFunc(order, byRank) {
		order = slices.Clone(rest)
		slices.SortFunc(order, byRank)
	}
	lo := 0 // order[:lo] have finished
	for {
		// Once ctx is done, the wait returns its error, even if what it
		// waits for has finished meanwhile: a stop of the run ends the
		// contexts of its tasks and cancels what they wait for at once,
		// and which a waiter sees first must not depend on the order the
		// Go scheduler wakes goroutines in (a replayable run would not
		// replay: seed 67002927 of the unranked mix, about a third of
		// its runs, before this check).
		if err := ctx.Err(); err != nil {
			return err
		}
		for lo < len(order) && order[lo].State().Terminal() {
			lo++
		}
		if !slices.ContainsFunc(order[lo:], func(n *core.Node) bool { return !n.State().Terminal() }) {
			return nil
		}
		n := r.claim(w, self, order[lo:])
		if n == nil {
			// A task of the graph has a priority (the queue's head decides),
			// or another goroutine of the task uses or gave back its slot.
			r.mu.Lock()
			n = r.claimLocked(w, self, order[lo:])
			r.unlock() // a task the claim could not count (see stray)
		}
		if n == nil {
			break
		}
		r.runClaimed(w, self, rest, n)
	}

	wt := core.NewWaiter(self)
	wt.SetPending(1) // a guard while the watches are set up
	for _, n := range rest {
		n.Watch(wt) // a no-op for nodes that finished
	}
	if wt.CountDown(core.Waiting, core.Running) {
		return nil // everything finished meanwhile
	}
	p := &parked{self: self, wt: wt, on: rest, job: jobOf(ctx)}
	p.chain, p.ws = chainOf(w, self)
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
	self *core.Node   // the waiting task
	wt   *core.Node   // its waiter: made ready to resume the goroutine
	on   []*core.Node // what it waits for; never changed
	any  bool         // it resumes when any one of on finishes (Block), not all (Await)
	// join: a Join waiting for the jobs other workers took (see join.go);
	// never the wait a stall search fails.
	join bool
	// job is the lent function it waits in (see jobCtx), or nil: it waits
	// in a function of self's own.
	job   *jobCtx
	chain []claim   // the claims its goroutine runs inside of, innermost first
	ws    []*worker // the worker it waits through and those its claims run on; nil: that worker alone
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

// chainOf returns the claims that w's goroutine runs inside of, innermost
// first, and w with the workers those run on (w first), for a wait of
// self, w's task, about to park. A worker that is no stand-in runs inside
// none.
//
// A stand-in's outer, claimer and awaits change from claim to claim, and
// a goroutine of the task it runs may outlive that task, so each level is
// read under the lock of the task that runs on it, while that task runs
// there (see core.Node.WhileRunning and runClaimed): self on w, then each
// claimer on the worker its claim runs on. The walk stops at the first
// level whose task no longer runs there: a goroutine that a claimed task
// left behind, or one its lent function started, may itself run a claim
// of its own on a stand-in whose outer claim has ended since, and reading
// past it raced with the next claim's setup (seed 274016649 under -race).
func chainOf(w *worker, self *core.Node) (out []claim, ws []*worker) {
	if !w.stand {
		return nil, nil // nil: w alone
	}
	for s, t := w, self; s != nil; {
		outer, c, ok := levelOf(s, t)
		if !ok {
			break
		}
		ws = append(ws, s)
		if c.claimer == nil {
			break // a worker goroutine's own
		}
		out = append(out, c)
		s, t = outer, c.claimer // the claimer is the task of outer
	}
	if len(ws) == 0 {
		return nil, nil // self returned: a wait it began parks inside no claim
	}
	return out, ws
}

// levelOf reads s's claim while t, the task s runs, runs on s, and reports
// whether it did.
func levelOf(s *worker, t *core.Node) (outer *worker, c claim, ok bool) {
	ran := t.WhileRunning(func() {
		if h := t.Host(); h == nil || h.Awaiter != core.Awaiter(s) {
			return // t runs again, elsewhere
		}
		outer, c, ok = s.outer, claim{s.claimer, s.awaits}, true
	})
	return outer, c, ran && ok
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
	if chaos.On {
		chaos.Pause()
	}
	if !r.secede(w, p) {
		return r.abandon(ctx, wt, withdraw)
	}
	var err error
	handed := true
	select {
	case <-wt.Wake():
		// A stop of the run cancels what the wait waits for, which wakes
		// it, and ends ctx first: Go's select picks at random between
		// ready cases, so ctx decides, as in Await's loop.
		err = ctx.Err()
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
	if self == nil {
		return returnedErr(ctx)
	}
	if err := check(self, on); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // as in Await: ctx decides, not which goroutine ran first
	}
	r := w.r
	wt := core.NewWaiter(self)
	if !sig.Arm(wt, r) {
		return nil // fired already
	}
	p := &parked{self: self, wt: wt, on: on, any: true, job: jobOf(ctx)}
	p.chain, p.ws = chainOf(w, self)
	return r.park(ctx, w, p, func() { sig.Disarm(wt) })
}

var _ core.Awaiter = (*worker)(nil)

// runClaimed runs n, an awaited task that a goroutine of w's task
// claimed (see claim), on a stand-in for w: a worker with n as its own
// current task and context and w's id in events, which remembers that
// claimer, the task of w, awaits rest meanwhile (see chainOf). Then it lets
// the claim go.
//
// Each worker keeps one stand-in spare, and each stand-in its own for
// the next level of nesting, so that fib, whose every task awaits its
// children, takes none from a pool (a sync.Pool's Get and Put cost a
// spawned task 5 % of its time). Several goroutines of one task may
// await at once, but only the one holding the claim runs an awaited
// task, and only it uses the spare.
func (r *runner) runClaimed(w *worker, claimer *core.Node, rest []*core.Node, n *core.Node) {
	sub := w.spare
	w.spare = nil
	if sub == nil {
		sub = &worker{r: r, stand: true}
		sub.ctx.Awaiter, sub.ctx.Run = sub, r
		sub.ctx.Context = r.ctx
	}
	sub.id = w.id
	sub.outer, sub.claimer, sub.awaits = w, claimer, rest
	r.execute(sub, n, false)
	if k := sub.settled; k > 0 {
		sub.settled = 0
		r.settle(k)
	}
	// A goroutine that n left behind may read these for a wait it began
	// while n ran (see chainOf): under n's lock if one announced itself.
	if n.Announced() {
		n.Lock()
		sub.outer, sub.claimer, sub.awaits = nil, nil, nil
		n.Unlock()
	} else {
		sub.outer, sub.claimer, sub.awaits = nil, nil, nil
	}
	// A goroutine n left behind that claimed sub's slot, or waits through
	// it, may use sub still (see ownSlot): sub is not used again then.
	if sub.slot.Load() == 0 {
		w.spare = sub
	}
	r.unclaim(w)
}

// unclaim lets go of w's claim. If another goroutine of the task began to
// wait meanwhile, it could not give the slot back while the claim used it:
// the slot is given back now, under r.mu, unless that goroutine has come
// back already.
func (r *runner) unclaim(w *worker) {
	if w.slot.CompareAndSwap(claimed, 0) {
		return
	}
	r.mu.Lock()
	stalled := false
	if r.dropClaimLocked(w) != 0 {
		stalled = r.giveSlotBackLocked()
	}
	r.mu.Unlock()
	if stalled {
		r.breakStall()
	}
}

// dropClaimLocked lets go of w's claim, and of the run's hold for it if
// the claimer left Running meanwhile (see holdOpen), and returns what is
// left of w.slot: the goroutines away. The caller holds r.mu.
func (r *runner) dropClaimLocked(w *worker) int32 {
	for {
		v := w.slot.Load()
		if w.slot.CompareAndSwap(v, v&^(claimed|heldOpen)) {
			if v&heldOpen != 0 && r.outstanding.Add(-1) == 0 {
				r.finishLocked()
			}
			return v &^ (claimed | heldOpen)
		}
	}
}

// holdOpen is called by the goroutine that moved a task out of Running
// (its function returned) and found that a goroutine of the task holds
// the claim on w's slot (see the invariant in kept.go): that claim may run
// a task the run left out of its count, which the task no longer covers.
// The run counts one more until the claim ends (dropClaimLocked), unless
// the claim has ended already or is held open.
func (r *runner) holdOpen(w *worker) {
	if !r.join() {
		return // the run ends
	}
	for {
		v := w.slot.Load()
		if v&claimed == 0 || v&heldOpen != 0 {
			r.settle(1)
			return
		}
		if w.slot.CompareAndSwap(v, v|heldOpen) {
			return
		}
	}
}

// covered makes the run count n, which a goroutine of self is about to
// claim on self's slot, if n is out of the run's count and self does not
// cover it (see the invariant in kept.go): self left Running (its
// function returned while this goroutine of it waited), or is a flow,
// whose completion may come on another worker than its claims. It
// reports false if the run is ending. The caller holds the claim; locked
// says whether it holds r.mu.
func (r *runner) covered(self, n *core.Node, locked bool) bool {
	if !n.OutOfCount() || self.State() == core.Running && !isJoin(self) {
		return true
	}
	return r.count(n, locked)
}

// giveSlotBackLocked gives the slot of a task whose goroutines all wait
// back to the pool, and reports whether that stalled the run (see
// releaseSlotLocked). The caller holds r.mu.
func (r *runner) giveSlotBackLocked() (stalled bool) {
	r.live--
	stalled = r.releaseSlotLocked()
	r.wakeLocked()
	return stalled
}

// The bits of worker.slot.
const (
	claimed = 1 // a goroutine of the task runs an awaited task on the slot
	awayOne = 2 // one goroutine of the task blocked in a wait
	// heldOpen: the task left Running while a goroutine of it held the
	// claim, and the run counts one more until the claim ends (holdOpen).
	heldOpen = 1 << 30
)

// secede records p, a goroutine of w's task about to block, and gives the
// task's slot back to the pool while it waits; only the first of several
// concurrent waiters has one to give. The record comes first: a stall
// that the slot's release brings about must see the wait.
//
// It reports false, recording nothing, if what p waits in (its task, or
// a lent function of it) no longer runs on w: the goroutine began its
// wait while it ran, and it returned since, so w may run another task,
// on whose slot word this goroutine must not count itself away (that
// task's own first wait would then keep its slot: a run with one worker
// hung so, in the evolvechaos build, seed 252147965). The count comes
// before the look, and the return switches the task's state (or marks
// the job done) before its worker looks at the word (see renew): one of
// the two sees the other. The count and its undoing are both under r.mu,
// which every other change of the away count takes.
func (r *runner) secede(w *worker, p *parked) bool {
	r.mu.Lock()
	v := w.slot.Add(awayOne)
	if !stillOn(w, p) {
		w.slot.Add(-awayOne)
		r.mu.Unlock()
		return false
	}
	r.parked[p] = struct{}{}
	stalled := false
	first := v == awayOne
	// What this goroutine's task, and each task whose claim it runs
	// inside of, kept is queued: none of them runs on a slot now.
	ws := p.ws
	if ws == nil {
		ws = []*worker{w} // does not escape
	}
	for _, s := range ws {
		r.takeKeptLocked(s)
	}
	r.noteQueueLocked()
	// The jobs their Joins lent need a worker for the same reason: the
	// slot's release wakes one (wakeLocked).
	if first { // while a claim runs, the claim gives the slot back when it ends
		stalled = r.giveSlotBackLocked()
	}
	r.unlock() // what it took and the run could not count (see stray)
	if stalled {
		r.breakStall()
	}
	return true
}

// stillOn reports whether what p waits in still runs on w: its lent
// function, or else its task.
func stillOn(w *worker, p *parked) bool {
	if j := p.job; j != nil {
		return j.w == w && !j.done.Load() && p.self.State() == core.Running
	}
	return ownSlot(w, p.self)
}

// abandon ends the wait of a goroutine whose task, or lent function, left
// its worker before the goroutine could give a slot back (see secede): it
// fails as a wait begun after the return does (graph.ErrTaskReturned).
// Its waiter is cancelled, so that no worker hands it a slot; if a worker
// is handing one over already, the slot is taken and given back.
func (r *runner) abandon(ctx context.Context, wt *core.Node, withdraw func()) error {
	if !wt.CAS(core.Waiting, core.Cancelled) && !wt.CAS(core.Ready, core.Cancelled) {
		<-wt.Wake()
		r.mu.Lock()
		stalled := r.releaseSlotLocked()
		r.wakeLocked()
		r.unlock()
		if stalled {
			r.breakStall()
		}
	}
	withdraw()
	return returnedErr(ctx)
}

// rejoin ends the wait of p. handed tells whether a worker handed this
// goroutine a slot (through the waiter node); if not (the wait was
// cancelled), the slot is taken back without queueing, since the run is
// stopping anyway.
func (r *runner) rejoin(w *worker, p *parked, handed bool) {
	r.mu.Lock()
	delete(r.parked, p)
	v := w.slot.Add(-awayOne)
	// A task holds at most one slot. It does not need this goroutine's
	// while other goroutines of it still wait (the slot is not the task's
	// yet), nor while a goroutine of it runs a claim: a claim runs on the
	// task's slot, which the task kept when this goroutine went away (see
	// secede), and which unclaim gives back only if the task's goroutines
	// wait when it ends. Keeping the handed slot then left the task with
	// two, one of which nobody gave back: a run with priorities and a
	// goroutine of a task waiting beside its task's claim hung with a slot
	// held and nothing running (TestRandomTaskGoroutines).
	busy := (v&^heldOpen)>>1 > 0 || v&claimed != 0
	stalled := false
	switch {
	case busy && handed:
		stalled = r.releaseSlotLocked()
		r.wakeLocked()
	case !busy && !handed:
		r.takeSlotLocked()
		r.live++
	case !busy:
		r.live++
	}
	r.mu.Unlock()
	if stalled {
		r.breakStall()
	}
}

// returnedErr is the error of a wait that a goroutine of a task began as
// the task's function returned: it found this worker through the task's
// context while the function ran, and the task is gone since. Such a wait
// has no task to wait for (a parked wait of no task would leave a stall
// search nothing to start from), so it fails as a wait begun after the
// return does (graph.ErrTaskReturned).
func returnedErr(ctx context.Context) error {
	if n := core.Returned(ctx); n != nil {
		return &graph.Error{Task: n.Name(), Err: graph.ErrTaskReturned}
	}
	return fmt.Errorf("exec: wait: %w", graph.ErrTaskReturned)
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

// byRank orders nodes best first, as the queue does (see before).
func byRank(a, b *core.Node) int {
	return cmp.Or(cmp.Compare(b.Priority(), a.Priority()), cmp.Compare(a.ID(), b.ID()))
}

// firstReady returns the first node of order, which is best first (see
// byRank), that a waiter may run itself: a task of r's graph that is
// ready. order may hold finished nodes.
func (r *runner) firstReady(order []*core.Node) *core.Node {
	for _, n := range order {
		if n.Kind() == core.Task && n.State() == core.Ready && n.Graph() == r.g {
			return n
		}
	}
	return nil
}

// claim returns an awaited node that the waiter may run itself, moved to
// Running, without r.mu: the best ready one of order (best first, see
// byRank), while every task of the graph has priority 0 (so nothing
// queued or kept outranks it) and no other goroutine of the task uses or
// gave back its slot. Otherwise it returns nil, and claimLocked decides.
func (r *runner) claim(w *worker, self *core.Node, order []*core.Node) *core.Node {
	if r.g.Ranked() { // a halted run ended the waiter's context: see Await
		return nil
	}
	best := r.firstReady(order)
	if best == nil {
		return nil
	}
	if chaos.On {
		chaos.Pause()
	}
	if !w.slot.CompareAndSwap(0, claimed) {
		return nil
	}
	if !ownSlot(w, self) || !r.covered(self, best, false) || !best.CAS(core.Ready, core.Running) {
		r.unclaim(w)
		return nil
	}
	return best
}

// ownSlot reports whether self, whose goroutine has just claimed w's slot,
// still runs on w. A goroutine that self left behind may claim once self
// returned, and w runs another task then, or, a stand-in, another claim;
// it must not run a task on w. The claim comes before the look at self's
// state, and the completion of self switches the state before the
// goroutine that ran self looks at w's slot to use w again (runClaimed):
// of the two, one sees the other.
func ownSlot(w *worker, self *core.Node) bool {
	if !self.Running() {
		return false
	}
	h := self.Host()
	return h != nil && h.Awaiter == core.Awaiter(w)
}

// claimLocked is claim with r.mu held, which sees the queue's best live
// node. The caller holds r.mu.
func (r *runner) claimLocked(w *worker, self *core.Node, order []*core.Node) *core.Node {
	if w.slot.Load() != 0 || r.halted() {
		return nil // the slot is not this goroutine's to use
	}
	if r.g.Ranked() && r.takeAllKeptLocked() {
		r.wakeLocked()
	}
	best := r.firstReady(order)
	if best == nil {
		return nil
	}
	top := r.q.peekLive()
	r.noteQueueLocked()
	if top != nil && top.Priority() > best.Priority() {
		return nil
	}
	if !w.slot.CompareAndSwap(0, claimed) {
		return nil // another goroutine of the task claimed it without the lock
	}
	if !ownSlot(w, self) || !r.covered(self, best, true) || !best.CAS(core.Ready, core.Running) {
		r.dropClaimLocked(w) // away changes under r.mu only: nobody went away meanwhile
		return nil
	}
	r.q.dropDeadTail()
	r.noteQueueLocked()
	return best
}
