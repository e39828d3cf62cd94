package graph

import (
	"errors"
	"fmt"
	"strings"
)

// Mistakes in building, reported by Graph.Err and by the task's Err.
var (
	ErrNilFunc = errors.New("nil function")
	// ErrNoTask: a handle names no task (the zero Ref or Task).
	ErrNoTask     = errors.New("no task (zero handle)")
	ErrNilBuilder = errors.New("nil builder")
	ErrOtherGraph = errors.New("belongs to another graph")
)

// ErrInvalidOption is wrapped by the error of every option given a bad
// value, in every package of evolve. The rule is the same everywhere: the
// call that takes options checks all of them before it does anything, and
// a bad value is an error that names the option call, such as
// "exec: Workers(0): invalid option: must be at least 1"; it is never
// ignored and never a panic. The zero value of an Option type does nothing.
// A task builder (Add, ...) reports the error on the task it returns, as
// every building mistake, so exec.Run refuses the graph before running
// anything; other calls return it.
var ErrInvalidOption = errors.New("invalid option")

// ErrRunning: a graph that is running was asked to run again (exec.Run,
// exec.Start) or to be reordered (Order).
var ErrRunning = errors.New("graph is already running")

// ErrInBuild: a graph was asked to run (exec.Run, exec.Start) from inside
// the function of the Build that builds it, which owns it until it returns.
var ErrInBuild = errors.New("graph is being built by graph.Build (run it after Build returns)")

// Errors of reading or waiting for a task.
var (
	// ErrNotDone: the task has not finished.
	ErrNotDone = errors.New("not finished")
	// ErrReleased: the task succeeded, but its result was dropped because no
	// task needed it any more and nobody kept it (see Keep).
	ErrReleased = errors.New("result released")
	// ErrNotScheduled: the task is in no run, so waiting for it would hang.
	ErrNotScheduled = errors.New("not scheduled in a run")
	// ErrInBatch: the task was added by a Batch whose function has not
	// returned, so it is not queued yet, and waiting for it from inside
	// that function would hang.
	ErrInBatch = errors.New("held by a batch that has not ended (wait after Batch returns)")
	// ErrCancelled: the task was cancelled with Task.Cancel.
	ErrCancelled = errors.New("task cancelled")
	// ErrTaskReturned: a task's context was used, to add tasks or to
	// wait, after the task's function returned (by a goroutine it
	// started). The context then stands for no running task: such a
	// goroutine must end before its task returns, or add and wait from
	// outside any task, with a context of its own.
	ErrTaskReturned = errors.New("context used after its task returned")
	// ErrGoexit: the task's function, or a function a dynamic.Join in it
	// called, ended its goroutine with runtime.Goexit instead of
	// returning, as t.FailNow, t.Fatal and t.SkipNow do when called
	// from a task in a test (they must be called from the test's own
	// goroutine). The task fails with it, as do the tasks whose function
	// ran on that goroutine, and the run goes on.
	ErrGoexit = errors.New("function ended its goroutine (runtime.Goexit, as t.FailNow does) instead of returning")
)

// errNilContext is what a wait given a nil context returns, wrapped.
var errNilContext = errors.New("nil context")

// Error is a mistake about one task.
type Error struct {
	Task string // the task's name
	Err  error
}

// Error names the task and the mistake.
func (e *Error) Error() string {
	if e == nil {
		return nilName
	}
	return fmt.Sprintf("task %q: %v", e.Task, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// SkipError is the error of a task that never ran because a task it needs
// failed. Failed names the task that failed first, where the failure
// started; Err is that task's error, so errors.Is and errors.As reach it.
type SkipError struct {
	Task   string // the skipped task
	Failed string // the task whose failure caused the skip
	Err    error  // the failed task's error
}

// Error names the skipped task, the failed one and its error.
func (e *SkipError) Error() string {
	if e == nil {
		return nilName
	}
	return fmt.Sprintf("task %q skipped: input %q failed: %v", e.Task, e.Failed, e.Err)
}

// Unwrap returns the failed task's error.
func (e *SkipError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// PanicError is the error of a task whose function panicked.
type PanicError struct {
	Task  string
	Value any    // what the function panicked with
	Stack []byte // the panicking goroutine's stack
}

// Error names the task and the panic value; the stack is in Stack.
func (e *PanicError) Error() string {
	if e == nil {
		return nilName
	}
	return fmt.Sprintf("task %q panicked: %v", e.Task, e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	if e == nil {
		return nil
	}
	err, _ := e.Value.(error)
	return err
}

// DeadlockError reports a cycle of tasks that need each other: a wait that
// could never end (the awaited task needs, directly or through other tasks
// and waits, the waiting task itself) returns it, and a task that waits for
// its inputs or joins what it emitted fails with it when no wait is on the
// cycle (see exec's concurrency contract).
type DeadlockError struct {
	Cycle []string // task names, the task it was reported at first and last
}

// Error names the cycle of waits and needs.
func (e *DeadlockError) Error() string {
	if e == nil {
		return nilName
	}
	return "wait would deadlock: cycle: " + strings.Join(e.Cycle, " -> ")
}
