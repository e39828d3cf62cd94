package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// gated builds n tasks "t0".."t<n-1>" returning their index, each blocked
// until the test closes its gate.
func gated(g graph.Builder, n int) ([]graph.Task[int], []chan struct{}) {
	gs := gates(n)
	ts := make([]graph.Task[int], n)
	for i := range ts {
		ts[i] = graph.Add(g, fmt.Sprint("t", i), func(ctx context.Context) (int, error) {
			return i, block(ctx, gs[i])
		})
	}
	return ts, gs
}

// TestAsCompletedYieldsInCompletionOrder: the test releases tasks in an
// order of its choosing, each once the previous one finished; AsCompleted,
// iterated concurrently, yields them in exactly that order, not in the
// order they were given.
func TestAsCompletedYieldsInCompletionOrder(t *testing.T) {
	for _, order := range [][]int{{3, 0, 4, 1, 2}, {4, 3, 2, 1, 0}, {0, 1, 2, 3, 4}, {2, 4, 0, 3, 1}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			g := graph.New()
			ts, gs := gated(g, 5)
			start(t, g, exec.Workers(len(ts)))
			c := dynamic.AsCompleted(ts...)
			if c.Len() != 5 {
				t.Errorf("Len() = %d; want 5", c.Len())
			}
			got := make(chan []int, 1)
			go func() {
				var yielded []int
				for task, err := range c.All(context.Background()) {
					if err != nil {
						yielded = append(yielded, -1)
						break
					}
					v, _ := task.Result()
					yielded = append(yielded, v)
				}
				got <- yielded
			}()
			for _, i := range order {
				close(gs[i])
				awaitClosed(t, ts[i].Done(), fmt.Sprint("t", i))
			}
			var yielded []int
			select {
			case yielded = <-got:
			case <-doneAfter(liveness):
				t.Fatalf("AsCompleted did not end")
			}
			if !slices.Equal(yielded, order) {
				t.Errorf("yielded %v; want the release order %v", yielded, order)
			}
			if c.Len() != 0 {
				t.Errorf("Len() after the loop = %d; want 0", c.Len())
			}
		})
	}
}

// TestAsCompletedOrderAfterTheFact: tasks that all finished before the
// iteration starts are yielded in the order they finished.
func TestAsCompletedOrderAfterTheFact(t *testing.T) {
	g := graph.New()
	ts, gs := gated(g, 6)
	start(t, g, exec.Workers(6))
	c := dynamic.AsCompleted(ts...)
	order := []int{5, 1, 3, 0, 4, 2}
	for _, i := range order {
		close(gs[i])
		awaitClosed(t, ts[i].Done(), fmt.Sprint("t", i))
	}
	var yielded []int
	for task, err := range c.All(context.Background()) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		yielded = append(yielded, mustResult(t, task))
	}
	if !slices.Equal(yielded, order) {
		t.Errorf("yielded %v; want %v", yielded, order)
	}
}

func mustResult[T any](t *testing.T, task graph.Task[T]) T {
	t.Helper()
	v, err := task.Result()
	if err != nil {
		t.Fatalf("%s: %v", task.Name(), err)
	}
	return v
}

// TestAsCompletedAcceptsTasksWhileIterating: the loop body adds new tasks
// (the client submits more work as results arrive); they are yielded too,
// failed tasks are yielded like the others, and Len counts what is left.
func TestAsCompletedAcceptsTasksWhileIterating(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			e := start(t, g, exec.Workers(workers))
			mk := func(name string, v int, fail bool) graph.Task[int] {
				return graph.Add(g, name, func(context.Context) (int, error) {
					if fail {
						return 0, errBoom
					}
					return v, nil
				})
			}
			c := dynamic.AsCompleted(mk("a", 1, false), mk("b", 2, false))
			seen := map[string]bool{}
			failed := 0
			for task, err := range c.All(context.Background()) {
				if err != nil {
					t.Fatalf("All: %v", err)
				}
				if seen[task.Name()] {
					t.Errorf("%s yielded twice", task.Name())
				}
				seen[task.Name()] = true
				if !task.State().Terminal() {
					t.Errorf("%s yielded while %v", task.Name(), task.State())
				}
				if task.Err() != nil {
					failed++
					continue
				}
				v := mustResult(t, task)
				if v < 50 { // a (1) and b (2) spawn two each, one failing, and so do a+ (10) and b+ (20)
					c.Add(mk(task.Name()+"+", v*10, false), mk(task.Name()+"!", 0, true))
				}
				if n := c.Len(); n < 0 {
					t.Errorf("Len() = %d", n)
				}
			}
			want := []string{"a", "b", "a+", "a!", "b+", "b!", "a++", "a+!", "b++", "b+!"}
			var got []string
			for name := range seen {
				got = append(got, name)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("yielded %q; want %q", got, want)
			}
			if failed != 4 {
				t.Errorf("%d failed tasks yielded; want 4", failed)
			}
			if c.Len() != 0 {
				t.Errorf("Len() = %d after the loop; want 0", c.Len())
			}
			// Adding after the loop ended, then iterating again, works too.
			c.Add(mk("late", 7, false))
			task, ok, err := c.Next(context.Background())
			if err != nil || !ok || mustResult(t, task) != 7 {
				t.Errorf("Next after a late Add = %v, %v, %v; want late", task, ok, err)
			}
			if task, ok, err := c.Next(context.Background()); ok || err != nil || task != (graph.Task[int]{}) {
				t.Errorf("Next on an empty Completed = %v, %v, %v; want zero, false, nil", task, ok, err)
			}
			if err := finish(t, e); err == nil {
				t.Errorf("run = nil; want an error for the failed tasks")
			}
		})
	}
}

