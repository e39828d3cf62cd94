package graph_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// shapeOf lists, in creation order, each task's name and its inputs' ids:
// what two ways of building the same steps must agree on.
func shapeOf(g *graph.Graph) []string {
	var out []string
	for r := range g.Tasks() {
		ins := []int64{}
		for _, in := range r.Inputs() {
			ins = append(ins, in.ID())
		}
		out = append(out, fmt.Sprintf("%d %s %v %d created by %d", r.ID(), r.Name(), ins, r.Priority(), r.Creator().ID()))
	}
	return out
}

// buildSteps adds a small graph of every constructor through b, with a
// key, a pure task and an option, and returns its last task.
func buildSteps(b graph.Builder) graph.Task[int] {
	v := graph.Value(b, "v", 2)
	a := graph.Add(b, "a", func(context.Context) (int, error) { return 3, nil }, graph.Priority(2))
	s := graph.Add2(b, "sum", v, a, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	k := graph.Add1(b, "keyed", s, id, graph.Key("k"))
	if again := graph.Add1(b, "keyed-again", s, id, graph.Key("k")); again != k {
		panic("a key added twice gave two tasks")
	}
	p := graph.Add1(b, "pure", k, id, graph.Pure())
	// Tasks recorded as added by another: not cut from the slabs, locked.
	child := graph.Add1(graph.Within(k), "child", p, id)
	graph.AddEach(graph.Within(child), "grandchildren", []int{4, 5}, func(_ context.Context, x int) (int, error) { return x, nil })
	items := graph.AddEach(b, "each", []int{1, 2, 3}, func(_ context.Context, x int) (int, error) { return x, nil })
	all := graph.AddN(b, "all", append(items, p), func(_ context.Context, xs []int) (int, error) {
		t := 0
		for _, x := range xs {
			t += x
		}
		return t, nil
	})
	return graph.Add3(b, "last", all, v, a, func(_ context.Context, x, y, z int) (int, error) { return x * y * z, nil })
}

// TestBuildIsNewWithoutTheLock: the steps give the same graph through
// Build as through New, which runs to the same result.
func TestBuildIsNewWithoutTheLock(t *testing.T) {
	shared := graph.New()
	want := buildSteps(shared)
	var got graph.Task[int]
	owned := graph.Build(func(b graph.Builder) { got = buildSteps(b) })
	if s, o := shapeOf(shared), shapeOf(owned); !slices.Equal(s, o) {
		t.Fatalf("built with Build:\n%v\nwith New:\n%v", o, s)
	}
	if got.Graph() != owned || owned.Err() != nil {
		t.Fatalf("the last task's graph is %p, Build returned %p; Err %v", got.Graph(), owned, owned.Err())
	}
	for _, g := range []*graph.Graph{shared, owned} {
		if err := exec.Run(t.Context(), g); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := want.Result()
	v, err := got.Result()
	if err != nil || v != w || v != (2+3+1+2+3)*2*3 {
		t.Fatalf("Result = %d, %v; want %d (as New's graph computed: %d)", v, err, (2+3+1+2+3)*2*3, w)
	}
}

// TestBuildNilFunc: a nil function builds an empty graph that says why.
func TestBuildNilFunc(t *testing.T) {
	g := graph.Build(nil)
	if g == nil || g.Len() != 0 || !errors.Is(g.Err(), graph.ErrNilFunc) {
		t.Fatalf("Build(nil) = %v (Err %v); want an empty graph whose Err wraps ErrNilFunc", g, g.Err())
	}
	if err := exec.Run(t.Context(), g); !errors.Is(err, graph.ErrNilFunc) {
		t.Fatalf("Run = %v, want an error wrapping ErrNilFunc", err)
	}
}

// TestBuildMistakes: building mistakes inside Build are errors on the
// task and on the graph, as with New.
func TestBuildMistakes(t *testing.T) {
	other := graph.Value(graph.New(), "other", 1)
	var bad []graph.Task[int]
	g := graph.Build(func(b graph.Builder) {
		bad = append(bad,
			graph.Add[int](b, "nil-func", nil),
			graph.Add1(b, "zero-input", graph.Task[int]{}, id),
			graph.Add1(b, "other-graph", other, id),
			graph.Add(b, "bad-option", func(context.Context) (int, error) { return 0, nil }, graph.Timeout(0)),
		)
		graph.Value(b, "fine", 1)
	})
	for i, want := range []error{graph.ErrNilFunc, graph.ErrNoTask, graph.ErrOtherGraph, graph.ErrInvalidOption} {
		if err := bad[i].Err(); !errors.Is(err, want) {
			t.Errorf("%s: Err = %v, want one wrapping %v", bad[i].Name(), err, want)
		}
		if err := g.Err(); !errors.Is(err, want) {
			t.Errorf("graph's Err = %v, want one wrapping %v", err, want)
		}
	}
	if g.Len() != 1 {
		t.Errorf("Len = %d, want 1 (the value)", g.Len())
	}
}

// TestRunInsideBuild: the graph cannot run while Build's function builds
// it; it runs once Build has returned.
func TestRunInsideBuild(t *testing.T) {
	var inside error
	var a graph.Task[int]
	g := graph.Build(func(b graph.Builder) {
		a = graph.Add(b, "a", func(context.Context) (int, error) { return 1, nil })
		inside = exec.Run(t.Context(), a.Graph())
		if _, err := exec.Start(t.Context(), a.Graph()); !errors.Is(err, graph.ErrInBuild) {
			t.Errorf("Start inside Build = %v, want an error wrapping ErrInBuild", err)
		}
	})
	if !errors.Is(inside, graph.ErrInBuild) {
		t.Fatalf("Run inside Build = %v, want an error wrapping ErrInBuild", inside)
	}
	if a.State() != graph.Idle {
		t.Fatalf("after a refused run, the task is %v, want idle", a.State())
	}
	if err := exec.Run(t.Context(), g); err != nil {
		t.Fatalf("Run after Build = %v", err)
	}
	if v, err := a.Result(); v != 1 || err != nil {
		t.Fatalf("Result = %d, %v; want 1, nil", v, err)
	}
}

// TestBuildersOutliveBuild: the Builder Build gave, kept after Build
// returned, adds like any Builder of a shared graph: from several
// goroutines at once (the race detector checks that they take the lock),
// also while the graph runs.
func TestBuildersOutliveBuild(t *testing.T) {
	var kept graph.Builder
	g := graph.Build(func(b graph.Builder) {
		kept = b
		graph.Value(b, "first", 0)
	})
	e, err := exec.Start(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	tasks := make([][]graph.Task[int], 4)
	for i := range tasks {
		wg.Go(func() {
			for j := range 50 {
				tasks[i] = append(tasks[i], graph.Add(kept, "late", func(context.Context) (int, error) { return i*100 + j, nil }))
			}
		})
	}
	wg.Wait()
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
	if g.Len() != 1+4*50 {
		t.Fatalf("Len = %d, want %d", g.Len(), 1+4*50)
	}
	for i, ts := range tasks {
		for j, x := range ts {
			if v, err := x.Result(); v != i*100+j || err != nil {
				t.Fatalf("%s %d: %d, %v; want %d", x.Name(), j, v, err, i*100+j)
			}
		}
	}
}

// TestPanicInBuild: a panic in Build's function goes on up, and leaves
// the graph, reachable through a handle that escaped, shared and usable.
func TestPanicInBuild(t *testing.T) {
	var a graph.Task[int]
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		graph.Build(func(b graph.Builder) {
			a = graph.Add(b, "a", func(context.Context) (int, error) { return 7, nil })
			panic("boom")
		})
	}()
	g := a.Graph()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { graph.Value(g, "v", 1) })
	}
	wg.Wait()
	if err := exec.Run(t.Context(), g); err != nil {
		t.Fatalf("Run after the panic = %v", err)
	}
	if v, err := a.Result(); v != 7 || err != nil || g.Len() != 3 {
		t.Fatalf("Result = %d, %v, Len %d; want 7, nil, 3", v, err, g.Len())
	}
}
