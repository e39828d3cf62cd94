package workload

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustGenerate(t *testing.T, seed int64, files int, scale float64) Workload {
	t.Helper()
	w, err := Generate(seed, files, scale)
	if err != nil {
		t.Fatalf("Generate(%d, %d, %v): %v", seed, files, scale, err)
	}
	return w
}

func TestGenerateDeterministic(t *testing.T) {
	a := mustGenerate(t, 42, 10, 1)
	b := mustGenerate(t, 42, 10, 1)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed produced different workloads")
	}
	c := mustGenerate(t, 43, 10, 1)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 produced identical workloads")
	}
}

// TestGenerateGolden pins the documented draw order: if it changes, seeds
// recorded elsewhere no longer describe the same workload.
func TestGenerateGolden(t *testing.T) {
	w := mustGenerate(t, 1, 10, 1)
	var counts []int
	for _, f := range w.Files {
		counts = append(counts, len(f.Items))
	}
	if want := []int{8, 1, 3, 9, 8, 6, 7, 10, 6, 10}; !slices.Equal(counts, want) {
		t.Errorf("item counts = %v, want %v", counts, want)
	}
	if got, want := w.Files[0].Parse, 62616124*time.Nanosecond; got != want {
		t.Errorf("file 0 parse = %v, want %v", got, want)
	}
	if got, want := w.Files[0].Items[0].Sleep, 180086698*time.Nanosecond; got != want {
		t.Errorf("file 0 item 0 sleep = %v, want %v", got, want)
	}
}

func TestGenerateBounds(t *testing.T) {
	seen := map[int]bool{}
	for _, scale := range []float64{1, 0.5, 3} {
		for seed := int64(0); seed < 100; seed++ {
			w := mustGenerate(t, seed, 10, scale)
			if len(w.Files) != 10 {
				t.Fatalf("seed %d: %d files, want 10", seed, len(w.Files))
			}
			maxParse := time.Duration(scale * float64(time.Second))
			maxItem := time.Duration(scale * float64(time.Second) / 4)
			for i, f := range w.Files {
				if want := "file." + strconv.Itoa(i) + ".txt"; f.Name != want {
					t.Errorf("seed %d: file %d named %q, want %q", seed, i, f.Name, want)
				}
				if n := len(f.Items); n < 1 || n > 10 {
					t.Errorf("seed %d file %d: %d items, want 1..10", seed, i, n)
				}
				seen[len(f.Items)] = true
				if f.Parse < 0 || f.Parse >= maxParse {
					t.Errorf("seed %d scale %v file %d: parse %v outside [0, %v)", seed, scale, i, f.Parse, maxParse)
				}
				for j, it := range f.Items {
					if it.X < 0 || it.X >= 1 {
						t.Errorf("seed %d file %d item %d: X = %v outside [0, 1)", seed, i, j, it.X)
					}
					if it.Sleep < 0 || it.Sleep >= maxItem {
						t.Errorf("seed %d scale %v file %d item %d: sleep %v outside [0, %v)", seed, scale, i, j, it.Sleep, maxItem)
					}
				}
			}
		}
	}
	// 3000 uniform draws over 1..10 miss a count only if IntN is misused.
	for n := 1; n <= 10; n++ {
		if !seen[n] {
			t.Errorf("no file ever had %d items", n)
		}
	}
}

