package exec_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/evolve-dag/evolve/graph"
	"golang.org/x/sync/errgroup"
)

// The shapes of BenchmarkShapes, each in two forms: a plain adjacency list
// (CSR) for the baseline runners, and an evolve graph. Both are built in
// creation order: an input before its consumers, and ids in that order.

// benchShape is one graph shape at one size.
type benchShape struct {
	name  string
	n     int // tasks
	edges int // input edges, to size the adjacency list
	// succ appends the consumers of task i to dst.
	succ func(i int32, dst []int32) []int32
	// build adds the shape to g, every task running fns.
	build func(g graph.Builder, fns benchFns)
	// sum is what the evolve runner's tasks add to the count, when not
	// n (one per task): indepclo's add their index plus one.
	sum int
}

// benchScale is the size of the shapes, from EVOLVE_BENCH_SCALE.
type benchScale struct {
	n     int // chain and indep length, submitted tasks
	depth int // tree depth: 2^(depth+1)-1 nodes
	k     int // wave side: k*k tasks
	fib   int // fib argument
	name  string
}

func benchScaleOf(s string) benchScale {
	switch s {
	case "tiny":
		return benchScale{n: 1000, depth: 9, k: 32, fib: 12, name: s}
	case "small":
		return benchScale{n: 100_000, depth: 16, k: 316, fib: 20, name: s}
	default:
		return benchScale{n: 1_000_000, depth: 19, k: 1024, fib: 25, name: "full"}
	}
}

// want is what the evolve runner's tasks add to the count in one run.
func (s *benchShape) want() int {
	if s.sum != 0 {
		return s.sum
	}
	return s.n
}

func benchShapes(sc benchScale) []benchShape {
	k := sc.k
	tree := 1<<(sc.depth+1) - 1
	return []benchShape{
		{
			name: "chain", n: sc.n, edges: sc.n - 1,
			succ: func(i int32, dst []int32) []int32 {
				if int(i)+1 < sc.n {
					dst = append(dst, i+1)
				}
				return dst
			},
			build: func(g graph.Builder, f benchFns) {
				t := graph.Add(g, "chain", f.f0)
				for i := 1; i < sc.n; i++ {
					t = graph.Add1(g, "chain", t, f.f1)
				}
			},
		},
		{
			name: "tree", n: tree, edges: tree - 1,
			succ: func(i int32, dst []int32) []int32 {
				for c := 2*i + 1; c <= 2*i+2 && int(c) < tree; c++ {
					dst = append(dst, c)
				}
				return dst
			},
			build: func(g graph.Builder, f benchFns) {
				ts := make([]graph.Task[int], tree)
				ts[0] = graph.Add(g, "tree", f.f0)
				for i := 1; i < tree; i++ {
					ts[i] = graph.Add1(g, "tree", ts[(i-1)/2], f.f1)
				}
			},
		},
		{
			name: "indep", n: sc.n, edges: 0,
			succ: func(i int32, dst []int32) []int32 { return dst },
			build: func(g graph.Builder, f benchFns) {
				for range sc.n {
					graph.Add(g, "indep", f.f0)
				}
			},
		},
		{
			// indep as users write it: each task a new closure capturing
			// its own index, so building allocates one per task (Taskflow's
			// side captures the index in its std::function).
			name: "indepclo", n: sc.n, edges: 0,
			succ: func(i int32, dst []int32) []int32 { return dst },
			// Taskflow's lambda adds one to the count and stores its index
			// with a relaxed store, a plain move; Go has no relaxed store
			// (an atomic one is a full exchange, about 7 ns here), so task
			// i adds i+1 instead: one atomic operation on the count, which
			// reads the captured index, as Taskflow's.
			build: func(g graph.Builder, f benchFns) {
				c := f.c
				for i := range sc.n {
					graph.Add(g, "indepclo", func(context.Context) (int, error) {
						c.Add(int64(i) + 1)
						return 0, nil
					})
				}
			},
			sum: sc.n * (sc.n + 1) / 2,
		},
		{
			// indepclo's tasks added the way a user mapping a function over
			// a slice writes it (Dask's client.map): one AddEach call, each
			// task given its own element instead of a closure capturing it.
			// Compare it with Taskflow's indep and indepclo.
			name: "indepeach", n: sc.n, edges: 0,
			succ: func(i int32, dst []int32) []int32 { return dst },
			build: func(g graph.Builder, f benchFns) {
				c := f.c
				idx := make([]int, sc.n)
				for i := range idx {
					idx[i] = i
				}
				graph.AddEach(g, "indepeach", idx, func(_ context.Context, i int) (int, error) {
					c.Add(int64(i) + 1) // as indepclo's
					return 0, nil
				})
			},
			sum: sc.n * (sc.n + 1) / 2,
		},
		{
			name: "wave", n: k * k, edges: 2 * k * (k - 1),
			succ: func(id int32, dst []int32) []int32 {
				i, j := int(id)/k, int(id)%k
				if i+1 < k {
					dst = append(dst, id+int32(k))
				}
				if j+1 < k {
					dst = append(dst, id+1)
				}
				return dst
			},
			build: func(g graph.Builder, f benchFns) {
				row := make([]graph.Task[int], k) // row[j]: the last task of column j
				for i := range k {
					for j := range k {
						var t graph.Task[int]
						switch {
						case i == 0 && j == 0:
							t = graph.Add(g, "wave", f.f0)
						case i == 0:
							t = graph.Add1(g, "wave", row[j-1], f.f1)
						case j == 0:
							t = graph.Add1(g, "wave", row[0], f.f1)
						default:
							t = graph.Add2(g, "wave", row[j], row[j-1], f.f2)
						}
						row[j] = t
					}
				}
			},
		},
	}
}

