package exec

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Option configures a run.
type Option func(*config) error

type config struct {
	workers   int
	stop      bool
	targets   []graph.Ref
	targeted  bool // Targets was given, even with no task: run only what they need
	observers []Observer
}

// Workers sets how many task functions may run at once. The default is
// runtime.GOMAXPROCS(0); n must be at least 1.
func Workers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("exec: Workers(%d): the worker count must be at least 1", n)
		}
		c.workers = n
		return nil
	}
}

// StopOnError stops the run at the first task that fails: no task starts
// after it, running tasks see their context cancelled, and Run returns that
// failure. Without it, branches that do not need the failed task go on.
func StopOnError() Option {
	return func(c *config) error { c.stop = true; return nil }
}

// Targets runs only the given tasks and what they need, instead of the whole
// graph. Such a run releases intermediate results as soon as every task of
// the run that reads them has started, so long pipelines run in bounded
// memory; the targets' results, and those of tasks built with graph.Keep,
// are kept. Tasks that already hold a result are not run again.
//
// Code that reads results by handle is a reader too when it reads them
// with Task.Wait or dynamic.Gather: those read a result before it can be
// released, and have one released already computed again. A result read
// with Task.Result after another wait (graph.Await, dynamic.WaitAll, an
// as-completed loop) can have been released by then; build such tasks
// with graph.Keep.
func Targets(tasks ...graph.Ref) Option {
	return func(c *config) error {
		c.targeted = true
		for i, t := range tasks {
			if t == nil {
				return fmt.Errorf("exec: Targets: target %d is nil", i)
			}
		}
		c.targets = append(c.targets, tasks...)
		return nil
	}
}

// Observe registers observers of the run's events.
func Observe(obs ...Observer) Option {
	return func(c *config) error {
		for i, o := range obs {
			if o == nil {
				return fmt.Errorf("exec: Observe: observer %d is nil", i)
			}
		}
		c.observers = append(c.observers, obs...)
		return nil
	}
}

// Run runs the graph (or, with Targets, what the targets need) and returns
// when every task of the run has finished, or when ctx is done.
//
// Tasks that already succeeded in an earlier run keep their results and do
// not run again; tasks that failed, were skipped or cancelled, or whose
// results were released, run again. Tasks added to g while it runs, from
// inside tasks or from other goroutines, join the run. A graph runs once at
// a time: Run on a running graph returns an error wrapping ErrRunning.
//
// Run returns nil when every task of the run succeeded (or was cancelled
// with Task.Cancel, which is no failure on its own), even if ctx was done
// meanwhile. Otherwise, if ctx was done before the run ended (tasks not
// finished are then cancelled), it returns an error that errors.Is matches
// with ctx.Err() and with context.Cause(ctx): ctx's error itself, or, when
// tasks also failed or were skipped, an *Error listing them with ctx's
// error as Stopped. Otherwise it returns an *Error listing the failures,
// the skipped tasks and the tasks cancelled with Task.Cancel.
func Run(ctx context.Context, g *graph.Graph, opts ...Option) error {
	e, err := Start(ctx, g, opts...)
	if err != nil {
		return err
	}
	e.Close()
	return e.Wait()
}

// ErrRunning is returned when a graph that is running is asked to run again.
var ErrRunning = core.ErrRunning

// Execution is a run started with Start. Until Close, it stays open for
// tasks that clients add to the graph, even when all tasks so far have
// finished.
type Execution struct {
	r       *runner
	closeMu sync.Once
	err     error // the outcome; written before r.ended is closed
}

// Start starts a run like Run does and returns at once. Call Close when no
// more tasks will be added from outside, and Wait for the outcome. Tasks
// added to g from any goroutine before Close join the run.
func Start(ctx context.Context, g *graph.Graph, opts ...Option) (*Execution, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("exec: nil option")
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if g == nil {
		return nil, errors.New("exec: nil graph")
	}
	if c.workers == 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	cg := g.Core(core.Key{})
	var want []*core.Node
	for _, t := range c.targets {
		n := cg.Node(t.ID())
		if n == nil || refOf(n) != t {
			return nil, fmt.Errorf("exec: target %q: %w", t.Name(), graph.ErrOtherGraph)
		}
		want = append(want, n)
	}
	if c.targeted && want == nil {
		want = []*core.Node{}
	}
	r := newRunner(ctx, cg, &c)
	r.outstanding.Store(1) // held until Close
	r.starting = true
	if err := cg.Begin(r, want); err != nil {
		r.cancel(nil)
		return nil, fmt.Errorf("exec: %w", err)
	}
	r.starting = false
	r.stopAfter = context.AfterFunc(r.ctx, r.stop)
	r.mu.Lock()
	for range c.workers {
		r.spawnLocked()
	}
	r.mu.Unlock()
	e := &Execution{r: r}
	// One goroutine per run winds it up when it ends, so that the graph is
	// free to run again and Done closes even if nobody calls Wait.
	go func() {
		e.err = r.wait()
		close(r.ended)
	}()
	return e, nil
}

