package dynamic_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// files stands for the notebook's input files: what parsing each yields.
var files = map[string][]int{
	"a.txt": {1, 2, 3},
	"b.txt": {10, 20},
	"c.txt": {100},
}

func parse(_ context.Context, name string) ([]int, error) { return files[name], nil }

func process(_ context.Context, x int) (int, error) { return x * x, nil }

// As completed: the client parses every file and, as each parse finishes,
// submits one task per item at a higher priority, so known work goes before
// more parsing. Items are read by getitem tasks, so the client never holds
// the lists.
func ExampleAsCompleted() {
	ctx := context.Background()
	g := graph.New()
	run, err := exec.Start(ctx, g, exec.Workers(2))
	if err != nil {
		panic(err)
	}

	names := []string{"a.txt", "b.txt", "c.txt"}
	lists := make([]graph.Task[[]int], len(names))
	for i, name := range names {
		lists[i] = graph.Add(g, "parse", func(ctx context.Context) ([]int, error) { return parse(ctx, name) })
	}
	var items []graph.Task[int]
	for list, err := range dynamic.AsCompleted(lists...).All(ctx) {
		if err != nil {
			panic(err)
		}
		xs, _ := list.Result()
		for i := range xs {
			item := graph.Add1(g, "getitem", list, func(_ context.Context, xs []int) (int, error) { return xs[i], nil }, graph.Priority(1))
			items = append(items, graph.Add1(g, "process", item, process, graph.Priority(1)))
		}
	}
	results, err := dynamic.Gather(ctx, dynamic.Raise, items...)
	run.Close()
	if err := run.Wait(); err != nil {
		panic(err)
	}
	slices.Sort(results) // completion order varies; the set does not
	fmt.Println(results, err)
	// Output: [1 4 9 100 400 10000] <nil>
}

// Tasks from tasks: one task per file parses it, adds a child per item, and
// gathers them; gathering gives its worker slot back, so a pool of one
// runs it all.
func ExampleScope() {
	g := graph.New()
	names := []string{"a.txt", "b.txt", "c.txt"}
	perFile := make([]graph.Task[int], len(names))
	for i, name := range names {
		perFile[i] = graph.Add(g, "file", func(ctx context.Context) (int, error) {
			xs, err := parse(ctx, name)
			if err != nil {
				return 0, err
			}
			scope := dynamic.Scope(ctx)
			children := make([]graph.Task[int], len(xs))
			for j, x := range xs {
				children[j] = graph.Add(scope, "process", func(ctx context.Context) (int, error) { return process(ctx, x) }, graph.Priority(10))
			}
			squares, err := dynamic.Gather(ctx, dynamic.Raise, children...)
			sum := 0
			for _, s := range squares {
				sum += s
			}
			return sum, err
		})
	}
	if err := exec.Run(context.Background(), g, exec.Workers(1)); err != nil {
		panic(err)
	}
	for i, f := range perFile {
		v, _ := f.Result()
		fmt.Printf("%s: %d (%d tasks added by it)\n", names[i], v, len(files[names[i]]))
	}
	fmt.Println("tasks in the evolved graph:", g.Len())
	// Output:
	// a.txt: 14 (3 tasks added by it)
	// b.txt: 500 (2 tasks added by it)
	// c.txt: 10000 (1 tasks added by it)
	// tasks in the evolved graph: 9
}

// Goroutines: one goroutine per file submits its parse, waits for it, then
// submits its items and waits for them, each like a sequential program
// (the async/await style).
func Example_goroutines() {
	ctx := context.Background()
	g := graph.New()
	run, err := exec.Start(ctx, g, exec.Workers(2))
	if err != nil {
		panic(err)
	}
	names := []string{"a.txt", "b.txt", "c.txt"}
	lines := make([]string, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			list := graph.Add(g, "parse", func(ctx context.Context) ([]int, error) { return parse(ctx, name) })
			xs, err := list.Wait(ctx)
			if err != nil {
				lines[i] = err.Error()
				return
			}
			items := make([]graph.Task[int], len(xs))
			for j, x := range xs {
				items[j] = graph.Add(g, "process", func(ctx context.Context) (int, error) { return process(ctx, x) }, graph.Priority(10))
			}
			squares, err := dynamic.Gather(ctx, dynamic.Raise, items...)
			lines[i] = fmt.Sprint(name, " ", squares, " ", err)
		})
	}
	wg.Wait()
	run.Close()
	if err := run.Wait(); err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// a.txt [1 4 9] <nil>
	// b.txt [100 400] <nil>
	// c.txt [10000] <nil>
}

// Producers that add tasks from goroutines of their own while one loop
// takes results as they come: Until keeps the loop going until the run
// has ended, and the run is closed once every producer is done.
func ExampleCompleted_Until() {
	ctx := context.Background()
	g := graph.New()
	run, err := exec.Start(ctx, g)
	if err != nil {
		fmt.Println(err)
		return
	}
	var c dynamic.Completed[graph.Task[int]]
	c.Until(run)
	var producers sync.WaitGroup
	for p := range 3 {
		producers.Go(func() {
			for i := range 4 {
				c.Add(graph.Add(g, "square", func(context.Context) (int, error) { return (p*4 + i) * (p*4 + i), nil }))
			}
		})
	}
	go func() { producers.Wait(); run.Close() }() // not deferred: the loop below ends only after Close

	sum, n := 0, 0
	for t, err := range c.All(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		v, _ := t.Result()
		sum, n = sum+v, n+1
	}
	fmt.Println(n, "tasks, sum", sum, run.Wait())
	// Output: 12 tasks, sum 506 <nil>
}

// sumTree adds up a range by splitting it in two until it is small: each
// split is a fork-join call, whose halves the run's idle workers may take.
func sumTree(ctx context.Context, lo, hi int) (int, error) {
	if hi-lo <= 1000 {
		s := 0
		for i := lo; i < hi; i++ {
			s += i
		}
		return s, nil
	}
	mid := (lo + hi) / 2
	a, b, err := dynamic.Join(ctx,
		func(ctx context.Context) (int, error) { return sumTree(ctx, lo, mid) },
		func(ctx context.Context) (int, error) { return sumTree(ctx, mid, hi) })
	return a + b, err
}

// A task that splits its work with Join: the calls run in the run's pool
// (here on two workers), are not tasks
// of the graph, and leave nothing behind once they return.
func ExampleJoin() {
	g := graph.New()
	total := graph.Add(g, "sum", func(ctx context.Context) (int, error) { return sumTree(ctx, 0, 1_000_000) })
	if err := exec.Run(context.Background(), g, exec.Workers(2)); err != nil {
		panic(err)
	}
	fmt.Println(total.Result())
	fmt.Println(g.Len(), "task in the graph")
	// Output:
	// 499999500000 <nil>
	// 1 task in the graph
}

// JoinEach is a parallel map inside a task: here over the lines of a
// parsed file.
func ExampleJoinEach() {
	g := graph.New()
	lens := graph.Add(g, "lengths", func(ctx context.Context) ([]int, error) {
		lines := strings.Split("one\ntwo\nthree", "\n")
		return dynamic.JoinEach(ctx, lines, func(_ context.Context, s string) (int, error) { return len(s), nil })
	})
	if err := exec.Run(context.Background(), g); err != nil {
		panic(err)
	}
	fmt.Println(lens.Result())
	// Output: [3 3 5] <nil>
}
