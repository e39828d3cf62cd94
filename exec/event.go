package exec

import (
	"fmt"
	"time"

	"github.com/evolve-dag/evolve/graph"
)

// EventKind is what happened to a task.
type EventKind uint8

// The events of a task's life in a run.
const (
	EventReady     EventKind = iota + 1 // every input finished; the task waits for a worker
	EventStarted                        // its function started on a worker
	EventFinished                       // it succeeded
	EventFailed                         // its function returned an error or panicked
	EventSkipped                        // an input failed, so it never ran
	EventCancelled                      // the run or the task was cancelled before it finished
	EventRetried                        // an attempt failed and the task will run again
	EventCreated                        // the task was added to the graph while it runs
)

var kindNames = [...]string{"", "ready", "started", "finished", "failed", "skipped", "cancelled", "retried", "created"}

// String returns the kind's name, such as "finished".
func (k EventKind) String() string {
	if int(k) < len(kindNames) && k > 0 {
		return kindNames[k]
	}
	return "unknown"
}

// Event is one step of one task's life.
type Event struct {
	Kind   EventKind
	Task   graph.Ref
	Time   time.Time
	Worker int   // the worker that ran or finished the task; -1 when none did
	Err    error // for EventFailed, EventSkipped, EventCancelled and EventRetried
}

// Observer is told every event of a run, on the goroutine where it happens,
// so it must be safe for concurrent use and quick: a slow observer slows the
// run. Observers cost nothing when none is given.
//
// A task's events come in the order of its life: EventCreated (for a task
// added while the graph runs), EventReady, EventStarted, EventRetried, and
// one event that ends it. An observer is never called with a lock of the
// run or of the graph held, and each event is told once what it reports
// can be read from the task: when told that a task ended, State, Err and
// Result of e.Task give the end (in a run for targets, a result that no
// task needs any more may have been released already; see graph.Keep).
// A goroutine waiting for the task (Task.Wait, Done) may see its end
// before the observers are told of it. Observers are told nothing once the
// run has ended (Execution.Done): the events of a task added as the run
// ends may never be told.
//
// So an observer may read tasks, add tasks to the graph (while the run
// goes on, they join it, as tasks added by any client do) and cancel
// tasks. It must not wait for tasks of the run, or for the run's end: it
// runs on a goroutine that the run is waiting for, a worker holding a
// slot or the client or task adding a task, so such a wait can hang.
//
// Panics. An observer that panics is dropped from the run: the panic is
// recovered, the observer is not called again, and the run goes on (its
// tasks are neither failed nor blamed) and, when it ends, returns an
// *ObserverError, joined with its other errors. The reasons: an observer
// is a side channel (a drawing, a progress bar, a metric), and a bug in it
// should cost neither the run's results nor the process, which a panic on
// a worker's goroutine would, nor be charged to the task whose event it
// was told; yet it must not pass silently, so the run's error reports it.
// And an observer that panicked may have left its own state broken (half
// updated, or a lock still held), so calling it again would risk wrong
// output, a second panic for every event, or a deadlock.
//
// An observer that ends its goroutine (runtime.Goexit, as t.FailNow does
// from an observer in a test) ends, with it, the step the executor was
// taking on that goroutine (a task's start, or the queueing of what a
// task's end made ready): the run stops, with an *ObserverError whose
// Value is graph.ErrGoexit as the cause, rather than wait for work that
// will never be queued. On the goroutine of Run or of a client adding a
// task, the goroutine's end is the caller's own.
type Observer interface {
	Observe(Event)
}

// ObserverFunc makes a function an Observer.
type ObserverFunc func(Event)

// Observe calls f(e). A nil ObserverFunc does nothing (Observe refuses to
// register one).
func (f ObserverFunc) Observe(e Event) {
	if f != nil {
		f(e)
	}
}

// ObserverError reports an observer that panicked: the run recovered the
// panic and called the observer no more (see Observer).
type ObserverError struct {
	Index int    // the observer's position among the run's observers, in the order Observe was given them
	Value any    // what it panicked with
	Stack []byte // the panicking goroutine's stack
}

// Error names the observer and the panic value; the stack is in Stack.
func (e *ObserverError) Error() string {
	if e == nil {
		return "<nil>"
	}
	if e.Value == graph.ErrGoexit {
		return fmt.Sprintf("exec: observer %d ended its goroutine (runtime.Goexit) and stopped the run", e.Index)
	}
	return fmt.Sprintf("exec: observer %d panicked: %v", e.Index, e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *ObserverError) Unwrap() error {
	if e == nil {
		return nil
	}
	err, _ := e.Value.(error)
	return err
}
