package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestEachTaskRunsOnceAfterItsInputsSucceeded runs random DAGs in which some
// tasks fail, on pools of several sizes, and checks that every task ran at
// most once, that a task ran exactly when all its inputs succeeded, that it
// started only after every input's function returned, and that each task
// ends in the state that follows.
func TestEachTaskRunsOnceAfterItsInputsSucceeded(t *testing.T) {
	for _, workers := range []int{1, 2, 4, 8} {
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 1))
			d := randomDAG(rng, 1+rng.IntN(60), 3, 0, 2)
			n := len(d.prio)
			fails := make([]bool, n)
			for i := range fails {
				fails[i] = rng.IntN(10) == 0
			}

			var clock atomic.Int64
			runs := make([]atomic.Int32, n)
			start := make([]atomic.Int64, n)
			end := make([]atomic.Int64, n)
			g := graph.New()
			ts := d.build(g, func(ctx context.Context, i int) (int, error) {
				runs[i].Add(1)
				start[i].Store(clock.Add(1))
				defer func() { end[i].Store(clock.Add(1)) }()
				if fails[i] {
					return 0, errBoom
				}
				return i, nil
			})
			err := runGuarded(t, t.Context(), g, exec.Workers(workers))

			where := fmt.Sprintf("workers=%d seed=%d", workers, seed)
			// ok[i]: every input of i, directly, succeeded; succeeded[i]: i itself did.
			succeeded := make([]bool, n)
			wantFailed, wantSkipped := 0, 0
			for i := range n {
				ok := true
				for _, j := range d.in[i] {
					ok = ok && succeeded[j]
				}
				switch r := runs[i].Load(); {
				case r > 1:
					t.Fatalf("%s: t%d ran %d times", where, i, r)
				case ok && r != 1:
					t.Fatalf("%s: t%d did not run although its inputs succeeded (state %v, err %v)", where, i, ts[i].State(), ts[i].Err())
				case !ok && r != 0:
					t.Fatalf("%s: t%d ran although an input failed", where, i)
				}
				for _, j := range d.in[i] {
					if ok && start[i].Load() <= end[j].Load() {
						t.Fatalf("%s: t%d started (at %d) before its input t%d returned (at %d)", where, i, start[i].Load(), j, end[j].Load())
					}
				}
				succeeded[i] = ok && !fails[i]
				var want graph.State
				switch {
				case succeeded[i]:
					want = graph.Done
					if v, err := ts[i].Result(); err != nil || v != i {
						t.Fatalf("%s: t%d.Result() = %v, %v; want %d, nil", where, i, v, err, i)
					}
				case ok:
					want = graph.Failed
					wantFailed++
				default:
					want = graph.Skipped
					wantSkipped++
				}
				if s := ts[i].State(); s != want {
					t.Fatalf("%s: t%d is %v, want %v (err %v)", where, i, s, want, ts[i].Err())
				}
			}
			if wantFailed == 0 {
				if err != nil {
					t.Fatalf("%s: Run = %v, want nil", where, err)
				}
				continue
			}
			var ee *exec.Error
			if !errors.As(err, &ee) {
				t.Fatalf("%s: Run = %v (%T), want *exec.Error", where, err, err)
			}
			if ee.Failed != wantFailed || ee.Skipped != wantSkipped {
				t.Fatalf("%s: Run's error counts %d failed, %d skipped; want %d, %d", where, ee.Failed, ee.Skipped, wantFailed, wantSkipped)
			}
		}
	}
}

// TestOneWorkerRunsInPriorityOrder checks the whole run order of one worker
// against referenceOrder on 300 random DAGs of up to 60 nodes with
// priorities in [-3, 3]: ready tasks start by priority, higher first, and
// equal priorities in creation order. Another 300 have half their nodes
// roots, of two priorities, so that the roots reach the run as many spans
// of ids (see queue) whose heads are ranked with each other and with the
// tasks their completions make ready. Another 300 begin with 16 to 200
// roots of priority 0, one span that the queue lends to the worker (see
// open.go), and go on with tasks that read them, of priorities -1 to 1.
// The last 300 are trees in breadth-first order (treeDAG), whose levels
// the queue holds as a span that grows as their nodes become ready, a
// third of them with other priorities and inputs mixed in.
func TestOneWorkerRunsInPriorityOrder(t *testing.T) {
	for seed := range uint64(1200) {
		rng := rand.New(rand.NewPCG(seed, 2))
		d := randomDAG(rng, 1+rng.IntN(60), 4, -3, 3)
		switch {
		case seed >= 900:
			d = treeDAG(rng, 20+rng.IntN(400), 2+rng.IntN(3), seed%3 == 0)
		case seed >= 600:
			d = wideDAG(rng, 16+rng.IntN(185), rng.IntN(80))
		case seed >= 300:
			d = randomDAG(rng, 1+rng.IntN(60), 1, 0, 1)
		}
		var mu sync.Mutex
		var got []int
		g := graph.New()
		ts := d.build(g, func(_ context.Context, i int) (int, error) {
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			return i, nil
		})
		for i, tk := range ts {
			if tk.ID() != int64(i) {
				t.Fatalf("seed %d: task %d has ID %d; IDs must follow creation order", seed, i, tk.ID())
			}
		}
		if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
			t.Fatalf("seed %d: Run: %v", seed, err)
		}
		if want := referenceOrder(d); !slices.Equal(got, want) {
			t.Fatalf("seed %d: run order\n got %v\nwant %v\n(priorities %v, inputs %v)", seed, got, want, d.prio, d.in)
		}
	}
}

