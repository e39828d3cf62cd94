package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestAddEachFromATask: a running task maps over its items with AddEach,
// as the notebook's tasks do with client.map, and gathers the results;
// every task it added records it as their creator. Without options the
// tasks are added as spawns (without the graph's lock, the first one
// excepted); with one (Retries, here retried once each), under the lock
// and held back until the call returns.
func TestAddEachFromATask(t *testing.T) {
	for _, retried := range []bool{false, true} {
		t.Run(fmt.Sprintf("retried=%v", retried), func(t *testing.T) { addEachFromATask(t, retried) })
	}
}

func addEachFromATask(t *testing.T, retried bool) {
	g := graph.New()
	var kids []graph.Task[int]
	parent := graph.Add(g, "f", func(ctx context.Context) (int, error) {
		var opts []graph.Option
		tries := map[int]*atomic.Int32{}
		for x := range 3000 {
			tries[x] = new(atomic.Int32)
		}
		if retried {
			opts = append(opts, graph.Retries(1, 0))
		}
		items := make([]int, 3000)
		for i := range items {
			items[i] = i
		}
		kids = graph.AddEach(dynamic.Scope(ctx), "item", items, func(_ context.Context, x int) (int, error) {
			if retried && tries[x].Add(1) == 1 {
				return 0, errBoom
			}
			return 10 * x, nil
		}, opts...)
		got, err := dynamic.Gather(ctx, dynamic.Raise, kids...)
		sum := 0
		for _, v := range got {
			sum += v
		}
		return sum, err
	})
	if err := run(t, g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := parent.Result(); v != 10*3000*2999/2 || err != nil {
		t.Fatalf("f = %v, %v; want %d", v, err, 10*3000*2999/2)
	}
	for i, k := range kids {
		if k.Creator() != parent.Ref() {
			t.Fatalf("item %d: creator %v, want %v", i, k.Creator(), parent.Ref())
		}
	}
}

// TestAddEachReachesARunAsOneStep: a client's AddEach into a running graph
// whose worker is idle queues its tasks together when it returns, as a
// Batch does: none starts while the call is still adding the later ones,
// a few thousand, under several holds of the graph's lock. The first task
// to start counts the graph's tasks: one by one, it would often find only
// the first chunk.
func TestAddEachReachesARunAsOneStep(t *testing.T) {
	const k = 5000
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	for round := range 20 {
		base := g.Len()
		var seen atomic.Int64
		tasks := graph.AddEach(g, "item", make([]int, k), func(context.Context, int) (int, error) {
			seen.CompareAndSwap(0, int64(g.Len()-base))
			return 0, nil
		})
		if err := dynamic.WaitAll(ctx, tasks...); err != nil {
			t.Fatal(err)
		}
		if got := seen.Load(); got != k {
			t.Fatalf("round %d: the first task started with %d of the %d tasks in the graph", round, got, k)
		}
	}
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
}

// TestAddEachFromManyGoroutines: clients and tasks mapping at once over
// the same inputs, while the run goes on, each get every task they asked
// for, reading the right input (run it with -race).
func TestAddEachFromManyGoroutines(t *testing.T) {
	g := graph.New()
	in := graph.AddEach(g, "in", []int{1, 2, 3, 4, 5, 6, 7, 8}, func(_ context.Context, x int) (int, error) { return x, nil })
	e := start(t, g, exec.Workers(2))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	sums := make([]graph.Task[int], 8)
	var wg sync.WaitGroup
	for c := range sums {
		wg.Go(func() {
			if c%2 == 1 { // from a task
				sums[c] = graph.Add(g, "mapper", func(ctx context.Context) (int, error) {
					out := graph.AddEach1(dynamic.Scope(ctx), "times", in, func(_ context.Context, x int) (int, error) { return c * x, nil })
					vs, err := dynamic.Gather(ctx, dynamic.Raise, out...)
					return slices.Max(vs), err
				})
				return
			}
			out := graph.AddEach1(g, "times", in, func(_ context.Context, x int) (int, error) { return c * x, nil })
			sums[c] = graph.AddN(g, "max", out, func(_ context.Context, vs []int) (int, error) { return slices.Max(vs), nil })
		})
	}
	wg.Wait()
	for c, s := range sums {
		if v, err := s.Wait(ctx); v != 8*c || err != nil {
			t.Fatalf("goroutine %d: %v, %v; want %d", c, v, err, 8*c)
		}
	}
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
}

// TestRandomAddEach: seeded runs in which two clients and the tasks of
// a run map over values and over tasks at once, with failing elements,
// failing inputs and priorities, and some runs stopped part-way. Every
// task must end, each element's task must compute its own element's
// value or fail with its own error, and a task reading a failed input
// must be skipped, never run. EVOLVE_EACH_SEEDS and EVOLVE_EACH_FROM
// choose the seeds.
func TestRandomAddEach(t *testing.T) {
	seeds := 200
	if testing.Short() || raceEnabled {
		seeds = 40
	}
	seeds = stressEnv(t, "EVOLVE_EACH_SEEDS", seeds, 1)
	from := stressEnv(t, "EVOLVE_EACH_FROM", 0, 0)
	for seed := from; seed < from+seeds; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { randomAddEach(t, uint64(seed)) })
	}
}

// eachElem is an element of a random AddEach: its value, and whether its
// task fails.
type eachElem struct {
	x    int
	fail bool
	ran  *atomic.Int32 // bodies run
}