func TestGenerateScaleZero(t *testing.T) {
	w0 := mustGenerate(t, 7, 10, 0)
	w1 := mustGenerate(t, 7, 10, 1)
	if w0.TotalWork() != 0 {
		t.Errorf("scale 0: total work %v, want 0", w0.TotalWork())
	}
	for i, f := range w0.Files {
		if f.Parse != 0 {
			t.Errorf("scale 0 file %d: parse %v", i, f.Parse)
		}
		for j, it := range f.Items {
			if it.Sleep != 0 {
				t.Errorf("scale 0 file %d item %d: sleep %v", i, j, it.Sleep)
			}
		}
		// Scale must not consume or reorder draws.
		g := w1.Files[i]
		if len(f.Items) != len(g.Items) {
			t.Fatalf("file %d: %d items at scale 0, %d at scale 1", i, len(f.Items), len(g.Items))
		}
		for j := range f.Items {
			if f.Items[j].X != g.Items[j].X {
				t.Errorf("file %d item %d: X %v at scale 0, %v at scale 1", i, j, f.Items[j].X, g.Items[j].X)
			}
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		files int
		scale float64
		want  string
	}{
		{0, 1, "got 0"},
		{-3, 1, "got -3"},
		{10, -1, "got -1"},
		{10, math.NaN(), "got NaN"},
		{10, math.Inf(1), "got +Inf"},
		{10, math.Inf(-1), "got -Inf"},
		{10, 1e300, "1e+300"},
	}
	for _, tt := range tests {
		_, err := Generate(1, tt.files, tt.scale)
		if err == nil {
			t.Errorf("Generate(1, %d, %v): no error", tt.files, tt.scale)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Generate(1, %d, %v) error %q does not contain %q", tt.files, tt.scale, err, tt.want)
		}
	}
}

func TestChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 50)
	for i := range xs {
		xs[i] = r.Float64()
	}
	xs[3] = xs[7] // duplicates must survive permutation too
	want := Checksum(xs)
	for range 20 {
		p := slices.Clone(xs)
		r.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		if got := Checksum(p); got != want {
			t.Fatalf("permutation changed checksum: %x != %x", got, want)
		}
	}
	before := slices.Clone(xs)
	if Checksum(xs) != want || !slices.Equal(xs, before) {
		t.Fatal("Checksum is unstable or modified its input")
	}

	changed := slices.Clone(xs)
	changed[10] = math.Nextafter(changed[10], 2)
	differ := map[string][]float64{
		"one value nudged by 1 ulp": changed,
		"one value dropped":         xs[1:],
		"one value duplicated":      append(slices.Clone(xs), xs[0]),
	}
	for name, ys := range differ {
		if Checksum(ys) == want {
			t.Errorf("%s: checksum unchanged", name)
		}
	}
	if Checksum([]float64{0}) == Checksum([]float64{math.Copysign(0, -1)}) {
		t.Error("+0 and -0 have the same checksum")
	}
	if Checksum(nil) == Checksum([]float64{0}) {
		t.Error("empty and {0} have the same checksum")
	}
}

func TestSequentialMatchesExpected(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		w := mustGenerate(t, seed, 10, 0)
		got, err := w.Sequential(context.Background())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var want []float64
		for _, f := range w.Files {
			for _, it := range f.Items {
				want = append(want, it.X+1)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: Sequential = %v, want %v", seed, got, want)
		}
		n, sum := w.Expected()
		if n != len(got) || sum != Checksum(got) {
			t.Errorf("seed %d: Expected() = (%d, %x), Sequential gave (%d, %x)", seed, n, sum, len(got), Checksum(got))
		}
	}
}

func TestParseProcessValues(t *testing.T) {
	f := File{Items: []Item{{X: 0.25}, {X: 0.5}}}
	xs, err := Parse(context.Background(), f)
	if err != nil || !slices.Equal(xs, []float64{0.25, 0.5}) {
		t.Fatalf("Parse = %v, %v", xs, err)
	}
	y, err := Process(context.Background(), Item{X: 0.25})
	if err != nil || y != 1.25 {
		t.Fatalf("Process = %v, %v", y, err)
	}
}

func TestSleepCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 4)
	go func() { done <- Sleep(ctx, time.Hour) }()
	go func() { done <- SleepPrecise(ctx, time.Hour) }()
	go func() {
		_, err := Parse(ctx, File{Parse: time.Hour, Items: []Item{{X: 1}}})
		done <- err
	}()
	go func() {
		_, err := Process(ctx, Item{X: 1, Sleep: time.Hour})
		done <- err
	}()
	cancel()
	// A missed cancellation blocks for an hour, which go test's timeout
	// reports; no wall-clock assertion is needed.
	for range 4 {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	}
}

