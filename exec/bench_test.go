package exec_test

// Benchmarks of the executor against two baselines on the same shapes: a
// one-goroutine Kahn loop (the floor) and an errgroup runner (what people
// write by hand). Each iteration builds and runs one whole shape; building
// and running are timed apart, and memory is read around each phase.
//
// Sizes are about a million tasks. EVOLVE_BENCH_SCALE=tiny shrinks them to
// about a thousand so CI can run every case once, even with -race, and
// EVOLVE_BENCH_SCALE=small to about a hundred thousand:
//
//	EVOLVE_BENCH_SCALE=tiny go test ./exec -run '^$' -bench 'BenchmarkShapes|BenchmarkSubmit' -benchtime 1x -race
//	go test ./exec -run '^$' -bench 'BenchmarkShapes|BenchmarkSubmit' -benchmem -benchtime 3x -timeout 30m
//
// Metrics, all per task: ns/task (build and run), build-ns/task,
// run-ns/task, allocs/task and B/task (build and run), build-allocs/task,
// run-allocs/task, run-B/task, and held-B/task: heap bytes that the built
// graph (or adjacency list) retains, measured after a GC, before running.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"golang.org/x/sync/errgroup"
)

// benchDeadline bounds one run of the evolve runner, so that a deadlock
// fails the benchmark with a message instead of hanging until -timeout.
const benchDeadline = 5 * time.Minute

var benchWorkers = []int{1, 2}

func benchScaleFromEnv() benchScale { return benchScaleOf(os.Getenv("EVOLVE_BENCH_SCALE")) }

func BenchmarkShapes(b *testing.B) {
	sc := benchScaleFromEnv()
	for _, sh := range benchShapes(sc) {
		for _, w := range benchWorkers {
			b.Run(fmt.Sprintf("%s/evolve/workers=%d", sh.name, w), func(b *testing.B) {
				benchEvolve(b, sh, w, true)
			})
		}
		// The same graph built the other way, with graph.New: every add
		// takes the graph's lock, as several goroutines may add at once.
		b.Run(sh.name+"/shared/workers=1", func(b *testing.B) {
			benchEvolve(b, sh, 1, false)
		})
		b.Run(sh.name+"/sequential/workers=1", func(b *testing.B) {
			benchBaseline(b, sh, func(a *benchAdj, work func()) { benchSequential(a, work) })
		})
		b.Run(sh.name+"/atomics/workers=1", func(b *testing.B) {
			benchBaseline(b, sh, func(a *benchAdj, work func()) { benchAtomics(a, work) })
		})
		b.Run(sh.name+"/records/workers=1", func(b *testing.B) {
			benchRecords(b, sh)
		})
		for _, w := range benchWorkers {
			b.Run(fmt.Sprintf("%s/errgroup/workers=%d", sh.name, w), func(b *testing.B) {
				benchBaseline(b, sh, func(a *benchAdj, work func()) { runBenchErrgroup(a, w, work) })
			})
		}
	}
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("fib/evolve/workers=%d", w), func(b *testing.B) {
			benchFibRun(b, sc.fib, w, benchFibCalls(sc.fib), func(g graph.Builder, c *atomic.Int64) graph.Task[int] {
				return graph.Add(g, "fib", func(ctx context.Context) (int, error) { return benchFib(ctx, sc.fib, c) })
			})
		})
	}
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("fib/join/workers=%d", w), func(b *testing.B) {
			benchFibRun(b, sc.fib, w, 1, func(g graph.Builder, c *atomic.Int64) graph.Task[int] {
				return graph.Add(g, "fib", func(ctx context.Context) (int, error) { return benchFibJoin(ctx, sc.fib, c) })
			})
		})
	}
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("fib/flow/workers=%d", w), func(b *testing.B) {
			benchFibRun(b, sc.fib, w, benchFibCalls(sc.fib)+(benchFibCalls(sc.fib)-1)/2, func(g graph.Builder, c *atomic.Int64) graph.Task[int] {
				return benchFibFlow(g, sc.fib, c)
			})
		})
	}
	b.Run("fib/records/workers=1", func(b *testing.B) {
		benchFibRecords(b, sc.fib)
	})
}

// benchBuilt is a built shape and the counter its tasks add to.
type benchBuilt[G any] struct {
	g G
	c *atomic.Int64
}

// benchEvolve builds the shape with graph.Build (owned: one goroutine
// builds it, without the graph's lock, as Taskflow's builder does) or
// with graph.New (shared: every add takes the lock), and runs it.
func benchEvolve(b *testing.B, sh benchShape, workers int, owned bool) {
	benchEvolveFns(b, sh, workers, owned, newBenchFns)
}

// benchEvolveFns is benchEvolve with the task functions newFns makes,
// adding to the count it is given.
func benchEvolveFns(b *testing.B, sh benchShape, workers int, owned bool, newFns func(*atomic.Int64) benchFns) {
	var m benchMeter
	for range b.N {
		benchOp(b, &m,
			func() benchBuilt[*graph.Graph] {
				c := new(atomic.Int64)
				fns := newFns(c)
				var g *graph.Graph
				if owned {
					g = graph.Build(func(b graph.Builder) { sh.build(b, fns) })
				} else {
					g = graph.New()
					sh.build(g, fns)
				}
				return benchBuilt[*graph.Graph]{g, c}
			},
			func(x benchBuilt[*graph.Graph]) int {
				benchRunEvolve(b, x.g, workers)
				benchCheck(b, x.c, sh.want())
				if x.g.Len() != sh.n {
					b.Fatalf("graph has %d tasks, want %d", x.g.Len(), sh.n)
				}
				return sh.n
			})
	}
	m.report(b, true)
}

func benchBaseline(b *testing.B, sh benchShape, run func(*benchAdj, func())) {
	var m benchMeter
	for range b.N {
		benchOp(b, &m,
			func() benchBuilt[*benchAdj] {
				return benchBuilt[*benchAdj]{sh.adj(), new(atomic.Int64)}
			},
			func(x benchBuilt[*benchAdj]) int {
				c := x.c
				run(x.g, func() { c.Add(1) })
				benchCheck(b, c, sh.n)
				return sh.n
			})
	}
	m.report(b, true)
}

func benchRecords(b *testing.B, sh benchShape) {
	var m benchMeter
	for range b.N {
		benchOp(b, &m,
			func() benchBuilt[[]*benchRecord] {
				c := new(atomic.Int64)
				fn := func(x int) int { c.Add(1); return x }
				return benchBuilt[[]*benchRecord]{buildBenchRecords(&sh, fn), c}
			},
			func(x benchBuilt[[]*benchRecord]) int {
				runBenchRecords(x.g)
				benchCheck(b, x.c, sh.n)
				return sh.n
			})
	}
	m.report(b, true)
}

func benchRunEvolve(b *testing.B, g *graph.Graph, workers int) {
	ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
	defer cancel()
	if err := exec.Run(ctx, g, exec.Workers(workers)); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			b.Fatalf("run of %d tasks did not end in %v (deadlock?): %v", g.Len(), benchDeadline, err)
		}
		b.Fatal(err)
	}
}

func benchCheck(b *testing.B, c *atomic.Int64, want int) {
	if got := c.Load(); got != int64(want) {
		b.Fatalf("the tasks added %d to the count, want %d", got, want)
	}
}

// benchFib computes fib(n) in a task that spawns a child task for each of
// fib(n-1) and fib(n-2) and waits for both.
func benchFib(ctx context.Context, n int, c *atomic.Int64) (int, error) {
	c.Add(1)
	if n < 2 {
		return n, nil
	}
	s := dynamic.Scope(ctx)
	x := graph.Add(s, "fib", func(ctx context.Context) (int, error) { return benchFib(ctx, n-1, c) })
	y := graph.Add(s, "fib", func(ctx context.Context) (int, error) { return benchFib(ctx, n-2, c) })
	if err := dynamic.WaitAll(ctx, x, y); err != nil {
		return 0, err
	}
	u, err := x.Result()
	if err != nil {
		return 0, err
	}
	v, err := y.Result()
	if err != nil {
		return 0, err
	}
	return u + v, nil
}