// benchFns are the task functions of the evolve runner: one atomic add
// each, passing ints along. They are built once per run and shared by all
// tasks, so building a task allocates no closure.
type benchFns struct {
	c  *atomic.Int64 // what they add to, for shapes that make a closure per task
	f0 func(context.Context) (int, error)
	f1 func(context.Context, int) (int, error)
	f2 func(context.Context, int, int) (int, error)
}

func newBenchFns(c *atomic.Int64) benchFns {
	return benchFns{
		c:  c,
		f0: func(context.Context) (int, error) { c.Add(1); return 0, nil },
		f1: func(_ context.Context, x int) (int, error) { c.Add(1); return x, nil },
		f2: func(_ context.Context, x, y int) (int, error) { c.Add(1); return x + y, nil },
	}
}

// benchAdj is a shape as a compressed adjacency list: the consumers of task
// i are to[off[i]:off[i+1]], and indeg[i] is how many inputs it has.
type benchAdj struct {
	off   []int32
	to    []int32
	indeg []int32
}

func (s *benchShape) adj() *benchAdj {
	a := &benchAdj{
		off:   make([]int32, s.n+1),
		to:    make([]int32, 0, s.edges),
		indeg: make([]int32, s.n),
	}
	for i := range int32(s.n) {
		a.off[i] = int32(len(a.to))
		a.to = s.succ(i, a.to)
		for _, c := range a.to[a.off[i]:] {
			a.indeg[c]++
		}
	}
	a.off[s.n] = int32(len(a.to))
	return a
}

// benchSequential is the floor: Kahn's algorithm on one goroutine, with a
// FIFO of ready tasks and plain in-degree counters.
func benchSequential(a *benchAdj, work func()) {
	pending := slices.Clone(a.indeg)
	fifo := make([]int32, 0, len(pending)) // every task is queued once: never grows
	for i, d := range pending {
		if d == 0 {
			fifo = append(fifo, int32(i))
		}
	}
	for h := 0; h < len(fifo); h++ {
		i := fifo[h]
		work()
		for _, c := range a.to[a.off[i]:a.off[i+1]] {
			pending[c]--
			if pending[c] == 0 {
				fifo = append(fifo, c)
			}
		}
	}
}

// benchErrgroup is the runner people write by hand: a goroutine per ready
// task on an errgroup with SetLimit(workers), atomic in-degree counters.
//
// A finishing task launches its ready consumers with TryGo, not Go: Go
// blocks while the group is full, and the caller holds one of its slots, so
// at workers=1 the first consumer would deadlock the run (STYLE.md: "it
// deadlocks (measured)"). When TryGo finds no free slot, the consumer runs
// on the finishing goroutine instead, from a local stack.
type benchErrgroup struct {
	a       *benchAdj
	pending []atomic.Int32
	eg      errgroup.Group
	work    func()
}