// TestAsCompletedBreakEarly: breaking out of the loop leaves the rest for
// later calls and stops nothing.
func TestAsCompletedBreakEarly(t *testing.T) {
	g := graph.New()
	ts, gs := gated(g, 3)
	start(t, g, exec.Workers(3))
	c := dynamic.AsCompleted(ts...)
	close(gs[1])
	for task := range c.All(context.Background()) {
		if task != ts[1] {
			t.Errorf("first = %v; want t1", task)
		}
		break
	}
	if c.Len() != 2 {
		t.Errorf("Len() = %d after taking one; want 2", c.Len())
	}
	close(gs[0])
	close(gs[2])
	n := 0
	for _, err := range c.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 2 {
		t.Errorf("second loop yielded %d; want 2", n)
	}
}

// TestWaitAllAndWaitFirst: WaitAll returns once every task finished
// (failures are read from the tasks, not returned); WaitFirst returns the
// task that finished first, not the first given.
func TestWaitAllAndWaitFirst(t *testing.T) {
	g := graph.New()
	ts, gs := gated(g, 4)
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errBoom })
	start(t, g, exec.Workers(5))
	ctx := context.Background()

	type res struct {
		r   graph.Ref
		err error
	}
	first := make(chan res, 1)
	go func() {
		r, err := dynamic.WaitFirst(ctx, ts[0], ts[1], ts[2], ts[3])
		first <- res{r.Ref(), err}
	}()
	close(gs[2])
	var f res
	select {
	case f = <-first:
	case <-doneAfter(liveness):
		t.Fatalf("WaitFirst did not return")
	}
	if f.err != nil || f.r != ts[2].Ref() {
		t.Errorf("WaitFirst = %v, %v; want t2", f.r, f.err)
	}
	// All others still run: WaitFirst returned without waiting for them.
	for _, i := range []int{0, 1, 3} {
		if ts[i].State().Terminal() {
			t.Errorf("t%d is %v; want still running", i, ts[i].State())
		}
	}
	// A task already finished is returned at once.
	if r, err := dynamic.WaitFirst(ctx, ts[0], ts[2]); r != ts[2] || err != nil {
		t.Errorf("WaitFirst with a finished task = %v, %v; want t2", r, err)
	}

	all := make(chan error, 1)
	go func() { all <- dynamic.WaitAll(ctx, ts[0], ts[1], ts[2], ts[3], bad) }()
	close(gs[0])
	close(gs[3])
	select {
	case err := <-all:
		t.Fatalf("WaitAll returned (%v) while t1 still runs", err)
	default:
	}
	close(gs[1])
	select {
	case err := <-all:
		if err != nil {
			t.Errorf("WaitAll = %v; want nil (task failures are read from the tasks)", err)
		}
	case <-doneAfter(liveness):
		t.Fatalf("WaitAll did not return")
	}
	for i, task := range ts {
		check(t, task, i)
	}
	if !errors.Is(bad.Err(), errBoom) {
		t.Errorf("bad.Err() = %v", bad.Err())
	}
}