func TestSleepZero(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Errorf("Sleep(-1s) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled, 0) = %v, want context.Canceled", err)
	}
	if err := SleepPrecise(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("SleepPrecise(cancelled, 0) = %v, want context.Canceled", err)
	}
	if err := SleepPrecise(context.Background(), -time.Second); err != nil {
		t.Errorf("SleepPrecise(-1s) = %v", err)
	}
	if _, err := Process(ctx, Item{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Process(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := Workload.Sequential(mustGenerate(t, 1, 2, 0), ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sequential(cancelled) = %v, want context.Canceled", err)
	}
}

func TestBounds(t *testing.T) {
	s := time.Second
	w := Workload{Files: []File{
		{Parse: 1 * s, Items: []Item{{Sleep: 2 * s}, {Sleep: 1 * s}}},
		{Parse: 3 * s, Items: []Item{{Sleep: 1 * s}}},
	}}
	if got := w.TotalWork(); got != 8*s {
		t.Errorf("TotalWork = %v, want 8s", got)
	}
	// File 0: 1+2 = 3s; file 1: 3+1 = 4s.
	if got := w.CriticalPath(); got != 4*s {
		t.Errorf("CriticalPath = %v, want 4s", got)
	}
	for workers, want := range map[int]time.Duration{0: 8 * s, 1: 8 * s, 2: 4 * s, 3: 4 * s} {
		if got := w.LowerBound(workers); got != want {
			t.Errorf("LowerBound(%d) = %v, want %v", workers, got, want)
		}
	}
	// Negative durations sleep for zero, so the model must count them as zero.
	neg := Workload{Files: []File{
		{Parse: -5 * s, Items: []Item{{Sleep: -1 * s}, {Sleep: 2 * s}}},
		{Parse: 1 * s, Items: []Item{{Sleep: -3 * s}}},
	}}
	if got := neg.TotalWork(); got != 3*s {
		t.Errorf("negative durations: TotalWork = %v, want 3s", got)
	}
	if got := neg.CriticalPath(); got != 2*s {
		t.Errorf("negative durations: CriticalPath = %v, want 2s", got)
	}
	if got, err := neg.Greedy(1, 0); err != nil || got != 3*s {
		t.Errorf("negative durations: Greedy(1, 0) = %v, %v; want 3s", got, err)
	}

	// 10ns of work over 3 workers needs 4ns in whole nanoseconds.
	odd := Workload{Files: []File{{Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}, {Parse: 1}}}
	if got := odd.LowerBound(3); got != 4 {
		t.Errorf("LowerBound(3) of 10 x 1ns = %v, want 4ns", got)
	}
}

func TestGreedyErrors(t *testing.T) {
	w := mustGenerate(t, 1, 3, 1)
	for _, workers := range []int{0, -2} {
		_, err := w.Greedy(workers, 0)
		if err == nil {
			t.Errorf("Greedy(%d, 0): no error", workers)
			continue
		}
		if want := "got " + strconv.Itoa(workers); !strings.Contains(err.Error(), want) {
			t.Errorf("Greedy(%d, 0) error %q does not contain %q", workers, err, want)
		}
	}
}

func TestGreedyExtremes(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		w := mustGenerate(t, seed, 10, 1)
		n, _ := w.Expected()
		for _, prio := range []int{0, 1} {
			got, err := w.Greedy(1, prio)
			if err != nil {
				t.Fatal(err)
			}
			if got != w.TotalWork() {
				t.Errorf("seed %d prio %d: 1 worker makespan %v, want total work %v", seed, prio, got, w.TotalWork())
			}
			// With a worker for every task, each item starts as soon as its
			// parse ends.
			got, err = w.Greedy(len(w.Files)+n, prio)
			if err != nil {
				t.Fatal(err)
			}
			if got != w.CriticalPath() {
				t.Errorf("seed %d prio %d: unlimited workers makespan %v, want critical path %v", seed, prio, got, w.CriticalPath())
			}
		}
	}
	zero := mustGenerate(t, 3, 10, 0)
	for workers := 1; workers <= 4; workers++ {
		if got, err := zero.Greedy(workers, 1); err != nil || got != 0 {
			t.Errorf("scale 0, %d workers: Greedy = %v, %v; want 0", workers, got, err)
		}
	}
	if got, err := (Workload{}).Greedy(2, 0); err != nil || got != 0 {
		t.Errorf("empty workload: Greedy = %v, %v; want 0", got, err)
	}
}

func TestGreedyPriority(t *testing.T) {
	s := time.Second
	w := Workload{Files: []File{
		{Parse: 1 * s, Items: []Item{{Sleep: 1 * s}}}, // p0, i0
		{Parse: 1 * s, Items: []Item{{Sleep: 1 * s}}}, // p1, i1
		{Parse: 3 * s, Items: []Item{{Sleep: 1 * s}}}, // p2, i2
	}}
	// Two workers.
	//
	// itemPriority 0 (parses win ties, being created first):
	//   t=0: p0 [0,1], p1 [0,1]
	//   t=1: i0, i1 released; ready p2, i0, i1 -> p2 [1,4], i0 [1,2]
	//   t=2: i1 [2,3]
	//   t=4: i2 released -> i2 [4,5]              makespan 5s
	//
	// itemPriority 1 (items first):
	//   t=0: p0 [0,1], p1 [0,1]
	//   t=1: ready p2, i0, i1 -> i0 [1,2], i1 [1,2]
	//   t=2: p2 [2,5]
	//   t=5: i2 [5,6]                             makespan 6s
	for prio, want := range map[int]time.Duration{-1: 5 * s, 0: 5 * s, 1: 6 * s, 5: 6 * s} {
		got, err := w.Greedy(2, prio)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("itemPriority %d: makespan %v, want %v", prio, got, want)
		}
	}
	if lb := w.LowerBound(2); lb != 4*s {
		t.Errorf("LowerBound(2) = %v, want 4s", lb)
	}
}

