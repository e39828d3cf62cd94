package temporal_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// TestFanOut20000 runs an evolving fan-out of 20,000 tasks (20 flows that
// each add 1,000 tasks and a task collecting them) on the real server,
// which refuses more than 2,000 pending activities per workflow and ends a
// history at 51,200 events: the run keeps at most 500 tasks in flight and
// runs what comes after its first 2,000 activities in child workflows of
// 100. Every one of the 20,000 results is checked.
func TestFanOut20000(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 activities")
	}
	flows, per := 20, 1000
	if n, err := strconv.Atoi(os.Getenv("EVOLVE_FANOUT_FLOWS")); err == nil && n > 0 {
		flows = n // EVOLVE_FANOUT_FLOWS=4 for a quick run of 4,000 tasks
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	begin := time.Now()
	out, rep, err := temporal.RunTemporal(ctx, tc, seed.FanOut, seed.FanOutIn{Flows: flows, Per: per},
		temporal.TaskQueue(queue), temporal.Record(false))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != flows*per {
		t.Fatalf("%d results, want %d", len(out), flows*per)
	}
	for i, v := range out {
		if v != i+1 {
			t.Fatalf("result %d is %d, want %d", i, v, i+1)
		}
	}
	want := flows*per + 2*flows
	if rep.Activities != want || rep.Batches == 0 {
		t.Errorf("%d activities in %d batches, want %d activities and some batches", rep.Activities, rep.Batches, want)
	}
	el := time.Since(begin)
	t.Logf("%d activities (%d in %d child workflows) in %v: %.0f activities/s", rep.Activities, rep.Activities-2000, rep.Batches, el.Round(time.Millisecond), float64(rep.Activities)/el.Seconds())
}
