package exec

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// worker is one goroutine of a run, or the stand-in a waiter uses to run an
// awaited task itself. Its fields belong to the goroutine running it.
type worker struct {
	r      *runner
	id     int
	buf    []*core.Node  // nodes made ready by the last completion; reused
	ctx    core.Host     // the run's context and this worker as Awaiter: the host of the tasks it runs (see taskCtx)
	wake   chan struct{} // a parked worker is woken here; buffered so waking never blocks
	away   int           // goroutines of the current task blocked in a wait (guarded by r.mu)
	claim  bool          // a goroutine of the current task runs an awaited task on its slot (guarded by r.mu)
	yield  bool          // a completion woke a client goroutine: let it run before picking again
	client *core.Signal  // ...and this is the signal of the as-completed or wait-first it woke, if any
	// A stand-in (see getSub) runs on the goroutine of outer, whose task,
	// claimer, awaits awaits meanwhile; nil for a worker goroutine's own.
	outer   *worker
	claimer *core.Node
	awaits  []*core.Node
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
	w.ctx.Context = r.ctx
	r.mu.Lock()
	for {
		if r.finished || r.halted() {
			break
		}
		if r.holders < r.limit {
			if r.reacting.Load() != nil {
				r.mu.Unlock()
				r.letClientReact()
				r.mu.Lock()
				continue
			}
			if r.doneWake.Load() != 0 {
				r.mu.Unlock()
				r.letWaiterReact()
				r.mu.Lock()
				continue
			}
			if n := r.q.pop(); n != nil {
				r.noteQueueLocked()
				r.holders++
				r.mu.Unlock()
				gave := r.dispatch(w, n)
				if w.yield {
					// The client was woken onto this processor: yielding once
					// usually lets it run (and react) first.
					w.yield = false
					runtime.Gosched()
				}
				r.mu.Lock()
				if !gave { // a slot given to a waiter is the waiter's now (see rejoin)
					r.holders--
				}
				continue
			}
		}
		r.settleLocked(w)
		if r.finished {
			break
		}
		if r.stalledLocked() {
			r.mu.Unlock()
			broke := r.breakDeadlock()
			r.mu.Lock()
			// Tasks queued meanwhile counted this worker as awake and woke
			// nobody, and the run may have finished or stopped (waking
			// the workers parked then, not this one): look again before
			// parking.
			if broke || r.q.len() > 0 || r.finished || r.halted() {
				continue
			}
		}
		if len(r.idle) >= r.limit {
			break // a surplus worker, spawned while a task waited
		}
		r.live--
		r.idle = append(r.idle, w)
		r.mu.Unlock()
		<-w.wake
		r.mu.Lock()
	}
	r.settleLocked(w)
	r.live--
	r.mu.Unlock()
}

// reactBound is how long workers wait at most for a client to react.
const reactBound = time.Millisecond

// letClientReact gives a client goroutine woken by a completion the chance
// to add tasks before a worker picks its next one, so that the pick sees
// them, as a greedy scheduler would: that is what makes the as_completed
// pattern (submit more at a higher priority as results arrive) schedule
// like the simulation.
//
// A client waiting in an as-completed loop (a Signal) tells when it
// is done reacting, by coming back to wait: until then, for a millisecond
// at most, every worker of the run yields instead of picking. Only a
// client that was waiting is waited for: one still busy with earlier
// completions would otherwise throttle the workers to its pace. It reports
// whether it waited. The caller does not hold r.mu.
func (r *runner) letClientReact() bool {
	sig := r.reacting.Load()
	if sig == nil {
		return false
	}
	waited := r.holdWhile(func() bool { return sig.Reacting(reactBound) })
	r.reacting.CompareAndSwap(sig, nil)
	return waited
}

// holdWhile keeps the calling worker from picking while reacting reports
// true and the run goes on, and reports whether it held at all. It yields
// the processor a few times, so that a client woken onto it runs at once,
// and then sleeps in short steps: a worker that only yields finds itself
// again on the global run queue, and its processor never steals a client
// queued on another one, which then waits for the hold to end (measured:
// the seed's goroutines variant lost 1 ms and then the race in about one
// run in ten).
func (r *runner) holdWhile(reacting func() bool) bool {
	held := false
	for spins := 0; reacting() && !r.halted(); spins++ {
		held = true
		if spins < 4 {
			runtime.Gosched()
		} else {
			time.Sleep(10 * time.Microsecond)
		}
	}
	return held
}

// waiterBound is how long workers wait at most for a client woken from
// Task.Wait (or any reader of a Done channel) to act on the graph. A
// client that reacts ends the wait as soon as its reaction is queued; one
// that never acts again costs the run this much once per such wake-up. A
// variable so that tests can make it long enough to never run out.
var waiterBound = time.Millisecond

// letWaiterReact is letClientReact for clients woken by a Done channel
// (Task.Wait from outside a task, the async style). They do not come back
// to a Signal, so the executor watches the graph's count of client acts
// (core.Graph.ClientActs: a task added and queued, a batch flushed, a wait
// begun): until it moves, for waiterBound at most, the workers hold back,
// so that the tasks a client adds in reaction compete with those already
// queued, as in a greedy scheduler. A client that reacts with several
// tasks should add them with graph.Batch, so that its reaction is one act.
// The caller does not hold r.mu.
func (r *runner) letWaiterReact() {
	since := r.doneWake.Load()
	if since == 0 {
		return
	}
	acts := r.doneActs.Load()
	r.holdWhile(func() bool {
		return r.g.ClientActs() == acts && time.Now().UnixNano()-since < int64(waiterBound)
	})
	r.doneWake.CompareAndSwap(since, 0)
}