// TestGatherRaise: Gather in Raise mode returns at the first failure with
// an error naming the failed task that errors.Is takes to the cause,
// without waiting for a slow task, which the test releases only after
// Gather returned.
func TestGatherRaise(t *testing.T) {
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("inside a task=%v", inside), func(t *testing.T) {
			g := graph.New()
			slowGate := make(chan struct{})
			var slow graph.Task[int]
			gather := func(ctx context.Context, b graph.Builder) error {
				ok := graph.Add(b, "ok", func(context.Context) (int, error) { return 1, nil })
				slow = graph.Add(b, "slow", func(ctx context.Context) (int, error) { return 2, block(ctx, slowGate) })
				bad := graph.Add(b, "bad", func(context.Context) (int, error) { return 0, fmt.Errorf("bad input: %w", errBoom) })
				vs, err := dynamic.Gather(ctx, dynamic.Raise, ok, slow, bad)
				if vs != nil {
					return fmt.Errorf("Gather returned results %v with an error", vs)
				}
				return err
			}
			var err error
			if inside {
				// Workers(2): the slow task holds one; the gatherer gives its
				// own back while it waits.
				returned := make(chan struct{})
				graph.Add(g, "gatherer", func(ctx context.Context) (int, error) {
					err = gather(ctx, dynamic.Scope(ctx))
					close(returned)
					return 0, nil
				})
				e := start(t, g, exec.Workers(2))
				awaitClosed(t, returned, "Gather")
				if slow.State().Terminal() {
					t.Errorf("slow is %v when Gather returned; it is released only after", slow.State())
				}
				close(slowGate)
				finish(t, e)
			} else {
				e := start(t, g, exec.Workers(3))
				err = gather(context.Background(), g)
				if slow.State().Terminal() {
					t.Errorf("slow is %v when Gather returned; it is released only after", slow.State())
				}
				close(slowGate)
				finish(t, e)
			}
			if !errors.Is(err, errBoom) {
				t.Errorf("Gather = %v; want an error reaching errBoom", err)
			}
			var ge *graph.Error
			if !errors.As(err, &ge) || ge.Task != "bad" {
				t.Errorf("Gather = %v; want a *graph.Error naming bad", err)
			}
			check(t, slow, 2)
		})
	}
}

// TestGatherRaiseSkippedInput: a task skipped because its input failed
// makes Raise fail with an error that names the failure's origin.
func TestGatherRaiseSkippedInput(t *testing.T) {
	g := graph.New()
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errBoom })
	reader := graph.Add1(g, "reader", bad, func(_ context.Context, x int) (int, error) { return x, nil })
	e := start(t, g, exec.Workers(1))
	_, err := dynamic.Gather(context.Background(), dynamic.Raise, reader)
	finish(t, e)
	var se *graph.SkipError
	if !errors.Is(err, errBoom) || !errors.As(err, &se) || se.Task != "reader" || se.Failed != "bad" {
		t.Errorf("Gather = %v; want a SkipError of reader naming bad, reaching errBoom", err)
	}
}

// TestGatherSkip: Gather in Skip mode waits for every task and returns the
// results of those that succeeded, in the order given.
func TestGatherSkip(t *testing.T) {
	for _, inside := range []bool{false, true} {
		t.Run(fmt.Sprintf("inside a task=%v", inside), func(t *testing.T) {
			g := graph.New()
			build := func(b graph.Builder) []graph.Task[string] {
				var ts []graph.Task[string]
				var bad graph.Task[string]
				for i := range 7 {
					var task graph.Task[string]
					switch {
					case i == 2:
						bad = graph.Add(b, "bad", func(context.Context) (string, error) { return "x", errBoom })
						task = bad
					case i == 4:
						task = graph.Add1(b, "skipped", bad, func(_ context.Context, s string) (string, error) { return s, nil })
					case i == 5:
						task = graph.Add(b, "panics", func(context.Context) (string, error) { panic("oops") })
					default:
						task = graph.Add(b, fmt.Sprint("ok", i), func(context.Context) (string, error) { return fmt.Sprint("v", i), nil }, graph.Priority(-i))
					}
					ts = append(ts, task)
				}
				return ts
			}
			want := []string{"v0", "v1", "v3", "v6"}
			var got []string
			var err error
			if inside {
				graph.Add(g, "gatherer", func(ctx context.Context) (int, error) {
					got, err = dynamic.Gather(ctx, dynamic.Skip, build(dynamic.Scope(ctx))...)
					return 0, nil
				})
				run(t, g, exec.Workers(1))
			} else {
				ts := build(g)
				e := start(t, g, exec.Workers(2))
				got, err = dynamic.Gather(context.Background(), dynamic.Skip, ts...)
				finish(t, e)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Gather(Skip) = %q, %v; want %q", got, err, want)
			}
			// The error names the tasks that did not succeed, by position,
			// and errors.Is and errors.As reach each cause.
			var ge *dynamic.GatherError
			if !errors.As(err, &ge) {
				t.Fatalf("Gather(Skip) error = %v; want a *GatherError", err)
			}
			if !slices.Equal(ge.Index, []int{2, 4, 5}) || len(ge.Errs) != 3 {
				t.Errorf("GatherError = %v, %v; want Index [2 4 5] and 3 errors", ge.Index, ge.Errs)
			}
			var skip *graph.SkipError
			var pe *graph.PanicError
			if !errors.Is(err, errBoom) || !errors.As(err, &skip) || skip.Task != "skipped" || !errors.As(err, &pe) || pe.Task != "panics" {
				t.Errorf("Gather(Skip) error %v does not reach every cause", err)
			}
			const text = `gather: 3 of 7 tasks failed: task "bad": boom; task "skipped" skipped`
			if !strings.HasPrefix(err.Error(), text) {
				t.Errorf("Gather(Skip) error = %q; want it to begin %q", err, text)
			}
		})
	}
}

