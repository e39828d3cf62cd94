package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestKeyComputedOnce: within one run, tasks added under the same key from
// many running tasks (and from clients) are one task, computed once; a
// different key is computed separately.
func TestKeyComputedOnce(t *testing.T) {
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var shared, other atomic.Int32
			var mu sync.Mutex
			var handles []graph.Task[int]
			got := func(h graph.Task[int]) {
				mu.Lock()
				handles = append(handles, h)
				mu.Unlock()
			}
			expensive := func(context.Context) (int, error) { shared.Add(1); return 42, nil }
			users := make([]graph.Task[int], 16)
			for i := range users {
				users[i] = graph.Add(g, fmt.Sprint("user", i), func(ctx context.Context) (int, error) {
					h := graph.Add(dynamic.Scope(ctx), "expensive", expensive, graph.Key("expensive/v1"))
					got(h)
					v, err := h.Wait(ctx)
					return v + i, err
				})
			}
			o := graph.Add(g, "expensive", func(context.Context) (int, error) { other.Add(1); return 7, nil }, graph.Key("expensive/v2"))
			e := start(t, g, exec.Workers(workers))
			eventually(t, "every user added the keyed task", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(handles) == len(users)
			})
			// Clients add it too, while the run goes on.
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() { got(graph.Add(g, "expensive", expensive, graph.Key("expensive/v1"))) })
			}
			wg.Wait()
			if err := finish(t, e); err != nil {
				t.Fatalf("run: %v", err)
			}
			first := handles[0]
			for _, h := range handles[1:] {
				if h != first {
					t.Errorf("a second task under the same key: %p and %p", h, first)
				}
			}
			n := len(handles)
			if n != 20 {
				t.Errorf("%d handles; want 20", n)
			}
			if s := shared.Load(); s != 1 {
				t.Errorf("the keyed task ran %d times; want once", s)
			}
			if o := other.Load(); o != 1 {
				t.Errorf("the other key's task ran %d times; want once", o)
			}
			check(t, o, 7)
			for i, u := range users {
				check(t, u, 42+i)
			}
			if c := first.Creator(); c == (graph.Ref{}) || !strings.HasPrefix(c.Name(), "user") {
				t.Errorf("the keyed task's creator = %v; want the user that added it first", c)
			}
		})
	}
}

// TestPureComputedOnce: pure tasks with the same name and the same inputs
// are one task, computed once, whether added before or during the run;
// another input or another name makes another task.
func TestPureComputedOnce(t *testing.T) {
	g := graph.New()
	var runs sync.Map // name+input -> *atomic.Int32
	count := func(k string) int32 {
		v, _ := runs.LoadOrStore(k, new(atomic.Int32))
		return v.(*atomic.Int32).Load()
	}
	sq := func(name string) func(context.Context, int) (int, error) {
		return func(_ context.Context, x int) (int, error) {
			v, _ := runs.LoadOrStore(fmt.Sprint(name, x), new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
			return x * x, nil
		}
	}
	three := graph.Value(g, "value", 3)
	four := graph.Value(g, "value", 4)
	a := graph.Add1(g, "square", three, sq("square"), graph.Pure())
	b := graph.Add1(g, "square", three, sq("square"), graph.Pure())
	if a != b {
		t.Errorf("two pure tasks with one name and one input are different handles")
	}
	var inside [4]graph.Task[int]
	root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		inside[0] = graph.Add1(s, "square", three, sq("square"), graph.Pure())
		inside[1] = graph.Add1(s, "square", four, sq("square"), graph.Pure())
		inside[2] = graph.Add1(s, "square", four, sq("square"), graph.Pure())
		inside[3] = graph.Add1(s, "sq", three, sq("sq"), graph.Pure())
		if err := dynamic.WaitAll(ctx, inside[0], inside[1], inside[2], inside[3]); err != nil {
			return 0, err
		}
		vs, err := results(inside[:])
		sum := 0
		for _, v := range vs {
			sum += v
		}
		return sum, err
	})
	if err := run(t, g, exec.Workers(2)); err != nil {
		t.Fatalf("Run: %v", err)
	}
	check(t, root, 9+16+16+9)
	if inside[0] != a {
		t.Errorf("square(3) added in the run is not the one built before")
	}
	if inside[1] != inside[2] {
		t.Errorf("square(4) added twice is two tasks")
	}
	if inside[1] == a || inside[3] == a {
		t.Errorf("another input or another name gave the same task")
	}
	for k, want := range map[string]int32{"square3": 1, "square4": 1, "sq3": 1} {
		if got := count(k); got != want {
			t.Errorf("%s ran %d times; want %d", k, got, want)
		}
	}
}

// TestKeyWithOtherResultTypeIsBuildError: reusing a key for a task of
// another result type is a building mistake, reported on the new task and
// on the graph, before or during a run; the first task is unaffected.
func TestKeyWithOtherResultTypeIsBuildError(t *testing.T) {
	g := graph.New()
	first := graph.Add(g, "f", func(context.Context) (int, error) { return 1, nil }, graph.Key("k"))
	wrong := graph.Add(g, "f", func(context.Context) (string, error) { return "x", nil }, graph.Key("k"))
	var ge *graph.Error
	if err := wrong.Err(); !errors.As(err, &ge) || ge.Task != "f" {
		t.Errorf("wrong.Err() = %v; want a *graph.Error for f", err)
	}
	if g.Err() == nil {
		t.Errorf("g.Err() = nil; want the key mistake")
	}
	if _, err := exec.Start(context.Background(), g); err == nil {
		t.Errorf("Start on a graph with a building mistake succeeded")
	}

	// During a run: the mistake fails the new task, not the run's existing tasks.
	g2 := graph.New()
	var inRun graph.Task[string]
	var inRunErr error
	root := graph.Add(g2, "root", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		k := graph.Add(s, "f", func(context.Context) (int, error) { return 1, nil }, graph.Key("k"))
		inRun = graph.Add(s, "f", func(context.Context) (string, error) { return "x", nil }, graph.Key("k"))
		_, inRunErr = inRun.Wait(ctx)
		return k.Wait(ctx)
	})
	run(t, g2, exec.Workers(1))
	check(t, root, 1)
	if inRun.State() != graph.Failed || !errors.As(inRunErr, &ge) {
		t.Errorf("the mistyped keyed task is %v with %v; want failed with a *graph.Error", inRun.State(), inRunErr)
	}
	if s := first.State(); s != graph.Idle {
		t.Errorf("first is %v; want idle (its graph could not start)", s)
	}
}
