package exec_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"golang.org/x/sync/errgroup"
)

// BenchmarkScaling measures what a second worker buys as tasks get longer:
// independent tasks that each keep a core busy for a while (0, 1 µs, 5 µs,
// 20 µs), run by evolve and by an errgroup with the same limit. The shapes
// of BenchmarkShapes do almost nothing per task, so there two workers
// mostly trade the run's shared state between cores; real tasks do work,
// and this shows from which task length on that trade stops mattering.
// Only the run is timed; run-ns/task divided by the work is the overhead.
//
//	go test ./exec -run '^$' -bench BenchmarkScaling -benchtime 3x
func BenchmarkScaling(b *testing.B) {
	n := 100_000
	if benchScaleFromEnv().name == "tiny" {
		n = 1000
	}
	for _, work := range []time.Duration{0, time.Microsecond, 5 * time.Microsecond, 20 * time.Microsecond} {
		tasks := n
		if work >= 5*time.Microsecond {
			tasks = n / 10 // the same order of run time as the shorter tasks
		}
		for _, w := range benchWorkers {
			b.Run(fmt.Sprintf("work=%v/evolve/workers=%d", work, w), func(b *testing.B) {
				var c atomic.Int64
				fn := func(context.Context) (int, error) { c.Add(1); return busy(work), nil }
				var run time.Duration
				for range b.N {
					b.StopTimer()
					g := graph.New()
					for range tasks {
						graph.Add(g, "t", fn)
					}
					b.StartTimer()
					t0 := time.Now()
					if err := exec.Run(context.Background(), g, exec.Workers(w)); err != nil {
						b.Fatal(err)
					}
					run += time.Since(t0)
				}
				benchCheck(b, &c, b.N*tasks)
				b.ReportMetric(float64(run)/float64(b.N*tasks), "run-ns/task")
			})
			b.Run(fmt.Sprintf("work=%v/errgroup/workers=%d", work, w), func(b *testing.B) {
				var c atomic.Int64
				fn := func() error { c.Add(1); busy(work); return nil }
				var run time.Duration
				for range b.N {
					t0 := time.Now()
					var eg errgroup.Group
					eg.SetLimit(w)
					for range tasks {
						eg.Go(fn)
					}
					if err := eg.Wait(); err != nil {
						b.Fatal(err)
					}
					run += time.Since(t0)
				}
				benchCheck(b, &c, b.N*tasks)
				b.ReportMetric(float64(run)/float64(b.N*tasks), "run-ns/task")
			})
		}
	}
}

// busy keeps the core busy for d and returns how often it looked at the
// clock, so the loop cannot be optimised away. A clock read costs tens of
// nanoseconds, which is why work=0 reads none.
func busy(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	k := 0
	for t0 := time.Now(); time.Since(t0) < d; k++ {
	}
	return k
}
