package main

import (
	"fmt"
	"io"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
)

// report is one variant's outcome; with -json, one line each. The Dask
// comparison (../shared/bench/dask) reads variant, wall_s, greedy_s,
// lower_bound_s, results and tasks, so those names stay.
type report struct {
	Variant    string  `json:"variant"`
	WallS      float64 `json:"wall_s"`
	LowerBound float64 `json:"lower_bound_s"`
	// GreedyS is the greedy schedule's makespan with the variant's own
	// priority for items: items first for every variant that runs tasks
	// concurrently (on the sequential loop's one worker, every order takes
	// the same time).
	GreedyS  float64 `json:"greedy_s"`
	Results  int     `json:"results"`
	Checksum string  `json:"checksum"`
	Tasks    int     `json:"tasks"` // the sequential loop counts its parse and process calls
	// OverheadUS is (wall - greedy) / tasks, in microseconds.
	OverheadUS float64 `json:"overhead_us_per_task"`

	// The two greedy orders on the same workers: items before parses not
	// yet started (the notebook's priority), and parses first (what Dask
	// does in effect when its client is slow to submit the items).
	ItemsFirstS  float64 `json:"greedy_items_first_s"`
	ParsesFirstS float64 `json:"greedy_parses_first_s"`

	// PeakHeld is the most items parsed and not yet processed at once in
	// the run (workload.Held); the other two are each order's prediction
	// (workload.Schedule.PeakHeld).
	PeakHeld            int `json:"peak_held"`
	PeakHeldItemsFirst  int `json:"peak_held_items_first"`
	PeakHeldParsesFirst int `json:"peak_held_parses_first"`

	// ReplayS is the makespan of a zero-overhead run making the run's own
	// decisions, with its own sleeps (workload.Replay), and
	// OverheadReplayUS is (wall - replay) / tasks: what the executor and
	// the client code cost per task, without the sleeps' errors and
	// without the difference between the run's order and a model's.
	ReplayS          float64 `json:"replay_s"`
	OverheadReplayUS float64 `json:"overhead_replay_us_per_task"`
}

// orders simulates both greedy orders of w on workers: items first (any
// item priority above the parses' 0) and parses first.
func orders(w workload.Workload, workers int) (itemsFirst, parsesFirst workload.Schedule, err error) {
	if itemsFirst, err = w.Simulate(workers, 1); err != nil {
		return
	}
	parsesFirst, err = w.Simulate(workers, 0)
	return
}

// setOrders records both orders' predictions in r.
func (r *report) setOrders(itemsFirst, parsesFirst workload.Schedule) {
	r.ItemsFirstS, r.PeakHeldItemsFirst = itemsFirst.Makespan.Seconds(), itemsFirst.PeakHeld
	r.ParsesFirstS, r.PeakHeldParsesFirst = parsesFirst.Makespan.Seconds(), parsesFirst.PeakHeld
}

// The table's columns: vs_X is wall / X - 1; held is measured, held_greedy
// and held_parses1st are predicted by the items-first and parses-first
// schedules.
const (
	headerFormat = "%-17s %8s %8s %9s %11s %12s %8s %9s %8s %8s %13s %6s %4s %11s %14s %7s  %s\n"
	rowFormat    = "%-17s %8.3f %8.3f %+8.2f%% %11.3f %+11.2f%% %8.3f %+8.2f%% %8.1f %8.3f %13.1f %6d %4d %11d %14d %7d  %s\n"
)

// writeHeader prints the table's header.
func writeHeader(out io.Writer) {
	fmt.Fprintf(out, headerFormat, "variant", "wall_s", "greedy_s", "vs_greedy", "parses1st_s", "vs_parses1st",
		"bound_s", "vs_bound", "ovh_us", "replay_s", "ovh_replay_us", "tasks", "held", "held_greedy", "held_parses1st", "results", "checksum")
}

// writeRow prints r as a row of the table.
func (r report) writeRow(out io.Writer) {
	vs := func(ref float64) float64 { return 100 * (r.WallS/ref - 1) }
	fmt.Fprintf(out, rowFormat, r.Variant, r.WallS, r.GreedyS, vs(r.GreedyS), r.ParsesFirstS, vs(r.ParsesFirstS),
		r.LowerBound, vs(r.LowerBound), r.OverheadUS, r.ReplayS, r.OverheadReplayUS, r.Tasks, r.PeakHeld, r.PeakHeldItemsFirst, r.PeakHeldParsesFirst,
		r.Results, r.Checksum)
}