// TestAsCompletedInsideTask: with one worker, a task spawns children and
// iterates as-completed over them; waiting for each next one gives the
// slot back, so the children run and the task completes. Children added
// during the loop are yielded too.
func TestAsCompletedInsideTask(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var order log
			root := graph.Add(g, "root", func(ctx context.Context) (string, error) {
				s := dynamic.Scope(ctx)
				kids := make([]graph.Task[int], 5)
				for i := range kids {
					kids[i] = graph.Add(s, fmt.Sprint("k", i), func(context.Context) (int, error) {
						order.add(fmt.Sprint("k", i))
						return i, nil
					}, graph.Priority(i)) // k4 runs first
				}
				c := dynamic.AsCompleted(kids...)
				var names []string
				for k, err := range c.All(ctx) {
					if err != nil {
						return "", err
					}
					names = append(names, k.Name())
					if v := mustValue(k); v < 2 {
						c.Add(graph.Add(s, fmt.Sprint("k", v, "x"), func(context.Context) (int, error) { return 10 + v, nil }))
					}
				}
				slices.Sort(names)
				return strings.Join(names, ","), nil
			})
			if err := run(t, g, exec.Workers(workers)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			check(t, root, "k0,k0x,k1,k1x,k2,k3,k4")
			if workers == 1 {
				if got, want := order.all(), []string{"k4", "k3", "k2", "k1", "k0"}; !slices.Equal(got, want) {
					t.Errorf("children ran in order %q; want by priority %q", got, want)
				}
			}
		})
	}
}

func mustValue[T any](task graph.Task[T]) T {
	v, _ := task.Result()
	return v
}

// TestAsCompletedConcurrentAdd: tasks added to one Completed from several
// goroutines while another goroutine iterates are each yielded exactly
// once.
func TestAsCompletedConcurrentAdd(t *testing.T) {
	g := graph.New()
	first := graph.Add(g, "first", func(context.Context) (int, error) { return -1, nil })
	start(t, g, exec.Workers(4))
	c := dynamic.AsCompleted(first)
	hold := make(chan struct{})
	c.Add(graph.Add(g, "hold", func(ctx context.Context) (int, error) { return -2, block(ctx, hold) }))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				c.Add(graph.Add(g, "x", func(context.Context) (int, error) { return w*100 + i, nil }))
			}
		})
	}
	go func() { wg.Wait(); close(hold) }()
	seen := map[int]bool{}
	for task, err := range c.All(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		v := mustResult(t, task)
		if seen[v] {
			t.Errorf("%d yielded twice", v)
		}
		seen[v] = true
	}
	// hold keeps the loop going until every Add is done, so all are seen.
	if len(seen) != 402 {
		t.Errorf("yielded %d tasks; want 402", len(seen))
	}
}

// TestGatherSameTaskTwice: a task listed twice (as pure or keyed tasks
// often are: adding them again returns the same handle) is gathered twice,
// in its places; as-completed yields it once per Add.
func TestGatherSameTaskTwice(t *testing.T) {
	for _, mode := range []dynamic.Mode{dynamic.Raise, dynamic.Skip} {
		t.Run(fmt.Sprint("mode=", mode), func(t *testing.T) {
			g := graph.New()
			a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
			b := graph.Add(g, "b", func(context.Context) (int, error) { return 2, nil })
			// root outranks a and b: it gathers them before they ran.
			root := graph.Add(g, "root", func(ctx context.Context) ([]int, error) {
				return dynamic.Gather(ctx, mode, a, b, a)
			}, graph.Priority(1))
			if err := run(t, g, exec.Workers(1)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if v, err := root.Result(); err != nil || !slices.Equal(v, []int{1, 2, 1}) {
				t.Errorf("Gather([a b a]) = %v, %v; want [1 2 1]", v, err)
			}
		})
	}
	t.Run("AsCompleted", func(t *testing.T) {
		g := graph.New()
		gate := make(chan struct{})
		a := graph.Add(g, "a", func(ctx context.Context) (int, error) { return 1, block(ctx, gate) })
		start(t, g, exec.Workers(1))
		c := dynamic.AsCompleted(a, a)
		close(gate)
		ctx, cancel := context.WithTimeout(context.Background(), liveness)
		defer cancel()
		n := 0
		for task, err := range c.All(ctx) {
			if err != nil {
				t.Fatalf("All over [a a]: %v", err)
			}
			if task != a {
				t.Errorf("yielded %v", task)
			}
			n++
		}
		if n != 2 || c.Len() != 0 {
			t.Errorf("yielded a %d times, Len() = %d after; want twice (it was added twice) and nothing left", n, c.Len())
		}
	})
}
