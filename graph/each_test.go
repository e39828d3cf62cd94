package graph_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestAddEachRunsOneTaskPerItem: AddEach adds a task per item, in the
// items' order and creation order, more than a chunk and more than an
// array of records of them, and each runs fn with its own item.
func TestAddEachRunsOneTaskPerItem(t *testing.T) {
	g := graph.New()
	before := graph.Add(g, "before", func(context.Context) (int, error) { return -1, nil })
	items := make([]string, 3000)
	for i := range items {
		items[i] = strconv.Itoa(i)
	}
	tasks := graph.AddEach(g, "parse", items, func(_ context.Context, s string) (int, error) { return strconv.Atoi(s) })
	after := graph.Add(g, "after", func(context.Context) (int, error) { return -1, nil })
	if len(tasks) != len(items) {
		t.Fatalf("AddEach returned %d tasks for %d items", len(tasks), len(items))
	}
	if err := exec.Run(t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	for i, x := range tasks {
		if v, err := x.Result(); v != i || err != nil {
			t.Fatalf("task %d: %v, %v; want %d, nil", i, v, err, i)
		}
		if x.Name() != "parse" || x.ID() != before.ID()+1+int64(i) {
			t.Fatalf("task %d: name %q, id %d; want parse, %d", i, x.Name(), x.ID(), before.ID()+1+int64(i))
		}
	}
	if after.ID() != before.ID()+1+int64(len(items)) {
		t.Fatalf("the task added after has id %d, want %d", after.ID(), before.ID()+1+int64(len(items)))
	}
	if n := len(graph.AddEach(g, "none", []string(nil), func(context.Context, string) (int, error) { return 0, nil })); n != 0 {
		t.Fatalf("AddEach of no items returned %d tasks", n)
	}
}

// TestAddEach1ReadsEachInput: AddEach1 adds a task per input, which reads
// that input's result.
func TestAddEach1ReadsEachInput(t *testing.T) {
	g := graph.New()
	in := graph.AddEach(g, "n", []int{1, 2, 3, 4}, func(_ context.Context, x int) (int, error) { return x, nil })
	sq := graph.AddEach1(g, "square", in, func(_ context.Context, x int) (int, error) { return x * x, nil })
	if err := exec.Run(t.Context(), g); err != nil {
		t.Fatal(err)
	}
	for i, x := range sq {
		if ins := x.Inputs(); len(ins) != 1 || ins[0] != in[i].Ref() {
			t.Fatalf("task %d reads %v, want [%v]", i, ins, in[i].Ref())
		}
		if v, err := x.Result(); v != (i+1)*(i+1) || err != nil {
			t.Fatalf("task %d: %v, %v; want %d", i, v, err, (i+1)*(i+1))
		}
	}
}

// TestAddEachRefusesWhatNamesOneTask: Key, Pure, a bad option, a nil
// function and a nil builder fail every task, with the error named once
// on the graph.
func TestAddEachRefusesWhatNamesOneTask(t *testing.T) {
	fn := func(_ context.Context, x int) (int, error) { return x, nil }
	cases := []struct {
		name string
		add  func(g *graph.Graph) []graph.Task[int]
		want error
	}{
		{"Key", func(g *graph.Graph) []graph.Task[int] { return graph.AddEach(g, "x", []int{1, 2}, fn, graph.Key("k")) }, graph.ErrInvalidOption},
		{"Pure", func(g *graph.Graph) []graph.Task[int] { return graph.AddEach(g, "x", []int{1, 2}, fn, graph.Pure()) }, graph.ErrInvalidOption},
		{"Timeout(0)", func(g *graph.Graph) []graph.Task[int] {
			return graph.AddEach(g, "x", []int{1, 2}, fn, graph.Timeout(0))
		}, graph.ErrInvalidOption},
		{"nil fn", func(g *graph.Graph) []graph.Task[int] { return graph.AddEach[int, int](g, "x", []int{1, 2}, nil) }, graph.ErrNilFunc},
		{"AddEach1 Key", func(g *graph.Graph) []graph.Task[int] {
			in := graph.Add(g, "in", func(context.Context) (int, error) { return 1, nil })
			return graph.AddEach1(g, "x", []graph.Task[int]{in, in}, fn, graph.Key("k"))
		}, graph.ErrInvalidOption},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph.New()
			var tasks []graph.Task[int]
			noPanic(t, c.name, func() { tasks = c.add(g) })
			if len(tasks) != 2 {
				t.Fatalf("%d tasks, want 2", len(tasks))
			}
			for i, x := range tasks {
				if err := x.Err(); !errors.Is(err, c.want) || x.State() != graph.Failed || x.Name() != "x" {
					t.Fatalf("task %d: %v, %v, %q; want failed with %v, named x", i, x.State(), err, x.Name(), c.want)
				}
			}
			if err := g.Err(); !errors.Is(err, c.want) {
				t.Fatalf("g.Err() = %v, want %v", err, c.want)
			}
			if err := exec.Run(t.Context(), g); !errors.Is(err, c.want) {
				t.Fatalf("Run = %v, want %v", err, c.want)
			}
		})
	}
	var nilGraph *graph.Graph
	for _, x := range graph.AddEach(nilGraph, "x", []int{1}, fn) {
		if !errors.Is(x.Err(), graph.ErrNilBuilder) {
			t.Fatalf("AddEach(nil *Graph): %v, want ErrNilBuilder", x.Err())
		}
	}
}