// dispatch runs n, and then the successors it makes ready while nothing
// better waits in the queue. It reports whether n was a waiter that took
// this goroutine's slot.
func (r *runner) dispatch(w *worker, n *core.Node) (gave bool) {
	for n != nil {
		if n.Kind() == core.Waiter {
			if !n.CAS(core.Ready, core.Running) {
				return false
			}
			n.Wake() <- struct{}{}
			return true
		}
		if !n.CAS(core.Ready, core.Running) {
			return false // cancelled, or taken by a waiter, while queued
		}
		n = r.execute(w, n, true)
		if r.halted() {
			return false
		}
	}
	return false
}

// execute runs a node that was moved to Running, finishes it, and returns
// a newly ready node to run next on this goroutine when inline allows it
// and nothing better is queued.
func (r *runner) execute(w *worker, n *core.Node, inline bool) *core.Node {
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
				return nil // it finishes when what it emitted has
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
		return attempt((*taskCtx)(n), w, n)
	}
	var c core.Consumer = w
	if o.Retries > 0 && r.releasing {
		// Every attempt reads the inputs again: release them after the last.
		c = keepInputs{}
		defer func() {
			for i, k := 0, n.Body().NumInputs(); i < k; i++ {
				w.Consumed(n.Body().Input(i))
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
	return attempt(ctx, c, n)
}

// attempt calls the function once, turning a panic into a *graph.PanicError.
// Panics are recovered rather than left to crash the program because a
// task graph is a unit of work like an HTTP request: one bad task should
// fail its branch, with its stack kept in the error, not the process.
func attempt(ctx context.Context, c core.Consumer, n *core.Node) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &graph.PanicError{Task: n.Name(), Value: v, Stack: debug.Stack()}
		}
	}()
	return n.Body().Run(ctx, c)
}

// Consumed implements core.Consumer: in runs that release results, an input
// whose every consumer has read it is released.
func (w *worker) Consumed(in *core.Node) {
	if w.r.releasing && in.Users().Add(-1) == 0 {
		in.Release()
	}
}

// complete finishes n in state s and returns the node to run next on this
// goroutine, if inline and one of the nodes n made ready beats the queue.
func (r *runner) complete(w *worker, n *core.Node, s core.State, err error, inline bool) *core.Node {
	if s != core.Done {
		r.fail(n, s, err)
	}
	if r.obs != nil {
		r.emit(kindOf(s), n, w.id, err)
	}
	if r.releasing && s == core.Done {
		// Ordering inputs are never read by the function: they are
		// consumed when it is done.
		for i, k := n.Body().NumInputs(), n.NumDeps(); i < k; i++ {
			w.Consumed(n.Dep(i))
		}
	}
	if r.releasing && isJoin(n) {
		// A flow kept what it joins until it took its result (see
		// core.Graph.activateNew and beginJoin).
		for _, e := range n.Joins() {
			w.Consumed(e)
		}
	}
	// A completion can close a Done channel only if n has an ext, and
	// the woken client may act at once: count its acts before.
	var acts uint64
	hasExt := n.HasExt()
	if hasExt {
		acts = r.g.ClientActs()
	}
	ready, woke, client := n.FinishNotify(s, err, w.buf[:0])
	w.buf = ready[:0]
	w.yield = w.yield || woke != 0
	if client != nil {
		r.reacting.Store(client)
	} else if woke&core.WokeDone != 0 && hasExt {
		r.doneActs.Store(acts)
		r.doneWake.Store(time.Now().UnixNano())
	}
	// ready is not cleared after use: the nodes it still points to belong
	// to the graph, which outlives the worker, so clearing would only cost
	// a call and write barriers on every task.
	var next *core.Node
	if len(ready) > 0 && !r.halted() {
		next = r.pick(ready, inline)
	}
	w.settled++
	return next
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
	r.mu.Lock()
	var next *core.Node
	if inline {
		if top := r.q.peek(); top == nil || !before(top, ready[0]) {
			next, ready = ready[0], ready[1:]
		}
	}
	for _, n := range ready {
		r.q.push(n)
	}
	if inline && next == nil {
		next = r.q.pop()
	}
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
	return next
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
	for i, k := 0, n.NumDeps(); cause == nil && i < k; i++ {
		if d := n.Dep(i); d.State() != core.Done && d.State() != core.Released && d.State().Terminal() {
			cause = d
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
	p := n.Pending()
	p.Add(1) // a guard, so the count cannot reach zero before Joining is set
	n.SetJoined()
	if on := n.Body().(joiner).JoinOn(); on != nil && on.Parent() != n {
		n.AddJoin(on) // its emitted tasks are there already (see core.Node.Joins)
		if r.releasing {
			on.Users().Add(1) // read when the flow joins, like its emitted tasks (see complete)
		}
		on.Watch(n)
	}
	n.CAS(core.Running, core.Joining)
	if p.Add(-1) == 0 && n.CAS(core.Joining, core.Running) {
		return false
	}
	return true
}
