package graph

import (
	"context"
	"fmt"

	"github.com/evolve-dag/evolve/internal/core"
)

// State is where a task is in its life. Idle tasks have not been asked for
// by a run; Waiting, Ready, Running and Joining tasks are in a run; Done,
// Failed, Skipped, Cancelled and Released end a task's part in a run.
type State uint8

// The states of a task.
const (
	Idle      State = iota // built, not asked for by a run yet
	Waiting                // in a run, some input not finished
	Ready                  // in a run, queued to start
	Running                // its function is running
	Joining                // its function returned; it waits for the tasks it emitted (Flow)
	Done                   // succeeded; the result is readable
	Failed                 // its function returned an error or panicked
	Skipped                // an input failed, so it never ran
	Cancelled              // the run or the task was cancelled before it finished
	Released               // succeeded, and the result was dropped to free memory
)

var stateNames = [...]string{"idle", "waiting", "ready", "running", "joining", "done", "failed", "skipped", "cancelled", "released"}

// String returns the state's name, such as "running".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Terminal reports whether s ends a task's part in a run: Done, Failed,
// Skipped, Cancelled or Released.
func (s State) Terminal() bool { return s >= Done }

// stateOf converts the engine's state: the constants are the same numbers
// (TestStatesMatchCore).
func stateOf(s core.State) State { return State(s) }

// Handle is what every function that takes tasks accepts: a Ref or any
// Task[T]. Such functions are generic over it (func F[H Handle](tasks
// ...H)), so a []Task[T] passes as tasks... with no copy, and a function
// that returns one of the tasks returns the caller's own type. Tasks of
// different result types pass together as Refs: F(a.Ref(), b.Ref()).
type Handle interface {
	// Ref returns the untyped handle of the same task.
	Ref() Ref
}

// Ref is the handle of a task whatever its result type: a small comparable
// value, equal to another Ref exactly when both name the same task, so it
// can key a map. As turns it back into a typed Task.
//
// The zero Ref names no task. Its methods do not panic: those returning an
// error say ErrNoTask, the others return zero values, with ID -1 and the
// name "<nil>". A Ref of a task that could not be built (see Err) is in no
// graph: it has ID -1 and reads no inputs.
type Ref struct {
	n *core.Node
}

// Task is the handle of a task whose result has type T: a small comparable
// value, equal to another Task exactly when both name the same task. It is
// also a future: Wait, Done, State, Err and Cancel follow it through a run.
//
// Only the constructors (Add, Value, ...) make a Task that names a task.
// The zero Task names none: its methods behave as the zero Ref's (see Ref),
// and Result and Wait return ErrNoTask.
type Task[T any] struct {
	r *record[T]
}

// record is a task's node and its typed result, embedded in the task's
// body (see shapes.go), which is cut from a slab or allocated on its own
// (see place.slabbed).
type record[T any] struct {
	n   core.Node
	val T
}

// As returns r as a Task[T], and false if r's result is not a T or r is
// the zero Ref.
func As[T any](r Ref) (Task[T], bool) {
	if r.n == nil || r.n.Body() == nil {
		return Task[T]{}, false
	}
	rec, ok := r.n.Body().Handle().(*record[T])
	return Task[T]{rec}, ok
}

// nilName is the name of the zero handle in errors and in Name.
const nilName = "<nil>"

// errNilTask is the error of the zero handle's methods.
var errNilTask = &Error{Task: nilName, Err: ErrNoTask}

// closed is the Done channel of the zero handle: there is nothing to wait for.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Ref returns r itself, so that a Ref is a Handle.
func (r Ref) Ref() Ref { return r }

// ID is the task's number in its graph, which is its creation order, or
// -1 for the zero Ref and for a task that could not be built.
func (r Ref) ID() int64 {
	if r.n == nil || r.n.Graph() == nil {
		return -1
	}
	return r.n.ID()
}

// Name is the name the task was built with.
func (r Ref) Name() string {
	if r.n == nil {
		return nilName
	}
	return r.n.Name()
}

// Priority is the task's priority; higher runs first.
func (r Ref) Priority() int {
	if r.n == nil {
		return 0
	}
	return r.n.Priority()
}

// State is where the task is now.
func (r Ref) State() State {
	if r.n == nil {
		return Idle
	}
	return stateOf(r.n.State())
}

// String returns the task's name.
func (r Ref) String() string { return r.Name() }

// Creator is the task that added this one while it ran, or the zero Ref
// for a task added from outside any task.
func (r Ref) Creator() Ref {
	if r.n == nil {
		return Ref{}
	}
	return Ref{r.n.Parent()}
}