func TestGreedySimultaneousParses(t *testing.T) {
	s := time.Second
	w := Workload{Files: []File{
		{Parse: 1 * s, Items: []Item{{Sleep: 1 * s}, {Sleep: 1 * s}}}, // p0, i0a, i0b
		{Parse: 1 * s, Items: []Item{{Sleep: 3 * s}}},                 // p1, i1
	}}
	// Two workers; p0 and p1 both finish at t=1, so file 0's items are
	// created first:
	//   t=1: ready i0a, i0b, i1 -> i0a [1,2], i0b [1,2]
	//   t=2: i1 [2,5]                             makespan 5s
	// Had file 1 gone first, i1 [1,4], i0a [1,2], i0b [2,3] would give 4s.
	for _, prio := range []int{0, 1} {
		got, err := w.Greedy(2, prio)
		if err != nil {
			t.Fatal(err)
		}
		if got != 5*s {
			t.Errorf("itemPriority %d: makespan %v, want 5s", prio, got)
		}
	}
}

func TestGreedyWithinBounds(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		w := mustGenerate(t, seed, 10, 1)
		total, cp := w.TotalWork(), w.CriticalPath()
		for workers := 1; workers <= 8; workers++ {
			for _, prio := range []int{0, 1} {
				got, err := w.Greedy(workers, prio)
				if err != nil {
					t.Fatal(err)
				}
				if lb := w.LowerBound(workers); got < lb {
					t.Errorf("seed %d, %d workers, prio %d: makespan %v below lower bound %v", seed, workers, prio, got, lb)
				}
				// Graham: any greedy list schedule has
				// makespan <= total/m + (1 - 1/m) * critical path.
				m := time.Duration(workers)
				if m*got > total+(m-1)*cp {
					t.Errorf("seed %d, %d workers, prio %d: makespan %v exceeds Graham bound (total %v, cp %v)", seed, workers, prio, got, total, cp)
				}
			}
		}
	}
}

// TestSleepPreciseInBubble checks that SleepPrecise, whose last stretch
// spins on the clock, ends in a testing/synctest bubble, whose clock
// stands still while anything in it runs, and takes exactly d there.
func TestSleepPreciseInBubble(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, 10 * time.Microsecond, spinFor - 1, spinFor, spinFor + 1, 3*time.Millisecond + 7, time.Second} {
		synctest.Test(t, func(t *testing.T) {
			start := time.Now()
			if err := SleepPrecise(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != d {
				t.Errorf("SleepPrecise(%v) took %v of the bubble's time", d, got)
			}
		})
	}
}

