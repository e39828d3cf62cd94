package exec

import (
	"context"
	"slices"

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
func (w *worker) Await(ctx context.Context, nodes []*core.Node) error {
	r := w.r
	self := core.Current(ctx)
	if err := check(w, self, nodes); err != nil {
		return err
	}
	// nodes is never changed: records of the wait share it with other
	// goroutines' checks.
	rest := nodes
	var sub *worker
	r.mu.Lock()
	for {
		if !slices.ContainsFunc(rest, func(n *core.Node) bool { return !n.State().Terminal() }) {
			r.mu.Unlock()
			r.putSub(sub)
			forget(self)
			return nil
		}
		n := r.claimLocked(w, rest)
		if n == nil {
			break
		}
		r.mu.Unlock()
		if sub == nil {
			sub = r.getSub(w, self, rest)
		}
		r.execute(sub, n, false)
		r.mu.Lock() // held on to the next claim: one lock per awaited task run here
		r.settleLocked(sub)
		w.claim = false
		if w.away > 0 {
			// Another goroutine of this task began to wait meanwhile and could
			// not give the slot back while it was in use: give it now.
			r.holders--
			r.live--
			r.wakeLocked()
		}
	}
	r.mu.Unlock()
	r.putSub(sub)
	defer forget(self)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := record(w, self, rest); err != nil {
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
	return r.park(ctx, w, wt, func() {
		for _, n := range rest {
			n.Unwatch(wt)
		}
	})
}

// park blocks the task of w until wt, its waiter, is handed a slot: the
// slot goes back to the pool meanwhile. If ctx ends first, withdraw undoes
// what would make wt ready, and the wait returns ctx's error once the task
// has a slot again: while the run goes on it queues for one like any
// resumption, so that a wait cut short by the task's own timeout or
// cancellation never lets more bodies run than the pool's bound; once the
// run stops, nobody hands slots over any more, and it takes one at once.
func (r *runner) park(ctx context.Context, w *worker, wt *core.Node, withdraw func()) error {
	r.secede(w)
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
	r.rejoin(w, handed)
	return err
}

// Block implements core.Awaiter: it waits for sig without holding the slot.
// The signal makes the resumption ready from inside the completion that
// fires it, so the task queues for a slot again at its own priority, in
// order, as Await does.
func (w *worker) Block(ctx context.Context, sig *core.Signal, on []*core.Node) error {
	self := core.Current(ctx)
	if err := check(w, self, on); err != nil {
		return err
	}
	defer forget(self)
	if err := record(w, self, on); err != nil {
		return err
	}
	r := w.r
	wt := core.NewWaiter(self)
	if !sig.Arm(wt, r) {
		return nil // fired already
	}
	return r.park(ctx, w, wt, func() { sig.Disarm(wt) })
}

var _ core.Awaiter = (*worker)(nil)

// getSub returns a worker for w's goroutine to run an awaited task on, as
// w's stand-in: its own current task and context, w's id in events. It
// remembers that claimer, the task of w, awaits nodes meanwhile (see
// record).
func (r *runner) getSub(w *worker, claimer *core.Node, nodes []*core.Node) *worker {
	sub, _ := r.subs.Get().(*worker)
	if sub == nil {
		sub = &worker{r: r}
		sub.ctx.Awaiter = sub
		sub.ctx.Context = r.ctx
	}
	sub.id, sub.yield = w.id, false
	sub.outer, sub.claimer, sub.awaits = w, claimer, nodes
	return sub
}

// putSub returns a stand-in worker, if any, for reuse.
func (r *runner) putSub(sub *worker) {
	if sub != nil {
		sub.outer, sub.claimer, sub.awaits = nil, nil, nil
		r.subs.Put(sub)
	}
}

// secede gives the slot of w's task back to the pool while a goroutine of
// the task waits; only the first of several concurrent waiters has one to give.
func (r *runner) secede(w *worker) {
	r.mu.Lock()
	w.away++
	if w.away == 1 && !w.claim { // while a claim runs, the claim gives the slot back when it ends
		r.holders--
		r.live--
		r.wakeLocked()
	}
	r.mu.Unlock()
}

// rejoin ends a wait. handed tells whether a worker handed this goroutine a
// slot (through the waiter node); if not (the wait was cancelled), the slot
// is taken back without queueing, since the run is stopping anyway.
func (r *runner) rejoin(w *worker, handed bool) {
	r.mu.Lock()
	w.away--
	switch {
	case w.away > 0 && handed:
		// other goroutines of this task still wait: the slot is not ours yet
		r.holders--
		r.wakeLocked()
	case w.away == 0 && !handed:
		r.holders++
		r.live++
	case w.away == 0:
		r.live++
	}
	r.mu.Unlock()
}

// Waits are recorded lazily. A task that runs what it awaits on its own
// goroutine (a claim) is not blocked: only a goroutine about to park is.
// So a wait records what it waits for (core.Node.WaitOn, which other
// waits' checks and the executor's deadlock search read) only before it
// parks, together with the claims its goroutine is inside of, the chain
// of stand-ins up to the worker; until then, a check made on the same
// goroutine follows that chain itself. This keeps fib's waits, which
// always claim with one worker, from allocating a record each.
//
// No cycle goes unreported: a cycle of waits blocks every task on it, so
// each has recorded its part (or is a claimer on the chain of a parked
// goroutine, which recorded it), and the last of them to record checked
// after the others had, and found it. A cycle through a claimer that does
// not pass through the goroutine's own wait is found when that claimer
// itself comes to park, since its goroutine is not blocked by it until
// then.

// check returns an error if the wait of self for nodes, on w's goroutine,
// could never end: one is in no run, or needs the waiter itself.
func check(w *worker, self *core.Node, nodes []*core.Node) error {
	for _, n := range nodes {
		if err := graph.Waitable(core.Key{}, n); err != nil {
			return err
		}
	}
	if cyc := deadlock(w, self, nodes); cyc != nil {
		return &graph.DeadlockError{Cycle: cyc}
	}
	return nil
}

// record is called by a wait of self for nodes on w's goroutine before it
// parks: it records the wait, and the claims of the chain, and checks
// again now that they are visible to other goroutines' checks, which may
// have missed them while they were not recorded.
func record(w *worker, self *core.Node, nodes []*core.Node) error {
	if self == nil {
		return nil
	}
	self.WaitOn(nodes)
	for s := w; s.outer != nil; s = s.outer {
		if s.claimer != nil {
			s.claimer.WaitOn(s.awaits) // the same list each time: idempotent
		}
	}
	if cyc := deadlock(w, self, nodes); cyc != nil {
		return &graph.DeadlockError{Cycle: cyc}
	}
	return nil
}

// forget ends the record of a wait of self, if one was made.
func forget(self *core.Node) {
	if self != nil && self.HasExt() {
		self.WaitOn(nil)
	}
}

// chainAwaits returns what x awaits if x is a task on w's chain of claims
// (see record), or nil.
func (w *worker) chainAwaits(x *core.Node) []*core.Node {
	for s := w; s != nil && s.outer != nil; s = s.outer {
		if s.claimer == x {
			return s.awaits
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

// deadlock returns a cycle of waits and needs that leads from self, through
// the awaited nodes, back to self, or nil. A node on such a cycle can only
// finish after self does, and self waits for it: the wait could never end.
// Needs are inputs, what running tasks wait for, and what flows join (see
// core.Node.Needs); cycles that close later, through a task that a flow
// emits, are broken by the executor when the run stalls (breakDeadlock).
//
// Tasks on the chain of claims of w's goroutine need what they await too,
// recorded or not.
func deadlock(w *worker, self *core.Node, nodes []*core.Node) []string {
	if self == nil {
		return nil
	}
	simple := true
	for _, n := range nodes {
		if n == self {
			return []string{self.Name(), self.Name()}
		}
		if st := n.State(); n.NumDeps() > 0 || st == core.Running || st == core.Joining {
			simple = false
		}
	}
	if simple {
		return nil // awaited nodes with no inputs that are not waiting: no cycle through them
	}
	prev := map[*core.Node]*core.Node{}
	var stack []*core.Node
	for _, n := range nodes {
		if _, ok := prev[n]; !ok {
			prev[n] = self
			stack = append(stack, n)
		}
	}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.State().Terminal() {
			continue
		}
		for _, y := range append(x.Needs(), w.chainAwaits(x)...) { // Needs returns a slice of its own
			if y == self {
				path := []string{self.Name()}
				for z := x; z != self; z = prev[z] {
					path = append(path, z.Name())
				}
				slices.Reverse(path[1:])
				return append(path, self.Name())
			}
			if _, ok := prev[y]; !ok && !y.State().Terminal() {
				prev[y] = x
				stack = append(stack, y)
			}
		}
	}
	return nil
}
