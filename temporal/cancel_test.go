package temporal_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/evolve-dag/evolve/temporal"
)

// blockers holds, by key, what x.block signals: that it started, and that
// its context was done.
var blockers sync.Map // string → *blocker

type blocker struct{ started, done chan struct{} }

func newBlocker(key string) *blocker {
	b := &blocker{started: make(chan struct{}), done: make(chan struct{})}
	blockers.Store(key, b)
	return b
}

var (
	// block runs until its context is done, or for a minute.
	block = temporal.Register(xreg, "x.block", func(ctx context.Context, key string) (int, error) {
		v, ok := blockers.Load(key)
		if !ok {
			return 0, temporal.Permanent(fmt.Errorf("no blocker %q", key))
		}
		b := v.(*blocker)
		close(b.started)
		select {
		case <-ctx.Done():
			close(b.done)
			return 0, ctx.Err()
		case <-time.After(time.Minute):
			return 1, nil
		}
	})
	blockProg = temporal.RegisterDriver(xreg, "x.blocked", func(d *temporal.Driver, key string) (int, error) {
		return temporal.Wait(d, temporal.Call(d, block, key))
	})
)

// TestCancel cancels the context of a run while its task runs, both ways:
// the run returns an error wrapping context.Canceled at once, the task's
// context is done, and on Temporal the workflow ends cancelled.
func TestCancel(t *testing.T) {
	q := fmt.Sprintf("evolve-cancel-%d", time.Now().UnixNano())
	inProcWorker(t, q, xreg)
	for _, run := range []struct {
		name string
		fn   func(ctx context.Context, key string) error
	}{
		{"in-process", func(ctx context.Context, key string) error {
			_, _, err := temporal.RunLocal(ctx, xreg, blockProg, key)
			return err
		}},
		{"temporal", func(ctx context.Context, key string) error {
			_, _, err := temporal.RunTemporal(ctx, tc, blockProg, key, temporal.TaskQueue(q),
				temporal.WorkflowID(key), temporal.LostWorker(time.Second, 0))
			return err
		}},
	} {
		t.Run(run.name, func(t *testing.T) {
			key := fmt.Sprintf("cancel-%s-%d", run.name, time.Now().UnixNano())
			b := newBlocker(key)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- run.fn(ctx, key) }()
			select {
			case <-b.started:
			case err := <-errc:
				t.Fatalf("the run ended before its task started: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("the task did not start in 30s")
			}
			cancel()
			cancelled := time.Now()
			select {
			case err := <-errc:
				t.Logf("returned after %v: %v", time.Since(cancelled), err)
				if !errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want an error wrapping context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the run did not return within 5s of its context's cancellation")
			}
			select {
			case <-b.done:
				t.Logf("the task's context was done %v after the cancellation", time.Since(cancelled))
			case <-time.After(15 * time.Second):
				t.Error("the task's context was not done within 15s of the cancellation")
			}
			if run.name != "temporal" {
				return
			}
			var status enums.WorkflowExecutionStatus
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				desc, err := tc.DescribeWorkflowExecution(context.Background(), key, "")
				if err != nil {
					t.Fatal(err)
				}
				if status = desc.GetWorkflowExecutionInfo().GetStatus(); status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
					break
				}
			}
			if status != enums.WORKFLOW_EXECUTION_STATUS_CANCELED {
				t.Errorf("the workflow is %v, want cancelled", status)
			}
		})
	}
}