// Inputs returns the tasks this one reads, and those it was ordered after.
// A task that could not be built (see Err) is in no graph and reads none.
func (r Ref) Inputs() []Ref {
	if r.n == nil || r.n.Graph() == nil {
		return nil // an input may be missing: that may be why it was not built
	}
	deps := r.n.Deps()
	out := make([]Ref, len(deps))
	for i, d := range deps {
		out[i] = Ref{d}
	}
	return out
}

// Graph is the graph the task belongs to, or nil for the zero Ref and for
// a task that could not be built.
func (r Ref) Graph() *Graph {
	if r.n == nil {
		return nil
	}
	if cg := r.n.Graph(); cg != nil {
		return cg.Owner().(*Graph)
	}
	return nil
}

// Err is why the task did not succeed: its own error, a *SkipError when an
// input failed, the run's context error when cancelled. It is nil while
// the task has not finished and after it succeeded.
func (r Ref) Err() error {
	if r.n == nil {
		return errNilTask
	}
	switch stateOf(r.n.State()) {
	case Failed, Skipped, Cancelled:
		return r.n.Err()
	}
	return nil
}

// Done returns a channel that is closed when the task finishes, however it
// finishes. The zero Ref's is closed: there is nothing to wait for, and Err
// says why.
func (r Ref) Done() <-chan struct{} {
	if r.n == nil {
		return closed
	}
	return r.n.Done()
}

// Cancel cancels the task in the current run: a task that has not started
// never will, and the tasks that need it are skipped; a running task's
// context is cancelled if the task was built Cancellable or with a Timeout,
// and its result is discarded. It reports whether the task was in a run
// and not finished.
func (r Ref) Cancel() bool {
	if r.n == nil {
		return false
	}
	cg := r.n.Graph()
	if cg == nil {
		return false
	}
	run := cg.RunOf(r.n)
	if run == nil {
		return false
	}
	return run.Cancel(r.n)
}

// Release drops the result once no task in the run still needs to read it,
// undoing Keep, so long runs that a client drives hold only what it still
// uses: during a run, when the run ends at the latest. A released result
// reads as ErrReleased, and a run that needs it computes it again. A value
// (see Value) has nothing to compute it again: Release leaves it.
func (r Ref) Release() {
	if r.n != nil {
		r.n.Unkeep()
	}
}

// Ref returns the untyped handle of the task.
func (t Task[T]) Ref() Ref {
	if t.r == nil {
		return Ref{}
	}
	return Ref{&t.r.n}
}

// ID is the task's number in its graph, which is its creation order, or
// -1 for the zero Task and for a task that could not be built.
func (t Task[T]) ID() int64 { return t.Ref().ID() }

// Name is the name the task was built with.
func (t Task[T]) Name() string { return t.Ref().Name() }

// Priority is the task's priority; higher runs first.
func (t Task[T]) Priority() int { return t.Ref().Priority() }

// State is where the task is now.
func (t Task[T]) State() State { return t.Ref().State() }

// String returns the task's name.
func (t Task[T]) String() string { return t.Ref().Name() }

// Creator is the task that added this one while it ran, or the zero Ref
// for a task added from outside any task.
func (t Task[T]) Creator() Ref { return t.Ref().Creator() }

// Inputs returns the tasks this one reads, and those it was ordered after.
// A task that could not be built (see Err) is in no graph and reads none.
func (t Task[T]) Inputs() []Ref { return t.Ref().Inputs() }

// Graph is the graph the task belongs to, or nil for the zero Task and for
// a task that could not be built.
func (t Task[T]) Graph() *Graph { return t.Ref().Graph() }

// Err is why the task did not succeed: its own error, a *SkipError when an
// input failed, the run's context error when cancelled. It is nil while
// the task has not finished and after it succeeded.
func (t Task[T]) Err() error { return t.Ref().Err() }

// Done returns a channel that is closed when the task finishes, however it
// finishes. The zero Task's is closed: there is nothing to wait for, and
// Err says why.
func (t Task[T]) Done() <-chan struct{} { return t.Ref().Done() }

// Cancel cancels the task in the current run (see Ref.Cancel). It reports
// whether the task was in a run and not finished.
func (t Task[T]) Cancel() bool { return t.Ref().Cancel() }

// Release drops the result once no task in the run still needs to read it,
// undoing Keep (see Ref.Release).
func (t Task[T]) Release() { t.Ref().Release() }

