package exec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/access"
	"github.com/evolve-dag/evolve/internal/chaos"
	"github.com/evolve-dag/evolve/internal/core"
)

// Option configures a run. The zero Option does nothing. Options are
// checked by Start (and Run) before anything runs: a bad value is an error
// that names the option call and wraps graph.ErrInvalidOption.
type Option struct {
	apply func(*config) error
}

type config struct {
	workers   int
	stop      bool
	targets   []graph.Ref
	targeted  bool // Targets was given, even with no task: run only what they need
	observers []Observer
}

// invalid is the error of an option call given a bad value.
func invalid(call, why string, also ...error) error {
	if len(also) > 0 {
		return fmt.Errorf("exec: %s: %w: %s: %w", call, graph.ErrInvalidOption, why, also[0])
	}
	return fmt.Errorf("exec: %s: %w: %s", call, graph.ErrInvalidOption, why)
}

// Workers sets how many task functions may run at once. The default is
// runtime.GOMAXPROCS(0); n must be at least 1.
func Workers(n int) Option {
	return Option{func(c *config) error {
		if n < 1 {
			return invalid(fmt.Sprintf("Workers(%d)", n), "must be at least 1")
		}
		c.workers = n
		return nil
	}}
}

// StopOnError stops the run at the first task that fails: no task starts
// after it, running tasks see their context cancelled, and Run returns that
// failure. Without it, branches that do not need the failed task go on.
func StopOnError() Option {
	return Option{func(c *config) error { c.stop = true; return nil }}
}

// Targets runs only the given tasks and what they need, instead of the whole
// graph. Such a run releases intermediate results as soon as every task of
// the run that reads them has started, so long pipelines run in bounded
// memory; the targets' results, and those of tasks built with graph.Keep,
// are kept. Tasks that already hold a result are not run again. A zero
// handle among tasks is a bad value (it wraps graph.ErrNoTask too).
//
// Code that reads results by handle is a reader too when it reads them
// with Task.Wait or dynamic.Gather: those read a result before it can be
// released, and have one released already computed again. A result read
// with Task.Result after another wait (dynamic.WaitAll, an as-completed
// loop) can have been released by then; build such tasks with graph.Keep.
func Targets[H graph.Handle](tasks ...H) Option {
	refs := make([]graph.Ref, len(tasks))
	for i, t := range tasks {
		refs[i] = t.Ref()
	}
	return Option{func(c *config) error {
		c.targeted = true
		for i, t := range refs {
			if refNode(t) == nil {
				return invalid("Targets", fmt.Sprintf("target %d", i), graph.ErrNoTask)
			}
		}
		c.targets = append(c.targets, refs...)
		return nil
	}}
}

// Observe registers observers of the run's events. Observer says what an
// observer may do, and what happens when one panics. A nil observer, or
// one holding a nil pointer or function, is a bad value.
func Observe(obs ...Observer) Option {
	return Option{func(c *config) error {
		for i, o := range obs {
			if isNil(o) {
				return invalid("Observe", fmt.Sprintf("observer %d is nil (%T)", i, o))
			}
		}
		c.observers = append(c.observers, obs...)
		return nil
	}}
}

