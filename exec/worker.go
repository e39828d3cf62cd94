package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/chaos"
	"github.com/evolve-dag/evolve/internal/core"
)

// worker is one goroutine of a run, or the stand-in a waiter uses to run an
// awaited task itself. Its fields belong to the goroutine running it.
type worker struct {
	r    *runner
	id   int
	buf  []*core.Node  // nodes made ready by the last completion; reused
	ctx  core.Host     // the run's context and this worker as Awaiter: the host of the tasks it runs (see taskCtx)
	wake chan struct{} // a parked worker is woken here; buffered so waking never blocks
	// slot is the current task's use of its slot, in one word so that a
	// waiter can take and give back the claim without r.mu: bit 0 is set
	// while a goroutine of the task runs an awaited task on the slot (the
	// claim), and the rest counts the task's goroutines blocked in a wait
	// (away). Changes to away are made under r.mu; the claim is taken by
	// a compare-and-swap from zero and let go by one back to zero, or
	// under r.mu when a goroutine went away meanwhile (see Await).
	slot atomic.Int32
	// A stand-in (see getSub) runs on the goroutine of outer, whose task,
	// claimer, awaits awaits meanwhile; nil for a worker goroutine's own.
	outer   *worker
	claimer *core.Node
	awaits  []*core.Node
	// stand: a stand-in, whose outer, claimer and awaits change from
	// claim to claim; set when it is made (see chainOf).
	stand bool
	spare *worker // a stand-in for the next claim (see runClaimed); used only by the claim's holder
	// kept are tasks the current task added that are not queued (see
	// kept.go).
	kept   [keptEntries]keptEntry
	listed atomic.Bool // in r.listed (see kept.go); changed under r.mu
	// jobs are the functions that Joins begun on this worker lend to
	// idle workers, oldest first from jhead (see join.go); under jmu.
	jmu     sync.Mutex
	jobs    []job
	jhead   int
	jlisted atomic.Bool // in r.jobbers; changed under r.mu
	// settled counts the nodes this worker finished and has not yet
	// subtracted from r.outstanding. One atomic per park instead of one per
	// task: the run cannot end while this worker still runs, so the count
	// only has to be exact when it parks or exits (see loop).
	settled int64
}

// taskCtx is the context a task function gets: the task's own node, seen
// as a context, so that each task has a context of its own and running a
// task allocates none. Its deadline, Done, Err and values are those of the
// run's context; while the function runs it also answers the running task
// (core.CurrentKey) and the Awaiter of the worker running it
// (core.AwaiterKey), both found through the node's host (core.Host).
//
// Once the function returned, the context stands for no running task: a
// goroutine that kept it gets no task and no Awaiter from it, but the task
// as core.ReturnedKey, so that adding or waiting with it fails with
// graph.ErrTaskReturned instead of acting as whatever task the worker runs
// next. The function counts as returned once the task left Running (a
// flow joining what it emitted, a task finished): a use that races with
// the return, in the few instructions before the executor finishes the
// task, may still see it running; every use after it is caught. A later
// run of the same task makes the context answer that task again, on its
// new worker.
type taskCtx core.Node

func (c *taskCtx) node() *core.Node     { return (*core.Node)(c) }
func (c *taskCtx) run() context.Context { return c.node().Host().Context }

func (c *taskCtx) Deadline() (time.Time, bool) { return c.run().Deadline() }
func (c *taskCtx) Done() <-chan struct{}       { return c.run().Done() }
func (c *taskCtx) Err() error                  { return c.run().Err() }

func (c *taskCtx) Value(key any) any {
	if k, ok := key.(core.CtxKey); ok {
		n := c.node()
		running := n.State() == core.Running
		switch {
		case k == core.CurrentKey && running:
			return n
		case k == core.AwaiterKey && running:
			return n.Host().Awaiter
		case k == core.ReturnedKey && !running:
			return n
		}
		return nil
	}
	return c.run().Value(key)
}

// String names the task, for messages that print a context.
func (c *taskCtx) String() string { return "exec.taskCtx(" + c.node().Name() + ")" }

