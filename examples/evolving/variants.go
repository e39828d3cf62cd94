package main

import (
	"context"
	"slices"
	"sync"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// A variant runs the whole workload and returns every result. g is the
// graph it builds (nil for the sequential loop), kept for drawing.
type variant struct {
	name     string
	priority int // the priority items get, for the greedy simulation
	run      func(ctx context.Context, w workload.Workload, workers int, g *graph.Graph, opts []exec.Option) ([]float64, error)
}

var variants = []variant{
	{"sequential", 0, sequential},
	{"as_completed", 1, asCompleted},
	{"goroutines", 10, goroutines},
	{"tasks_from_tasks", 10, tasksFromTasks},
}

// sequential is the notebook's plain loop: the baseline.
func sequential(ctx context.Context, w workload.Workload, _ int, _ *graph.Graph, _ []exec.Option) ([]float64, error) {
	return w.Sequential(ctx)
}

// asCompleted parses every file, and as each file's length arrives submits
// its items at priority 1, so that known work goes before new parsing.
func asCompleted(ctx context.Context, w workload.Workload, workers int, g *graph.Graph, opts []exec.Option) ([]float64, error) {
	run, err := exec.Start(ctx, g, append(opts, exec.Workers(workers))...)
	if err != nil {
		return nil, err
	}
	defer run.Wait()
	defer run.Close()

	lists := make(map[graph.Task[int]]graph.Task[[]float64], len(w.Files))
	files := make(map[graph.Task[int]]workload.File, len(w.Files))
	lengths := make([]graph.Task[int], len(w.Files))
	for i, f := range w.Files {
		list := graph.Add(g, "parse_file", func(ctx context.Context) ([]float64, error) {
			return workload.Parse(ctx, f)
		})
		lengths[i] = graph.Add1(g, "len", list, func(_ context.Context, l []float64) (int, error) {
			return len(l), nil
		})
		lists[lengths[i]], files[lengths[i]] = list, f
	}

	var futures []graph.Task[float64]
	for length, err := range dynamic.AsCompleted(lengths...).All(ctx) {
		if err != nil {
			return nil, err
		}
		n, err := length.Result()
		if err != nil {
			return nil, err
		}
		list, f := lists[length], files[length]
		for i := range n {
			item := graph.Add1(g, "getitem", list, func(_ context.Context, l []float64) (float64, error) {
				return l[i], nil
			}, graph.Priority(1))
			futures = append(futures, graph.Add1(g, "process_item", item, func(ctx context.Context, x float64) (float64, error) {
				return workload.Process(ctx, workload.Item{X: x, Sleep: f.Items[i].Sleep})
			}, graph.Priority(1)))
		}
	}
	return dynamic.Gather(ctx, dynamic.Raise, futures...)
}

// goroutines handles each file's life in a goroutine of its own that
// submits its parse, waits for the length, then submits the items at
// priority 10: the notebook's async/await variant.
func goroutines(ctx context.Context, w workload.Workload, workers int, g *graph.Graph, opts []exec.Option) ([]float64, error) {
	run, err := exec.Start(ctx, g, append(opts, exec.Workers(workers))...)
	if err != nil {
		return nil, err
	}
	defer run.Wait()
	defer run.Close()

	perFile := make([][]graph.Task[float64], len(w.Files))
	errs := make([]error, len(w.Files))
	var wg sync.WaitGroup
	for i, f := range w.Files {
		// Like asyncio.gather, which runs each coroutine up to its first
		// await in turn, start the next goroutine once this one has
		// submitted its parse: files are parsed in order, as in the other
		// variants and the simulation.
		submitted := make(chan struct{})
		wg.Go(func() {
			list := graph.Add(g, "parse_file", func(ctx context.Context) ([]float64, error) {
				return workload.Parse(ctx, f)
			})
			length := graph.Add1(g, "len", list, func(_ context.Context, l []float64) (int, error) {
				return len(l), nil
			})
			close(submitted)
			n, err := length.Wait(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			// The reaction reaches the run as one step, as a Dask client's
			// submissions do: a worker that becomes free meanwhile sees all
			// of it or none, never a parse in place of half of it.
			err = graph.Batch(g, func(b graph.Builder) {
				for j := range n {
					item := graph.Add1(b, "getitem", list, func(_ context.Context, l []float64) (float64, error) {
						return l[j], nil
					}, graph.Priority(10))
					perFile[i] = append(perFile[i], graph.Add1(b, "process_item", item, func(ctx context.Context, x float64) (float64, error) {
						return workload.Process(ctx, workload.Item{X: x, Sleep: f.Items[j].Sleep})
					}, graph.Priority(10)))
				}
			})
			if err != nil {
				errs[i] = err
			}
		})
		<-submitted
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return dynamic.Gather(ctx, dynamic.Raise, slices.Concat(perFile...)...)
}

// tasksFromTasks runs one task per file that parses it, adds a child task
// per item at priority 10, and gathers them; gathering gives its worker
// slot back, as Dask's secede and rejoin do.
func tasksFromTasks(ctx context.Context, w workload.Workload, workers int, g *graph.Graph, opts []exec.Option) ([]float64, error) {
	perFile := make([]graph.Task[[]float64], len(w.Files))
	for i, f := range w.Files {
		perFile[i] = graph.Add(g, "f", func(ctx context.Context) ([]float64, error) {
			l, err := workload.Parse(ctx, f)
			if err != nil {
				return nil, err
			}
			// client.map(process_item, L, priority=10)
			items := graph.AddEach(dynamic.Scope(ctx), "process_item", f.Items[:len(l)], workload.Process, graph.Priority(10))
			return dynamic.Gather(ctx, dynamic.Raise, items...)
		})
	}
	if err := exec.Run(ctx, g, append(opts, exec.Workers(workers))...); err != nil {
		return nil, err
	}
	lists, err := dynamic.Gather(ctx, dynamic.Raise, perFile...)
	if err != nil {
		return nil, err
	}
	return slices.Concat(lists...), nil
}
