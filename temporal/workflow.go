package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Implementation notes: the workflow.
//
// A run is one workflow execution, "evolve.run". Its root coroutine owns
// the scheduler core and loops: start ready tasks (as activities, or in
// batch child workflows once BatchAbove activities were scheduled) while
// fewer than InFlight run; wait (one Selector) for an activity, a batch
// or cancellation; feed what happened to the core; wake the drivers waiting
// for what finished, and wait until each of them has parked again (on a
// task, an as-completed set or a Join) or ended. Drivers (the registered
// driver, and every Driver.Go part) run in coroutines of their own
// (workflow.Go) and touch the core directly: coroutines never run at once,
// and each runs until it blocks, so the core needs no lock. Since the loop
// starts tasks only when every driver is parked, what it starts depends on
// the events alone, which is what replay needs. The loop ends once every
// driver has returned and no task is outstanding.
//
// Stalls are counted, as in exec: when nothing runs, nothing is ready and
// every live driver is parked on a task, the outstanding tasks wait for
// each other; the core breaks the cycle (a *graph.DeadlockError) and the
// run goes on.

const (
	workflowName      = "evolve.run"
	batchWorkflowName = "evolve.batch"
	taskErrorType     = "evolve.TaskError"
)

type runIn struct {
	Driver string          `json:"driver"`
	Input  json.RawMessage `json:"input"`
	Config runConfig       `json:"config"`
}

type wireRec struct {
	TaskRecord
	E *wireErr `json:"err,omitempty"`
}

type runOut struct {
	Output     json.RawMessage `json:"output,omitempty"`
	Err        *wireErr        `json:"err,omitempty"`
	Tasks      []wireRec       `json:"tasks,omitempty"`
	Dropped    bool            `json:"dropped,omitempty"` // records too large for the result
	Activities int             `json:"activities"`
	Batches    int             `json:"batches"`
	Rerun      int             `json:"rerun"`
}

type actIn struct {
	Spec   TaskSpec          `json:"spec"`
	Inputs []json.RawMessage `json:"inputs,omitempty"`
}

type actOut struct {
	Result  json.RawMessage `json:"result,omitempty"`
	Emit    *Emission       `json:"emit,omitempty"`
	Start   time.Time       `json:"start"`
	End     time.Time       `json:"end"`
	Worker  string          `json:"worker"`
	Attempt int             `json:"attempt"`
}

type wf struct {
	ctx workflow.Context
	reg *Registry
	cfg runConfig
	c   core
	sel workflow.Selector

	cancelled bool
	settled   workflow.Channel // buffered 1: a driver parked or ended

	inFlight, activities, batches int
	active, parked                int // live drivers, and those parked on a task or a Join
	waiters                       map[int64][]workflow.Settable
	watchers                      map[int64][]*wfCompletion
	parts                         map[*Driver]*wfParts
}

type wfParts struct {
	n      int
	waiter workflow.Settable
}

func runWorkflow(ctx workflow.Context, reg *Registry, in runIn) (runOut, error) {
	def, err := reg.driver(in.Driver)
	if err != nil {
		return runOut{}, temporal.NewNonRetryableApplicationError(err.Error(), "evolve.Registry", nil)
	}
	w := &wf{
		ctx: ctx, reg: reg, cfg: in.Config,
		sel:      workflow.NewSelector(ctx),
		settled:  workflow.NewBufferedChannel(ctx, 1),
		waiters:  map[int64][]workflow.Settable{},
		watchers: map[int64][]*wfCompletion{},
		parts:    map[*Driver]*wfParts{},
	}
	w.sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) { w.cancelled = true })

	var out json.RawMessage
	var derr error
	d := &Driver{be: w}
	w.active = 1
	workflow.Go(ctx, func(ctx workflow.Context) {
		d.wctx = ctx
		out, derr = runDriver(def, d, in.Input)
		if derr == nil {
			derr = d.Err()
		}
		w.active--
		w.settle()
	})
	for {
		// Let every driver that can go on run until it parks or ends, so
		// that what the loop starts next depends only on what happened,
		// not on how coroutines interleaved. (workflow.Await would not do:
		// it re-reads its condition only after a blocked coroutine is
		// unblocked, and a driver that starts and parks at once is not.)
		for w.parked != w.active {
			w.settled.Receive(ctx, nil)
			if ctx.Err() != nil {
				return runOut{}, ctx.Err()
			}
		}
		w.dispatch()
		if w.active == 0 && w.c.Outstanding() == 0 && w.inFlight == 0 {
			break
		}
		if w.inFlight == 0 && w.c.ReadyLen() == 0 {
			if w.c.Stalled() && w.c.BreakCycle() {
				w.wake()
				continue
			}
			return runOut{}, fmt.Errorf("evolve/temporal: run stalled with %d tasks outstanding and %d drivers parked, and no cycle found", w.c.Outstanding(), w.parked)
		}
		w.sel.Select(ctx)
		if w.cancelled {
			return runOut{}, ctx.Err()
		}
		w.wake()
	}
	return w.finish(out, derr), nil
}

