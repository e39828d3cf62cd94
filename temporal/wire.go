package temporal

import (
	"errors"

	"github.com/evolve-dag/evolve/graph"
)

// wireErr is an error as it crosses from the workflow to the client: the
// types both runners report (*TaskError, *graph.SkipError,
// *graph.DeadlockError, *RunError) keep their type and fields; any other
// error keeps its text.
type wireErr struct {
	Kind    string     `json:"kind"`
	Task    string     `json:"task,omitempty"`
	ID      int64      `json:"id,omitempty"`
	Message string     `json:"msg,omitempty"`
	Failed  string     `json:"failed,omitempty"`
	Cycle   []string   `json:"cycle,omitempty"`
	Inner   *wireErr   `json:"inner,omitempty"`
	Counts  [2]int     `json:"counts,omitzero"`
	List    []*wireErr `json:"list,omitempty"`
}

func toWire(err error) *wireErr {
	switch e := err.(type) {
	case nil:
		return nil
	case *TaskError:
		return &wireErr{Kind: "task", Task: e.Task, ID: e.ID, Message: e.Message}
	case *graph.SkipError:
		return &wireErr{Kind: "skip", Task: e.Task, Failed: e.Failed, Inner: toWire(e.Err)}
	case *graph.DeadlockError:
		return &wireErr{Kind: "deadlock", Cycle: e.Cycle}
	case *RunError:
		w := &wireErr{Kind: "run", Counts: [2]int{e.Failed, e.Skipped}}
		for _, x := range e.Errs {
			w.List = append(w.List, toWire(x))
		}
		return w
	default:
		return &wireErr{Kind: "text", Message: err.Error()}
	}
}

func (w *wireErr) err() error {
	if w == nil {
		return nil
	}
	switch w.Kind {
	case "task":
		return &TaskError{Task: w.Task, ID: w.ID, Message: w.Message}
	case "skip":
		return &graph.SkipError{Task: w.Task, Failed: w.Failed, Err: w.Inner.err()}
	case "deadlock":
		return &graph.DeadlockError{Cycle: w.Cycle}
	case "run":
		e := &RunError{Failed: w.Counts[0], Skipped: w.Counts[1]}
		for _, x := range w.List {
			e.Errs = append(e.Errs, x.err())
		}
		return e
	default:
		return errors.New(w.Message)
	}
}