// loop is a worker goroutine: it takes ready nodes while a slot is free,
// and parks when there are none.
func (r *runner) loop(w *worker) {
	defer r.wg.Done()
	// holding: the goroutine holds a slot for a task or a lent function;
	// ended: it left the loop. Else a function ended it (see goexit.go).
	holding, ended := false, false
	defer func() {
		if !ended {
			r.workerGoexited(w, holding)
		}
	}()
	w.ctx.Context = r.ctx
	r.mu.Lock()
	for {
		if r.finished || r.halted() {
			break
		}
		if r.holders < r.limit {
			if len(r.listed) > 0 {
				r.takeAllKeptLocked() // ranked with the queued ones (see kept.go)
			}
			if r.q.open == nil && r.q.inSpans >= minOpen {
				if o := r.q.openOne(r.limit); o != nil {
					r.open.Store(o) // the roots of a wide graph, for nextRoot
				}
			}
			if n := r.q.pop(); n != nil {
				r.noteQueueLocked()
				r.takeSlotLocked()
				r.unlock()
				holding = true
				gave := r.dispatch(&w, n)
				holding = false
				r.mu.Lock()
				// A slot given to a waiter is the waiter's now (see rejoin).
				if !gave && r.releaseSlotLocked() {
					r.settleLocked(w) // so that the count the search reads is exact
					r.unlock()
					r.breakStall()
					r.mu.Lock()
				}
				continue
			}
		}
		r.settleLocked(w)
		if r.finished {
			break
		}
		idle := r.holders < r.limit // it could run a task now: one kept may be taken
		if idle {
			r.idlers.Add(1)
			if r.stealLocked() {
				r.idlers.Add(-1)
				continue
			}
			if j, ok := r.stealJobLocked(); ok {
				r.idlers.Add(-1)
				r.takeSlotLocked()
				r.unlock()
				holding = true
				r.runLent(w, j)
				w = r.renew(w)
				holding = false
				r.mu.Lock()
				if r.releaseSlotLocked() {
					r.settleLocked(w) // so that the count the search reads is exact
					r.unlock()
					r.breakStall()
					r.mu.Lock()
				}
				continue
			}
		}
		// Only now: a worker woken for a lent job takes it, even if as
		// many others are parked (wakeLocked wakes one, not all).
		if len(r.idle) >= r.limit {
			if idle {
				r.idlers.Add(-1)
			}
			break // a surplus worker, spawned while a task waited
		}
		r.live--
		r.idle = append(r.idle, w)
		r.unlock()
		<-w.wake
		r.mu.Lock()
		if idle {
			r.idlers.Add(-1)
		}
	}
	r.settleLocked(w)
	r.live--
	r.unlock()
	ended = true
}

// dispatch runs n, and then the successors it makes ready while nothing
// better waits in the queue, on the worker *wp, which it renews between
// tasks when goroutines of the last one still use its slot (see renew).
// It reports whether n was a waiter that took this goroutine's slot.
func (r *runner) dispatch(wp **worker, n *core.Node) (gave bool) {
	w := *wp
	running := false // n was claimed Running by the completion before it
	for n != nil {
		if !running {
			if n.Kind() == core.Waiter {
				if !n.CAS(core.Ready, core.Running) {
					return false
				}
				n.Wake() <- struct{}{}
				return true
			}
			if !n.CAS(core.Ready, core.Running) {
				// Cancelled, or taken by a waiter, while queued.
				n = r.nextRoot(w)
				continue
			}
		}
		n, running = r.execute(w, n, true)
		if nw := r.renew(w); nw != w {
			w, *wp = nw, nw
		}
		if r.halted() {
			// A node claimed Running stays so: the run's end cancels it,
			// as it cancels every node of a stopped run not finished.
			return false
		}
		if n == nil && r.open.Load() != nil {
			n = r.nextRoot(w)
		}
	}
	return false
}