// benchFibJoin computes fib(n) as benchFib does, with the two calls made
// by a fork-join call (dynamic.Join) instead of as tasks of the graph.
func benchFibJoin(ctx context.Context, n int, c *atomic.Int64) (int, error) {
	c.Add(1)
	if n < 2 {
		return n, nil
	}
	u, v, err := dynamic.Join(ctx,
		func(ctx context.Context) (int, error) { return benchFibJoin(ctx, n-1, c) },
		func(ctx context.Context) (int, error) { return benchFibJoin(ctx, n-2, c) })
	return u + v, err
}

func benchFibWant(n int) int {
	a, b := 0, 1
	for range n {
		a, b = b, a+b
	}
	return a
}

// benchFibRecord is a spawned task as the smallest graph that records its
// growth would keep it: its function, its result, the task that spawned
// it and its number. The `fib/records` runner is the floor of fib: the
// same recursion as plain calls, except that each spawned task is such a
// record, kept in the graph's list and run by a direct call at once.
// It is what allocating and keeping a record per spawned task costs in Go
// (the collector marking a heap that grows with the graph included),
// before any scheduling, waiting or concurrency.
type benchFibRecord struct {
	fn     func() int
	val    int
	parent *benchFibRecord
	id     int
}

type benchFibGraph struct{ tasks []*benchFibRecord }

func (g *benchFibGraph) spawn(parent *benchFibRecord, fn func() int) *benchFibRecord {
	r := &benchFibRecord{fn: fn, parent: parent, id: len(g.tasks)}
	g.tasks = append(g.tasks, r)
	return r
}

func (g *benchFibGraph) fib(self *benchFibRecord, n int, c *atomic.Int64) int {
	c.Add(1)
	if n < 2 {
		return n
	}
	x := g.spawn(self, nil)
	x.fn = func() int { return g.fib(x, n-1, c) }
	y := g.spawn(self, nil)
	y.fn = func() int { return g.fib(y, n-2, c) }
	x.val = x.fn()
	y.val = y.fn()
	return x.val + y.val
}

func benchFibRecords(b *testing.B, n int) {
	want := benchFibWant(n)
	var m benchMeter
	for range b.N {
		benchOp(b, &m,
			func() *benchFibGraph { return new(benchFibGraph) },
			func(g *benchFibGraph) int {
				c := new(atomic.Int64)
				root := g.spawn(nil, nil)
				if v := g.fib(root, n, c); v != want {
					b.Fatalf("fib(%d) = %d, want %d", n, v, want)
				}
				benchCheck(b, c, len(g.tasks))
				return len(g.tasks)
			})
	}
	m.report(b, false)
}

// benchFibFlow adds fib(n) the way Taskflow's Subflow computes it, without
// a blocking wait: each call with n >= 2 is a flow that emits its two
// children and a task adding their results, and finishes when they have;
// a call with n < 2 is a plain task. So a call costs a task, and one with
// children a second (the sum): the fib/flow runner reports ns per call,
// like fib/evolve and Taskflow's fib.
func benchFibFlow(b graph.Builder, n int, c *atomic.Int64) graph.Task[int] {
	if n < 2 {
		return graph.Add(b, "fib", func(context.Context) (int, error) {
			c.Add(1)
			return n, nil
		})
	}
	return graph.Flow(b, "fib", func(_ context.Context, s graph.Builder) (graph.Task[int], error) {
		c.Add(1)
		x := benchFibFlow(s, n-1, c)
		y := benchFibFlow(s, n-2, c)
		return graph.Add2(s, "sum", x, y, benchSum), nil
	})
}

func benchSum(_ context.Context, x, y int) (int, error) { return x + y, nil }

