package temporal_test

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// TestSeedLocal runs the seed's growing variants in-process, and checks
// that the runs leave none of evolve's goroutines behind. (goleak cannot
// be used as is: the package shares a Temporal server, whose goroutines
// come and go during the test, and goleak ignores functions only by their
// exact names.)
func TestSeedLocal(t *testing.T) {
	before := evolveGoroutines()
	defer func() {
		var left []string
		for range 100 { // up to 2 s for goroutines that are ending
			left = slices.DeleteFunc(evolveGoroutines(), func(g string) bool { return slices.Contains(before, g) })
			if len(left) == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%d of evolve's goroutines outlived the runs: %s", len(left), strings.Join(left, ", "))
	}()
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

// evolveGoroutines returns the ids of the goroutines running evolve's code
// (a frame of github.com/evolve-dag/evolve), but for the caller's.
func evolveGoroutines() []string {
	buf := make([]byte, 1<<22)
	for n := runtime.Stack(buf, true); ; n = runtime.Stack(buf, true) {
		if n < len(buf) { // the server's thousands of goroutines may not fit
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 { // the caller's own goroutine comes first
			continue
		}
		// Goroutines are told apart by their id ("goroutine N [state]:").
		if strings.Contains(g, "github.com/evolve-dag/evolve/") {
			id, _, _ := strings.Cut(g, " [")
			out = append(out, id)
		}
	}
	return out
}
