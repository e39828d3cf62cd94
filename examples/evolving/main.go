// Command evolving runs the workload of Dask's "Handle Evolving Workflows"
// notebook four ways on evolve, and compares each wall time with what a
// zero-overhead greedy scheduler achieves on the same sleeps.
//
// Ten files are parsed (each parse sleeps U(0,1) s and yields 1 to 10
// items); each item is processed (U(0,1)/4 s). What parsing returns decides
// what runs next, so the task graph grows while it runs. The variants:
//
//   - sequential: the plain loop, the baseline;
//   - as_completed: the client submits items (priority 1) as lengths arrive;
//   - goroutines: one goroutine per file waits for its own futures (the
//     notebook's async/await variant);
//   - tasks_from_tasks: each file's task adds its items (priority 10) and
//     gathers them, giving its worker slot back while it waits.
//
// For each variant it prints the wall time, the makespan of a zero-overhead
// greedy scheduler on the same sleeps (greedy_s), and the difference per
// task, (wall - greedy) / tasks, in microseconds (ovh_us): what the
// executor, the client code and the sleeps' own error cost per task. The
// sequential loop runs no executor and counts each parse and process call
// as a task, so its figure is the error of one sleep. Sleeps are precise
// (workload.SleepPrecise: a timer, then a spin for the last 4 ms), so that
// at small scales the figure measures the executor and not Go's timers,
// which fire a millisecond or more late.
//
// greedy_s follows the notebook's priority, items before parses not yet
// started. Beside it come the same scheduler parsing first (parses1st_s)
// and the lower bound (bound_s), each with wall / X - 1 (vs_X), and the
// peak number of items held: parsed and not yet processed, the memory the
// priority saves. held is measured in the run (Parse and Process count in
// a workload.Held, with atomics, so counting changes no schedule);
// held_greedy and held_parses1st are what the two orders predict. -json
// prints the same as greedy_items_first_s, greedy_parses_first_s,
// peak_held, peak_held_items_first and peak_held_parses_first.
//
// ovh_us mixes three things: what the executor costs, the sleeps' error,
// and the difference between the order the run took and the model's (a
// client that reacts in zero time). replay_s takes the last two out: it is
// the makespan of a zero-overhead run that makes the run's own decisions,
// in the order the run started its Parse and Process calls, each taking
// as long as it took in the run (workload.Replay, from a workload.Tape
// the calls record in). ovh_replay_us, (wall - replay) / tasks, is then
// what the executor and the client code cost per task: from when a call
// could have started to when it did. -json: replay_s and
// overhead_replay_us_per_task.
//
// Usage:
//
//	go run ./examples/evolving [-seed 1] [-scale 1] [-workers 6] [-json] [-out dir] [-progress]
//
// With -out, the graphs the as_completed and tasks_from_tasks variants grew
// are written to dir as DOT (and SVG when graphviz is installed), coloured
// by state with each task's children grouped under it, and each run's trace
// as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
// chrome://tracing open.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// drawn are the variants whose evolved graph -out writes: the two whose
// graphs grow through the library (the client-driven and the task-driven).
var drawn = map[string]bool{"as_completed": true, "tasks_from_tasks": true}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evolving:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("evolving", flag.ContinueOnError)
	seed := fs.Int64("seed", 1, "seed of the workload's random sleeps and values")
	scale := fs.Float64("scale", 1, "multiplies every sleep (0.1 for a quick run)")
	workers := fs.Int("workers", 6, "worker slots, as the notebook's threads_per_worker")
	files := fs.Int("files", 10, "number of files")
	asJSON := fs.Bool("json", false, "print one JSON object per variant")
	only := fs.String("variant", "", "run only this variant")
	outDir := fs.String("out", "", "write the evolved graphs (.dot, .svg) and traces (.trace.json) of as_completed and tasks_from_tasks here")
	progress := fs.Bool("progress", false, "show a progress bar on the terminal while each variant runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("-workers %d: must be at least 1", *workers)
	}
	w, err := workload.Generate(*seed, *files, *scale)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	wantN, wantSum := w.Expected()
	if !*asJSON {
		fmt.Fprintf(out, "%d files, %d items, %.2fs of work, %d workers, seed %d, scale %g, precise sleeps\n",
			len(w.Files), wantN, w.TotalWork().Seconds(), *workers, *seed, *scale)
		writeHeader(out)
	}
	found := false
	for _, v := range variants {
		if *only != "" && v.name != *only {
			continue
		}
		found = true
		slots := *workers
		if v.name == "sequential" {
			slots = 1
		}
		greedy, err := w.Greedy(slots, v.priority)
		if err != nil {
			return err
		}
		itemsFirst, parsesFirst, err := orders(w, slots)
		if err != nil {
			return err
		}
		held, tape := new(workload.Held), new(workload.Tape)
		g := graph.New()
		var opts []exec.Option
		var rec *viz.Recorder
		if *outDir != "" && drawn[v.name] {
			rec = new(viz.Recorder)
			opts = append(opts, exec.Observe(rec))
		}
		var bar *viz.Progress
		if *progress {
			var err error
			if bar, err = viz.NewProgress(os.Stderr); err != nil {
				return err
			}
			opts = append(opts, exec.Observe(bar))
		}
		start := time.Now()
		results, err := v.run(workload.WithTape(workload.WithHeld(ctx, held), tape), w, slots, g, opts)
		wall := time.Since(start)
		if bar != nil {
			bar.Stop()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		if rec != nil {
			paths, err := viz.WriteFiles(ctx, g, rec, filepath.Join(*outDir, v.name), viz.Title(v.name+" (evolved)"))
			if err != nil {
				return fmt.Errorf("%s: drawing: %w", v.name, err)
			}
			for _, p := range paths {
				fmt.Fprintln(os.Stderr, "wrote", p)
			}
		}
		sum := workload.Checksum(results)
		if len(results) != wantN || sum != wantSum {
			return fmt.Errorf("%s: %d results with checksum %016x, want %d with %016x", v.name, len(results), sum, wantN, wantSum)
		}
		tasks := g.Len()
		if v.name == "sequential" {
			tasks = len(w.Files) + wantN
		}
		replay, err := w.Replay(slots, tape)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		r := report{
			Variant:    v.name,
			WallS:      wall.Seconds(),
			LowerBound: w.LowerBound(slots).Seconds(),
			GreedyS:    greedy.Seconds(),
			Results:    len(results),
			Checksum:   fmt.Sprintf("%016x", sum),
			Tasks:      tasks,
			OverheadUS: (wall - greedy).Seconds() / float64(tasks) * 1e6,
			PeakHeld:   held.Peak(),
			ReplayS:    replay.Seconds(),
			// The replay starts at the first call, the wall time at the
			// run's start: the time to the first call is overhead too.
			OverheadReplayUS: (wall - replay).Seconds() / float64(tasks) * 1e6,
		}
		r.setOrders(itemsFirst, parsesFirst)
		if *asJSON {
			if err := json.NewEncoder(out).Encode(r); err != nil {
				return err
			}
			continue
		}
		r.writeRow(out)
	}
	if !found {
		return fmt.Errorf("-variant %q: no such variant", *only)
	}
	return nil
}
