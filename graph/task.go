package graph

import (
	"context"
	"fmt"

	"github.com/evolve-dag/evolve/internal/core"
)

// State is where a task is in its life. Idle tasks have not been asked for
// by a run; Waiting, Ready, Running and Joining tasks are in a run; Done,
// Failed, Skipped, Cancelled and Released end a task's part in a run.
type State = core.State

// The states of a task.
const (
	Idle      = core.Idle
	Waiting   = core.Waiting
	Ready     = core.Ready
	Running   = core.Running
	Joining   = core.Joining
	Done      = core.Done
	Failed    = core.Failed
	Skipped   = core.Skipped
	Cancelled = core.Cancelled
	Released  = core.Released
)

// Ref is any task handle, whatever its result type. *Task[T] implements it.
type Ref interface {
	// ID is the task's number in its graph, which is its creation order.
	ID() int64
	// Name is the name the task was built with.
	Name() string
	// Priority is the task's priority; higher runs first.
	Priority() int
	// State is where the task is now.
	State() State
	// Err is why the task did not succeed, or nil.
	Err() error
	// Creator is the task that added this one while it ran, or nil.
	Creator() Ref
	// Inputs are the tasks this one reads or was ordered after.
	Inputs() []Ref
	// Core is for evolve's own packages; other modules cannot call it, so
	// only this module's handles implement Ref.
	Core(core.Key) *core.Node
}

// Task is the handle of a task whose result has type T. It is also a future:
// Wait, Done, State, Err and Cancel follow it through a run.
//
// Only the constructors (Go, Value, ...) make a usable Task. Methods called
// on a nil *Task, or on a Task that is in no graph (a zero Task, or one
// that could not be built), do not panic: those returning an error say
// what is wrong (ErrNilInput for a nil *Task), and the others return the
// zero value, with ID -1 and, for a nil *Task, the name "<nil>".
type Task[T any] struct {
	n   core.Node
	val T
}

// nilName is the name of a nil handle in errors and in Name.
const nilName = "<nil>"

// errNilTask is the error of a nil *Task's methods.
var errNilTask = &Error{Task: nilName, Err: ErrNilInput}

// closed is the Done channel of a nil *Task: there is nothing to wait for.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Core is for evolve's own packages; other modules cannot call it. It
// returns nil for a nil *Task.
func (t *Task[T]) Core(core.Key) *core.Node {
	if t == nil {
		return nil
	}
	return &t.n
}

// ID is the task's number in its graph, which is its creation order, or
// -1 for a task in no graph (see Task).
func (t *Task[T]) ID() int64 {
	if t == nil || t.n.Graph() == nil {
		return -1
	}
	return t.n.ID()
}

// Name is the name the task was built with.
func (t *Task[T]) Name() string {
	if t == nil {
		return nilName
	}
	return t.n.Name()
}

// Priority is the task's priority; higher runs first.
func (t *Task[T]) Priority() int {
	if t == nil {
		return 0
	}
	return t.n.Priority()
}

// State is where the task is now.
func (t *Task[T]) State() State {
	if t == nil {
		return Idle
	}
	return t.n.State()
}

// String returns the task's name.
func (t *Task[T]) String() string { return t.Name() }

// Creator is the task that added this one while it ran, or nil for a task
// added from outside any task.
func (t *Task[T]) Creator() Ref {
	if t == nil {
		return nil
	}
	if p := t.n.Parent(); p != nil {
		return refOf(p)
	}
	return nil
}

// Inputs returns the tasks this one reads, and those it was ordered after.
// A task that could not be built (see Err) is in no graph and reads none.
func (t *Task[T]) Inputs() []Ref {
	if t == nil || t.n.Graph() == nil {
		return nil // an input may be nil: that may be why it was not built
	}
	out := make([]Ref, t.n.NumDeps())
	for i := range out {
		out[i] = refOf(t.n.Dep(i))
	}
	return out
}

// Graph is the graph the task belongs to, or nil for a task that could not
// be built.
func (t *Task[T]) Graph() *Graph {
	if t == nil {
		return nil
	}
	if cg := t.n.Graph(); cg != nil {
		return cg.Owner().(*Graph)
	}
	return nil
}

// Err is why the task did not succeed: its own error, a *SkipError when an
// input failed, the run's context error when cancelled. It is nil while
// the task has not finished and after it succeeded.
func (t *Task[T]) Err() error {
	if t == nil {
		return errNilTask
	}
	switch t.n.State() {
	case Failed, Skipped, Cancelled:
		return t.n.Err()
	}
	return nil
}

