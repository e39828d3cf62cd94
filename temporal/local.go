package temporal

// This file and draw.go are the only ones that use evolve's root packages
// (graph, exec, dynamic, viz) beyond their error types: the in-process
// runner builds an evolve graph from the registry and the driver's
// submissions, and runs it with exec.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// RunLocal runs program p with input in, in this process, on an evolve
// graph run by exec with a pool of Workers(n) slots: the same registry, the
// same driver and the same values (JSON-encoded, as on Temporal) as
// RunTemporal. It returns the driver's output, what the run recorded, and
// the run's error (see RunTemporal for which).
func RunLocal[In, Out any](ctx context.Context, r *Registry, p Program[In, Out], in In, opts ...RunOption) (Out, *Report, error) {
	var out Out
	cfg, err := newConfig(opts)
	if err != nil {
		return out, nil, err
	}
	if err := r.Err(); err != nil {
		return out, nil, err
	}
	def, err := r.driver(p.name)
	if err != nil {
		return out, nil, err
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return out, nil, fmt.Errorf("evolve/temporal: driver %q: encoding its input: %w", p.name, err)
	}
	l := &local{reg: r, g: graph.New(), ids: map[graph.Task[json.RawMessage]]int64{}}
	run, err := exec.Start(ctx, l.g, exec.Workers(cfg.Workers), exec.Observe(exec.ObserverFunc(l.observe)))
	if err != nil {
		return out, nil, err
	}
	l.ctx = ctx
	d := &Driver{be: l}
	rawOut, derr := runDriver(def, d, raw)
	l.flush(d)
	l.wg.Wait()
	run.Close()
	runErr := run.Wait()
	if derr == nil {
		derr = errors.Join(append([]error{d.Err()}, l.spawnErrs...)...)
	}
	rep := l.report()
	if err := ctx.Err(); err != nil && derr == nil && runErr != nil {
		return out, rep, runErr
	}
	if err := outcome(derr, rep.Tasks); err != nil {
		return out, rep, err
	}
	if err := json.Unmarshal(rawOut, &out); err != nil {
		return out, rep, fmt.Errorf("evolve/temporal: driver %q: decoding its output: %w", p.name, err)
	}
	return out, rep, nil
}

// runDriver runs a driver, turning a panic into an error.
func runDriver(def *driverDef, d *Driver, raw json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("evolve/temporal: driver %q panicked: %v", def.name, p)
		}
	}()
	return def.run(d, raw)
}

// local is the in-process backend. Submissions of a driver are buffered
// until it blocks (or returns), and then reach the run as one graph.Batch,
// as a workflow's do: a driver's reaction is one step.
type local struct {
	reg *Registry
	g   *graph.Graph
	ctx context.Context
	wg  sync.WaitGroup

	mu        sync.Mutex // guards what follows
	specs     []TaskSpec
	tasks     []graph.Task[json.RawMessage] // the zero Task until materialized
	recs      []TaskRecord
	ids       map[graph.Task[json.RawMessage]]int64
	pending   map[*Driver][]int64
	parts     map[*Driver]*sync.WaitGroup
	spawnErrs []error
}

func (l *local) newIDLocked(s TaskSpec) int64 {
	s.ID = int64(len(l.specs))
	l.specs = append(l.specs, s)
	l.tasks = append(l.tasks, graph.Task[json.RawMessage]{})
	l.recs = append(l.recs, TaskRecord{ID: s.ID, Name: s.Name, Arg: s.Arg, Deps: s.Deps, Creator: s.Creator, Priority: s.Priority})
	return s.ID
}

func (l *local) submit(d *Driver, s TaskSpec) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, dep := range s.Deps {
		if dep < 0 || dep >= int64(len(l.specs)) {
			return -1, fmt.Errorf("evolve/temporal: adding task %q: input #%d is no task of this run", s.Name, dep)
		}
	}
	if _, err := l.reg.task(s.Name); err != nil {
		return -1, err
	}
	id := l.newIDLocked(s)
	if l.pending == nil {
		l.pending = map[*Driver][]int64{}
	}
	l.pending[d] = append(l.pending[d], id)
	return id, nil
}

