package exec

import (
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
type Observer interface {
	Observe(Event)
}

// ObserverFunc makes a function an Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }
