package exec_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWork is BenchmarkShapes with tasks that do something: every
// task of chain, tree, indep and wave keeps its core busy for 1 or 5 µs
// (busy) before its atomic add, at the shapes' small size (about 100,000
// tasks). It asks what a user with real tasks pays for the library, which
// trivial tasks cannot tell: ns/task less the work is the overhead, and
// workers=2 against workers=1 is what a second core buys. The `sequential`
// runner is the floor: the same work in a plain loop, in topological order;
// indep's `goroutines` runner is its floor on several cores: goroutines
// taking its tasks by an atomic counter.
// bench/work-taskflow.sh runs Taskflow's side (bench/work/work.cpp) in
// alternating rounds.
//
//	go test ./exec -run '^$' -bench BenchmarkWork -benchtime 3x
func BenchmarkWork(b *testing.B) {
	sc := benchScaleOf("small")
	if benchScaleFromEnv().name == "tiny" {
		sc = benchScaleOf("tiny")
	}
	for _, work := range []time.Duration{time.Microsecond, 5 * time.Microsecond} {
		for _, sh := range benchShapes(sc) {
			switch sh.name {
			case "chain", "tree", "indep", "wave":
			default:
				continue
			}
			name := fmt.Sprintf("%s/work=%dns", sh.name, work.Nanoseconds())
			b.Run(name+"/sequential/workers=1", func(b *testing.B) {
				benchBaseline(b, sh, func(a *benchAdj, add func()) {
					benchSequential(a, func() { busy(work); add() })
				})
			})
			for _, w := range benchWorkers {
				b.Run(fmt.Sprintf("%s/evolve/workers=%d", name, w), func(b *testing.B) {
					benchWorkEvolve(b, sh, work, w)
				})
				if sh.name == "indep" {
					b.Run(fmt.Sprintf("%s/goroutines/workers=%d", name, w), func(b *testing.B) {
						benchWorkGoroutines(b, sh.n, work, w)
					})
				}
			}
		}
	}
}

// benchWorkGoroutines is indep's floor on workers cores: that many
// goroutines taking tasks by an atomic counter and doing their work, with
// no graph and no queue.
func benchWorkGoroutines(b *testing.B, n int, work time.Duration, workers int) {
	var m benchMeter
	for range b.N {
		benchOp(b, &m,
			func() *atomic.Int64 { return new(atomic.Int64) },
			func(c *atomic.Int64) int {
				var next atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for next.Add(1) <= int64(n) {
							busy(work)
							c.Add(1)
						}
					})
				}
				wg.Wait()
				benchCheck(b, c, n)
				return n
			})
	}
	m.report(b, true)
}

// benchWorkEvolve is benchEvolve with tasks that are busy for work first.
func benchWorkEvolve(b *testing.B, sh benchShape, work time.Duration, workers int) {
	benchEvolveFns(b, sh, workers, true, func(c *atomic.Int64) benchFns {
		return benchFns{
			c:  c,
			f0: func(context.Context) (int, error) { busy(work); c.Add(1); return 0, nil },
			f1: func(_ context.Context, x int) (int, error) { busy(work); c.Add(1); return x, nil },
			f2: func(_ context.Context, x, y int) (int, error) { busy(work); c.Add(1); return x + y, nil },
		}
	})
}
