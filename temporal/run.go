package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// TaskRecord is what a run recorded about one task: enough to compare two
// runs result by result, and to draw the evolved graph and a timeline.
type TaskRecord struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name"`
	Arg      json.RawMessage `json:"arg,omitempty"`
	Deps     []int64         `json:"deps,omitempty"`
	Creator  int64           `json:"creator"`
	Priority int             `json:"prio,omitempty"`
	State    string          `json:"state"` // done, failed or skipped (or, for an unfinished run, where it stopped)
	Result   json.RawMessage `json:"result,omitempty"`
	Err      error           `json:"-"`
	Start    time.Time       `json:"start,omitzero"`
	End      time.Time       `json:"end,omitzero"`
	Worker   string          `json:"worker,omitempty"` // who ran the (last) attempt
	Attempts int             `json:"attempts,omitempty"`
}

// Report is what a run recorded: every task, and counts.
type Report struct {
	Tasks []TaskRecord
	// Activities is the number of activities the run scheduled on Temporal
	// (0 in-process); Batches the number of child workflows that ran some
	// of them (see BatchAbove).
	Activities, Batches int
	// Rerun is the number of tasks that ran more than once: retried after
	// an error, or run again after their worker was lost.
	Rerun int
}

// RunError is what a run returns when its driver succeeded but tasks
// failed or were skipped: how many, and the errors of the first few in ID
// order. errors.Is and errors.As reach every listed error.
type RunError struct {
	Failed, Skipped int
	Errs            []error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("evolve/temporal: %d tasks failed and %d were skipped", e.Failed, e.Skipped)
	for _, err := range e.Errs {
		msg += "; " + err.Error()
	}
	return msg
}

// Unwrap returns the listed errors.
func (e *RunError) Unwrap() []error { return e.Errs }

// maxListed is how many errors a RunError lists.
const maxListed = 5

// outcome decides what a run returns, the same way for both runners: the
// driver's error, else the mistakes it made submitting, else a RunError if
// tasks failed.
func outcome(driverErr error, recs []TaskRecord) error {
	if driverErr != nil {
		return driverErr
	}
	var re RunError
	for _, r := range recs {
		switch r.State {
		case "failed":
			re.Failed++
		case "skipped":
			re.Skipped++
		default:
			continue
		}
		if len(re.Errs) < maxListed {
			re.Errs = append(re.Errs, r.Err)
		}
	}
	if re.Failed+re.Skipped > 0 {
		return &re
	}
	return nil
}

// RunOption configures a run, in-process or on Temporal.
type RunOption func(*runConfig) error

type runConfig struct {
	Workers      int           `json:"-"` // in-process pool size
	InFlight     int           `json:"inFlight"`
	BatchAbove   int           `json:"batchAbove"`
	BatchSize    int           `json:"batchSize"`
	TaskQueue    string        `json:"taskQueue"`
	StartToClose time.Duration `json:"startToClose"`
	Heartbeat    time.Duration `json:"heartbeat"`
	LostRetries  int           `json:"lostRetries"`
	Record       bool          `json:"record"`
	WorkflowID   string        `json:"-"`
}

