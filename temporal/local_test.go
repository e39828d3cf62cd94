package temporal_test

import (
	"context"
	"testing"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

func TestSeedLocal(t *testing.T) {
	w, err := workload.Generate(1, 10, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	wantN, wantSum := w.Expected()
	for _, p := range []temporal.Program[workload.Workload, []float64]{seed.AsCompleted, seed.Goroutines, seed.TasksFromTasks} {
		out, rep, err := temporal.RunLocal(context.Background(), seed.Reg, p, w, temporal.Workers(6))
		if err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
		if len(out) != wantN || workload.Checksum(out) != wantSum {
			t.Errorf("%s: %d results, checksum %x; want %d, %x", p.Name(), len(out), workload.Checksum(out), wantN, wantSum)
		}
		t.Logf("%s: %d tasks", p.Name(), len(rep.Tasks))
	}
}