// finish builds the workflow's result.
func (w *wf) finish(out json.RawMessage, derr error) runOut {
	recs := make([]TaskRecord, w.c.Len())
	ro := runOut{Output: out, Activities: w.activities, Batches: w.batches}
	for i, n := range w.c.nodes {
		r := n.rec
		r.Arg = n.spec.Arg
		r.State = n.state.String()
		r.Result, r.Err = n.result, n.err
		if r.Attempts > 1 {
			ro.Rerun++
		}
		recs[i] = r
	}
	ro.Err = toWire(outcome(derr, recs))
	if w.cfg.Record {
		size := 0
		for _, r := range recs {
			size += len(r.Arg) + len(r.Result) + 200
		}
		if size > 1<<20+1<<19 {
			ro.Dropped = true
			return ro
		}
		ro.Tasks = make([]wireRec, len(recs))
		for i, r := range recs {
			ro.Tasks[i] = wireRec{TaskRecord: r, E: toWire(r.Err)}
		}
	}
	return ro
}

// settle tells the loop that a driver parked or ended.
func (w *wf) settle() { w.settled.SendAsync(struct{}{}) }

// dispatch starts ready tasks while fewer than InFlight run.
func (w *wf) dispatch() {
	for w.inFlight < w.cfg.InFlight && w.c.ReadyLen() > 0 {
		if w.activities < w.cfg.BatchAbove {
			n, _ := w.c.Next()
			w.startActivity(n)
			continue
		}
		// A batch costs its parent about 8 history events whatever its
		// size, so wait for room for a whole one (or for all that is
		// ready, if less).
		size := min(w.cfg.BatchSize, w.c.ReadyLen())
		if w.cfg.InFlight-w.inFlight < size {
			return
		}
		batch := make([]*node, 0, size)
		for len(batch) < size {
			n, _ := w.c.Next()
			batch = append(batch, n)
		}
		w.startBatch(batch)
	}
}

// PriorityKey maps an evolve priority to one of Temporal's five priority
// keys (1 runs first): 10 and above → 1, 1..9 → 2, 0 → 3, -9..-1 → 4,
// -10 and below → 5. Within a run, the workflow starts ready tasks in exact
// priority order; the key orders them on the task queue among other runs'
// and when workers are saturated, approximately.
func PriorityKey(p int) int {
	switch {
	case p >= 10:
		return 1
	case p > 0:
		return 2
	case p == 0:
		return 3
	case p > -10:
		return 4
	default:
		return 5
	}
}

func activityOptions(cfg runConfig, s TaskSpec) workflow.ActivityOptions {
	timeout := cfg.StartToClose
	if s.Timeout > 0 {
		timeout = s.Timeout
	}
	backoff := s.Backoff
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	return workflow.ActivityOptions{
		TaskQueue:           cfg.TaskQueue,
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    cfg.Heartbeat,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    backoff,
			BackoffCoefficient: 2,
			MaximumAttempts:    int32(s.Retries + 1 + cfg.LostRetries),
		},
		Priority: temporal.Priority{PriorityKey: PriorityKey(s.Priority)},
	}
}