// flush adds d's buffered submissions to the run, as one batch.
func (l *local) flush(d *Driver) {
	l.mu.Lock()
	ids := l.pending[d]
	delete(l.pending, d)
	l.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	graph.Batch(l.g, func(b graph.Builder) {
		for _, id := range ids {
			if err := l.materialize(b, id); err != nil {
				d.fail(err)
			}
		}
	})
}

// materialize adds task id to the evolve graph through b.
func (l *local) materialize(b graph.Builder, id int64) error {
	l.mu.Lock()
	s := l.specs[id]
	deps := make([]graph.Task[json.RawMessage], len(s.Deps))
	for i, d := range s.Deps {
		deps[i] = l.tasks[d]
	}
	l.mu.Unlock()
	for i, t := range deps {
		if t == (graph.Task[json.RawMessage]{}) {
			return fmt.Errorf("evolve/temporal: task %q reads #%d, which was submitted by another driver that has not yet waited for anything", s.Name, s.Deps[i])
		}
	}
	def, err := l.reg.task(s.Name)
	if err != nil {
		return err
	}
	t := graph.AddN(b, s.Name, deps, func(ctx context.Context, ins []json.RawMessage) (json.RawMessage, error) {
		return l.runTask(ctx, def, s, ins)
	}, graph.Priority(s.Priority))
	l.mu.Lock()
	l.tasks[id] = t
	l.ids[t] = id
	l.mu.Unlock()
	return nil
}

// runTask runs task s with its retries, and for a flow adds what it
// emitted and waits for the result (giving its slot back meanwhile).
func (l *local) runTask(ctx context.Context, def *taskDef, s TaskSpec, ins []json.RawMessage) (json.RawMessage, error) {
	var res json.RawMessage
	var em *Emission
	var err error
	for a := 0; ; a++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if s.Timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, s.Timeout)
		}
		res, em, err = attempt(actx, def, s, ins)
		cancel()
		l.mu.Lock()
		l.recs[s.ID].Attempts = a + 1
		l.mu.Unlock()
		if err == nil || a >= s.Retries || IsPermanent(err) || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(s.Backoff << a)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
	if err != nil || em == nil {
		return res, err
	}
	return l.joinFlow(ctx, s, em)
}

// joinFlow adds em's tasks on behalf of the flow s and waits for its result.
func (l *local) joinFlow(ctx context.Context, s TaskSpec, em *Emission) (json.RawMessage, error) {
	// The emitted tasks take consecutive IDs, as on Temporal, whatever
	// other flows add meanwhile.
	l.mu.Lock()
	base := int64(len(l.specs))
	tasks, target, err := em.resolve(s.Name, s.ID, base)
	if err != nil {
		l.mu.Unlock()
		return nil, err
	}
	for _, c := range tasks {
		l.newIDLocked(c)
	}
	l.mu.Unlock()
	var berr error
	scope := dynamic.Scope(ctx)
	graph.Batch(scope, func(b graph.Builder) {
		for i := range tasks {
			if err := l.materialize(b, base+int64(i)); err != nil {
				berr = err
				return
			}
		}
	})
	if berr != nil {
		return nil, berr
	}
	l.mu.Lock()
	t := l.tasks[target] // resolve checked that it is a task of the run
	l.mu.Unlock()
	if t == (graph.Task[json.RawMessage]{}) {
		return nil, fmt.Errorf("evolve/temporal: flow %q returned #%d, which was submitted by another driver that has not yet waited for anything", s.Name, em.Result)
	}
	v, err := t.Wait(ctx)
	if err == nil {
		return v, nil
	}
	var dl *graph.DeadlockError
	if errors.As(err, &dl) && t.Err() == nil {
		return nil, dl // the wait itself would deadlock
	}
	failed, cause := t.Name(), err
	var se *graph.SkipError
	if errors.As(err, &se) {
		failed, cause = se.Failed, se.Err
	}
	return nil, &graph.SkipError{Task: s.Name, Failed: failed, Err: cause}
}