// cancelledAfterCheck is a context that is not done when first asked and
// done ever after: it lets a test cancel a sleep past its entry check, in
// SleepPrecise's spin, without racing a goroutine against the spin.
type cancelledAfterCheck struct {
	context.Context
	asked bool
	done  chan struct{}
}

func (c *cancelledAfterCheck) Done() <-chan struct{} { return c.done }

func (c *cancelledAfterCheck) Err() error {
	if !c.asked {
		c.asked = true
		return nil
	}
	return context.Canceled
}

// TestSleepPreciseCancelWhileSpinning checks that the spin at the end of
// SleepPrecise stops when the context is done.
func TestSleepPreciseCancelWhileSpinning(t *testing.T) {
	ctx := &cancelledAfterCheck{Context: context.Background(), done: make(chan struct{})}
	close(ctx.done)
	if err := SleepPrecise(ctx, spinFor/2); !errors.Is(err, context.Canceled) {
		t.Errorf("SleepPrecise = %v, want context.Canceled", err)
	}
}

// TestSimulatePeakHeld checks the peak of held items against schedules
// worked out by hand, where the two orders differ in both figures.
func TestSimulatePeakHeld(t *testing.T) {
	s := time.Second
	w := Workload{Files: []File{
		{Parse: 1 * s, Items: []Item{{Sleep: 2 * s}, {Sleep: 2 * s}}},                 // p0, i0a, i0b
		{Parse: 1 * s, Items: []Item{{Sleep: 1 * s}}},                                 // p1, i1
		{Parse: 2 * s, Items: []Item{{Sleep: 1 * s}, {Sleep: 1 * s}, {Sleep: 1 * s}}}, // p2, i2a-c
	}}
	// Two workers, held in brackets.
	//
	// Items first (itemPriority 1):
	//   t=0: p0 [0,1], p1 [0,1]
	//   t=1: p0, p1 end [3]; i0a [1,3], i0b [1,3]
	//   t=3: i0a, i0b end [1]; i1 [3,4], p2 [3,5]
	//   t=4: i1 ends [0]
	//   t=5: p2 ends [3]; i2a [5,6], i2b [5,6]
	//   t=6: [1]; i2c [6,7]
	//   t=7: [0]                          makespan 7s, peak 3
	//
	// Parses first (itemPriority 0):
	//   t=0: p0 [0,1], p1 [0,1]
	//   t=1: p0, p1 end [3]; p2 [1,3], i0a [1,3]
	//   t=3: p2 ends (+3) as i0a does (-1) [5]; i0b [3,5], i1 [3,4]
	//   t=4: i1 ends [4]; i2a [4,5]
	//   t=5: i0b, i2a end [2]; i2b [5,6], i2c [5,6]
	//   t=6: [0]                          makespan 6s, peak 5
	//
	// At t=3 the peak is 5, not the 6 that counting p2's items before i0a's
	// end would give: an instant's completions count together.
	for _, tt := range []struct {
		workers, prio int
		want          Schedule
	}{
		{2, 1, Schedule{Makespan: 7 * s, PeakHeld: 3}},
		{2, 0, Schedule{Makespan: 6 * s, PeakHeld: 5}},
		// One worker: items first is the sequential loop, holding one file's
		// items at a time; parses first holds them all.
		{1, 1, Schedule{Makespan: w.TotalWork(), PeakHeld: 3}},
		{1, 0, Schedule{Makespan: w.TotalWork(), PeakHeld: 6}},
		// A worker per task: every item starts as its parse ends, so files
		// 0 and 1 are held together from t=1 to t=2, and file 2's 3 items
		// from t=2 to t=3 while file 0's are still running.
		{9, 1, Schedule{Makespan: 3 * s, PeakHeld: 5}},
	} {
		got, err := w.Simulate(tt.workers, tt.prio)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%d workers, itemPriority %d: %+v, want %+v", tt.workers, tt.prio, got, tt.want)
		}
		if g, _ := w.Greedy(tt.workers, tt.prio); g != got.Makespan {
			t.Errorf("%d workers, itemPriority %d: Greedy %v, Simulate's makespan %v", tt.workers, tt.prio, g, got.Makespan)
		}
	}
}