// benchFibCalls is how many calls fib(n) makes, itself included.
func benchFibCalls(n int) int {
	if n < 2 {
		return 1
	}
	return 1 + benchFibCalls(n-1) + benchFibCalls(n-2)
}

// benchFibRun runs fib(n) as root adds it to a new graph, on workers
// workers, and reports ns per fib call. root's tasks count each call on
// the counter they are given; the graph must end with sums tasks more
// than there are calls.
func benchFibRun(b *testing.B, n, workers, tasks int, root func(graph.Builder, *atomic.Int64) graph.Task[int]) {
	want, calls := benchFibWant(n), benchFibCalls(n)
	var m benchMeter
	for range b.N {
		type built struct {
			g    *graph.Graph
			root graph.Task[int]
			c    *atomic.Int64
		}
		benchOp(b, &m,
			func() built {
				c := new(atomic.Int64)
				g := graph.New()
				return built{g, root(g, c), c}
			},
			func(x built) int {
				benchRunEvolve(b, x.g, workers)
				v, err := x.root.Result()
				if err != nil || v != want {
					b.Fatalf("fib(%d) = %d, %v; want %d", n, v, err, want)
				}
				benchCheck(b, x.c, calls)
				if got := x.g.Len(); got != tasks {
					b.Fatalf("graph has %d tasks, want %d", got, tasks)
				}
				return calls
			})
	}
	m.report(b, false)
}