// isNil reports whether o is nil or holds a nil pointer, function, map,
// slice or channel, whose Observe would most likely panic.
func isNil(o Observer) bool {
	if o == nil {
		return true
	}
	switch v := reflect.ValueOf(o); v.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// Run runs the graph (or, with Targets, what the targets need) and returns
// when every task of the run has finished, or when ctx is done.
//
// Tasks that already succeeded in an earlier run keep their results and do
// not run again; tasks that failed, were skipped or cancelled, or whose
// results were released, run again. Tasks added to g while it runs, from
// inside tasks or from other goroutines, join the run. A graph runs once at
// a time: Run on a running graph returns an error wrapping
// graph.ErrRunning (and on a graph that graph.Build is still building, one
// wrapping graph.ErrInBuild).
//
// Run returns nil when every task of the run succeeded, even if ctx was
// done meanwhile. Otherwise, if ctx was done before the run ended (tasks
// not finished are then cancelled), it returns an error that errors.Is
// matches with ctx.Err() and with context.Cause(ctx): ctx's error itself,
// or, when tasks also failed, were skipped or were cancelled with
// Task.Cancel, an *Error listing them with ctx's error as Stopped.
// Otherwise it returns an *Error listing the failures, the skipped tasks
// and the tasks cancelled with Task.Cancel. If an observer panicked, the
// error is (or, joined with those, holds) an *ObserverError: see Observer.
func Run(ctx context.Context, g *graph.Graph, opts ...Option) error {
	e, err := Start(ctx, g, opts...)
	if err != nil {
		return err
	}
	e.Close()
	return e.Wait()
}

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
	if ctx == nil {
		return nil, errors.New("exec: nil context")
	}
	var c config
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero Option
		}
		if err := o.apply(&c); err != nil {
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
	cg := graphCore(g)
	var want []*core.Node
	for _, t := range c.targets {
		n := refNode(t)
		switch {
		case n.Graph() == cg:
		case n.Graph() == nil:
			return nil, fmt.Errorf("exec: target %q could not be built: %w", t.Name(), t.Err())
		default:
			return nil, fmt.Errorf("exec: target %q: %w", t.Name(), graph.ErrOtherGraph)
		}
		want = append(want, n)
	}
	if c.targeted && want == nil {
		want = []*core.Node{}
	}
	r := newRunner(ctx, cg, &c)
	r.outstanding.Store(1) // held until Close
	if err := cg.Begin(r, want); err != nil {
		r.cancel(nil)
		switch {
		case errors.Is(err, core.ErrRunning):
			err = graph.ErrRunning
		case errors.Is(err, core.ErrBuilding):
			err = graph.ErrInBuild
		}
		return nil, fmt.Errorf("exec: %w", err)
	}
	r.epoch = cg.Begun() // no other run begins before this one ends
	r.stopAfter = context.AfterFunc(r.ctx, r.stop)
	if r.obs != nil {
		r.tellInitial()
	}
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

// tellInitial tells the observers of the tasks that Begin queued. They
// hear of them only now that Begin has released the graph's lock, so that
// they may add tasks; and the tasks are taken out of the queue meanwhile,
// so that none starts before its Ready event, even if the additions wake
// workers early.
func (r *runner) tellInitial() {
	r.mu.Lock()
	q := r.q
	r.q = queue{}
	r.noteQueueLocked()
	r.mu.Unlock()
	for _, n := range q.fifo[q.head:] {
		r.emit(EventReady, n, -1, nil)
	}
	for _, n := range q.heap {
		r.emit(EventReady, n, -1, nil)
	}
	for _, sp := range q.spans {
		for id := sp.from; id < sp.to; id++ {
			r.emit(EventReady, r.g.At(id), -1, nil)
		}
	}
	r.mu.Lock()
	if r.q.len() == 0 {
		r.q = q // nothing was added meanwhile
	} else {
		for n := q.pop(); n != nil; n = q.pop() {
			r.q.push(n)
		}
	}
	r.noteQueueLocked()
	r.mu.Unlock()
}

// Close tells the run that no more tasks will be added from outside: it
// ends once every task has finished. Tasks running in it may still add
// tasks. Close is idempotent.
//
// Only Start makes a usable Execution: on a nil or zero one, Close and
// Stop do nothing, Done is closed and Wait returns an error.
func (e *Execution) Close() {
	if e == nil || e.r == nil {
		return
	}
	e.closeMu.Do(func() { e.r.settle(1) })
}

// Stop cancels the run, as cancelling its context would, and does not wait.
// Wait then reports the run as Run reports one whose context was
// cancelled: unless every task succeeded, its error reaches
// context.Canceled.
func (e *Execution) Stop() {
	if e == nil || e.r == nil {
		return
	}
	e.r.stopped.Store(true)
	e.r.cancel(context.Canceled)
}

// Done is closed when the run has ended, after Close (or Stop, or the
// context's end) and every task finished.
func (e *Execution) Done() <-chan struct{} {
	if e == nil || e.r == nil {
		return closedChan
	}
	return e.r.ended
}

// closedChan is the Done channel of an Execution that Start did not make:
// no run to wait for.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Wait waits for the run to end and returns its outcome, as Run does. It
// does not close the run: call Close first, or Wait returns only when the
// run's context is done.
func (e *Execution) Wait() error {
	if e == nil || e.r == nil {
		return errors.New("exec: Wait: the *Execution is nil or zero (use the one Start returns)")
	}
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
	if e == nil {
		return "<nil>"
	}
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
	if e == nil {
		return nil
	}
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
// Implementation notes.
//
// Goroutines: Start spawns `workers` worker goroutines; a task that waits
// (Await, Block) gives its slot back and, if no worker is parked, a new
// worker goroutine is spawned to use it; surplus workers exit once more
// than `workers` are parked. Every goroutine is counted in wg, so none
// outlives wait.
//
// Ownership: mu guards the queue, the slot counts, the records of what is
// blocked (parked, joining) and finished. Per-node state belongs to core's
// protocol (atomics and node locks, changed through core's methods only).
// outstanding and the run context's error are atomics read on the hot path
// without mu.
//
// Lock order: a node's lock, then mu (a completion holding a node's lock
// fires a Signal, which queues a waiter under mu); the graph's lock, then
// a node's lock. mu is never held while a node's lock is taken, nor while
// the graph's lock is taken.
//
// Stalls. The runnable work of a run is holders + q.len(): slots held by
// goroutines running task bodies (or breaking a stall), and ready nodes
// queued. Both change only under mu (but for roots that a worker holding
// a slot takes from the open span, see open.go), and a node is made
// ready (and queued) by a goroutine that holds a slot, or raises the
// count before it lets go of its own (raise before lower, as a WaitGroup
// does). So when the count is zero while tasks are outstanding, nothing
// can ever run again but for a client (adding tasks, flushing a Batch,
// cancelling) or a wait's own deadline: every outstanding task waits for
// another, and when one waits in its body or joins what it emitted, they
// may wait for each other. The goroutine whose release of a slot brings
// the count to zero searches for such a cycle at once (breakStall): no
// other goroutine needs to be woken to do it, so none can be missed. A
// cycle of inputs alone cannot exist (inputs are fixed when a task is
// added), so every cycle passes through a parked wait or a joining flow:
// those are the search's roots. (The count the search reads is exact:
// q.exactLen.)
type runner struct {
	g         *core.Graph
	parent    context.Context // the context the run was started with
	ctx       context.Context // cancelled to stop the run
	cancel    context.CancelCauseFunc
	limit     int
	stopOnErr bool
	releasing bool
	obs       []Observer    // nil when nobody listens: no event is built
	dropped   []atomic.Bool // per observer: it panicked, and is called no more
	// The observers are told nothing once the outcome is being made
	// (obsClosed), and the outcome waits for the calls under way
	// (obsCalls), so that every panic of an observer is in it.
	obsClosed atomic.Bool
	obsCalls  atomic.Int64
	stopAfter func() bool
	// ending is set once wait is about to end the run in the graph, with
	// the error unfinished nodes are cancelled with in endCause, written
	// before it (see core.Graph.Spawn).
	ending   atomic.Bool
	endCause error
	// epoch is the run's number among the graph's runs (core's Begun).
	epoch uint32
	// open is the queue's open span (see queue), published for workers
	// to take roots from without mu (see nextRoot): stored under mu when
	// the queue opens one (see loop), and cleared by a worker that found
	// it empty. It may point to a span the queue has closed since: a
	// closed span gives nothing, so the first worker to try clears it.
	open atomic.Pointer[openSpan]

	// The fields above are read on every task and written once; those below
	// are written on every task by every worker. Padding keeps them on
	// separate cache lines, so that a write by one worker does not make the
	// others reload the read-mostly ones.
	_ [64]byte

	outstanding atomic.Int64 // nodes of the run not finished, plus one until Close
	hasQueued   atomic.Bool  // the queue is not empty: written under mu (see noteQueueLocked), read without it by pick
	idlers      atomic.Int32 // workers with a slot free to take that are parking or parked (see kept.go)
	_           [64]byte     // apart from the lock and the queue, written by whoever holds mu

	mu       sync.Mutex
	q        queue
	holders  int       // goroutines holding a slot: running a task, about to, or breaking a stall
	live     int       // worker goroutines not parked and not blocked in a wait
	idle     []*worker // parked workers, woken last-in first-out (warm caches)
	finished bool      // every node finished and the run is closed: workers exit
	nextID   int       // the next worker id
	wg       sync.WaitGroup
	fin      chan struct{} // closed when finished
	finOnce  sync.Once
	ended    chan struct{} // closed when wait has wound the run up

	// raised counts the times the runnable work grew (a node queued, a slot
	// taken): a stall breaker acts only if it did not grow since the search.
	raised uint64
	parked map[*parked]struct{} // goroutines of tasks blocked in a wait
	// joining are the flows that began to join what they emitted, and
	// some that have finished since: a flow is listed without a map and
	// never unlisted when it finishes (a lock and two map operations per
	// flow); the next stall search, or the list doubling (see
	// noteJoiningLocked), drops the finished ones.
	joining  []*core.Node
	joinKept int // len(joining) after its last compaction
	// listed are the workers and stand-ins that may have kept a task since
	// the last look at them (see kept.go).
	listed []*worker
	// strays are the tasks that a goroutine holding mu could not count
	// (see stray): it gives them to the graph once it lets mu go (unlock).
	strays []*core.Node
	// jobbers are the workers and stand-ins whose deques may hold jobs
	// (see join.go).
	jobbers []*worker

	failMu      sync.Mutex
	failed      int
	skipped     int
	cancelled   int // with Task.Cancel
	interrupted int // tasks that gave up because the run's context was done
	errs        []error
	obsErrs     []error     // an *ObserverError per observer that panicked
	stopped     atomic.Bool // Execution.Stop was called

}

func newRunner(ctx context.Context, g *core.Graph, c *config) *runner {
	r := &runner{
		g:         g,
		limit:     c.workers,
		stopOnErr: c.stop,
		releasing: c.targeted,
		obs:       c.observers,
		dropped:   make([]atomic.Bool, len(c.observers)),
		ended:     make(chan struct{}),
		fin:       make(chan struct{}),
		parked:    make(map[*parked]struct{}),
	}
	r.parent = ctx
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	return r
}

// Activated, Queue, Ready, ReadyAll, Releasing, Observed, Cancel,
// Admit, Leave, Spawned, Ending and Added implement core.Run.

func (r *runner) Activated(k int) { r.outstanding.Add(int64(k)) }

func (r *runner) Leave() { r.settle(1) }

// join counts one more node that must finish before the run ends, unless
// the run has ended or is ending: then it counts nothing and returns false.
func (r *runner) join() bool {
	if r.ending.Load() {
		return false
	}
	for v := r.outstanding.Load(); v > 0; v = r.outstanding.Load() {
		if r.outstanding.CompareAndSwap(v, v+1) {
			return true
		}
	}
	return false
}

func (r *runner) Ending() error {
	if r.ending.Load() {
		return r.endCause
	}
	return nil
}

func (r *runner) Added(n *core.Node) {
	if r.obs != nil {
		r.emit(EventCreated, n, -1, nil)
	}
}
func (r *runner) Releasing() bool { return r.releasing }
func (r *runner) Observed() bool  { return r.obs != nil }

// Queue is called by Begin, which holds the graph's lock, before any
// worker runs: no lock, no wake-ups, no event (see tellInitial).
func (r *runner) Queue(n *core.Node) {
	r.q.push(n)
	r.noteQueueLocked()
}

// QueueSpan is Queue for a span of roots (see core.Run), read from the
// index as the queue takes them (see queue).
func (r *runner) QueueSpan(from, to int64) {
	r.q.pushSpan(r.g, from, to)
	r.noteQueueLocked()
}

func (r *runner) Ready(n *core.Node) {
	if r.obs != nil {
		r.emit(EventReady, n, -1, nil)
	}
	r.mu.Lock()
	r.q.dropDeadTail() // what waiters claimed without the lock since (see claim)
	r.pushLocked(n)
	r.noteQueueLocked()
	r.wakeLocked()
	r.mu.Unlock()
}

// pushLocked queues a ready node: the runnable work grows. The caller
// holds r.mu.
func (r *runner) pushLocked(n *core.Node) {
	r.q.push(n)
	r.raised++
}

func (r *runner) ReadyAll(ns []*core.Node) { r.enqueue(ns) }

func (r *runner) Cancel(n *core.Node) bool {
	if !r.count(n, false) {
		return false // the run ends, and cancels n with it
	}
	err := cancelError(n)
	ready, out := r.g.Cancel(r, n, err)
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
		r.pushLocked(n)
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
	if need <= 0 && r.live == r.holders && r.holders < r.limit && len(r.jobbers) > 0 && r.jobsPendingLocked() {
		need = 1 // a lent job and a free slot, and no worker about to look (see join.go)
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
	w.ctx.Awaiter, w.ctx.Run = w, r
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

// takeSlotLocked counts a slot taken: the runnable work grows. The
// caller holds r.mu.
func (r *runner) takeSlotLocked() {
	r.holders++
	r.raised++
}

// releaseSlotLocked gives a slot back and reports whether that stalled the
// run: then the caller must call breakStall once it has let go of r.mu.
// The caller holds r.mu.
func (r *runner) releaseSlotLocked() (stalled bool) {
	r.holders--
	return r.stalledLocked()
}

// stalledLocked reports whether nothing runs and nothing is queued while
// the run has tasks outstanding of which some wait in their bodies or
// join: then every outstanding task waits for another, and some may wait
// for each other (see the runner's notes). The caller holds r.mu.
func (r *runner) stalledLocked() bool {
	return r.holders == 0 && (len(r.parked) > 0 || len(r.joining) > 0) && r.q.exactLen() == 0 &&
		r.outstanding.Load() > 0 && !r.finished && !r.halted() && !r.jobsPendingLocked()
}

// breakStall is called by the goroutine whose release of a slot stalled
// the run (see releaseSlotLocked). It looks for a cycle of tasks that need
// each other and breaks it (see breakCycle), and goes on while the run
// stays stalled. It returns when the run is no longer stalled, or is
// stalled with no cycle: every outstanding task then waits, directly or
// not, for what only a client can bring (a Batch it has not flushed). The
// caller does not hold r.mu.
func (r *runner) breakStall() {
	for {
		r.mu.Lock()
		if !r.stalledLocked() {
			r.mu.Unlock()
			return
		}
		raised := r.raised
		roots, waits := r.blockedLocked()
		r.mu.Unlock()

		cycle, byWait := r.findCycle(roots, waits)
		if cycle == nil {
			return
		}
		r.mu.Lock()
		if r.raised != raised || !r.stalledLocked() {
			// Something became runnable since the search began (a client's
			// task, a wait's deadline). Whoever lets the run stall again
			// searches again.
			r.mu.Unlock()
			return
		}
		// The breaker holds a slot while it breaks, like a task: no other
		// goroutine finds the run stalled meanwhile.
		r.takeSlotLocked()
		r.mu.Unlock()
		r.breakCycle(cycle, byWait)
		r.mu.Lock()
		r.holders-- // looked at again at the top of the loop
		r.wakeLocked()
		r.mu.Unlock()
	}
}

// noteJoiningLocked lists n, a flow that begins to join. The caller holds
// r.mu.
func (r *runner) noteJoiningLocked(n *core.Node) {
	if len(r.joining) >= 2*max(r.joinKept, 64) {
		// Other flows may be between their listing and their switch to
		// Joining, still Running: drop only the finished ones.
		r.joining = slices.DeleteFunc(r.joining, func(n *core.Node) bool { return n.State().Terminal() })
		r.joinKept = len(r.joining)
	}
	r.joining = append(r.joining, n)
}

// blockedLocked returns the roots of a stall search, the tasks blocked in
// a wait (and the claimers their goroutines run for) and the flows that
// join, and the records of the parked waits. Flows that finished are
// dropped from r.joining here. The caller holds r.mu.
func (r *runner) blockedLocked() (roots []*core.Node, waits []*parked) {
	for p := range r.parked {
		waits = append(waits, p)
		roots = append(roots, p.self)
		for _, c := range p.chain {
			roots = append(roots, c.claimer)
		}
	}
	// Nothing runs in a stall, so no flow is between its listing and its
	// switch to Joining (see beginJoin): every flow not joining now has
	// finished.
	r.joining = slices.DeleteFunc(r.joining, func(n *core.Node) bool { return n.State() != core.Joining })
	r.joinKept = len(r.joining)
	roots = append(roots, r.joining...)
	// Map order is random: sort, so that the same stall is searched the
	// same way every time. A flow that ran twice may be listed twice.
	slices.SortFunc(roots, func(a, b *core.Node) int { return cmp.Compare(a.ID(), b.ID()) })
	roots = slices.Compact(roots)
	slices.SortFunc(waits, func(a, b *parked) int { return cmp.Compare(a.self.ID(), b.self.ID()) })
	return roots, waits
}

// findCycle returns a cycle of tasks that need each other among the
// unfinished tasks reachable from roots, and for each task on it that is
// blocked in a wait, the record of that wait; or nil. What a task needs:
// its inputs; what a flow joins; what a parked wait waits for (and, for a
// goroutine running a claim, what each claimer on its chain awaits).
//
// Waits for all of a set (Await) are searched first: a cycle of those is a
// deadlock whatever else happens. A wait for any one of a set (an
// as-completed loop, WaitFirst) is stuck only if every member is, so such
// waits are followed only when no cycle of the first kind exists; then
// everything outstanding is stuck, and any cycle found is one.
func (r *runner) findCycle(roots []*core.Node, waits []*parked) ([]*core.Node, map[*core.Node]*parked) {
	byNode := make(map[*core.Node]*parked, len(waits))
	for _, p := range waits {
		if _, ok := byNode[p.self]; !ok && !p.join {
			byNode[p.self] = p
		}
	}
	for _, withAny := range []bool{false, true} {
		needs := func(n *core.Node, out []*core.Node) []*core.Node {
			for _, p := range waits {
				if p.self == n && (!p.any || withAny) {
					out = append(out, p.on...)
				}
				for _, c := range p.chain {
					if c.claimer == n {
						out = append(out, c.awaits...)
					}
				}
			}
			return out
		}
		if cycle := r.g.FindCycle(roots, needs); cycle != nil {
			return cycle, byNode
		}
	}
	return nil, nil
}

// breakCycle ends a deadlock: a cycle of tasks each of which cannot finish
// before the next one does. If a task on it is blocked in a wait, the wait
// of the newest such task returns a *graph.DeadlockError (the task may
// handle it: that is why a wait is chosen first); otherwise the newest
// task that waits for its inputs or joins what it emitted fails with one.
// The error names the cycle, starting from the task it ends. The caller
// holds a slot and not r.mu.
func (r *runner) breakCycle(cycle []*core.Node, byWait map[*core.Node]*parked) {
	victim := -1
	for i, n := range cycle {
		if _, ok := byWait[n]; ok && (victim < 0 || n.ID() > cycle[victim].ID()) {
			victim = i
		}
	}
	if victim < 0 {
		for i, n := range cycle {
			if st := n.State(); (st == core.Waiting || st == core.Joining) && (victim < 0 || n.ID() > cycle[victim].ID()) {
				victim = i
			}
		}
	}
	if victim < 0 {
		// Only claimers: tasks running what they await on their own
		// goroutine, whose goroutine is parked deeper. End the newest one's
		// innermost wait.
		for i, n := range cycle {
			if victim < 0 || n.ID() > cycle[victim].ID() {
				victim = i
			}
		}
	}
	v := cycle[victim]
	names := make([]string, 0, len(cycle)+1)
	for i := range cycle {
		names = append(names, cycle[(victim+i)%len(cycle)].Name())
	}
	names = append(names, v.Name())
	de := &graph.DeadlockError{Cycle: names}

	if p := byWait[v]; p != nil {
		r.failWait(p, de)
		return
	}
	if st := v.State(); st == core.Waiting || st == core.Joining {
		err := &graph.Error{Task: v.Name(), Err: de}
		ready, ok := v.Abort(core.Failed, err, nil)
		if !ok {
			return // it moved on meanwhile (a client cancelled it)
		}
		r.fail(v, core.Failed, err)
		if r.obs != nil {
			r.emit(EventFailed, v, -1, err)
		}
		r.enqueue(ready)
		r.settle(1)
		return
	}
	r.mu.Lock()
	var inner *parked
	for p := range r.parked {
		for _, c := range p.chain {
			if c.claimer == v && !p.join && (inner == nil || p.self.ID() > inner.self.ID()) {
				inner = p
			}
		}
	}
	r.mu.Unlock()
	if inner != nil {
		r.failWait(inner, de)
	}
}

// failWait makes the parked wait p return err: its waiter is made ready,
// so that its task resumes, in turn, like any other.
func (r *runner) failWait(p *parked, err *graph.DeadlockError) {
	if !p.wt.CAS(core.Waiting, core.Ready) {
		return // it is being resumed already
	}
	p.err.Store(err)
	r.enqueue([]*core.Node{p.wt})
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
		cause = errEnded // nodes added while the run ended
	}
	r.endCause = cause
	r.ending.Store(true) // before End looks at the graph (see core.Graph.Spawn)
	if chaos.On {
		chaos.Pause()
	}
	r.g.End(func() bool { return r.outstanding.Load() > 0 }, cause, func(n *core.Node) {
		if r.obs != nil {
			r.emit(EventCancelled, n, -1, cause)
		}
	})
	// The run's nodes keep their host (a worker's core.Host), and so this
	// runner, reachable for contexts kept past their tasks: let the
	// queue's arrays, sized for the widest moment of the run, go.
	r.mu.Lock()
	r.q = queue{}
	r.open.Store(nil)
	r.mu.Unlock()
	// Events of tasks added as the run ended may still be on their way
	// (a client's add tells them once it lets go of the graph): they are
	// not told once the run has ended, and the outcome waits for the calls
	// under way, so that an observer that panics in one is reported.
	if r.obs != nil {
		r.obsClosed.Store(true)
		for r.obsCalls.Load() > 0 {
			runtime.Gosched()
		}
	}
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
	if r.failed > 0 || r.skipped > 0 || r.cancelled > 0 {
		e = &Error{Failed: r.failed, Skipped: r.skipped, Cancelled: r.cancelled, Errs: r.errs}
	}
	succeeded := e == nil && !unfinished && r.interrupted == 0
	var err error
	switch {
	case stop != nil && !succeeded && e != nil:
		e.Stopped = stop
		err = e
	case stop != nil && !succeeded:
		err = stop
	case e != nil:
		err = e
	}
	switch {
	case len(r.obsErrs) == 0:
		return err
	case err == nil && len(r.obsErrs) == 1:
		return r.obsErrs[0]
	}
	return errors.Join(append([]error{err}, r.obsErrs...)...)
}

// errEnded is why a task added to a run while it ended, after its last
// task finished, was cancelled.
var errEnded = fmt.Errorf("%w: it was added as the run ended", graph.ErrCancelled)

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

// emit tells the observers of an event. The caller holds no lock of the
// run or of the graph: an observer may add tasks (see Observer).
func (r *runner) emit(k EventKind, n *core.Node, worker int, err error) {
	if n.Kind() != core.Task || k == EventReady && n.Joined() {
		return // waiters, and flows ready to finish, are the executor's own bookkeeping
	}
	// Counted before the check: wait closes, then waits for the count (see
	// obsClosed), so either it sees this call or this call sees it closed.
	r.obsCalls.Add(1)
	defer r.obsCalls.Add(-1)
	if r.obsClosed.Load() {
		return
	}
	e := Event{Kind: k, Task: refOf(n), Time: time.Now(), Worker: worker, Err: err}
	for i, o := range r.obs {
		if !r.dropped[i].Load() {
			r.observe(i, o, e)
		}
	}
}

// observe calls observer i, and drops it from the run if it panics (see
// Observer for why).
func (r *runner) observe(i int, o Observer, e Event) {
	returned := false
	defer func() {
		if v := recover(); v != nil {
			r.dropObserver(i, v, debug.Stack())
		} else if !returned {
			// It ended the goroutine (runtime.Goexit, see goexit.go): the
			// step the executor was taking here (a task's start, the
			// queueing of what its end made ready) ends with it, so the run
			// stops, with the observer's error as the cause.
			r.dropObserver(i, graph.ErrGoexit, debug.Stack())
			r.cancel(&ObserverError{Index: i, Value: graph.ErrGoexit})
		}
	}()
	o.Observe(e)
	returned = true
}

// dropObserver records that observer i panicked with v, once: calls of it
// that were under way on other goroutines may panic too.
func (r *runner) dropObserver(i int, v any, stack []byte) {
	if !r.dropped[i].CompareAndSwap(false, true) {
		return
	}
	r.failMu.Lock()
	r.obsErrs = append(r.obsErrs, &ObserverError{Index: i, Value: v, Stack: stack})
	r.failMu.Unlock()
}

// The hooks of internal/access that exec uses; graph, imported, has set them.
var (
	refOf     = access.NodeRef.(func(*core.Node) graph.Ref)
	refNode   = access.RefNode.(func(graph.Ref) *core.Node)
	graphCore = access.GraphCore.(func(*graph.Graph) *core.Graph)
	waitable  = access.Waitable.(func(*core.Node) error)
)

func init() {
	access.RunOf = func(e *Execution) core.Run {
		if e == nil || e.r == nil {
			return nil
		}
		return e.r
	}
}
