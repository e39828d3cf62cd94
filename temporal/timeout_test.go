package temporal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/temporal"
)

var (
	// slow runs until its context is done (then fails with the context's
	// error), or for half a minute.
	slow = temporal.Register(xreg, "x.slow", func(ctx context.Context, _ int) (int, error) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(30 * time.Second):
			return 1, nil
		}
	})
	slowProg = temporal.RegisterDriver(xreg, "x.timedout", func(d *temporal.Driver, _ int) (int, error) {
		return temporal.Wait(d, temporal.Call(d, slow, 0, temporal.Timeout(300*time.Millisecond)))
	})
)

// TestTimeout: a task's Timeout bounds its attempt both ways (in-process
// its context's deadline, on Temporal the activity's StartToCloseTimeout):
// the run fails with a *TaskError naming the task long before the task
// would have ended by itself.
func TestTimeout(t *testing.T) {
	q := fmt.Sprintf("evolve-timeout-%d", time.Now().UnixNano())
	inProcWorker(t, q, xreg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, run := range []struct {
		name string
		fn   func() error
	}{
		{"in-process", func() error {
			_, _, err := temporal.RunLocal(ctx, xreg, slowProg, 0)
			return err
		}},
		{"temporal", func() error {
			_, _, err := temporal.RunTemporal(ctx, tc, slowProg, 0, temporal.TaskQueue(q))
			return err
		}},
	} {
		t.Run(run.name, func(t *testing.T) {
			start := time.Now()
			err := run.fn()
			took := time.Since(start)
			var te *temporal.TaskError
			if !errors.As(err, &te) || te.Task != "x.slow" {
				t.Fatalf("got %v, want a *temporal.TaskError naming x.slow", err)
			}
			if took > 20*time.Second {
				t.Errorf("the run took %v: the timeout of 300ms did not end the task", took)
			}
			if run.name == "in-process" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("in-process: got %v, want it to wrap context.DeadlineExceeded", err)
			}
			if run.name == "temporal" && !strings.Contains(strings.ToLower(te.Message), "timeout") &&
				!strings.Contains(strings.ToLower(te.Message), "deadline") {
				t.Errorf("on Temporal: the task's error %q says nothing of a timeout", te.Message)
			}
			t.Logf("%s: failed after %v: %v", run.name, took, err)
		})
	}
}