func randomAddEach(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0))
	g := graph.New()
	var mu sync.Mutex
	type mapped struct {
		in    []eachElem        // AddEach's elements, or nil
		from  []graph.Task[int] // AddEach1's inputs, or nil
		tasks []graph.Task[int] // what the call returned
	}
	var calls []*mapped
	var anyFail atomic.Bool
	square := func(_ context.Context, e eachElem) (int, error) {
		e.ran.Add(1)
		if e.fail {
			return 0, errBoom
		}
		return e.x * e.x, nil
	}
	addEach := func(b graph.Builder, rng *rand.Rand) {
		m := &mapped{}
		var opts []graph.Option
		if rng.IntN(2) == 0 {
			opts = append(opts, graph.Priority(rng.IntN(3)))
		}
		mu.Lock()
		if len(calls) > 0 && rng.IntN(2) == 0 {
			for range 1 + rng.IntN(40) {
				src := calls[rng.IntN(len(calls))]
				m.from = append(m.from, src.tasks[rng.IntN(len(src.tasks))])
			}
		}
		mu.Unlock()
		if m.from != nil {
			m.tasks = graph.AddEach1(b, "plus1", m.from, func(_ context.Context, x int) (int, error) { return x + 1, nil }, opts...)
		} else {
			m.in = make([]eachElem, 1+rng.IntN(1500))
			for i := range m.in {
				m.in[i] = eachElem{x: rng.IntN(1000), fail: rng.IntN(20) == 0, ran: new(atomic.Int32)}
				if m.in[i].fail {
					anyFail.Store(true)
				}
			}
			m.tasks = graph.AddEach(b, "square", m.in, square, opts...)
		}
		mu.Lock()
		calls = append(calls, m)
		mu.Unlock()
	}
	addEach(g, rng)
	e := start(t, g, exec.Workers(1+rng.IntN(3)))
	stopped := rng.IntN(4) == 0
	if stopped {
		time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, e.Stop)
	}
	var clients sync.WaitGroup
	for c := range 2 {
		crng := rand.New(rand.NewPCG(seed, uint64(c)+1))
		clients.Go(func() {
			for range 6 {
				if crng.IntN(3) == 0 {
					// A task that maps and gathers what it mapped.
					trng := rand.New(rand.NewPCG(crng.Uint64(), 0))
					graph.Add(g, "mapper", func(ctx context.Context) (int, error) {
						addEach(dynamic.Scope(ctx), trng)
						return 0, nil
					})
					continue
				}
				addEach(g, crng)
			}
		})
	}
	clients.Wait()
	runErr := finish(t, e)
	if !stopped && (runErr == nil) == anyFail.Load() {
		t.Fatalf("the run returned %v, with elements told to fail: %v", runErr, anyFail.Load())
	}
	for _, m := range calls {
		for i, x := range m.tasks {
			s := x.State()
			if !s.Terminal() && s != graph.Idle {
				t.Fatalf("%v is %v after the run", x, s)
			}
			if s == graph.Idle && !stopped {
				t.Fatalf("%v never ran in a run that was not stopped", x)
			}
			v, err := x.Result()
			switch {
			case m.from != nil:
				in := m.from[i]
				if in.State() == graph.Failed || in.State() == graph.Skipped {
					if s == graph.Done {
						t.Fatalf("%v succeeded, reading %v, which is %v", x, in, in.State())
					}
					continue
				}
				if s == graph.Done {
					w, _ := in.Result()
					if v != w+1 {
						t.Fatalf("%v = %d, its input %v = %d", x, v, in, w)
					}
				}
			case m.in[i].ran.Load() > 1 || s == graph.Done && m.in[i].ran.Load() != 1:
				t.Fatalf("%v is %v, its body ran %d times", x, s, m.in[i].ran.Load())
			case m.in[i].fail:
				if s == graph.Done || s == graph.Failed && !errors.Is(err, errBoom) {
					t.Fatalf("%v told to fail: %v, %v", x, s, err)
				}
			case s == graph.Done && v != m.in[i].x*m.in[i].x:
				t.Fatalf("%v = %d, want %d", x, v, m.in[i].x*m.in[i].x)
			case s == graph.Failed && !stopped:
				t.Fatalf("%v failed: %v", x, err)
			}
		}
	}
}

// eventLog counts each task's events by kind, for an observed run.
type eventLog struct {
	mu     sync.Mutex
	events map[graph.Ref][]exec.EventKind
}

func (l *eventLog) Observe(e exec.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.events == nil {
		l.events = map[graph.Ref][]exec.EventKind{}
	}
	l.events[e.Task] = append(l.events[e.Task], e.Kind)
}

// TestAddEachInAnObservedRun: an observed run is told of every task a
// client's AddEach adds while it runs, in the order of each task's life
// (created, ready, started, finished), although the tasks are held back
// until the call returns.
func TestAddEachInAnObservedRun(t *testing.T) {
	g := graph.New()
	var log eventLog
	e := start(t, g, exec.Workers(2), exec.Observe(&log))
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	tasks := graph.AddEach(g, "item", make([]int, 2500), func(context.Context, int) (int, error) { return 1, nil })
	if err := dynamic.WaitAll(ctx, tasks...); err != nil {
		t.Fatal(err)
	}
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
	want := []exec.EventKind{exec.EventCreated, exec.EventReady, exec.EventStarted, exec.EventFinished}
	for i, x := range tasks {
		if got := log.events[x.Ref()]; !slices.Equal(got, want) {
			t.Fatalf("task %d: events %v, want %v", i, got, want)
		}
	}
}