// nextRoot takes the next root of the queue's open span for w, if it has
// one, for a worker whose task made no task ready: it runs it on the slot
// it holds, without the runner's mutex. The open span's nodes are the
// queue's best (see queue), so this is what the worker would pop; it is
// the run's roots, taken a lock apart instead of a lock each (see
// open.go).
//
// Taking a root is not looking for a task in kept.go's sense: a worker
// keeps a task only while every task of the graph has priority 0, and
// the task was added while the run ran, after every root, so it ranks
// after every node of the open span.
func (r *runner) nextRoot(w *worker) *core.Node {
	o := r.open.Load()
	if o == nil {
		return nil
	}
	id, back := o.take(w.id)
	if back[0] < back[1] {
		r.giveBack(o, back[0], back[1])
	}
	if id < 0 {
		r.open.CompareAndSwap(o, nil) // empty: the next worker need not look
		return nil
	}
	return o.g.At(id)
}

// giveBack queues the roots of o from up to to, which a worker took into
// its lane as o was closed (see open.go).
func (r *runner) giveBack(o *openSpan, from, to int64) {
	r.mu.Lock()
	r.q.pushSpan(o.g, from, to)
	r.raised++
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
}

// renew returns the worker that w's goroutine goes on as, once the task
// it ran has finished: w itself, or, if goroutines of that task still use
// w's slot word (blocked in a wait through w, or running a claim on its
// slot; see ownSlot), a new worker for the same goroutine. They keep w,
// whose word counts them, and the next task gets a word of its own: a
// task that inherited theirs would find its slot claimed, or its first
// wait not the first, and would keep its slot while it waits (a run with
// one worker hung so, the task's goroutines parked through w and the next
// task parked holding the only slot: the evolvechaos build, seed
// 252147965). A goroutine that begins such a wait after the task returned
// counts itself on no worker (see secede). Small enough to inline: it
// runs after every task.
func (r *runner) renew(w *worker) *worker {
	if w.slot.Load() == 0 {
		return w
	}
	return r.renewed(w)
}

// renewed is renew's new worker. What w counted as settled is settled
// first, so that nothing is left on a worker nobody runs.
func (r *runner) renewed(w *worker) *worker {
	if k := w.settled; k > 0 {
		w.settled = 0
		r.settle(k)
	}
	nw := &worker{r: r, id: w.id, wake: w.wake}
	nw.ctx.Awaiter, nw.ctx.Run, nw.ctx.Context = nw, r, w.ctx.Context
	return nw
}

// execute runs a node that was moved to Running, finishes it, and returns
// a newly ready node to run next on this goroutine when inline allows it
// and nothing better is queued, and whether that node is Running already
// (see complete).
func (r *runner) execute(w *worker, n *core.Node, inline bool) (*core.Node, bool) {
	var err error
	state := core.Done
	switch {
	case n.Poisoned():
		state, err = core.Skipped, skipError(n)
	case n.CancelRequested():
		// Cancelled after it was moved to Running and before its function
		// started (or, for a flow, while it joined): it never starts.
		state, err = core.Cancelled, cancelError(n)
	case n.Joined():
		if err = n.Body().(joiner).Joined(); err != nil {
			state = core.Failed
		}
	default:
		if r.obs != nil {
			r.emit(EventStarted, n, w.id, nil)
		}
		err = r.call(w, n)
		switch {
		case n.CancelRequested():
			state, err = core.Cancelled, cancelError(n)
		case err != nil && r.ctx.Err() != nil && errors.Is(err, r.ctx.Err()):
			state = core.Cancelled // it gave up because the run stopped
		case err != nil:
			state = core.Failed
		case isJoin(n):
			if r.beginJoin(n) {
				return nil, false // it finishes when what it emitted has
			}
			if n.Poisoned() {
				state, err = core.Skipped, skipError(n)
			} else if err = n.Body().(joiner).Joined(); err != nil {
				state = core.Failed
			}
		}
	}
	return r.complete(w, n, state, err, inline)
}

// call runs n's function: once on n's own context (see taskCtx) when n
// has no options, otherwise with its timeout, retries and own context.
func (r *runner) call(w *worker, n *core.Node) error {
	n.SetHost(&w.ctx)
	return r.retry(w, n)
}

// retry runs n's function once, or with its options.
func (r *runner) retry(w *worker, n *core.Node) error {
	o := n.Options()
	if o == nil || o.Timeout == 0 && o.Retries == 0 && !o.Cancellable {
		return attempt((*taskCtx)(n), w, w, n)
	}
	var c core.Consumer = w
	if o.Retries > 0 && r.releasing {
		// Every attempt reads the inputs again: release them after the last.
		c = keepInputs{}
		defer func() {
			for _, in := range n.Body().Inputs() {
				w.Consumed(in)
			}
		}()
	}
	backoff := time.Duration(o.Backoff)
	for try := 0; ; try++ {
		err := r.attemptWith(w, c, n, o)
		var pe *graph.PanicError
		if err == nil || try >= o.Retries || errors.As(err, &pe) || r.ctx.Err() != nil || n.CancelRequested() {
			return err
		}
		if r.obs != nil {
			r.emit(EventRetried, n, w.id, err)
		}
		if o.Join {
			// A flow's next attempt joins only what it emits (see graph.Flow).
			for _, e := range n.Retry() {
				w.Consumed(e)
			}
		}
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-r.ctx.Done():
				t.Stop()
				return err
			}
			backoff *= 2
		}
	}
}

// keepInputs is the Consumer of a task that will read its inputs again.
type keepInputs struct{}

func (keepInputs) Consumed(*core.Node) {}

// attemptWith runs one attempt with the context n's options ask for.
func (r *runner) attemptWith(w *worker, c core.Consumer, n *core.Node, o *core.Options) error {
	var ctx context.Context = (*taskCtx)(n)
	if o.Cancellable {
		c, cancel := context.WithCancel(ctx)
		n.SetCancel(cancel)
		if n.CancelRequested() { // cancelled between start and here
			cancel()
		}
		defer cancel()
		ctx = c
	}
	if o.Timeout > 0 {
		c, cancel := context.WithTimeout(ctx, time.Duration(o.Timeout))
		defer cancel()
		ctx = c
	}
	return attempt(ctx, w, c, n)
}

// attempt calls the function once, turning a panic into a *graph.PanicError.
// Panics are recovered rather than left to crash the program because a
// task graph is a unit of work like an HTTP request: one bad task should
// fail its branch, with its stack kept in the error, not the process.
//
// A function that ends its goroutine instead (runtime.Goexit) leaves no
// caller to return to: n is finished failed here, on the way out (see
// goexited).
func attempt(ctx context.Context, w *worker, c core.Consumer, n *core.Node) (err error) {
	returned := false
	defer func() {
		if v := recover(); v != nil {
			err = &graph.PanicError{Task: n.Name(), Value: v, Stack: debug.Stack()}
		} else if !returned {
			w.r.goexited(w, n)
		}
	}()
	err = n.Body().Run(ctx, c)
	returned = true
	return err
}

// Consumed implements core.Consumer: in runs that release results, an input
// whose every consumer has read it is released.
func (w *worker) Consumed(in *core.Node) {
	if w.r.releasing && in.Users().Add(-1) == 0 {
		in.Release()
	}
}

