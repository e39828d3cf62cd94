package main

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/chaos"
)

// bubbleRun is one run of a variant on the seed workload at the notebook's
// scale, inside a testing/synctest bubble: every sleep is on the bubble's
// fake clock, so the 12 s of work take no real time.
type bubbleRun struct {
	results  int
	checksum uint64
	wall     time.Duration // on the bubble's clock
	// starts maps each task's id to its name and when it started, on the
	// bubble's clock. Ids are creation order, the same in every run that
	// creates tasks in the same order.
	starts map[int64]string
	// peakHeld is the most items held at once (parsed, not yet processed),
	// as workload.Held counted them in Parse and Process.
	peakHeld int
	// heldByEvents is the same peak worked out from the observer's events
	// instead, independently of workload.Held; -1 for variants whose
	// events do not show when a parse ends (the sequential loop has none,
	// and tasks_from_tasks parses inside a task that goes on to gather).
	heldByEvents int
	// replay is the makespan of a zero-overhead run making this run's
	// decisions (workload.Replay); on the bubble's clock, where nothing
	// but the sleeps takes time, it must equal wall.
	replay time.Duration
}

func runInBubble(t *testing.T, v variant, workers int) (out bubbleRun) {
	synctest.Test(t, func(t *testing.T) {
		w, err := workload.Generate(1, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		// A parse_file task sleeps exactly its file's parse time on the
		// bubble's clock, so its duration says which file it parsed.
		itemsByParse := map[time.Duration]int{}
		for _, f := range w.Files {
			if _, dup := itemsByParse[f.Parse]; dup {
				t.Fatalf("two files parse in %v: the events cannot tell them apart", f.Parse)
			}
			itemsByParse[f.Parse] = len(f.Items)
		}
		var mu sync.Mutex
		out.starts = map[int64]string{}
		started := map[int64]time.Time{}
		heldChange := map[time.Duration]int{} // by instant of the bubble's clock
		begin := time.Now()
		record := exec.ObserverFunc(func(e exec.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case e.Kind == exec.EventStarted:
				out.starts[e.Task.ID()] = fmt.Sprintf("%s at %v", e.Task.Name(), e.Time.Sub(begin))
				started[e.Task.ID()] = e.Time
			case e.Kind == exec.EventFinished && e.Task.Name() == "parse_file":
				n, ok := itemsByParse[e.Time.Sub(started[e.Task.ID()])]
				if !ok {
					t.Errorf("a parse_file task took %v, no file's parse time", e.Time.Sub(started[e.Task.ID()]))
				}
				heldChange[e.Time.Sub(begin)] += n
			case e.Kind == exec.EventFinished && e.Task.Name() == "process_item":
				heldChange[e.Time.Sub(begin)]--
			}
		})
		var held workload.Held
		var tape workload.Tape
		ctx := workload.WithTape(workload.WithHeld(context.Background(), &held), &tape)
		results, err := v.run(ctx, w, workers, graph.New(), []exec.Option{exec.Observe(record)})
		out.wall = time.Since(begin)
		if err != nil {
			t.Fatal(err)
		}
		out.results, out.checksum = len(results), workload.Checksum(results)
		out.peakHeld = held.Peak()
		if out.replay, err = w.Replay(workers, &tape); err != nil {
			t.Fatal(err)
		}
		out.heldByEvents = -1
		if v.name == "as_completed" || v.name == "goroutines" {
			out.heldByEvents = peakOf(heldChange)
		}
	})
	return out
}

// peakOf returns the largest running sum of changes taken in order of
// their instants, the changes of one instant together, as
// workload.Simulate counts held items.
func peakOf(changes map[time.Duration]int) int {
	held, peak := 0, 0
	for _, at := range slices.Sorted(maps.Keys(changes)) {
		held += changes[at]
		peak = max(peak, held)
	}
	return peak
}