func (w *wf) startActivity(n *node) {
	ctx := workflow.WithActivityOptions(w.ctx, activityOptions(w.cfg, n.spec))
	f := workflow.ExecuteActivity(ctx, n.spec.Name, actIn{Spec: n.spec, Inputs: w.c.Inputs(n)})
	w.inFlight++
	w.activities++
	w.sel.AddFuture(f, func(f workflow.Future) {
		w.inFlight--
		var out actOut
		err := f.Get(w.ctx, &out)
		failedAttempt(err, &out)
		w.complete(n, out, activityErr(n.spec, err))
	})
}

type batchIn struct {
	Tasks  []actIn   `json:"tasks"`
	Config runConfig `json:"config"`
}

type batchRes struct {
	Out actOut   `json:"out"`
	Err *wireErr `json:"err,omitempty"`
}

func (w *wf) startBatch(batch []*node) {
	in := batchIn{Tasks: make([]actIn, len(batch)), Config: w.cfg}
	for i, n := range batch {
		in.Tasks[i] = actIn{Spec: n.spec, Inputs: w.c.Inputs(n)}
	}
	w.batches++
	opts := workflow.ChildWorkflowOptions{
		WorkflowID: fmt.Sprintf("%s/batch-%d", workflow.GetInfo(w.ctx).WorkflowExecution.ID, w.batches),
		TaskQueue:  w.cfg.TaskQueue,
	}
	f := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(w.ctx, opts), batchWorkflowName, in)
	w.inFlight += len(batch)
	w.sel.AddFuture(f, func(f workflow.Future) {
		w.inFlight -= len(batch)
		var res []batchRes
		err := f.Get(w.ctx, &res)
		for i, n := range batch {
			switch {
			case err != nil:
				w.complete(n, actOut{}, &TaskError{Task: n.spec.Name, ID: n.spec.ID, Message: "batch workflow failed: " + err.Error()})
			case i >= len(res):
				w.complete(n, actOut{}, &TaskError{Task: n.spec.Name, ID: n.spec.ID, Message: "batch workflow returned no result"})
			default:
				w.activities++
				w.complete(n, res[i].Out, res[i].Err.err())
			}
		}
	})
}

// batchWorkflow runs the tasks it is given as activities, all at once (the
// parent keeps the batch within its InFlight), and returns their outcomes.
func batchWorkflow(ctx workflow.Context, in batchIn) ([]batchRes, error) {
	res := make([]batchRes, len(in.Tasks))
	futures := make([]workflow.Future, len(in.Tasks))
	for i, t := range in.Tasks {
		actx := workflow.WithActivityOptions(ctx, activityOptions(in.Config, t.Spec))
		futures[i] = workflow.ExecuteActivity(actx, t.Spec.Name, t)
	}
	for i, f := range futures {
		err := f.Get(ctx, &res[i].Out)
		failedAttempt(err, &res[i].Out)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res[i].Err = toWire(activityErr(in.Tasks[i].Spec, err))
	}
	return res, nil
}

// failedAttempt reads the record of the attempt that failed with err, which
// the activity sends as the error's details.
func failedAttempt(err error, out *actOut) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.HasDetails() {
		_ = app.Details(out)
	}
}

// activityErr turns what a failed activity returned into the task's
// error, as in-process: a *TaskError with the function's error text; a
// timeout reads as context.DeadlineExceeded does.
func activityErr(s TaskSpec, err error) error {
	if err == nil {
		return nil
	}
	te := &TaskError{Task: s.Name, ID: s.ID, Message: err.Error()}
	var app *temporal.ApplicationError
	var to *temporal.TimeoutError
	switch {
	case errors.As(err, &app):
		te.Message = app.Message()
	case errors.As(err, &to):
		te.Message = context.DeadlineExceeded.Error()
	case errors.As(err, new(*temporal.CanceledError)):
		te.Message = context.Canceled.Error()
	}
	return te
}

func (w *wf) complete(n *node, out actOut, err error) {
	if !out.Start.IsZero() {
		n.rec.Start, n.rec.End, n.rec.Worker, n.rec.Attempts = out.Start, out.End, out.Worker, out.Attempt
	}
	switch {
	case err != nil:
		w.c.Fail(n.spec.ID, err)
	case n.spec.Flow:
		w.c.Emit(n.spec.ID, out.Emit)
	default:
		w.c.Succeed(n.spec.ID, out.Result)
	}
}