// complete finishes n in state s and returns the node to run next on this
// goroutine, if inline and one of the nodes n made ready beats the queue,
// and whether it is Running already: when nothing is queued and nobody
// observes the run, the completion claims n's only consumer itself if it
// makes it ready (see core.Node.FinishInline).
func (r *runner) complete(w *worker, n *core.Node, s core.State, err error, inline bool) (*core.Node, bool) {
	if chaos.On && n.Graph() != r.g {
		// A run runs its graph's tasks only (see Run's check of targets,
		// and Spawn), so the completion below may look n's consumers up
		// in r.g without n's slab header (see core.Node.Finish).
		panic(fmt.Sprintf("exec: task %q of another graph completes in this run", n.Name()))
	}
	counted := !n.OutOfCount() // read before the switch to s clears it
	if s != core.Done {
		r.fail(n, s, err)
	}
	if r.releasing && s == core.Done {
		// Ordering inputs are never read by the function: they are
		// consumed when it is done.
		for _, d := range n.After() {
			w.Consumed(d)
		}
	}
	if isJoin(n) {
		if r.releasing {
			// A flow kept what it joins until it took its result (see
			// core.Graph.activateNew and beginJoin).
			for _, e := range n.Joins() {
				w.Consumed(e)
			}
		}
	}
	// What n added and w kept is queued before n's consumers are looked
	// at, so that they are ranked among them, and again after n finished,
	// for a task kept meanwhile by a goroutine n left behind (see kept.go).
	if w.keeps() {
		r.publishKept(w)
	}
	var ready []*core.Node
	var inlined *core.Node
	ok := true
	if inline && r.obs == nil && !r.hasQueued.Load() {
		ready, inlined, ok = n.FinishInline(r.g, s, err, w.buf[:0])
	} else {
		ready, ok = n.Finish(r.g, s, err, w.buf[:0])
	}
	if !ok && !n.State().Terminal() {
		// Task.Cancel reached n after its function returned and before its
		// end was stored, and said so: its result is discarded.
		s, err = core.Cancelled, cancelError(n)
		r.fail(n, s, err)
		ready, _ = n.Finish(r.g, s, err, w.buf[:0])
	}
	// Refused otherwise: the end of a stopped run cancelled n while its
	// function ran on a goroutine that outlived the run's workers.
	if chaos.On {
		chaos.Pause()
	}
	if w.keeps() {
		r.publishKept(w)
	}
	if w.slot.Load()&claimed != 0 {
		// A goroutine of n runs a claim on n's slot, which n, out of
		// Running now, no longer covers (see the invariant in kept.go).
		r.holdOpen(w)
	}
	w.buf = ready[:0]
	if r.obs != nil {
		// Told after the end is stored, so that an observer reading the
		// task (State, Result, Err) sees it; and before the tasks it made
		// ready are told of (pick).
		r.emit(kindOf(s), n, w.id, err)
	}
	// ready is not cleared after use: the nodes it still points to belong
	// to the graph, which outlives the worker, so clearing would only cost
	// a call and write barriers on every task.
	if counted {
		w.settled++
	}
	if inlined != nil {
		return inlined, true
	}
	var next *core.Node
	if len(ready) > 0 && !r.halted() {
		next = r.pick(ready, inline)
	}
	return next, false
}

// pick queues the nodes a completion made ready, except the best one when
// inline is set and nothing better is queued: that one is returned, to run
// on this goroutine without a trip through the queue. The nodes are pushed
// best first, so that nodes ready in creation order (a tree's children, a
// wave's front) stay on the queue's FIFO run instead of its heap.
func (r *runner) pick(ready []*core.Node, inline bool) *core.Node {
	if r.obs != nil {
		for _, n := range ready {
			r.emit(EventReady, n, -1, nil)
		}
	}
	if inline && len(ready) == 1 && !r.hasQueued.Load() {
		return ready[0] // the common chain step: no lock at all
	}
	if len(ready) > 1 {
		// Insertion sort: completions make few nodes ready, and the list is
		// the worker's own.
		for i := 1; i < len(ready); i++ {
			for j := i; j > 0 && before(ready[j], ready[j-1]); j-- {
				ready[j], ready[j-1] = ready[j-1], ready[j]
			}
		}
	}
	one := r.limit == 1 // spans join completions' nodes only then (see queue.pushApart)
	if o := r.open.Load(); o != nil && one && r.extendOpen(o, ready) {
		return nil // the caller takes the open span's next (dispatch)
	}
	r.mu.Lock()
	var next *core.Node
	if inline {
		if top := r.q.peek(); top == nil || !before(top, ready[0]) {
			next, ready = ready[0], ready[1:]
		}
	}
	for _, n := range ready {
		if one {
			r.q.push(n)
		} else {
			r.q.pushApart(n)
		}
	}
	r.raised += uint64(len(ready)) // the runnable work grows (see pushLocked)
	if q := &r.q; one {
		if q.open == nil && q.inSpans >= minOpen {
			if o := q.openOne(r.limit); o != nil {
				r.open.Store(o) // a tree's level, say: for nextRoot and extendOpen
			}
		} else if q.open != nil && r.open.Load() != q.open {
			r.open.Store(q.open) // cleared when the worker found it empty; grown since
		}
	}
	if inline && next == nil {
		next = r.q.pop()
	}
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
	return next
}