// TestSeedInSynctestBubble runs each variant of the seed workload at scale 1
// twice, each time in a testing/synctest bubble, and checks that both runs
// compute the right results and that every task started at the same
// instant of the bubble's clock both times.
//
// On the fake clock, tasks_from_tasks, where all the growth happens inside
// tasks, must take exactly the makespan of the zero-overhead greedy
// scheduler (workload.Greedy), as the sequential loop must take exactly
// the sum of its sleeps: the executor makes the greedy choices and never
// waits on a clock.
//
// The peak of held items that workload.Held measures is checked the same
// way: tasks_from_tasks holds what its greedy schedule holds
// (workload.Simulate), the sequential loop the largest file, and the
// client-driven variants, whose order the model does not predict, what
// the ends of their parse_file and process_item tasks on the bubble's
// clock say, run by run.
//
// The client-driven variants (as_completed, goroutines) replay only on one
// processor: a client reacts to a completion at the same instant of the
// fake clock as the worker that finished picks its next task, and with
// several processors which of them goes first is a real race, in a bubble
// as outside it. On one, the worker goes on until it blocks and the client
// runs after it, the same way every time, except under the race detector,
// which perturbs scheduling on purpose, and unless the runtime's own work
// (a collection, the sweeping and returning of pages after one) takes the
// processor at such an instant: those runs keep the collector off (see
// dynamic's replay, where a random workload found it). Tasks are compared
// by start instant, not by the order of events: tasks that start at one
// instant on different workers report in either order.
func TestSeedInSynctestBubble(t *testing.T) {
	w, err := workload.Generate(1, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantN, wantSum := w.Expected()
	for _, procs := range []int{runtime.GOMAXPROCS(0), 1} {
		for _, v := range variants {
			for _, workers := range []int{1, 2, 6} {
				if v.name == "sequential" && workers > 1 {
					continue
				}
				t.Run(fmt.Sprintf("procs=%d/%s/workers=%d", procs, v.name, workers), func(t *testing.T) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					if procs == 1 {
						defer debug.SetGCPercent(debug.SetGCPercent(-1))
						debug.FreeOSMemory()
					}
					first, second := runInBubble(t, v, workers), runInBubble(t, v, workers)
					for _, r := range []bubbleRun{first, second} {
						if r.results != wantN || r.checksum != wantSum {
							t.Errorf("%d results with checksum %016x, want %d with %016x", r.results, r.checksum, wantN, wantSum)
						}
					}
					t.Logf("held %d items at the peak (%d by the events; -1: not shown by them)", first.peakHeld, first.heldByEvents)
					// Nothing but the sleeps takes the bubble's time, so a
					// run that never leaves a worker idle while a call could
					// start takes exactly its own zero-overhead replay.
					for _, r := range []bubbleRun{first, second} {
						if r.wall != r.replay {
							t.Errorf("took %v of the bubble's time, want exactly the replay of its own decisions, %v", r.wall, r.replay)
						}
					}
					// The race detector and the evolvechaos build perturb the
					// scheduling of a client's goroutines on purpose.
					client := v.name == "as_completed" || v.name == "goroutines"
					if (!client || procs == 1 && !raceEnabled && !chaos.On) && (!maps.Equal(first.starts, second.starts) || first.wall != second.wall) {
						t.Errorf("the second run went otherwise: %v then %v,\n%v\nthen\n%v", first.wall, second.wall, first.starts, second.starts)
					}
					switch v.name {
					case "sequential":
						if first.wall != w.TotalWork() {
							t.Errorf("took %v of the bubble's time, want exactly the work, %v", first.wall, w.TotalWork())
						}
						// One file at a time: the loop is the items-first
						// schedule of one worker, and holds the largest file.
						model, err := w.Simulate(1, 1)
						if err != nil {
							t.Fatal(err)
						}
						largest := 0
						for _, f := range w.Files {
							largest = max(largest, len(f.Items))
						}
						if first.peakHeld != model.PeakHeld || first.peakHeld != largest {
							t.Errorf("held %d items at the peak; want the largest file's %d, as the model's %d", first.peakHeld, largest, model.PeakHeld)
						}
					case "tasks_from_tasks":
						model, err := w.Simulate(workers, v.priority)
						if err != nil {
							t.Fatal(err)
						}
						if first.wall != model.Makespan {
							t.Errorf("took %v of the bubble's time, want exactly the greedy schedule's %v", first.wall, model.Makespan)
						}
						// The run is the greedy schedule, so it holds what
						// the schedule holds.
						if first.peakHeld != model.PeakHeld {
							t.Errorf("held %d items at the peak, want the greedy schedule's %d", first.peakHeld, model.PeakHeld)
						}
					default:
						for _, r := range []bubbleRun{first, second} {
							if r.peakHeld != r.heldByEvents {
								t.Errorf("held %d items at the peak by workload.Held, %d by the run's events", r.peakHeld, r.heldByEvents)
							}
						}
					}
				})
			}
		}
	}
}