func newConfig(opts []RunOption) (runConfig, error) {
	c := runConfig{
		Workers:      4,
		InFlight:     500,
		BatchAbove:   2000,
		BatchSize:    100,
		StartToClose: 10 * time.Minute,
		Heartbeat:    10 * time.Second,
		LostRetries:  3,
		Record:       true,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// Workers sets the in-process pool size (default 4). On Temporal the pool
// is the workers' own concurrency (worker.Options.MaxConcurrentActivityExecutionSize)
// together with InFlight.
func Workers(n int) RunOption {
	return func(c *runConfig) error {
		if n < 1 {
			return fmt.Errorf("evolve/temporal: Workers(%d): must be at least 1", n)
		}
		c.Workers = n
		return nil
	}
}

// InFlight caps the tasks a Temporal run has started and not seen finish
// (default 500). Temporal refuses more than 2,000 pending activities per
// workflow, so n must be at most 1,500.
func InFlight(n int) RunOption {
	return func(c *runConfig) error {
		if n < 1 || n > 1500 {
			return fmt.Errorf("evolve/temporal: InFlight(%d): must be between 1 and 1,500 (Temporal refuses more than 2,000 pending activities per workflow)", n)
		}
		c.InFlight = n
		return nil
	}
}

// BatchAbove sets how many activities a Temporal run schedules itself
// before it runs the rest in child workflows of size tasks each (defaults
// 2,000 and 100). A run's history holds about 4.5 events per activity and
// Temporal ends a history at 51,200 events (warning at 10,240), so n must be
// at most 8,000; a child workflow costs its parent about 8 events, whatever
// its size (at most 1,000).
func BatchAbove(n, size int) RunOption {
	return func(c *runConfig) error {
		if n < 0 || n > 8000 {
			return fmt.Errorf("evolve/temporal: BatchAbove(%d, _): must be between 0 and 8,000 activities", n)
		}
		if size < 1 || size > 1000 {
			return fmt.Errorf("evolve/temporal: BatchAbove(_, %d): batch size must be between 1 and 1,000", size)
		}
		c.BatchAbove, c.BatchSize = n, size
		return nil
	}
}

// TaskQueue sets the Temporal task queue the run's workflow and activities
// go to; RunTemporal requires it.
func TaskQueue(q string) RunOption {
	return func(c *runConfig) error {
		if q == "" {
			return errors.New("evolve/temporal: TaskQueue: empty name")
		}
		c.TaskQueue = q
		return nil
	}
}

// LostWorker sets how a Temporal run notices a task whose worker died:
// each running task heartbeats every heartbeat/3 (tasks shorter than that
// never do), and one not heard of for heartbeat is run again elsewhere, up
// to retries times besides its own Retries (defaults 10 s and 3).
func LostWorker(heartbeat time.Duration, retries int) RunOption {
	return func(c *runConfig) error {
		if heartbeat < time.Second {
			return fmt.Errorf("evolve/temporal: LostWorker(%v, _): heartbeat must be at least 1s", heartbeat)
		}
		if retries < 0 {
			return fmt.Errorf("evolve/temporal: LostWorker(_, %d): negative retries", retries)
		}
		c.Heartbeat, c.LostRetries = heartbeat, retries
		return nil
	}
}

// DefaultTimeout sets the StartToClose timeout of tasks built without
// Timeout (default 10 minutes).
func DefaultTimeout(d time.Duration) RunOption {
	return func(c *runConfig) error {
		if d <= 0 {
			return fmt.Errorf("evolve/temporal: DefaultTimeout(%v): must be positive", d)
		}
		c.StartToClose = d
		return nil
	}
}

// Record sets whether a Temporal run returns every task's record (default
// true). The records travel in the workflow's result, which Temporal caps
// at 2 MB: about 10,000 small tasks. Without them, the Report has counts
// only.
func Record(on bool) RunOption {
	return func(c *runConfig) error { c.Record = on; return nil }
}

// WorkflowID sets the Temporal workflow ID of the run (default: the
// driver's name and the time).
func WorkflowID(id string) RunOption {
	return func(c *runConfig) error { c.WorkflowID = id; return nil }
}

// attempt runs one attempt of task s: the function, with panics recovered
// and errors wrapped in a *TaskError. Both runners call it.
func attempt(ctx context.Context, def *taskDef, s TaskSpec, ins []json.RawMessage) (res json.RawMessage, em *Emission, err error) {
	e := &Emitter{self: s.ID}
	defer func() {
		if p := recover(); p != nil {
			res, em = nil, nil
			err = &TaskError{Task: s.Name, ID: s.ID, Message: fmt.Sprintf("panic: %v", p), err: Permanent(fmt.Errorf("panic: %v", p))}
		}
	}()
	res, err = def.call(ctx, e, s.Arg, ins)
	if err != nil {
		return nil, nil, &TaskError{Task: s.Name, ID: s.ID, Message: err.Error(), err: err}
	}
	if def.kind == kindFlow {
		return nil, e.emission(), nil
	}
	return res, nil, nil
}