// Close tells the run that no more tasks will be added from outside: it
// ends once every task has finished. Tasks running in it may still add
// tasks. Close is idempotent.
func (e *Execution) Close() {
	e.closeMu.Do(func() { e.r.settle(1) })
}

// Stop cancels the run, as cancelling its context would, and does not wait.
// Wait then reports the run as Run reports one whose context was
// cancelled: unless every task succeeded, its error reaches
// context.Canceled.
func (e *Execution) Stop() {
	e.r.stopped.Store(true)
	e.r.cancel(context.Canceled)
}

// Done is closed when the run has ended, after Close (or Stop, or the
// context's end) and every task finished.
func (e *Execution) Done() <-chan struct{} { return e.r.ended }

// Wait waits for the run to end and returns its outcome, as Run does. It
// does not close the run: call Close first, or Wait returns only when the
// run's context is done.
func (e *Execution) Wait() error {
	<-e.r.ended
	return e.err
}

// Error is what a run returns when tasks failed or were skipped: how many
// failed, were skipped, or were cancelled with Task.Cancel (which skips the
// tasks that need them), and the first few failures and cancellations, each
// naming its task; and, if the run's context was done before the run ended,
// the context's error. errors.Is and errors.As reach every listed failure
// and the context's error.
//
// Tasks that gave up because the run's context was done (their function
// returned the context's error, or they never started) are not counted:
// Stopped says why they did not finish.
type Error struct {
	Failed    int     // tasks whose function returned an error or panicked
	Skipped   int     // tasks that never ran because an input failed or was cancelled
	Cancelled int     // tasks cancelled with Task.Cancel
	Errs      []error // the first failures and cancellations, each a *graph.Error naming its task
	Stopped   error   // the run's context's error if it was done before the run ended, or nil
}

