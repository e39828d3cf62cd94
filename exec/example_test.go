package exec_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// Build a small graph, run it, and read the results.
func ExampleRun() {
	g := graph.New()
	words := graph.Value(g, "value", []string{"task", "graphs", "that", "grow"})
	upper := graph.Add1(g, "upper", words, func(_ context.Context, ws []string) ([]string, error) {
		out := make([]string, len(ws))
		for i, w := range ws {
			out[i] = strings.ToUpper(w)
		}
		return out, nil
	})
	count := graph.Add1(g, "count", words, func(_ context.Context, ws []string) (int, error) { return len(ws), nil })
	line := graph.Add2(g, "line", upper, count, func(_ context.Context, ws []string, n int) (string, error) {
		return fmt.Sprintf("%d words: %s", n, strings.Join(ws, " ")), nil
	})

	if err := exec.Run(context.Background(), g, exec.Workers(2)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(line.Result())
	// Output: 4 words: TASK GRAPHS THAT GROW <nil>
}

// Targets runs only what one task needs, and releases intermediate results
// as soon as nothing needs them.
func ExampleTargets() {
	g := graph.New()
	a := graph.Add(g, "load", func(context.Context) (int, error) { return 20, nil })
	b := graph.Add1(g, "double", a, func(_ context.Context, x int) (int, error) { return 2 * x, nil })
	c := graph.Add1(g, "inc", b, func(_ context.Context, x int) (int, error) { return x + 2, nil })
	unused := graph.Add(g, "unused", func(context.Context) (int, error) { return 0, nil })

	if err := exec.Run(context.Background(), g, exec.Targets(c)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Result())
	_, err := b.Result()
	fmt.Println(errors.Is(err, graph.ErrReleased))
	fmt.Println(unused.State())
	// Output:
	// 42 <nil>
	// true
	// idle
}

// StopOnError ends the run at the first failure; Run's error reaches it.
func ExampleStopOnError() {
	errNoNetwork := errors.New("no network")
	g := graph.New()
	fetch := graph.Add(g, "fetch", func(context.Context) (string, error) { return "", errNoNetwork })
	graph.Add1(g, "parse", fetch, func(_ context.Context, s string) (int, error) { return len(s), nil })

	err := exec.Run(context.Background(), g, exec.StopOnError(), exec.Workers(1))
	fmt.Println(errors.Is(err, errNoNetwork))
	fmt.Println(fetch.State(), fetch.Err())
	// Output:
	// true
	// failed no network
}

// Workers bounds how many task functions run at once.
func ExampleWorkers() {
	g := graph.New()
	var order []string
	for _, name := range []string{"low", "high", "mid"} {
		prio := map[string]int{"low": -1, "high": 2, "mid": 0}[name]
		graph.Add(g, name, func(context.Context) (int, error) {
			order = append(order, name) // one worker: no two bodies run at once
			return 0, nil
		}, graph.Priority(prio))
	}
	if err := exec.Run(context.Background(), g, exec.Workers(1)); err != nil {
		fmt.Println(err)
	}
	fmt.Println(order)
	// Output: [high mid low]
}

// Observe reports each task's life as events.
func ExampleObserve() {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })

	var lines []string
	obs := exec.ObserverFunc(func(e exec.Event) {
		lines = append(lines, e.Task.Name()+" "+e.Kind.String()) // one worker: events come one at a time
	})
	if err := exec.Run(context.Background(), g, exec.Workers(1), exec.Observe(obs)); err != nil {
		fmt.Println(err)
	}
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// a ready
	// a started
	// a finished
	// b ready
	// b started
	// b finished
}

// Start opens a run that a client can feed while it runs; Close says no
// more tasks come from outside, and Wait returns the outcome.
func ExampleStart() {
	g := graph.New()
	e, err := exec.Start(context.Background(), g, exec.Workers(2))
	if err != nil {
		fmt.Println(err)
		return
	}
	sq := make([]graph.Task[int], 4)
	for i := range sq {
		sq[i] = graph.Add(g, "square", func(context.Context) (int, error) { return i * i, nil })
	}
	sum := graph.AddN(g, "sum", sq, func(_ context.Context, xs []int) (int, error) {
		s := 0
		for _, x := range xs {
			s += x
		}
		return s, nil
	})
	e.Close()
	fmt.Println(e.Wait())
	fmt.Println(sum.Result())
	// Output:
	// <nil>
	// 14 <nil>
}