func runBenchErrgroup(a *benchAdj, workers int, work func()) {
	x := &benchErrgroup{a: a, pending: make([]atomic.Int32, len(a.indeg)), work: work}
	x.eg.SetLimit(workers)
	for i, d := range a.indeg {
		x.pending[i].Store(d)
	}
	// Roots start from this goroutine, which holds no slot: Go may block.
	for i, d := range a.indeg {
		if d == 0 {
			x.eg.Go(x.task(int32(i)))
		}
	}
	x.eg.Wait()
}

func (x *benchErrgroup) task(i int32) func() error {
	return func() error { x.run(i); return nil }
}

func (x *benchErrgroup) run(i int32) {
	var local [16]int32
	stack := append(local[:0], i)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x.work()
		for _, c := range x.a.to[x.a.off[i]:x.a.off[i+1]] {
			if x.pending[c].Add(-1) == 0 && !x.eg.TryGo(x.task(c)) {
				stack = append(stack, c)
			}
		}
	}
}

// benchRecord is a task as the smallest heap-allocated typed graph would
// store it: its function, its result, an in-degree counter and its
// consumers. The `records` runner builds one per task and runs them with
// the sequential floor's Kahn loop: what building and walking a graph of
// heap objects costs in Go (allocation, page faults, the collector marking
// them), before any scheduling, concurrency or growth.
type benchRecord struct {
	fn      func(int) int
	val     int
	pending int32
	succ1   *benchRecord   // the first consumer
	more    []*benchRecord // the others
}

// buildBenchRecords allocates and links the records of a shape, in
// creation order, as evolve's build does.
func buildBenchRecords(sh *benchShape, fn func(int) int) []*benchRecord {
	rs := make([]*benchRecord, sh.n)
	for i := range rs {
		rs[i] = &benchRecord{fn: fn}
	}
	var buf []int32
	for i, r := range rs {
		buf = sh.succ(int32(i), buf[:0])
		for j, c := range buf {
			if j == 0 {
				r.succ1 = rs[c]
			} else {
				r.more = append(r.more, rs[c])
			}
			rs[c].pending++
		}
	}
	return rs
}

// runBenchRecords is the sequential floor's Kahn loop over records.
func runBenchRecords(rs []*benchRecord) {
	fifo := make([]*benchRecord, 0, len(rs))
	for _, r := range rs {
		if r.pending == 0 {
			fifo = append(fifo, r)
		}
	}
	for h := 0; h < len(fifo); h++ {
		r := fifo[h]
		r.val = r.fn(r.val)
		if r.succ1 == nil {
			continue
		}
		for i := -1; i < len(r.more); i++ {
			c := r.succ1
			if i >= 0 {
				c = r.more[i]
			}
			c.val += r.val
			if c.pending--; c.pending == 0 {
				fifo = append(fifo, c)
			}
		}
	}
}

// benchAtomics is the sequential floor's Kahn loop with the per-task
// synchronisation that a runner must pay when other goroutines may add
// consumers, wait for results or cancel tasks while it runs: a CAS to claim
// each task, an atomic count-down and a CAS to make each consumer ready, an
// atomic store of the outcome, and a frame that recovers a panic. Same
// arrays, same single goroutine, no queue lock: it is the floor of the run
// of any executor whose graphs can grow while they run.
func benchAtomics(a *benchAdj, work func()) {
	const (
		waiting = iota
		ready
		running
		done
	)
	n := len(a.indeg)
	state := make([]atomic.Uint32, n)
	pending := make([]atomic.Int32, n)
	fifo := make([]int32, 0, n)
	for i, d := range a.indeg {
		pending[i].Store(d)
		if d == 0 {
			state[i].Store(ready)
			fifo = append(fifo, int32(i))
		}
	}
	call := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic: %v", v)
			}
		}()
		work()
		return nil
	}
	for h := 0; h < len(fifo); h++ {
		i := fifo[h]
		if !state[i].CompareAndSwap(ready, running) {
			continue
		}
		if call() != nil {
			panic("unreachable: work does not panic")
		}
		state[i].Store(done)
		for _, c := range a.to[a.off[i]:a.off[i+1]] {
			if pending[c].Add(-1) == 0 && state[c].CompareAndSwap(waiting, ready) {
				fifo = append(fifo, c)
			}
		}
	}
}