// Error summarises the outcome, listing the first failures and
// cancellations.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("exec: ")
	if e.Stopped != nil {
		fmt.Fprintf(&b, "run stopped: %v; ", e.Stopped)
	}
	fmt.Fprintf(&b, "%d task(s) failed, %d skipped", e.Failed, e.Skipped)
	if e.Cancelled > 0 {
		fmt.Fprintf(&b, ", %d cancelled", e.Cancelled)
	}
	for _, err := range e.Errs {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	if more := e.Failed + e.Cancelled - len(e.Errs); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

// Unwrap returns the context's error, if the run was stopped, and the
// listed failures.
func (e *Error) Unwrap() []error {
	if e.Stopped == nil {
		return e.Errs
	}
	return append([]error{e.Stopped}, e.Errs...)
}

// maxErrs is how many failures and cancellations an Error lists: enough to
// debug, bounded so a run where a million tasks fail does not build a
// million-line error.
const maxErrs = 8

// runner is one run of a graph.
//
// Implementation notes. Goroutines: Start spawns `workers` worker goroutines;
// a task that waits (Await) gives its slot back and, if no worker is parked,
// a new worker goroutine is spawned to use it; surplus workers exit once
// more than `workers` are parked. Every goroutine is counted in wg, so none
// outlives wait.
//
// Ownership: mu guards the queue, the slot counts and ended; the per-node
// state belongs to core's protocol (atomics and node locks); outstanding and
// the run context's error are atomics read on the hot path without mu.
type runner struct {
	g         *core.Graph
	parent    context.Context // the context the run was started with
	ctx       context.Context // cancelled to stop the run
	cancel    context.CancelCauseFunc
	limit     int
	stopOnErr bool
	releasing bool
	obs       []Observer // nil when nobody listens: no event is built
	starting  bool       // Begin is filling the queue: no lock, no wake-ups
	stopAfter func() bool

	// The fields above are read on every task and written once; those below
	// are written on every task by every worker. Padding keeps them on
	// separate cache lines, so that a write by one worker does not make the
	// others reload the read-mostly ones.
	_ [64]byte

	reacting    atomic.Pointer[core.Signal] // a client woken by a completion, still reacting (see letClientReact)
	doneWake    atomic.Int64                // when a completion closed a Done channel, or 0 (see letWaiterReact)
	doneActs    atomic.Uint64               // the graph's client acts at that moment
	outstanding atomic.Int64                // nodes of the run not finished, plus one until Close
	hasQueued   atomic.Bool                 // the queue is not empty: written under mu (see noteQueueLocked), read without it by pick
	_           [64]byte                    // apart from the lock and the queue, written by whoever holds mu

	mu       sync.Mutex
	q        queue
	holders  int       // goroutines holding a slot: running a task, or about to
	live     int       // worker goroutines not parked and not blocked in a wait
	idle     []*worker // parked workers, woken last-in first-out (warm caches)
	finished bool      // every node finished and the run is closed: workers exit
	nextID   int       // the next worker id
	wg       sync.WaitGroup
	fin      chan struct{} // closed when finished
	finOnce  sync.Once
	ended    chan struct{} // closed when wait has wound the run up

	failMu      sync.Mutex
	failed      int
	skipped     int
	cancelled   int // with Task.Cancel
	interrupted int // tasks that gave up because the run's context was done
	errs        []error
	stopped     atomic.Bool // Execution.Stop was called

	stallMu   sync.Mutex
	stallSeen [3]int64 // outstanding and the graph's growth (core.Graph.Growth) at the last deadlock search

	subs sync.Pool // *worker values for tasks that a waiter runs itself
}

func newRunner(ctx context.Context, g *core.Graph, c *config) *runner {
	r := &runner{
		g:         g,
		limit:     c.workers,
		stopOnErr: c.stop,
		releasing: c.targeted,
		obs:       c.observers,
		ended:     make(chan struct{}),
		fin:       make(chan struct{}),
	}
	r.parent = ctx
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	return r
}

// Activated, Ready, Releasing and Cancel implement core.Run.

func (r *runner) Activated(k int) { r.outstanding.Add(int64(k)) }

func (r *runner) Added(n *core.Node) {
	if r.obs != nil {
		r.emit(EventCreated, n, -1, nil)
	}
}
func (r *runner) Releasing() bool { return r.releasing }

func (r *runner) Ready(n *core.Node) {
	if r.obs != nil {
		r.emit(EventReady, n, -1, nil)
	}
	if r.starting {
		r.q.push(n)
		r.noteQueueLocked()
		return
	}
	r.mu.Lock()
	r.q.push(n)
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
}

func (r *runner) ReadyAll(ns []*core.Node) { r.enqueue(ns) }

func (r *runner) Cancel(n *core.Node) bool {
	err := cancelError(n)
	ready, out := n.Cancel(err, nil)
	if out == core.CancelledNow {
		r.fail(n, core.Cancelled, err)
		if r.obs != nil {
			r.emit(EventCancelled, n, -1, err)
		}
		r.enqueue(ready)
		r.settle(1)
	}
	return out != core.NotCancelled
}

// enqueue pushes nodes made ready outside a worker's own completion.
func (r *runner) enqueue(ns []*core.Node) {
	if len(ns) == 0 {
		return
	}
	if r.obs != nil {
		for _, n := range ns {
			r.emit(EventReady, n, -1, nil)
		}
	}
	r.mu.Lock()
	for _, n := range ns {
		r.q.push(n)
	}
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
}

// noteQueueLocked publishes whether the queue holds nodes, for pick's
// check without the lock. It writes only when that changes: the queue
// changes on every task that goes through it, and an atomic store is a
// full barrier on amd64. The caller holds r.mu.
func (r *runner) noteQueueLocked() {
	if has := r.q.len() > 0; has != r.hasQueued.Load() {
		r.hasQueued.Store(has)
	}
}

// wakeLocked makes sure queued nodes find goroutines to run them while
// slots are free: each looping goroutine without a slot will take one
// node; beyond those it wakes parked workers and, when none is parked,
// spawns one (needed only after a waiter gave its slot back). Nodes that
// are queued but no longer ready count too: at worst a worker wakes for
// nothing and parks again.
func (r *runner) wakeLocked() {
	if r.finished || r.halted() {
		return // wait may be in wg.Wait: no new goroutines; End cancels what is queued
	}
	need := min(r.q.len(), r.limit-r.holders) - (r.live - r.holders)
	if need <= 0 && r.live == 0 && r.stalledLocked() {
		// The last task to stop gave its slot back to wait, and no worker
		// is awake to park after it: parking is where a stalled run is
		// searched for a deadlock (see loop), so wake one to do it.
		need = 1
	}
	for ; need > 0; need-- {
		if i := len(r.idle) - 1; i >= 0 {
			w := r.idle[i]
			r.idle = r.idle[:i]
			r.live++
			w.wake <- struct{}{}
			continue
		}
		r.spawnLocked()
	}
}

// wakeAllLocked wakes every parked worker, to see that the run is over.
func (r *runner) wakeAllLocked() {
	for _, w := range r.idle {
		r.live++
		w.wake <- struct{}{}
	}
	clear(r.idle)
	r.idle = r.idle[:0]
}

func (r *runner) spawnLocked() {
	w := &worker{r: r, id: r.nextID, wake: make(chan struct{}, 1)}
	w.ctx.Awaiter = w
	r.nextID++
	r.live++
	r.wg.Add(1)
	go r.loop(w)
}

// settle counts k nodes (or the Close hold) as finished, and ends the run
// when nothing is left.
func (r *runner) settle(k int64) {
	if r.outstanding.Add(-k) == 0 {
		r.mu.Lock()
		r.finishLocked()
		r.mu.Unlock()
	}
}

// settleLocked subtracts the nodes w finished from the run's count; the
// caller holds r.mu.
func (r *runner) settleLocked(w *worker) {
	if w.settled == 0 {
		return
	}
	k := w.settled
	w.settled = 0
	if r.outstanding.Add(-k) == 0 {
		r.finishLocked()
	}
}

// finishLocked ends a run with nothing left to do.
func (r *runner) finishLocked() {
	r.finished = true
	r.wakeAllLocked()
	r.finOnce.Do(func() { close(r.fin) })
}

// stalledLocked reports whether the run has unfinished tasks while none
// runs and none is queued: then every unfinished task waits for another
// one, and maybe some of them for each other (see breakDeadlock), unless
// a task is being added. The caller holds r.mu.
func (r *runner) stalledLocked() bool {
	// One of outstanding may be the hold until Close; more is tasks.
	return r.holders == 0 && r.q.len() == 0 && r.outstanding.Load() > 1 && !r.halted()
}

// breakDeadlock looks for a cycle of tasks that need each other in a
// stalled run, and fails one of them with a *graph.DeadlockError naming
// the cycle, so that the rest of the run goes on and ends instead of
// hanging. Such cycles close without any wait beginning, so Await's own
// check cannot see them: a flow emits (or returns) a task whose inputs
// need the flow itself, or a task that waits for the flow. The task
// failed is the newest on the cycle that waits for inputs or
// joins what it emitted (the one whose addition most likely closed it);
// tasks whose bodies wait are left to their waits. It reports whether it
// failed one. The caller does not hold r.mu.
func (r *runner) breakDeadlock() bool {
	// A task being added counts in outstanding before it is queued, so a
	// client adding tasks to a run that keeps up makes it look stalled
	// for a moment, again and again. Wait for adds under way to end
	// (Growth takes the graph's lock) and look again before reading the
	// graph.
	size, revived := r.g.Growth()
	r.mu.Lock()
	stalled := r.stalledLocked() && !r.finished
	r.mu.Unlock()
	if !stalled {
		return false
	}
	// Search once per state of the run: a stall with no cycle (a task
	// waits for one that a Batch holds back) can last while workers park
	// and wake, and each search reads the whole graph. The state is what
	// is left to do and how the graph grew. What is left to do alone can
	// come back to a value it had, in a run for targets that computes a
	// released result again: a later deadlock then went unsearched.
	seen := [3]int64{r.outstanding.Load(), size, revived}
	r.stallMu.Lock()
	again := seen == r.stallSeen
	r.stallSeen = seen
	r.stallMu.Unlock()
	if again {
		return false
	}
	cycle := r.g.Stuck()
	victim := -1
	for i, n := range cycle {
		if st := n.State(); (st == core.Waiting || st == core.Joining) && (victim < 0 || n.ID() > cycle[victim].ID()) {
			victim = i
		}
	}
	if victim < 0 {
		return false
	}
	v := cycle[victim]
	names := make([]string, 0, len(cycle)+1)
	for i := range cycle {
		names = append(names, cycle[(victim+i)%len(cycle)].Name())
	}
	names = append(names, v.Name())
	err := &graph.Error{Task: v.Name(), Err: &graph.DeadlockError{Cycle: names}}
	ready, ok := v.Abort(core.Failed, err, nil)
	if !ok {
		return false // it moved on meanwhile (a client cancelled it)
	}
	r.fail(v, core.Failed, err)
	if r.obs != nil {
		r.emit(EventFailed, v, -1, err)
	}
	r.enqueue(ready)
	r.settle(1)
	return true
}

// halted reports whether the run's context is done: then no task starts.
// It is read before every task, and is exact: cancelling a parent context
// cancels the run's at once, while stop (which wakes parked workers) runs
// later on a goroutine of its own.
func (r *runner) halted() bool { return r.ctx.Err() != nil }

// stop is called when the run's context is done.
func (r *runner) stop() {
	r.mu.Lock()
	r.wakeAllLocked()
	r.mu.Unlock()
}

// wait waits for every goroutine of the run, closes it in the graph and
// returns its outcome.
func (r *runner) wait() error {
	// Workers exit when the run is finished or stopped; a finished run stops
	// its context too, so that AfterFunc and the context are let go.
	select {
	case <-r.fin:
	case <-r.ctx.Done():
	}
	r.wg.Wait()
	unfinished := r.outstanding.Load() > 0
	stoppedEarly := r.halted() && unfinished
	var cause error
	if stoppedEarly {
		cause = context.Cause(r.ctx)
	}
	if cause == nil {
		cause = context.Canceled // nodes added after the run finished
	}
	r.g.End(unfinished, cause, func(n *core.Node) {
		if r.obs != nil {
			r.emit(EventCancelled, n, -1, cause)
		}
	})
	// The run's nodes keep their host (a worker's core.Host), and so this
	// runner, reachable for contexts kept past their tasks: let the
	// queue's arrays, sized for the widest moment of the run, go.
	r.mu.Lock()
	r.q = queue{}
	r.mu.Unlock()
	// Whether the caller stopped the run is read once it has ended. A
	// caller cannot tell a cancel made after the end from one made just
	// before it (a task's Done channel closes before the run counts the
	// task finished), and neither matters when every task succeeded.
	stop := r.stopErr()
	r.stopAfter()
	r.cancel(nil)
	r.failMu.Lock()
	defer r.failMu.Unlock()
	var e *Error
	if r.failed > 0 || r.skipped > 0 { // a task cancelled on purpose is no failure on its own
		e = &Error{Failed: r.failed, Skipped: r.skipped, Cancelled: r.cancelled, Errs: r.errs}
	}
	succeeded := e == nil && !unfinished && r.interrupted == 0
	switch {
	case stop != nil && !succeeded && e != nil:
		e.Stopped = stop
		return e
	case stop != nil && !succeeded:
		return stop
	case e != nil:
		return e
	}
	return nil
}

// stopErr returns the error of the run's context if the caller stopped the
// run, by cancelling the context it was started with or with Stop, or nil:
// a run stopped by StopOnError alone reports its failures, not a context's
// error. The error reaches both the context's error and its cause, when the
// cause is another error.
func (r *runner) stopErr() error {
	err := r.parent.Err()
	if err == nil {
		if r.stopped.Load() {
			return context.Canceled
		}
		return nil
	}
	if cause := context.Cause(r.parent); cause != nil && !errors.Is(cause, err) {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// fail records a task that failed, was skipped or was cancelled.
func (r *runner) fail(n *core.Node, s core.State, err error) {
	r.failMu.Lock()
	switch {
	case s == core.Skipped:
		r.skipped++
	case s == core.Cancelled && !cancelledByTask(n, err):
		r.interrupted++ // the run's stop says why
	default:
		if s == core.Cancelled {
			r.cancelled++
		} else {
			r.failed++
		}
		if len(r.errs) < maxErrs {
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Task != n.Name() {
				err = &graph.Error{Task: n.Name(), Err: err}
			}
			r.errs = append(r.errs, err)
		}
	}
	r.failMu.Unlock()
	if s == core.Failed && r.stopOnErr {
		r.cancel(err)
	}
}

// cancelError is the error of n cancelled with Task.Cancel.
func cancelError(n *core.Node) error { return &graph.Error{Task: n.Name(), Err: graph.ErrCancelled} }

// cancelledByTask reports whether err, the error of n which ended
// cancelled, is cancelError's: n was cancelled with Task.Cancel, and did
// not give up because the run's context was done.
func cancelledByTask(n *core.Node, err error) bool {
	ge, ok := err.(*graph.Error)
	return ok && ge.Task == n.Name() && ge.Err == graph.ErrCancelled
}

func (r *runner) emit(k EventKind, n *core.Node, worker int, err error) {
	if n.Kind() != core.Task || k == EventReady && n.Joined() {
		return // waiters, and flows ready to finish, are the executor's own bookkeeping
	}
	e := Event{Kind: k, Task: refOf(n), Time: time.Now(), Worker: worker, Err: err}
	for _, o := range r.obs {
		o.Observe(e)
	}
}

func refOf(n *core.Node) graph.Ref { return n.Body().Handle().(graph.Ref) }