// extendOpen queues ready, sorted, at the end of the open span o without
// the runner's mutex, if their ids follow o's last one without a gap and
// they have o's priority (see openSpan.extend), and reports whether it
// did. A tree's nodes, or anything made ready in creation order, then go
// from completion to start without a lock while one worker runs them.
//
// No worker with a slot free is parked while the span is open: a worker
// parks with a free slot only after its pop under the mutex found the
// queue empty, which closes the open span (the queue lets go of one only
// so), and an extension of a closed span fails. A run of one worker has
// no other worker to wake anyway; still, if idlers says one is parking,
// this wakes one under the mutex, as a push would.
func (r *runner) extendOpen(o *openSpan, ready []*core.Node) bool {
	from := ready[0].ID()
	for i, n := range ready {
		if n.ID() != from+int64(i) || n.Priority() != o.prio || !inSpanOf(n, o.g) {
			return false
		}
	}
	if !o.extend(from, from+int64(len(ready))) {
		return false
	}
	if r.idlers.Load() > 0 {
		r.mu.Lock()
		if r.q.open == o {
			r.q.openSize = max(r.q.openSize, o.len()) // so that the wake-ups count them
		}
		r.raised++
		r.wakeLocked()
		r.mu.Unlock()
	}
	return true
}

func kindOf(s core.State) EventKind {
	switch s {
	case core.Done:
		return EventFinished
	case core.Skipped:
		return EventSkipped
	case core.Cancelled:
		return EventCancelled
	}
	return EventFailed
}

// skipError names the failed input of a poisoned node, going back to the
// task where the failure started.
func skipError(n *core.Node) error {
	cause := n.Cause()
	if cause == nil {
		for _, d := range n.Deps() {
			if s := d.State(); s != core.Done && s != core.Released && s.Terminal() {
				cause = d
				break
			}
		}
	}
	if cause == nil {
		return &graph.SkipError{Task: n.Name(), Failed: "?", Err: errors.New("an input failed")}
	}
	failed, err := cause.Name(), cause.Err()
	var se *graph.SkipError
	if errors.As(err, &se) {
		failed, err = se.Failed, se.Err
	}
	return &graph.SkipError{Task: n.Name(), Failed: failed, Err: err}
}

// joiner is the body of a graph.Flow task.
type joiner interface {
	Joined() error
	JoinOn() *core.Node
}

func isJoin(n *core.Node) bool {
	o := n.Options()
	return o != nil && o.Join
}

// beginJoin moves a flow whose function returned to Joining. It reports
// false when everything it emitted has already finished (the flow can
// finish now); otherwise the last emitted task to finish makes it ready
// again, and execute then finishes it.
func (r *runner) beginJoin(n *core.Node) bool {
	n.AddPending(1) // a guard, so the count cannot reach zero before Joining is set
	n.SetJoined()
	if on := n.Body().(joiner).JoinOn(); on != nil && !slices.Contains(n.Joins(), on) {
		// Not one of the tasks it emitted (see core.Node.Joins): the flow
		// reads it as a new reader would, and, like those, when it joins
		// (see complete).
		r.g.Adopt(on)
		n.AddJoin(on)
		on.Watch(n)
	}
	// A joining flow may close a cycle of needs (it emitted a task that
	// needs it): it is a root of stall searches while it joins.
	r.mu.Lock()
	r.noteJoiningLocked(n)
	r.mu.Unlock()
	n.CAS(core.Running, core.Joining)
	if n.CountDown(core.Joining, core.Running) {
		return false // still listed, until a search or the list's growth drops it
	}
	return true
}
