package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// WorkerOption configures what RegisterWorker registers.
type WorkerOption func(*workerConfig) error

type workerConfig struct {
	store   Store
	above   int
	onStart func(TaskSpec, int)
	onEnd   func(TaskSpec, int, error)
	name    string
}

// WithStore makes the worker keep every result larger than above bytes in
// s, and hand the workflow a reference instead (see Store). Every worker of
// a task queue must use the same Store. above must be at most 1 MiB
// (Temporal's payload limit is 2 MB, with a warning from 512 KB).
func WithStore(s Store, above int) WorkerOption {
	return func(c *workerConfig) error {
		if s == nil {
			return errors.New("evolve/temporal: WithStore: nil Store")
		}
		if above < 0 || above > 1<<20 {
			return fmt.Errorf("evolve/temporal: WithStore(_, %d): threshold must be between 0 and 1 MiB", above)
		}
		c.store, c.above = s, above
		return nil
	}
}

// OnTask calls start before each attempt of a task on this worker and end
// after it, with the attempt's number (from 1): for logs and tests. Either
// may be nil.
func OnTask(start func(s TaskSpec, attempt int), end func(s TaskSpec, attempt int, err error)) WorkerOption {
	return func(c *workerConfig) error {
		c.onStart, c.onEnd = start, end
		return nil
	}
}

// WorkerName sets the name records give this worker (default host:pid).
func WorkerName(name string) WorkerOption {
	return func(c *workerConfig) error { c.name = name; return nil }
}

// RegisterWorker registers on w what a Temporal worker of evolve runs: the
// run workflow (which runs the registry's drivers), the batch workflow,
// and one activity per registered task, under the task's name. Every worker
// of a task queue must register the same Registry.
func RegisterWorker(w worker.Registry, r *Registry, opts ...WorkerOption) error {
	if w == nil {
		return errors.New("evolve/temporal: RegisterWorker: nil worker")
	}
	if err := r.Err(); err != nil {
		return err
	}
	var cfg workerConfig
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return err
		}
	}
	if cfg.name == "" {
		host, _ := os.Hostname()
		cfg.name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if err := RegisterWorkflows(w, r); err != nil {
		return err
	}
	for _, name := range r.Names() {
		def, _ := r.task(name)
		w.RegisterActivityWithOptions(cfg.activity(def), activity.RegisterOptions{Name: name})
	}
	return nil
}

// WorkflowRegistry is where workflows are registered: a worker, or a
// worker.WorkflowReplayer.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterWorkflows registers evolve's two workflows (the run, which runs
// r's drivers, and the batch) on w. RegisterWorker calls it; call it
// yourself on a worker.WorkflowReplayer to check, against the recorded
// history of a run, that a changed driver still replays it.
func RegisterWorkflows(w WorkflowRegistry, r *Registry) error {
	if w == nil {
		return errors.New("evolve/temporal: RegisterWorkflows: nil registry")
	}
	if err := r.Err(); err != nil {
		return err
	}
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in runIn) (runOut, error) {
		return runWorkflow(ctx, r, in)
	}, workflow.RegisterOptions{Name: workflowName})
	w.RegisterWorkflowWithOptions(batchWorkflow, workflow.RegisterOptions{Name: batchWorkflowName})
	return nil
}

func (cfg *workerConfig) activity(def *taskDef) func(context.Context, actIn) (actOut, error) {
	return func(ctx context.Context, in actIn) (actOut, error) {
		info := activity.GetInfo(ctx)
		attemptNo := int(info.Attempt)
		stop := heartbeat(ctx, info.HeartbeatTimeout/3)
		defer stop()
		if cfg.onStart != nil {
			cfg.onStart(in.Spec, attemptNo)
		}
		out := actOut{Start: time.Now(), Worker: cfg.name, Attempt: attemptNo}
		ins, err := cfg.load(ctx, in.Inputs)
		var res json.RawMessage
		if err == nil {
			res, out.Emit, err = attempt(ctx, def, in.Spec, ins)
		}
		out.End = time.Now()
		if err == nil {
			out.Result, err = cfg.keep(ctx, info, in.Spec, res)
		}
		if cfg.onEnd != nil {
			cfg.onEnd(in.Spec, attemptNo, err)
		}
		if err != nil {
			msg := err.Error()
			var te *TaskError
			if errors.As(err, &te) {
				msg = te.Message
			}
			// Retries counts the task's own failures; Temporal's
			// MaximumAttempts leaves room for lost workers on top.
			if IsPermanent(err) || attemptNo > in.Spec.Retries {
				return out, temporal.NewNonRetryableApplicationError(msg, taskErrorType, nil, out)
			}
			return out, temporal.NewApplicationError(msg, taskErrorType, out)
		}
		return out, nil
	}
}

// load reads stored inputs back.
func (cfg *workerConfig) load(ctx context.Context, ins []json.RawMessage) ([]json.RawMessage, error) {
	out := ins
	for i, raw := range ins {
		ref, ok := isStored(raw)
		if !ok {
			continue
		}
		if cfg.store == nil {
			return nil, Permanent(fmt.Errorf("evolve/temporal: an input is kept in a Store (%s), and this worker has none (WithStore)", ref.Key))
		}
		data, err := cfg.store.Get(ctx, ref.Key)
		if err != nil {
			return nil, fmt.Errorf("evolve/temporal: reading input %s from the Store: %w", ref.Key, err)
		}
		if i == 0 || &out[0] == &ins[0] {
			out = append([]json.RawMessage(nil), ins...)
		}
		out[i] = data
	}
	return out, nil
}

// keep puts a large result in the Store and returns its reference.
func (cfg *workerConfig) keep(ctx context.Context, info activity.Info, s TaskSpec, res json.RawMessage) (json.RawMessage, error) {
	if cfg.store == nil || len(res) <= cfg.above {
		return res, nil
	}
	key := fmt.Sprintf("%s/%d-%d", info.WorkflowExecution.ID, s.ID, info.Attempt)
	if err := cfg.store.Put(ctx, key, res); err != nil {
		return nil, fmt.Errorf("evolve/temporal: keeping the result of task %q in the Store: %w", s.Name, err)
	}
	return json.Marshal(storedRef{Key: key, Size: len(res)})
}

// heartbeat records a heartbeat every period until the returned function
// is called, which waits for the goroutine to end. Tasks shorter than
// period never send one.
func heartbeat(ctx context.Context, period time.Duration) func() {
	if period <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
