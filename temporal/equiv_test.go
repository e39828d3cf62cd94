package temporal_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// digest lists every task of a run as "name arg -> state result", sorted:
// two runs of one program did the same work when their digests are equal,
// whatever order tasks were numbered in.
func digest(rep *temporal.Report) []string {
	out := make([]string, len(rep.Tasks))
	for i, r := range rep.Tasks {
		out[i] = fmt.Sprintf("%s %s -> %s %s", r.Name, r.Arg, r.State, r.Result)
	}
	slices.Sort(out)
	return out
}

// TestSameWorkflowBothWays runs each variant of the seed in-process and on
// the Temporal server, and compares every task's result, and the output.
func TestSameWorkflowBothWays(t *testing.T) {
	w, err := workload.Generate(1, 10, 0.02)
	if err != nil {
		t.Fatal(err)
	}
	wantN, wantSum := w.Expected()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, p := range []temporal.Program[workload.Workload, []float64]{seed.AsCompleted, seed.Goroutines, seed.TasksFromTasks} {
		t.Run(p.Name(), func(t *testing.T) {
			lout, lrep, err := temporal.RunLocal(ctx, seed.Reg, p, w, temporal.Workers(6))
			if err != nil {
				t.Fatalf("in-process: %v", err)
			}
			id := fmt.Sprintf("equiv-%s-%d", p.Name(), time.Now().UnixNano())
			tout, trep, err := temporal.RunTemporal(ctx, tc, p, w, temporal.TaskQueue(queue), temporal.WorkflowID(id))
			if err != nil {
				t.Fatalf("temporal: %v", err)
			}
			replay(t, id)
			for _, out := range [][]float64{lout, tout} {
				if len(out) != wantN || workload.Checksum(out) != wantSum {
					t.Errorf("%d results with checksum %x, want %d with %x", len(out), workload.Checksum(out), wantN, wantSum)
				}
			}
			if !slices.Equal(lout, tout) && p != seed.AsCompleted {
				t.Errorf("outputs differ:\nin-process %v\ntemporal   %v", lout, tout)
			}
			ld, td := digest(lrep), digest(trep)
			if !slices.Equal(ld, td) {
				t.Errorf("tasks differ: in-process %d, temporal %d", len(ld), len(td))
				for i := range min(len(ld), len(td)) {
					if ld[i] != td[i] {
						t.Errorf("first difference:\nin-process %s\ntemporal   %s", ld[i], td[i])
						break
					}
				}
			}
			if trep.Activities != len(trep.Tasks) {
				t.Errorf("%d activities for %d tasks", trep.Activities, len(trep.Tasks))
			}
			t.Logf("%d tasks, %d activities, all results equal", len(td), trep.Activities)
		})
	}
}

// replay replays the history of workflow id with a fresh replayer: the
// driver and the scheduler must make the same decisions from the same
// events, or Temporal cannot recover a run whose worker died.
func replay(t *testing.T, id string) {
	t.Helper()
	replayWith(t, seed.Reg, id)
}

// replayWith replays the history of workflow id with the workflows of reg.
func replayWith(t *testing.T, reg *temporal.Registry, id string) {
	t.Helper()
	ctx := context.Background()
	it := tc.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("reading the history of %s: %v", id, err)
		}
		h.Events = append(h.Events, e)
	}
	rp := worker.NewWorkflowReplayer()
	if err := temporal.RegisterWorkflows(rp, reg); err != nil {
		t.Fatal(err)
	}
	if err := rp.ReplayWorkflowHistory(nil, &h); err != nil {
		t.Errorf("replaying %s (%d events): %v", id, len(h.Events), err)
	}
}
