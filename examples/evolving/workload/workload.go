// Package workload is a deterministic model of the workload in Dask's
// "Handle Evolving Workflows" example notebook, together with a
// zero-overhead scheduling simulator for it.
//
// In the notebook, ten files are parsed; parse_file(fn) sleeps U(0,1)
// seconds and returns between 1 and 10 floats drawn from U(0,1), and every
// returned value x is then handed to process_item(x), which sleeps
// U(0,1)/4 seconds and returns x+1. The set of tasks therefore grows while
// the computation runs, which is what makes the example interesting.
//
// The notebook draws its random numbers inside the tasks, so every run is
// different. Here all random draws happen up front in [Generate]: the
// resulting [Workload] fixes every sleep and every value, so different
// execution strategies (a sequential loop, as_completed, one goroutine per
// file, tasks spawning tasks) perform exactly the same work and their wall
// times can be compared with each other and with the ideal schedules
// computed by [Workload.Greedy] and [Workload.LowerBound].
package workload

import (
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"time"
)

// Item is one value returned by parsing a file, together with the time
// processing it takes.
type Item struct {
	// X is the parsed value, drawn from U[0,1).
	X float64
	// Sleep is how long Process sleeps for this item.
	Sleep time.Duration
}

// File is one input file of the workload.
type File struct {
	// Name is "file.<index>.txt", as in the notebook.
	Name string
	// Parse is how long Parse sleeps for this file.
	Parse time.Duration
	// Items are the values Parse returns, in order.
	Items []Item
}

// Workload is a fully determined instance of the notebook's workload.
type Workload struct {
	Files []File
}

// pcgStream is the fixed second PCG word; only the seed varies between
// workloads, so a given seed always yields the same stream.
const pcgStream = 0x9e3779b97f4a7c15

// maxFileWork is the largest unscaled amount of work one file can carry
// (a parse of up to 1s and 10 items of up to 1/4s each); Generate uses it to
// reject scales whose totals would not fit in a time.Duration.
const maxFileWork = 1 + 10*0.25

// Generate builds a workload of the given number of files from seed.
// Every sleep of the notebook is multiplied by scale, so scale 1 reproduces
// the notebook's timings and scale 0 removes all sleeping.
//
// The random source is rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15) and
// the draw order is fixed, so that a seed identifies a workload for good:
// for each file in order,
//
//  1. the parse time, Float64() seconds;
//  2. the item count, 1 + IntN(10);
//  3. for each item in order: X = Float64(), then its sleep,
//     Float64()/4 seconds.
//
// Durations are the scaled seconds converted to nanoseconds, truncated.
// Generate returns an error if files < 1, or if scale is negative, NaN,
// infinite, or so large that the total work would overflow time.Duration.
func Generate(seed int64, files int, scale float64) (Workload, error) {
	if files < 1 {
		return Workload{}, fmt.Errorf("workload: files must be >= 1, got %d", files)
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) || scale < 0 {
		return Workload{}, fmt.Errorf("workload: scale must be a finite number >= 0, got %v", scale)
	}
	if float64(files)*maxFileWork*scale*float64(time.Second) >= math.MaxInt64 {
		return Workload{}, fmt.Errorf("workload: scale %v is too large for %d files: total work would overflow time.Duration", scale, files)
	}

	r := rand.New(rand.NewPCG(uint64(seed), pcgStream))
	seconds := func(s float64) time.Duration {
		return time.Duration(s * scale * float64(time.Second))
	}
	w := Workload{Files: make([]File, files)}
	for i := range w.Files {
		f := &w.Files[i]
		f.Name = "file." + strconv.Itoa(i) + ".txt"
		f.Parse = seconds(r.Float64())
		f.Items = make([]Item, 1+r.IntN(10))
		for j := range f.Items {
			f.Items[j].X = r.Float64()
			f.Items[j].Sleep = seconds(r.Float64() / 4)
		}
	}
	return w, nil
}

// Sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the latter case. A done ctx wins even when d <= 0,
// so that a cancelled run stops at the next task rather than racing on.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// spinFor is how much of a sleep SleepPrecise spends yielding in a loop
// rather than on a timer: more than a Go timer is late, nearly always. On
// Linux the runtime waits for timers in epoll_wait, whose timeout is whole
// milliseconds, so a timer fires up to 1 ms late (golang/go#53824), and
// later still when the processor to run it has to be woken first: on the
// 2-vCPU VM where this was measured (Go 1.26, otherwise idle), timers of
// 0 to 10 ms fired 0.7 ms late at the median, more than 1.1 ms late one
// time in six, and more than 3.4 ms late one time in a hundred.
const spinFor = 4 * time.Millisecond