// TestAddEach1BadInputFailsItsTaskOnly: a zero Task or another graph's
// task among the inputs fails the task that reads it, as in Add1; the
// others run.
func TestAddEach1BadInputFailsItsTaskOnly(t *testing.T) {
	g, other := graph.New(), graph.New()
	good := graph.Add(g, "good", func(context.Context) (int, error) { return 7, nil })
	foreign := graph.Add(other, "foreign", func(context.Context) (int, error) { return 1, nil })
	tasks := graph.AddEach1(g, "x", []graph.Task[int]{good, {}, foreign, good}, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	for i, want := range []error{nil, graph.ErrNoTask, graph.ErrOtherGraph, nil} {
		if err := tasks[i].Err(); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("task %d: %v, want %v", i, err, want)
		}
	}
	if err := exec.Run(t.Context(), g); !errors.Is(err, graph.ErrNoTask) || !errors.Is(err, graph.ErrOtherGraph) {
		t.Fatalf("Run = %v, want both input errors", err)
	}
	if err := g.Validate(); err == nil {
		t.Fatal("Validate passed a graph with tasks that could not be built")
	}
}

// TestAddEachOptionsApplyToEach: every task gets the options, and one
// task's Release of a kept result leaves the others kept.
func TestAddEachOptionsApplyToEach(t *testing.T) {
	g := graph.New()
	tasks := graph.AddEach(g, "x", []int{1, 2, 3}, func(_ context.Context, x int) (int, error) { return x, nil },
		graph.Priority(4), graph.Keep())
	target := graph.AddN(g, "sum", tasks, func(_ context.Context, xs []int) (int, error) { return xs[0] + xs[1] + xs[2], nil })
	for _, x := range tasks {
		if x.Priority() != 4 {
			t.Fatalf("priority %d, want 4", x.Priority())
		}
	}
	tasks[0].Release() // its own Keep only
	if err := exec.Run(t.Context(), g, exec.Targets(target)); err != nil {
		t.Fatal(err)
	}
	if v, _ := target.Result(); v != 6 {
		t.Fatalf("sum = %d, want 6", v)
	}
	if s := tasks[0].State(); s != graph.Released {
		t.Fatalf("the released task is %v, want released", s)
	}
	for _, x := range tasks[1:] {
		if v, err := x.Result(); err != nil || x.State() != graph.Done {
			t.Fatalf("a kept task is %v (%v, %v), want done", x.State(), v, err)
		}
	}
}