// Result returns the task's result once it has succeeded. Otherwise it
// returns an error: the task's own (see Err), or one wrapping ErrNotDone,
// ErrReleased or, for the zero Task, ErrNoTask.
func (t Task[T]) Result() (T, error) {
	var zero T
	if t.r == nil {
		return zero, errNilTask
	}
	// One critical section for the state, the value and the error: Release
	// drops the value under the node's lock, a failure is stored with its
	// error under it (core.Node.Finish), and a new run resets the error.
	// Read apart, a release between the check and the read, or a new run
	// between the state and the error, would hand out a zero value as if
	// it were the result.
	n := &t.r.n
	n.Lock()
	s := stateOf(n.State())
	v := zero
	if s == Done {
		v = t.r.val
	}
	err := n.LockedErr()
	n.Unlock()
	switch s {
	case Done:
		return v, nil
	case Released:
		return zero, &Error{Task: n.Name(), Err: ErrReleased}
	case Failed, Skipped, Cancelled:
		return zero, err
	default:
		return zero, &Error{Task: n.Name(), Err: fmt.Errorf("%w (it is %s)", ErrNotDone, s)}
	}
}

// Wait blocks until the task finishes and returns its result. Called with
// the context of a running task, it gives that task's worker slot back while
// it blocks and takes one again before it returns, so waiting never starves
// the pool. A wait that could never end (the awaited task needs the
// waiter's own result, directly or through other tasks) returns a
// *DeadlockError naming the cycle once nothing else in the run can go on,
// and at once for a wait on the waiting task itself. Inside a task, a wait
// that has to wait returns ctx's error once ctx is done, even if the task
// finished meanwhile: a stopped run ends both at once, and which came
// first is not for the scheduler to decide. Called from outside a
// run, it returns when the task finishes or ctx is done. A task that no run
// has been asked for makes Wait return an error wrapping ErrNotScheduled.
//
// Inside a task, pass the task's own context, or one derived from it: the
// context is how Wait knows which task waits, and so which slot to give
// back. Called inside a task with another context (context.Background(), a
// context from outside the run), Wait cannot tell it runs inside a task,
// and blocks like any call that blocks, holding the task's slot: in a pool
// of one, or once every slot is held so, the awaited task never starts and
// the run hangs, and cancelling it does not help, since a run ends only
// once its running functions returned. This cannot be detected soundly: Go
// does not tell which goroutine, and so which task if any, makes a call,
// and a wait that holds a slot is not always a hang (the pool may have
// room). With the context of a task whose function has returned (kept by
// a goroutine it started), Wait returns an error wrapping ErrTaskReturned.
//
// In a run for targets, which releases a result once the tasks that read
// it as an input have, Wait is a reader too: the result it returns cannot
// be released before it has read it, and one released already is computed
// again, as for a new reader. (Result, read after dynamic.WaitAll or an
// as-completed loop, has no such guarantee: build the task with Keep.)
func (t Task[T]) Wait(ctx context.Context) (T, error) {
	if t.r == nil || ctx == nil {
		var zero T
		if t.r == nil {
			return zero, errNilTask
		}
		return zero, &Error{Task: t.r.n.Name(), Err: errNilContext}
	}
	n := &t.r.n
	if cg := n.Graph(); cg != nil {
		epoch, ok, outside := cg.Hold(n)
		if outside {
			var zero T
			return zero, &Error{Task: n.Name(), Err: ErrNotScheduled}
		}
		if ok {
			defer cg.Unhold(n, epoch)
		}
	}
	if err := await(ctx, "Task.Wait", []*core.Node{n}); err != nil {
		var zero T
		return zero, err
	}
	return t.Result()
}

// refOf returns the handle of n.
func refOf(n *core.Node) Ref { return Ref{n} }

// await waits for every node to finish, as Task.Wait does for one (see
// dynamic.WaitAll). It returns the first error of the wait itself
// (cancellation, deadlock, tasks never scheduled, a context kept past its
// task), not the tasks' own errors. It may reorder nodes.
func await(ctx context.Context, call string, nodes []*core.Node) error {
	if ctx == nil {
		return fmt.Errorf("%s: %w", call, errNilContext)
	}
	a := core.AwaiterOf(ctx)
	if a == nil {
		if n := core.Returned(ctx); n != nil {
			return &Error{Task: n.Name(), Err: ErrTaskReturned}
		}
	}
	live := nodes[:0]
	for _, n := range nodes {
		if n == nil {
			return errNilTask
		}
		if !n.State().Terminal() {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		return nil
	}
	if a != nil {
		return a.Await(ctx, live)
	}
	for _, n := range live {
		if err := waitable(n); err != nil {
			return err
		}
	}
	for _, n := range live {
		select {
		case <-n.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// waitable returns the error of a wait for n that could never end, because
// n is in no run or is held by an open Batch, or nil.
func waitable(n *core.Node) error {
	switch {
	case n == nil:
		return errNilTask
	case n.State() == core.Idle:
		return &Error{Task: n.Name(), Err: ErrNotScheduled}
	case n.Held():
		return &Error{Task: n.Name(), Err: ErrInBatch}
	}
	return nil
}