// SleepPrecise is Sleep, but ends within microseconds of d instead of a
// millisecond or more late (see spinFor): it sleeps on a timer for all but
// the last spinFor, then yields the processor in a loop until the
// deadline. Parse and Process sleep with it so that, at small scales, wall
// times measure the executor rather than the timers: at -scale 0.01 an
// item's sleep is 0 to 2.5 ms, and a timer alone is late by half of that.
//
// The price is up to spinFor of CPU per sleep, spent yielding (so other
// goroutines go first): a whole core while sleeps are that short, and at
// the notebook's scale (sleeps of 0.1 to 1 s) about 1 s of CPU in the 20 s
// that `go run ./examples/evolving` takes (0.2 s with timers alone). That
// is kept, so that every scale sleeps the same way.
//
// A clock that does not move while it yields is a testing/synctest
// bubble's, which moves only when every goroutine in it is blocked (or a
// clock too coarse to spin on): then it waits on a timer for the rest, so
// in a bubble it takes exactly d of the bubble's time.
func SleepPrecise(ctx context.Context, d time.Duration) error {
	deadline := time.Now().Add(d)
	if err := Sleep(ctx, d-spinFor); err != nil {
		return err
	}
	done := ctx.Done()
	var last time.Time
	for {
		now := time.Now()
		if !now.Before(deadline) {
			return nil
		}
		if now.Equal(last) {
			return Sleep(ctx, deadline.Sub(now))
		}
		last = now
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		runtime.Gosched()
	}
}

// Parse models parse_file: it sleeps for f.Parse and returns the X values of
// f's items in order, in a fresh slice. Once it has slept, it counts f's
// items as held in the Held ctx carries, if any (see WithHeld), and records
// the call in the Tape ctx carries, if any (see WithTape).
func Parse(ctx context.Context, f File) ([]float64, error) {
	start := time.Now()
	if err := SleepPrecise(ctx, f.Parse); err != nil {
		return nil, err
	}
	if t := tapeIn(ctx); t != nil {
		t.record(call{file: f.Name, parse: true, start: start, end: time.Now()})
	}
	if h := heldIn(ctx); h != nil {
		h.parsed(len(f.Items))
	}
	xs := make([]float64, len(f.Items))
	for i, it := range f.Items {
		xs[i] = it.X
	}
	return xs, nil
}

// Process models process_item: it sleeps for it.Sleep and returns it.X+1.
// It takes the whole Item rather than just x so that every execution
// strategy sleeps exactly as long for the same item. Once it has slept, it
// counts the item as no longer held in the Held ctx carries, if any, and
// records the call in the Tape ctx carries, if any.
func Process(ctx context.Context, it Item) (float64, error) {
	start := time.Now()
	if err := SleepPrecise(ctx, it.Sleep); err != nil {
		return 0, err
	}
	if t := tapeIn(ctx); t != nil {
		t.record(call{x: it.X, start: start, end: time.Now()})
	}
	if h := heldIn(ctx); h != nil {
		h.processed()
	}
	return it.X + 1, nil
}

// Sequential is the notebook's plain-loop baseline: it parses each file and
// processes its items one after another, in order. It returns the results
// in that order, or nil and the first error.
func (w Workload) Sequential(ctx context.Context) ([]float64, error) {
	var results []float64
	for _, f := range w.Files {
		if _, err := Parse(ctx, f); err != nil {
			return nil, err
		}
		// Process gets the Item, not the parsed x, to keep its sleep.
		for _, it := range f.Items {
			y, err := Process(ctx, it)
			if err != nil {
				return nil, err
			}
			results = append(results, y)
		}
	}
	return results, nil
}

// Checksum returns a checksum of results that does not depend on their
// order: any permutation of the same multiset of values gives the same sum.
// Values are compared by bit pattern, so +0 and -0, or NaNs with different
// payloads, count as different values.
func Checksum(results []float64) uint64 {
	// Sorting the bit patterns rather than the floats gives a total order
	// even for NaN and signed zeros.
	bits := make([]uint64, len(results))
	for i, x := range results {
		bits[i] = math.Float64bits(x)
	}
	slices.Sort(bits)
	h := fnv.New64a()
	var buf [8]byte
	for _, b := range bits {
		binary.LittleEndian.PutUint64(buf[:], b)
		h.Write(buf[:])
	}
	return h.Sum64()
}

// Expected returns the number of results any correct execution of w
// produces and their Checksum, without sleeping.
func (w Workload) Expected() (n int, checksum uint64) {
	var results []float64
	for _, f := range w.Files {
		for _, it := range f.Items {
			results = append(results, it.X+1)
		}
	}
	return len(results), Checksum(results)
}

// nonneg treats negative durations as zero, matching Sleep, so that the
// simulator and the real run agree on hand-built workloads.
func nonneg(d time.Duration) time.Duration {
	return max(d, 0)
}

// TotalWork returns the sum of all parse and item sleeps: the makespan on a
// single worker.
func (w Workload) TotalWork() time.Duration {
	var total time.Duration
	for _, f := range w.Files {
		total += nonneg(f.Parse)
		for _, it := range f.Items {
			total += nonneg(it.Sleep)
		}
	}
	return total
}

// CriticalPath returns the longest chain of dependent work, the maximum
// over files of its parse time plus its longest item: no number of workers
// can finish sooner.
func (w Workload) CriticalPath() time.Duration {
	var cp time.Duration
	for _, f := range w.Files {
		var longest time.Duration
		for _, it := range f.Items {
			longest = max(longest, nonneg(it.Sleep))
		}
		cp = max(cp, nonneg(f.Parse)+longest)
	}
	return cp
}