// BenchmarkWaitWide measures a task that adds n children and waits for
// them all in one call, running them on its own slot: ns per child. Up to
// session 12 each claim looked at every child again, so the wait cost
// O(n²) (20,000 children: 4-7 s, against 7 ms after).
func BenchmarkWaitWide(b *testing.B) {
	n := benchScaleFromEnv().n / 50
	idx := make([]int, n) // the children's arguments, for each and join
	for i := range idx {
		idx[i] = i
	}
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("evolve/workers=%d", w), func(b *testing.B) {
			for range b.N {
				c := new(atomic.Int64)
				g := graph.New()
				graph.Add(g, "parent", func(ctx context.Context) (int, error) {
					s := dynamic.Scope(ctx)
					kids := make([]graph.Task[int], n)
					for i := range kids {
						kids[i] = graph.Add(s, "kid", func(context.Context) (int, error) { c.Add(1); return i, nil })
					}
					return 0, dynamic.WaitAll(ctx, kids...)
				})
				benchRunEvolve(b, g, w)
				benchCheck(b, c, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
		})
		// The same fan-out added in one call (Dask's client.map from a
		// task): one hold of the graph's lock per 1,024 children, where
		// each Add above is a spawn of its own.
		b.Run(fmt.Sprintf("each/workers=%d", w), func(b *testing.B) {
			for range b.N {
				c := new(atomic.Int64)
				g := graph.New()
				graph.Add(g, "parent", func(ctx context.Context) (int, error) {
					kids := graph.AddEach(dynamic.Scope(ctx), "kid", idx, func(_ context.Context, i int) (int, error) { c.Add(1); return i, nil })
					return 0, dynamic.WaitAll(ctx, kids...)
				})
				benchRunEvolve(b, g, w)
				benchCheck(b, c, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
		})
		// The same fan-out as a fork-join call (dynamic.JoinEach): the
		// children are calls, not tasks of the graph.
		b.Run(fmt.Sprintf("join/workers=%d", w), func(b *testing.B) {
			for range b.N {
				c := new(atomic.Int64)
				g := graph.New()
				graph.Add(g, "parent", func(ctx context.Context) (int, error) {
					_, err := dynamic.JoinEach(ctx, idx, func(_ context.Context, i int) (int, error) { c.Add(1); return i, nil })
					return 0, err
				})
				benchRunEvolve(b, g, w)
				benchCheck(b, c, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
		})
	}
}

// BenchmarkSubmit measures client-side submission: tasks added from outside
// to a graph that is running, against the same tasks given to an errgroup.
func BenchmarkSubmit(b *testing.B) {
	n := benchScaleFromEnv().n
	for _, w := range benchWorkers {
		b.Run(fmt.Sprintf("evolve/workers=%d", w), func(b *testing.B) {
			var m benchMeter
			for range b.N {
				benchOp(b, &m, graph.New, func(g *graph.Graph) int {
					var c atomic.Int64
					f := newBenchFns(&c)
					ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
					defer cancel()
					e, err := exec.Start(ctx, g, exec.Workers(w))
					if err != nil {
						b.Fatal(err)
					}
					for range n {
						graph.Add(g, "submit", f.f0)
					}
					e.Close()
					if err := e.Wait(); err != nil {
						b.Fatalf("run of %d submitted tasks: %v", n, err)
					}
					benchCheck(b, &c, n)
					if g.Len() != n {
						b.Fatalf("graph has %d tasks, want %d", g.Len(), n)
					}
					return n
				})
			}
			m.report(b, false)
		})
		b.Run(fmt.Sprintf("errgroup/workers=%d", w), func(b *testing.B) {
			var m benchMeter
			for range b.N {
				benchOp(b, &m, func() struct{} { return struct{}{} }, func(struct{}) int {
					var c atomic.Int64
					work := func() error { c.Add(1); return nil }
					var eg errgroup.Group
					eg.SetLimit(w)
					for range n {
						eg.Go(work)
					}
					eg.Wait()
					benchCheck(b, &c, n)
					return n
				})
			}
			m.report(b, false)
		})
	}
}

// benchMeter adds up the phases of a benchmark's iterations.
type benchMeter struct {
	tasks                  int
	build, run             time.Duration
	buildAllocs, runAllocs uint64
	buildBytes, runBytes   uint64
	held                   int64
}

// benchOp builds and runs once. Building and running are timed apart;
// the GCs and memory reads between them are outside the benchmark timer.
// A GC before each phase gives both a clean heap, so that neither pays
// for the other's garbage.
func benchOp[G any](b *testing.B, m *benchMeter, build func() G, run func(G) int) {
	var s0, s1, s2, s3 runtime.MemStats
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&s0)
	b.StartTimer()
	t0 := time.Now()
	g := build()
	t1 := time.Now()
	b.StopTimer()
	runtime.ReadMemStats(&s1)
	runtime.GC()
	runtime.ReadMemStats(&s2)
	b.StartTimer()
	t2 := time.Now()
	tasks := run(g)
	t3 := time.Now()
	b.StopTimer()
	runtime.ReadMemStats(&s3)
	runtime.KeepAlive(g)

	m.tasks += tasks
	m.build += t1.Sub(t0)
	m.run += t3.Sub(t2)
	m.buildAllocs += s1.Mallocs - s0.Mallocs
	m.buildBytes += s1.TotalAlloc - s0.TotalAlloc
	m.runAllocs += s3.Mallocs - s2.Mallocs
	m.runBytes += s3.TotalAlloc - s2.TotalAlloc
	m.held += int64(s2.HeapAlloc) - int64(s0.HeapAlloc)
}

// report reports the per-task metrics; phases adds the build and run split
// and the bytes held by what was built.
func (m *benchMeter) report(b *testing.B, phases bool) {
	if m.tasks == 0 {
		return
	}
	t := float64(m.tasks)
	b.ReportMetric(float64(m.build+m.run)/t, "ns/task")
	b.ReportMetric(float64(m.buildAllocs+m.runAllocs)/t, "allocs/task")
	b.ReportMetric(float64(m.buildBytes+m.runBytes)/t, "B/task")
	if !phases {
		return
	}
	b.ReportMetric(float64(m.build)/t, "build-ns/task")
	b.ReportMetric(float64(m.run)/t, "run-ns/task")
	b.ReportMetric(float64(m.buildAllocs)/t, "build-allocs/task")
	b.ReportMetric(float64(m.runAllocs)/t, "run-allocs/task")
	b.ReportMetric(float64(m.runBytes)/t, "run-B/task")
	b.ReportMetric(float64(m.held)/t, "held-B/task")
}