// wake tells the drivers waiting for the tasks that ended.
func (w *wf) wake() {
	for _, id := range w.c.Drain() {
		for _, s := range w.waiters[id] {
			w.unpark(s)
		}
		delete(w.waiters, id)
		for _, c := range w.watchers[id] {
			c.ready = append(c.ready, id)
			c.pending--
			if c.waiter != nil {
				w.unpark(c.waiter)
				c.waiter = nil
			}
		}
		delete(w.watchers, id)
	}
}

func (w *wf) submit(_ *Driver, s TaskSpec) (int64, error) {
	if _, err := w.reg.task(s.Name); err != nil {
		return noTask, err
	}
	id, err := w.c.Add(s)
	if err != nil {
		return noTask, err
	}
	return id, nil
}

func (w *wf) wait(d *Driver, id int64) (json.RawMessage, error) {
	n := w.c.Node(id)
	if n == nil {
		return nil, fmt.Errorf("evolve/temporal: waiting for #%d, which is no task of this run", id)
	}
	if !n.state.finished() {
		if err := w.park(d, func(s workflow.Settable) { w.waiters[id] = append(w.waiters[id], s) }); err != nil {
			return nil, err
		}
	}
	if n.state != stDone {
		return nil, n.err
	}
	if r, ok := isStored(n.result); ok {
		return nil, fmt.Errorf("evolve/temporal: task %q (#%d): %d bytes: %w", n.spec.Name, id, r.Size, ErrStored)
	}
	return n.result, nil
}

func (w *wf) spawn(d *Driver, fn func(*Driver)) {
	p := w.parts[d]
	if p == nil {
		p = &wfParts{}
		w.parts[d] = p
	}
	p.n++
	w.active++
	nd := &Driver{be: w}
	workflow.Go(d.wctx, func(ctx workflow.Context) {
		nd.wctx = ctx
		defer func() {
			if r := recover(); r != nil {
				d.fail(fmt.Errorf("evolve/temporal: Driver.Go: function panicked: %v", r))
			}
			if err := nd.Err(); err != nil {
				d.fail(err)
			}
			p.n--
			if p.n == 0 && p.waiter != nil {
				w.unpark(p.waiter)
				p.waiter = nil
			}
			w.active--
			w.settle()
		}()
		fn(nd)
	})
}

func (w *wf) join(d *Driver) {
	p := w.parts[d]
	if p == nil || p.n == 0 {
		return
	}
	_ = w.park(d, func(s workflow.Settable) { p.waiter = s })
}

// park blocks d's coroutine until the Settable that register is given is
// set, counting d as parked meanwhile: the loop in runWorkflow starts
// tasks only once every live driver is parked or ended. Whoever sets it
// does so with unpark.
func (w *wf) park(d *Driver, register func(workflow.Settable)) error {
	f, s := workflow.NewFuture(d.wctx)
	register(s)
	w.parked++
	w.settle()
	return f.Get(d.wctx, nil)
}

// unpark wakes a driver that park blocked.
func (w *wf) unpark(s workflow.Settable) {
	s.Set(nil, nil)
	w.parked--
}

func (w *wf) completion(d *Driver) completion { return &wfCompletion{w: w, d: d} }

type wfCompletion struct {
	w       *wf
	d       *Driver
	pending int
	ready   []int64
	waiter  workflow.Settable
}

func (c *wfCompletion) add(ids ...int64) {
	for _, id := range ids {
		n := c.w.c.Node(id)
		switch {
		case n == nil:
			continue
		case n.state.finished():
			c.ready = append(c.ready, id)
		default:
			c.pending++
			c.w.watchers[id] = append(c.w.watchers[id], c)
		}
	}
}

func (c *wfCompletion) next() (int64, bool, error) {
	if len(c.ready) == 0 && c.pending > 0 {
		if err := c.w.park(c.d, func(s workflow.Settable) { c.waiter = s }); err != nil {
			return noTask, false, err
		}
	}
	if len(c.ready) == 0 {
		return noTask, false, nil
	}
	id := c.ready[0]
	c.ready = c.ready[1:]
	return id, true, nil
}
