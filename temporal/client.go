package temporal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
)

// RunTemporal runs program p with input in on Temporal: it starts the run
// workflow on TaskQueue (required) through c, where workers registered with
// RegisterWorker run the driver (as the workflow) and the tasks (as
// activities), and waits for it. It returns the driver's output, what the
// run recorded (every task unless Record(false), or the records would not
// fit in Temporal's 2 MB result), and the run's error, as RunLocal does:
// the driver's error if it returned one; else a *RunError if tasks failed
// or were skipped; nil if all succeeded.
//
// If ctx is done first, RunTemporal cancels the workflow (its running
// tasks see their context done, through their heartbeats) and returns an
// error wrapping ctx's.
func RunTemporal[In, Out any](ctx context.Context, c client.Client, p Program[In, Out], in In, opts ...RunOption) (Out, *Report, error) {
	var out Out
	cfg, err := newConfig(opts)
	if err != nil {
		return out, nil, err
	}
	if c == nil {
		return out, nil, errors.New("evolve/temporal: RunTemporal: nil client")
	}
	if cfg.TaskQueue == "" {
		return out, nil, errors.New("evolve/temporal: RunTemporal: no TaskQueue given")
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return out, nil, fmt.Errorf("evolve/temporal: driver %q: encoding its input: %w", p.name, err)
	}
	id := cfg.WorkflowID
	if id == "" {
		id = fmt.Sprintf("evolve-%s-%d", p.name, time.Now().UnixNano())
	}
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.TaskQueue}, workflowName, runIn{Driver: p.name, Input: raw, Config: cfg})
	if err != nil {
		return out, nil, fmt.Errorf("evolve/temporal: starting the run of %q: %w", p.name, err)
	}
	var ro runOut
	err = run.Get(ctx, &ro)
	if ctx.Err() != nil {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.CancelWorkflow(cctx, id, run.GetRunID())
		return out, nil, fmt.Errorf("evolve/temporal: run %s cancelled: %w", id, ctx.Err())
	}
	if err != nil {
		return out, nil, fmt.Errorf("evolve/temporal: run %s: %w", id, err)
	}
	rep := &Report{Activities: ro.Activities, Batches: ro.Batches, Rerun: ro.Rerun}
	for _, r := range ro.Tasks {
		r.Err = r.E.err()
		rep.Tasks = append(rep.Tasks, r.TaskRecord)
	}
	if err := ro.Err.err(); err != nil {
		return out, rep, err
	}
	if err := json.Unmarshal(ro.Output, &out); err != nil {
		return out, rep, fmt.Errorf("evolve/temporal: driver %q: decoding its output: %w", p.name, err)
	}
	return out, rep, nil
}