// TestSimulatePeakHeldBounds checks, over generated workloads, what must
// hold of any schedule: one worker processing items first holds exactly
// the largest file at its peak, parsing first holds every item, and no
// schedule holds more than every item or fewer than its largest file.
func TestSimulatePeakHeldBounds(t *testing.T) {
	for seed := int64(0); seed < 30; seed++ {
		w := mustGenerate(t, seed, 10, 1)
		n, _ := w.Expected()
		largest := 0
		for _, f := range w.Files {
			largest = max(largest, len(f.Items))
		}
		if s, _ := w.Simulate(1, 1); s.PeakHeld != largest {
			t.Errorf("seed %d: one worker, items first: peak %d, want the largest file's %d", seed, s.PeakHeld, largest)
		}
		if s, _ := w.Simulate(1, 0); s.PeakHeld != n {
			t.Errorf("seed %d: one worker, parses first: peak %d, want every item, %d", seed, s.PeakHeld, n)
		}
		for workers := 2; workers <= 8; workers++ {
			for _, prio := range []int{0, 1} {
				s, err := w.Simulate(workers, prio)
				if err != nil {
					t.Fatal(err)
				}
				if s.PeakHeld < largest || s.PeakHeld > n {
					t.Errorf("seed %d, %d workers, prio %d: peak %d outside [%d, %d]", seed, workers, prio, s.PeakHeld, largest, n)
				}
			}
		}
	}
}

// TestHeldCounts checks that Parse and Process count in the Held their
// context carries, and only there.
func TestHeldCounts(t *testing.T) {
	var h Held
	ctx := WithHeld(context.Background(), &h)
	a := File{Items: []Item{{X: 1}, {X: 2}, {X: 3}}}
	b := File{Items: []Item{{X: 4}}}
	step := func(what string, err error, now, peak int) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if h.Now() != now || h.Peak() != peak {
			t.Errorf("after %s: %d held, peak %d; want %d, %d", what, h.Now(), h.Peak(), now, peak)
		}
	}
	_, err := Parse(ctx, a)
	step("parsing 3", err, 3, 3)
	_, err = Process(ctx, a.Items[0])
	step("processing 1", err, 2, 3)
	_, err = Parse(ctx, b)
	step("parsing 1 more", err, 3, 3)
	_, err = Process(ctx, a.Items[1])
	step("processing another", err, 2, 3)
	_, err = Parse(ctx, b)
	step("parsing 1 more", err, 3, 3)
	_, err = Parse(ctx, b)
	step("parsing 1 more", err, 4, 4)
	_, err = Parse(context.Background(), a)
	step("parsing without the Held", err, 4, 4)

	// A call that fails, cancelled before it slept, counts nothing.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Parse(cancelled, a)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Parse(cancelled) = %v", err)
	}
	_, err = Process(cancelled, a.Items[2])
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Process(cancelled) = %v", err)
	}
	step("cancelled calls", nil, 4, 4)
}

// TestHeldConcurrent checks that the peak survives concurrent counting:
// each goroutine parses a file of k items and processes them, so the
// counter ends at zero, and its peak lies between one file and all of
// them at once.
func TestHeldConcurrent(t *testing.T) {
	const goroutines, k = 8, 5
	var h Held
	ctx := WithHeld(context.Background(), &h)
	f := File{Items: slices.Repeat([]Item{{X: 1}}, k)}
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range 100 {
				if _, err := Parse(ctx, f); err != nil {
					t.Error(err)
				}
				for _, it := range f.Items {
					if _, err := Process(ctx, it); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if h.Now() != 0 || h.Peak() < k || h.Peak() > goroutines*k {
		t.Errorf("%d held at the end, peak %d; want 0 and a peak in [%d, %d]", h.Now(), h.Peak(), k, goroutines*k)
	}
}
