package temporal_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// TestSameErrorsBothWays runs programs whose tasks fail, and one whose
// flow needs itself, both ways: the errors must have the same types, the
// same fields and the same text.
func TestSameErrorsBothWays(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cases := []struct {
		name  string
		in    seed.ErrorsIn
		check func(t *testing.T, err error)
	}{
		{"unread failures", seed.ErrorsIn{}, func(t *testing.T, err error) {
			var re *temporal.RunError
			if !errors.As(err, &re) || re.Failed != 3 || re.Skipped != 3 {
				t.Fatalf("got %v, want a *RunError with 3 failed and 3 skipped", err)
			}
			var te *temporal.TaskError
			if !errors.As(err, &te) || te.Task != "test.fail" || te.Message != "boom: a" {
				t.Errorf("got %#v, want test.fail's TaskError", te)
			}
		}},
		{"waited failure", seed.ErrorsIn{Wait: true}, func(t *testing.T, err error) {
			var se *graph.SkipError
			if !errors.As(err, &se) || se.Task != "test.double" || se.Failed != "test.fail" {
				t.Fatalf("got %v, want test.double skipped because test.fail failed", err)
			}
			var te *temporal.TaskError
			if !errors.As(err, &te) || te.Message != "boom: a" || te.ID != 0 {
				t.Errorf("got %#v, want the TaskError of task #0", te)
			}
		}},
		{"deadlock", seed.ErrorsIn{Deadlock: true}, func(t *testing.T, err error) {
			var de *graph.DeadlockError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *graph.DeadlockError", err)
			}
			if fmt.Sprint(de.Cycle) != "[test.selfish test.double test.selfish]" {
				t.Errorf("cycle %v", de.Cycle)
			}
		}},
		{"malformed emission", seed.ErrorsIn{Stray: true}, func(t *testing.T, err error) {
			if err == nil || !strings.Contains(err.Error(), `flow "test.stray": emitted task "test.double" reads #-5, which is not a task added before it`) {
				t.Fatalf("got %v, want test.stray failed for reading #-5", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, lrep, lerr := temporal.RunLocal(ctx, seed.Reg, seed.Errors, c.in)
			_, trep, terr := temporal.RunTemporal(ctx, tc, seed.Errors, c.in, temporal.TaskQueue(queue))
			t.Logf("in-process: %v", lerr)
			t.Logf("temporal:   %v", terr)
			c.check(t, lerr)
			c.check(t, terr)
			if lerr == nil || terr == nil || lerr.Error() != terr.Error() {
				t.Errorf("errors differ:\nin-process %v\ntemporal   %v", lerr, terr)
			}
			ld, td := digest(lrep), digest(trep)
			if fmt.Sprint(ld) != fmt.Sprint(td) {
				t.Errorf("tasks differ:\nin-process %q\ntemporal   %q", ld, td)
			}
			// Every task's own error is the same both ways.
			lerrs, terrs := taskErrs(lrep), taskErrs(trep)
			if fmt.Sprint(lerrs) != fmt.Sprint(terrs) {
				t.Errorf("task errors differ:\nin-process %v\ntemporal   %v", lerrs, terrs)
			}
		})
	}
}

// taskErrs counts the tasks of rep by name and error. The numbers in the
// errors ("task "test.fail" (#6)") are left out: two flows that run at
// once emit their tasks in whichever order they happen to run, in either
// runner, so the tasks they emit may be numbered differently each run.
func taskErrs(rep *temporal.Report) map[string]int {
	m := map[string]int{}
	for _, r := range rep.Tasks {
		if r.Err != nil {
			m[r.Name+": "+taskNumber.ReplaceAllString(r.Err.Error(), "(#)")]++
		}
	}
	return m
}

var taskNumber = regexp.MustCompile(`\(#\d+\)`)

// TestRetries: a task that fails twice succeeds with two retries, one
// that fails five times fails with one, both ways.
func TestRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, run := range []struct {
		name string
		fn   func(key string) ([]int, *temporal.Report, error)
	}{
		{"in-process", func(key string) ([]int, *temporal.Report, error) {
			return temporal.RunLocal(ctx, seed.Reg, seed.Retry, key)
		}},
		{"temporal", func(key string) ([]int, *temporal.Report, error) {
			return temporal.RunTemporal(ctx, tc, seed.Retry, key, temporal.TaskQueue(queue))
		}},
	} {
		key := fmt.Sprintf("%s-%d", run.name, time.Now().UnixNano())
		_, rep, err := run.fn(key)
		var te *temporal.TaskError
		if !errors.As(err, &te) || te.Message != "flaky "+key+"-bad: call 2 fails" {
			t.Errorf("%s: got %v, want the second call's error", run.name, err)
			continue
		}
		if rep.Tasks[0].State != "done" || rep.Tasks[0].Attempts != 3 || rep.Tasks[1].Attempts != 2 {
			t.Errorf("%s: tasks %+v", run.name, rep.Tasks)
		}
	}
}