func (l *local) wait(d *Driver, id int64) (json.RawMessage, error) {
	l.flush(d)
	t, err := l.task(id)
	if err != nil {
		return nil, err
	}
	return t.Wait(l.ctx)
}

func (l *local) task(id int64) (graph.Task[json.RawMessage], error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id < 0 || id >= int64(len(l.tasks)) || l.tasks[id] == (graph.Task[json.RawMessage]{}) {
		return graph.Task[json.RawMessage]{}, fmt.Errorf("evolve/temporal: waiting for #%d, which is no task of this run", id)
	}
	return l.tasks[id], nil
}

func (l *local) completion(d *Driver) completion {
	return &localCompletion{l: l, d: d, c: dynamic.AsCompleted[graph.Task[json.RawMessage]]()}
}

func (l *local) join(d *Driver) {
	l.flush(d)
	l.mu.Lock()
	wg := l.parts[d]
	l.mu.Unlock()
	if wg != nil {
		wg.Wait()
	}
}

func (l *local) spawn(d *Driver, fn func(*Driver)) {
	l.flush(d)
	l.mu.Lock()
	if l.parts == nil {
		l.parts = map[*Driver]*sync.WaitGroup{}
	}
	wg := l.parts[d]
	if wg == nil {
		wg = new(sync.WaitGroup)
		l.parts[d] = wg
	}
	l.mu.Unlock()
	wg.Add(1)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer wg.Done()
		nd := &Driver{be: l}
		defer func() {
			if p := recover(); p != nil {
				nd.fail(fmt.Errorf("evolve/temporal: Driver.Go: function panicked: %v", p))
			}
			l.flush(nd)
			if err := nd.Err(); err != nil {
				l.mu.Lock()
				l.spawnErrs = append(l.spawnErrs, err)
				l.mu.Unlock()
			}
		}()
		fn(nd)
	}()
}

type localCompletion struct {
	l   *local
	d   *Driver
	ids []int64 // added, not yet handed to c (flushed first)
	c   *dynamic.Completed[graph.Task[json.RawMessage]]
}

func (c *localCompletion) add(ids ...int64) { c.ids = append(c.ids, ids...) }

func (c *localCompletion) next() (int64, bool, error) {
	c.l.flush(c.d)
	for _, id := range c.ids {
		t, err := c.l.task(id)
		if err != nil {
			return -1, false, err
		}
		c.c.Add(t)
	}
	c.ids = nil
	t, ok, err := c.c.Next(c.l.ctx)
	if err != nil {
		return -1, false, err
	}
	if !ok {
		return -1, false, nil
	}
	c.l.mu.Lock()
	defer c.l.mu.Unlock()
	return c.l.ids[t], true, nil
}

func (l *local) observe(e exec.Event) {
	t, ok := graph.As[json.RawMessage](e.Task)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.ids[t]
	if !ok {
		return
	}
	r := &l.recs[id]
	switch e.Kind {
	case exec.EventStarted:
		if r.Start.IsZero() {
			r.Start = e.Time
		}
		r.Worker = fmt.Sprintf("local-%d", e.Worker)
	case exec.EventFinished, exec.EventFailed, exec.EventSkipped, exec.EventCancelled:
		r.End = e.Time
	}
}

// report reads every task's end from the graph.
func (l *local) report() *Report {
	l.mu.Lock()
	defer l.mu.Unlock()
	rep := &Report{Tasks: make([]TaskRecord, len(l.recs))}
	for i, r := range l.recs {
		t := l.tasks[i]
		switch {
		case t == (graph.Task[json.RawMessage]{}):
			r.State = "skipped"
			r.Err = errors.New("evolve/temporal: never added to the run")
		case t.State() == graph.Done:
			r.State = "done"
			r.Result, _ = t.Result()
		case t.State() == graph.Skipped:
			r.State, r.Err = "skipped", t.Err()
		default:
			r.State, r.Err = "failed", t.Err()
			if t.State() == graph.Cancelled {
				r.State = "cancelled"
			}
		}
		if r.Attempts > 1 {
			rep.Rerun++
		}
		rep.Tasks[i] = r
	}
	return rep
}
