package exec_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// BenchmarkObserve measures what observers cost on the run of the indep
// shape (the run alone: the graph is built outside the timer), with no
// observer (the executor builds no event at all), a no-op observer (the
// cost of building and delivering events), and a viz.Recorder (what
// drawing a run's states and trace costs).
//
//	go test ./exec -run '^$' -bench BenchmarkObserve -benchtime 5x
func BenchmarkObserve(b *testing.B) {
	n := 1 << 17
	if benchScaleFromEnv().name == "tiny" {
		n = 1 << 10
	}
	observers := []struct {
		name string
		make func() []exec.Option
	}{
		{"none", func() []exec.Option { return nil }},
		{"noop", func() []exec.Option { return []exec.Option{exec.Observe(exec.ObserverFunc(func(exec.Event) {}))} }},
		{"recorder", func() []exec.Option { return []exec.Option{exec.Observe(new(viz.Recorder))} }},
	}
	for _, o := range observers {
		for _, workers := range benchWorkers {
			b.Run(fmt.Sprintf("%s/workers=%d", o.name, workers), func(b *testing.B) {
				var c atomic.Int64
				fn := func(context.Context) (int, error) { c.Add(1); return 0, nil }
				var total int64
				for range b.N {
					b.StopTimer()
					g := graph.New()
					for range n {
						graph.Add(g, "t", fn)
					}
					opts := append(o.make(), exec.Workers(workers))
					b.StartTimer()
					if err := exec.Run(context.Background(), g, opts...); err != nil {
						b.Fatal(err)
					}
					total += int64(n)
				}
				if c.Load() != total {
					b.Fatalf("%d tasks ran, want %d", c.Load(), total)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "run-ns/task")
			})
		}
	}
}
