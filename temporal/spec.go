package temporal

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Ref is the handle of a submitted task whose result has type T. It is a
// plain number (the task's ID in its run, in submission order), so it can be
// encoded into another task's argument.
type Ref[T any] struct {
	ID int64 `json:"id"`
}

// noTask is the ID of a Ref whose task could not be added.
const noTask = math.MinInt64

// TaskSpec is a task as data: what crosses from the driver or a flow to the
// scheduler, and from the scheduler to a worker. Deps are the IDs of the
// tasks whose results are the inputs, in order; in an Emitter's output, a
// negative ID -k-1 is the k-th task that emission added.
type TaskSpec struct {
	ID       int64           `json:"id"`
	Name     string          `json:"name"`
	Arg      json.RawMessage `json:"arg,omitempty"`
	Deps     []int64         `json:"deps,omitempty"`
	Priority int             `json:"prio,omitempty"`
	Retries  int             `json:"retries,omitempty"`
	Backoff  time.Duration   `json:"backoff,omitempty"`
	Timeout  time.Duration   `json:"timeout,omitempty"`
	Creator  int64           `json:"creator"` // the flow that added it, or -1
	Flow     bool            `json:"flow,omitempty"`
}

// Option sets something about a task besides its function, argument and
// inputs.
type Option func(*TaskSpec)

// Priority sets the task's priority: among ready tasks of a run, higher
// first, equal priorities in submission order. On Temporal the run's own
// window keeps that order exactly; across runs and on the task queue it
// becomes one of Temporal's five priority keys (see PriorityKey), which
// order approximately.
func Priority(p int) Option { return func(s *TaskSpec) { s.Priority = p } }

// Retries runs a failed task again, up to n more times, waiting backoff
// before the first retry and twice as long before each next one. On
// Temporal it becomes the activity's RetryPolicy (MaximumAttempts n+1,
// BackoffCoefficient 2). Errors marked Permanent are not retried.
func Retries(n int, backoff time.Duration) Option {
	return func(s *TaskSpec) { s.Retries, s.Backoff = n, backoff }
}

// Timeout bounds each attempt of the task: in-process its context expires
// after d; on Temporal d is the activity's StartToCloseTimeout.
func Timeout(d time.Duration) Option { return func(s *TaskSpec) { s.Timeout = d } }

// Builder adds tasks: a *Driver (the client side of a run) and an *Emitter
// (inside a flow) are Builders.
type Builder interface {
	// add records spec, gives it an ID and returns it.
	add(spec TaskSpec) int64
	// fail records a mistake made while building.
	fail(err error)
}

func build[T any](b Builder, name string, k kind, arg any, deps []int64, opts []Option) Ref[T] {
	if b == nil {
		return Ref[T]{ID: noTask}
	}
	raw, err := json.Marshal(arg)
	if err != nil {
		b.fail(fmt.Errorf("evolve/temporal: adding task %q: encoding its argument: %w", name, err))
		return Ref[T]{ID: noTask}
	}
	for _, d := range deps {
		if d == noTask {
			b.fail(fmt.Errorf("evolve/temporal: adding task %q: an input is a task that could not be added", name))
			return Ref[T]{ID: noTask}
		}
	}
	s := TaskSpec{Name: name, Arg: raw, Deps: deps, Creator: -1, Flow: k == kindFlow}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.Retries < 0 || s.Backoff < 0 || s.Timeout < 0 {
		b.fail(fmt.Errorf("evolve/temporal: adding task %q: negative retries, backoff or timeout", name))
		return Ref[T]{ID: noTask}
	}
	return Ref[T]{ID: b.add(s)}
}

// Call adds a task that runs f with arg.
func Call[A, T any](b Builder, f Func[A, T], arg A, opts ...Option) Ref[T] {
	return build[T](b, f.name, kind0, arg, nil, opts)
}

// Call1 adds a task that runs f with arg and the result of in.
func Call1[A, D, T any](b Builder, f Func1[A, D, T], arg A, in Ref[D], opts ...Option) Ref[T] {
	return build[T](b, f.name, kind1, arg, []int64{in.ID}, opts)
}

