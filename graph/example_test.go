package graph_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// Add1 adds a task that reads one input; the compiler checks that the
// function takes the input's result type.
func ExampleAdd1() {
	g := graph.New()
	text := graph.Value(g, "value", "42")
	n := graph.Add1(g, "parse", text, func(_ context.Context, s string) (int, error) { return strconv.Atoi(s) })
	double := graph.Add1(g, "double", n, func(_ context.Context, x int) (int, error) { return 2 * x, nil })

	fmt.Println(double.State()) // building runs nothing
	if err := exec.Run(context.Background(), g); err != nil {
		fmt.Println(err)
	}
	fmt.Println(double.Result())
	// Output:
	// idle
	// 84 <nil>
}

// AddN gathers any number of inputs of one type, in order.
func ExampleAddN() {
	g := graph.New()
	var parts []graph.Task[string]
	for _, w := range []string{"fan", "in", "works"} {
		parts = append(parts, graph.Add(g, "word", func(context.Context) (string, error) { return strings.ToUpper(w), nil }))
	}
	joined := graph.AddN(g, "join", parts, func(_ context.Context, ws []string) (string, error) {
		return strings.Join(ws, " "), nil
	})
	if err := exec.Run(context.Background(), g); err != nil {
		fmt.Println(err)
	}
	fmt.Println(joined.Result())
	// Output: FAN IN WORKS <nil>
}

// A task whose input failed is skipped; its error names the task where the
// failure started and wraps that task's error.
func ExampleSkipError() {
	errDisk := errors.New("disk full")
	g := graph.New()
	save := graph.Add(g, "save", func(context.Context) (int, error) { return 0, errDisk })
	report := graph.Add1(g, "report", save, func(_ context.Context, n int) (string, error) { return fmt.Sprint(n), nil })
	_ = exec.Run(context.Background(), g)

	var skip *graph.SkipError
	if errors.As(report.Err(), &skip) {
		fmt.Println(skip.Task, "skipped because", skip.Failed, "failed:", errors.Is(skip, errDisk))
	}
	fmt.Println(report.Err())
	// Output:
	// report skipped because save failed: true
	// task "report" skipped: input "save" failed: disk full
}

// A panic in a task fails that task with a *graph.PanicError holding the
// value and the stack; the program goes on.
func ExamplePanicError() {
	g := graph.New()
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { panic("index out of range") })
	_ = exec.Run(context.Background(), g)

	var pe *graph.PanicError
	if errors.As(bad.Err(), &pe) {
		fmt.Println(pe.Task, pe.Value, len(pe.Stack) > 0)
	}
	// Output: bad index out of range true
}

// A handle is a future: a client waits for a task of a running graph.
func ExampleTask_Wait() {
	g := graph.New()
	e, err := exec.Start(context.Background(), g)
	if err != nil {
		fmt.Println(err)
		return
	}
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 20, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x + 22, nil })
	fmt.Println(b.Wait(context.Background()))
	e.Close()
	fmt.Println(e.Wait())

	idle := graph.Add(g, "idle", func(context.Context) (int, error) { return 0, nil })
	_, err = idle.Wait(context.Background()) // in no run: it would wait forever
	fmt.Println(errors.Is(err, graph.ErrNotScheduled))
	// Output:
	// 42 <nil>
	// <nil>
	// true
}

// Order makes a task wait for another whose result it does not read: here
// "read" has the higher priority but runs after "write".
func ExampleOrder() {
	g := graph.New()
	var log []string
	write := graph.Add(g, "write", func(context.Context) (int, error) { log = append(log, "write"); return 0, nil })
	read := graph.Add(g, "read", func(context.Context) (int, error) { log = append(log, "read"); return 0, nil }, graph.Priority(10))
	if err := graph.Order(write, read); err != nil {
		fmt.Println(err)
	}
	if err := exec.Run(context.Background(), g, exec.Workers(1)); err != nil {
		fmt.Println(err)
	}
	fmt.Println(log)

	// Order is the only way to close a cycle; runs refuse cyclic graphs.
	if err := graph.Order(read, write); err != nil {
		fmt.Println(err)
	}
	fmt.Println(g.Validate())
	// Output:
	// [write read]
	// cycle: write -> read -> write
}

// Batch adds a client's reaction to a running graph as one step: here four
// tasks reach the run's idle worker together, so it starts them by
// priority, the last added first.
func ExampleBatch() {
	g := graph.New()
	run, err := exec.Start(context.Background(), g, exec.Workers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	var order []int
	err = graph.Batch(g, func(b graph.Builder) {
		for i := range 4 {
			graph.Add(b, "step", func(context.Context) (int, error) {
				order = append(order, i) // one worker: no other task runs meanwhile
				return i, nil
			}, graph.Priority(i))
		}
	})
	if err != nil {
		fmt.Println(err)
	}
	run.Close()
	if err := run.Wait(); err != nil {
		fmt.Println(err)
	}
	fmt.Println(order)
	// Output: [3 2 1 0]
}

// AddEach adds a task per element, as Dask's client.map does, and
// AddEach1 a task per task: here a parse per file name, then a count per
// parsed file.
func ExampleAddEach() {
	g := graph.New()
	files := []string{"a.txt", "bb.txt", "ccc.txt"}
	parsed := graph.AddEach(g, "parse", files, func(_ context.Context, name string) (string, error) {
		return strings.TrimSuffix(name, ".txt"), nil
	})
	lengths := graph.AddEach1(g, "len", parsed, func(_ context.Context, s string) (int, error) { return len(s), nil })
	if err := exec.Run(context.Background(), g); err != nil {
		fmt.Println(err)
	}
	for i, n := range lengths {
		v, _ := n.Result()
		fmt.Println(files[i], v)
	}
	// Output:
	// a.txt 1
	// bb.txt 2
	// ccc.txt 3
}

// Build builds a whole graph from one goroutine before it runs, the
// cheapest way: adding takes no lock until Build returns.
func ExampleBuild() {
	var total graph.Task[int]
	g := graph.Build(func(b graph.Builder) {
		var parts []graph.Task[int]
		for i := 1; i <= 4; i++ {
			parts = append(parts, graph.Add(b, "square", func(context.Context) (int, error) { return i * i, nil }))
		}
		total = graph.AddN(b, "sum", parts, func(_ context.Context, xs []int) (int, error) {
			s := 0
			for _, x := range xs {
				s += x
			}
			return s, nil
		})
	})
	if err := exec.Run(context.Background(), g); err != nil {
		fmt.Println(err)
	}
	fmt.Println(total.Result())
	// Output: 30 <nil>
}