// LowerBound returns max(CriticalPath, ceil(TotalWork/workers)), a bound
// below which no schedule on that many workers can finish. Workers < 1 is
// treated as 1.
func (w Workload) LowerBound(workers int) time.Duration {
	workers = max(workers, 1)
	total := w.TotalWork()
	n := time.Duration(workers)
	// Rounding up keeps the bound valid for schedules measured in whole
	// nanoseconds, as Greedy's are.
	return max(w.CriticalPath(), (total+n-1)/n)
}

// simTask is a task in the Greedy simulation.
type simTask struct {
	prio   int
	seq    int // creation order; parse tasks get their file index
	file   int // file index for a parse task, -1 for an item task
	dur    time.Duration
	finish time.Duration
}

// taskHeap is a container/heap of tasks ordered by less.
type taskHeap struct {
	ts   []*simTask
	less func(a, b *simTask) bool
}

func (h *taskHeap) Len() int           { return len(h.ts) }
func (h *taskHeap) Less(i, j int) bool { return h.less(h.ts[i], h.ts[j]) }
func (h *taskHeap) Swap(i, j int)      { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *taskHeap) Push(x any)         { h.ts = append(h.ts, x.(*simTask)) }
func (h *taskHeap) Pop() any {
	t := h.ts[len(h.ts)-1]
	h.ts = h.ts[:len(h.ts)-1]
	return t
}

// Schedule is what Simulate reports of one greedy schedule.
type Schedule struct {
	// Makespan is when the last task finishes.
	Makespan time.Duration
	// PeakHeld is the largest number of items held at any instant: parsed
	// (their file's parse finished) and not yet processed (their process
	// call has not finished). It is the memory a schedule needs for parsed
	// data, and what the notebook's priority for items buys: processing
	// known items before parsing more keeps it low.
	PeakHeld int
}

// Greedy returns the makespan of the schedule Simulate describes.
func (w Workload) Greedy(workers int, itemPriority int) (time.Duration, error) {
	s, err := w.Simulate(workers, itemPriority)
	return s.Makespan, err
}

// Simulate runs a zero-overhead greedy list scheduler on w with workers
// identical workers and reports its makespan and peak of held items. It
// returns an error if workers < 1.
//
// At time 0 the parse tasks are ready with priority 0, created in file
// order. When a file's parse finishes at time t, its items become ready at
// t with priority itemPriority, created in item order. Whenever a worker is
// free and a task is ready, the worker starts the ready task with the
// highest priority; equal priorities go to the task created first.
//
// All tasks finishing at the same instant complete together before any
// free worker picks new work, so items released at t compete with
// everything else ready at t; parses finishing together release their
// items in file-index order. A task of zero duration finishes at the
// instant it starts and its completion is handled in a further round at
// that same instant. Since parse tasks are created before any item,
// itemPriority <= 0 always favours parsing; itemPriority > 0 favours
// processing, like Dask's priority for tasks submitted from tasks.
// Negative durations count as zero.
//
// Held items are counted once all completions of an instant are in: an
// item that finishes at the instant another file's parse does is not
// counted together with that file's items. Simultaneous events have no
// order in the model, so the peak must not depend on a tie-break it would
// have to invent.
func (w Workload) Simulate(workers int, itemPriority int) (Schedule, error) {
	if workers < 1 {
		return Schedule{}, fmt.Errorf("workload: workers must be >= 1, got %d", workers)
	}
	ready := &taskHeap{less: func(a, b *simTask) bool {
		if a.prio != b.prio {
			return a.prio > b.prio
		}
		return a.seq < b.seq
	}}
	// Ordering equal finish times by seq makes simultaneous parses release
	// their items in file-index order, since a parse's seq is its index.
	running := &taskHeap{less: func(a, b *simTask) bool {
		if a.finish != b.finish {
			return a.finish < b.finish
		}
		return a.seq < b.seq
	}}

	seq := 0
	for i, f := range w.Files {
		heap.Push(ready, &simTask{seq: seq, file: i, dur: nonneg(f.Parse)})
		seq++
	}
	var now time.Duration
	free := workers
	held, peak := 0, 0
	for {
		for free > 0 && ready.Len() > 0 {
			t := heap.Pop(ready).(*simTask)
			t.finish = now + t.dur
			heap.Push(running, t)
			free--
		}
		if running.Len() == 0 {
			return Schedule{Makespan: now, PeakHeld: peak}, nil
		}
		now = running.ts[0].finish
		for running.Len() > 0 && running.ts[0].finish == now {
			t := heap.Pop(running).(*simTask)
			free++
			if t.file < 0 {
				held--
				continue
			}
			held += len(w.Files[t.file].Items)
			for _, it := range w.Files[t.file].Items {
				heap.Push(ready, &simTask{prio: itemPriority, seq: seq, file: -1, dur: nonneg(it.Sleep)})
				seq++
			}
		}
		peak = max(peak, held)
	}
}