// CallN adds a task that runs f with arg and the results of in, in order.
func CallN[A, D, T any](b Builder, f FuncN[A, D, T], arg A, in []Ref[D], opts ...Option) Ref[T] {
	deps := make([]int64, len(in))
	for i, r := range in {
		deps[i] = r.ID
	}
	return build[T](b, f.name, kindN, arg, deps, opts)
}

// CallFlow adds a task that runs the flow f with arg: the tasks f adds join
// the run, and the flow's result is the result of the task f returns.
func CallFlow[A, T any](b Builder, f FlowFunc[A, T], arg A, opts ...Option) Ref[T] {
	return build[T](b, f.name, kindFlow, arg, nil, opts)
}

// Emitter is the Builder of a running flow: the tasks added through it are
// returned to the scheduler as data when the flow's function returns, and
// join the run then. Refs it returns stand for those tasks only within the
// same emission (and as the flow's result).
type Emitter struct {
	self      int64
	tasks     []TaskSpec
	result    int64
	hasResult bool
	errs      []error
}

// Emission is what a flow added, as data: the tasks (with deps -k-1 for the
// k-th of them) and the one whose result is the flow's.
type Emission struct {
	Tasks  []TaskSpec `json:"tasks"`
	Result int64      `json:"result"`
}

// resolve checks em, returned by the flow named flow with the given ID in
// a run of base tasks, and returns its tasks as they join the run (the
// k-th taking ID base+k, deps as run IDs, the flow as creator) and the ID
// of the task whose result is the flow's. It adds nothing: both runners
// call it before they add any of the tasks, so that a bad emission adds
// none of them.
func (em *Emission) resolve(flow string, id, base int64) ([]TaskSpec, int64, error) {
	runID := func(d int64) int64 {
		if d < 0 {
			return base - d - 1
		}
		return d
	}
	tasks := make([]TaskSpec, len(em.Tasks))
	for i, s := range em.Tasks {
		deps := make([]int64, len(s.Deps))
		for j, d := range s.Deps {
			if d >= base || (d < 0 && -d-1 >= int64(i)) {
				return nil, 0, fmt.Errorf("evolve/temporal: flow %q: emitted task %q reads #%d, which is not a task added before it", flow, s.Name, d)
			}
			deps[j] = runID(d)
		}
		s.Deps, s.Creator = deps, id
		tasks[i] = s
	}
	if r := em.Result; r >= base || (r < 0 && -r-1 >= int64(len(em.Tasks))) {
		return nil, 0, fmt.Errorf("evolve/temporal: flow %q returned #%d, which is not a task of the run", flow, r)
	}
	return tasks, runID(em.Result), nil
}

func (e *Emitter) add(s TaskSpec) int64 {
	s.ID = -int64(len(e.tasks)) - 1
	s.Creator = e.self
	e.tasks = append(e.tasks, s)
	return s.ID
}

func (e *Emitter) fail(err error) { e.errs = append(e.errs, err) }

// Err returns the mistakes made while adding tasks, joined, or nil.
func (e *Emitter) Err() error { return errors.Join(e.errs...) }

// Self returns the ID of the running flow. Tasks it adds may read other
// tasks of the run by ID (a Ref passed in the flow's argument, say); one
// that reads the flow itself can never run, and the run reports the cycle
// with a *graph.DeadlockError, as in-process.
func (e *Emitter) Self() int64 { return e.self }

// RefTo returns a Ref of type T to the task with the given ID.
func RefTo[T any](id int64) Ref[T] { return Ref[T]{ID: id} }

func (e *Emitter) emission() *Emission {
	return &Emission{Tasks: e.tasks, Result: e.result}
}

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot cure: the task fails at
// once, whatever its Retries, on both runners.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}

// TaskError is the error of a task whose function returned an error, as
// both runners report it: the task's name and ID, and the error's text
// (what crosses a process boundary). In-process, errors.Is and errors.As
// also reach the original error through Unwrap; from Temporal only the text
// arrives.
type TaskError struct {
	Task    string
	ID      int64
	Message string
	err     error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task %q (#%d) failed: %s", e.Task, e.ID, e.Message)
}

// Unwrap returns the original error, in-process only.
func (e *TaskError) Unwrap() error { return e.err }