// Result returns the task's result once it has succeeded. Otherwise it
// returns an error: the task's own (see Err), or one wrapping ErrNotDone
// or ErrReleased.
func (t *Task[T]) Result() (T, error) {
	var zero T
	if t == nil {
		return zero, errNilTask
	}
	// One critical section for the state, the value and the error: Release
	// drops the value under the node's lock, a failure is stored with its
	// error under it (core.Node.Finish), and a new run resets the error.
	// Read apart, a release between the check and the read, or a new run
	// between the state and the error, would hand out a zero value as if
	// it were the result.
	t.n.Lock()
	s := t.n.State()
	v := zero
	if s == Done {
		v = t.val
	}
	err := t.n.LockedErr()
	t.n.Unlock()
	switch s {
	case Done:
		return v, nil
	case Released:
		return zero, &Error{Task: t.n.Name(), Err: ErrReleased}
	case Failed, Skipped, Cancelled:
		return zero, err
	default:
		return zero, &Error{Task: t.n.Name(), Err: fmt.Errorf("%w (it is %s)", ErrNotDone, s)}
	}
}

// Done returns a channel that is closed when the task finishes, however it
// finishes. A nil *Task's is closed: there is nothing to wait for, and Err
// says why.
func (t *Task[T]) Done() <-chan struct{} {
	if t == nil {
		return closed
	}
	return t.n.Done()
}

// Wait blocks until the task finishes and returns its result. Called with
// the context of a running task, it gives that task's worker slot back while
// it blocks and takes one again before it returns, so waiting never starves
// the pool. A wait that could never end (the awaited task needs the
// waiter's own result, directly or through other tasks) returns a
// *DeadlockError naming the cycle once nothing else in the run can go on,
// and at once for a wait on the waiting task itself. Called from outside a
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
// again, as for a new reader. (Result, read after Await, WaitAll or an
// as-completed loop, has no such guarantee: build the task with Keep.)
func (t *Task[T]) Wait(ctx context.Context) (T, error) {
	if t == nil || ctx == nil {
		var zero T
		if t == nil {
			return zero, errNilTask
		}
		return zero, &Error{Task: t.n.Name(), Err: errNilContext}
	}
	if cg := t.n.Graph(); cg != nil {
		epoch, ok, outside := cg.Hold(&t.n)
		if outside {
			var zero T
			return zero, &Error{Task: t.n.Name(), Err: ErrNotScheduled}
		}
		if ok {
			defer cg.Unhold(&t.n, epoch)
		}
	}
	if err := Await(ctx, t); err != nil {
		var zero T
		return zero, err
	}
	return t.Result()
}

// Cancel cancels the task in the current run: a task that has not started
// never will, and the tasks that need it are skipped; a running task's
// context is cancelled if the task was built Cancellable or with a Timeout,
// and its result is discarded. It reports whether the task was in a run
// and not finished.
func (t *Task[T]) Cancel() bool {
	if t == nil {
		return false
	}
	cg := t.n.Graph()
	if cg == nil {
		return false
	}
	r := cg.RunOf(&t.n)
	if r == nil {
		return false
	}
	return r.Cancel(&t.n)
}

// Release drops the result once no task in the run still needs to read it,
// undoing Keep, so long runs that a client drives hold only what it still
// uses: during a run, when the run ends at the latest. A released result
// reads as ErrReleased, and a run that needs it computes it again. A value
// (see Value) has nothing to compute it again: Release leaves it.
func (t *Task[T]) Release() {
	if t != nil {
		t.n.Unkeep()
	}
}

// refOf returns the handle of n.
func refOf(n *core.Node) Ref { return n.Body().Handle().(Ref) }

// nodeOf returns r's node, or nil when r is nil or holds a nil *Task.
func nodeOf(r Ref) *core.Node {
	if r == nil {
		return nil
	}
	return r.Core(core.Key{})
}

// Await waits for every task in refs to finish, as Task.Wait does for one;
// like Wait, inside a task it needs the task's own context to give the
// task's slot back (see Task.Wait). It returns the first error of the wait
// itself (cancellation, deadlock, tasks never scheduled, a context kept
// past its task), not the tasks' own errors: read those from the handles.
func Await(ctx context.Context, refs ...Ref) error {
	if ctx == nil {
		return fmt.Errorf("graph: Await: %w", errNilContext)
	}
	a := core.AwaiterOf(ctx)
	if a == nil {
		if n := core.Returned(ctx); n != nil {
			return &Error{Task: n.Name(), Err: ErrTaskReturned}
		}
	}
	nodes := make([]*core.Node, 0, len(refs))
	for _, r := range refs {
		n := nodeOf(r)
		if n == nil {
			return errNilTask
		}
		if n.State().Terminal() {
			continue
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return nil
	}
	if a != nil {
		return a.Await(ctx, nodes)
	}
	for _, n := range nodes {
		if err := Waitable(core.Key{}, n); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		select {
		case <-n.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