// treeDAG is a k-ary tree of n nodes in breadth-first order, each reading
// its parent, so that each completion makes the next ids ready (which a
// run of one worker queues at the end of the span it lends: see
// runner.extendOpen). mixed gives a node in ten a priority of -1 to 2
// instead of 0, and a node in ten a second input, an earlier node.
func treeDAG(rng *rand.Rand, n, k int, mixed bool) dag {
	d := dag{prio: make([]int, n), in: make([][]int, n)}
	for i := 1; i < n; i++ {
		d.in[i] = []int{(i - 1) / k}
		if mixed && rng.IntN(10) == 0 {
			d.prio[i] = rng.IntN(4) - 1
		}
		if mixed && rng.IntN(10) == 0 {
			d.in[i] = append(d.in[i], rng.IntN(i))
		}
	}
	return d
}

// wideDAG is roots nodes without inputs, of priority 0, then more nodes
// reading one to three earlier nodes each, of priorities -1 to 1.
func wideDAG(rng *rand.Rand, roots, more int) dag {
	n := roots + more
	d := dag{prio: make([]int, n), in: make([][]int, n)}
	for i := roots; i < n; i++ {
		d.prio[i] = rng.IntN(3) - 1
		for range 1 + rng.IntN(3) {
			d.in[i] = append(d.in[i], rng.IntN(i))
		}
	}
	return d
}

// TestOneWorkerOrderWithObserver repeats the priority check with an
// observer attached, which takes other code paths for ready events.
func TestOneWorkerOrderWithObserver(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 3))
		d := randomDAG(rng, 1+rng.IntN(60), 3, -2, 2)
		var got []int
		g := graph.New()
		d.build(g, func(_ context.Context, i int) (int, error) { return i, nil })
		obs := exec.ObserverFunc(func(e exec.Event) {
			if e.Kind == exec.EventStarted {
				got = append(got, int(e.Task.ID())) // one worker: events come one at a time
			}
		})
		if err := runGuarded(t, t.Context(), g, exec.Workers(1), exec.Observe(obs)); err != nil {
			t.Fatalf("seed %d: Run: %v", seed, err)
		}
		if want := referenceOrder(d); !slices.Equal(got, want) {
			t.Fatalf("seed %d: start order\n got %v\nwant %v", seed, got, want)
		}
	}
}

// TestTypedInputsArriveInOrder checks that Add1, Add2, Add3 and AddN hand each
// function its inputs' results, in the order the inputs were given.
func TestTypedInputsArriveInOrder(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, "value", 2)
	b := graph.Add(g, "b", func(context.Context) (string, error) { return "x", nil })
	c := graph.Add1(g, "c", a, func(_ context.Context, x int) (float64, error) { return float64(x) / 4, nil })
	two := graph.Add2(g, "two", a, b, func(_ context.Context, x int, s string) (string, error) { return fmt.Sprint(s, x), nil })
	three := graph.Add3(g, "three", b, c, a, func(_ context.Context, s string, f float64, x int) (string, error) {
		return fmt.Sprintf("%s|%v|%d", s, f, x), nil
	})
	ns := []graph.Task[int]{a, graph.Value(g, "value", 5), a, graph.Add(g, "seven", func(context.Context) (int, error) { return 7, nil })}
	n := graph.AddN(g, "n", ns, func(_ context.Context, xs []int) ([]int, error) { return xs, nil })
	if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := two.Result(); v != "x2" || err != nil {
		t.Errorf("two = %q, %v; want x2", v, err)
	}
	if v, err := three.Result(); v != "x|0.5|2" || err != nil {
		t.Errorf("three = %q, %v; want x|0.5|2", v, err)
	}
	if v, err := n.Result(); !slices.Equal(v, []int{2, 5, 2, 7}) || err != nil {
		t.Errorf("n = %v, %v; want [2 5 2 7]", v, err)
	}
}
