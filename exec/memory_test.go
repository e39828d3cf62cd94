package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestTargetsRunsLongChainInBoundedMemory runs, for one target, a chain of
// 1,000 tasks that each read the previous task's 1 MiB slice and return a
// fresh one. Holding every result would take 1 GiB; the heap, sampled in
// every task, must stay far below (64 MiB). Afterwards the target's result
// and the kept one are readable, and every other handle reports
// ErrReleased, never a zero value with a nil error. Under the race
// detector, where each 1 MiB allocation costs milliseconds, the chain has
// 250 tasks: holding them would still take four times the bound.
func TestTargetsRunsLongChainInBoundedMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // the bound assumes the default pacing
	const size, limit = 1 << 20, 64 << 20
	n := 1000
	if raceEnabled {
		n = 250
	}
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		for p := peak.Load(); ms.HeapAlloc > p && !peak.CompareAndSwap(p, ms.HeapAlloc); p = peak.Load() {
		}
	}
	// fresh returns a new slice marked as step i, with every page touched.
	fresh := func(i int) []byte {
		b := make([]byte, size)
		for k := 0; k < size; k += 4096 {
			b[k] = byte(i)
		}
		sample()
		return b
	}
	g := graph.New()
	chain := []graph.Task[[]byte]{graph.Add(g, "s0", func(context.Context) ([]byte, error) { return fresh(0), nil })}
	keptAt := n / 2
	for i := 1; i < n; i++ {
		var opts []graph.Option
		if i == keptAt {
			opts = append(opts, graph.Keep())
		}
		chain = append(chain, graph.Add1(g, fmt.Sprint("s", i), chain[i-1], func(_ context.Context, in []byte) ([]byte, error) {
			if len(in) != size || in[0] != byte(i-1) || in[size-4096] != byte(i-1) {
				return nil, fmt.Errorf("step %d read a wrong input (len %d)", i, len(in))
			}
			return fresh(i), nil
		}, opts...))
	}
	last := chain[n-1]
	if err := runGuarded(t, t.Context(), g, exec.Targets(last), exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p >= limit {
		t.Errorf("peak heap %d MiB while running a chain of %d 1 MiB results for one target; want < %d MiB", p>>20, n, limit>>20)
	}
	if v, err := last.Result(); err != nil || len(v) != size || v[0] != byte((n-1)%256) {
		t.Errorf("target: len %d, %v; want its own 1 MiB result", len(v), err)
	}
	if v, err := chain[keptAt].Result(); err != nil || len(v) != size || v[0] != byte(keptAt%256) {
		t.Errorf("kept task: len %d, %v; want its result", len(v), err)
	}
	for i, h := range chain[:n-1] {
		if i == keptAt {
			continue
		}
		v, err := h.Result()
		if !errors.Is(err, graph.ErrReleased) || v != nil || h.State() != graph.Released {
			t.Fatalf("%s: Result() = len %d, %v in state %v; want an error wrapping ErrReleased", h.Name(), len(v), err, h.State())
		}
		if _, werr := h.Wait(t.Context()); !errors.Is(werr, graph.ErrReleased) {
			t.Fatalf("%s: Wait() error %v, want ErrReleased", h.Name(), werr)
		}
	}
}

// TestFullRunKeepsEveryResult checks that a run without Targets releases
// nothing.
func TestFullRunKeepsEveryResult(t *testing.T) {
	g := graph.New()
	chain := []graph.Task[int]{graph.Add(g, "c0", func(context.Context) (int, error) { return 0, nil })}
	for i := 1; i < 50; i++ {
		chain = append(chain, graph.Add1(g, fmt.Sprint("c", i), chain[i-1], func(_ context.Context, x int) (int, error) { return x + 1, nil }))
	}
	if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	for i, h := range chain {
		if v, err := h.Result(); v != i || err != nil {
			t.Fatalf("%s: %v, %v; want %d, nil", h.Name(), v, err, i)
		}
	}
}

// TestTargetsRunOnlyWhatTheyNeed checks that tasks no target needs stay
// idle, and that waiting on one reports ErrNotScheduled.
func TestTargetsRunOnlyWhatTheyNeed(t *testing.T) {
	var ran atomic.Int32
	count := func(_ context.Context, x int) (int, error) { ran.Add(1); return x + 1, nil }
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	b := graph.Add1(g, "b", a, count)
	unneeded := graph.Add1(g, "unneeded", a, count)
	if err := runGuarded(t, t.Context(), g, exec.Targets(b)); err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 2 {
		t.Errorf("%d tasks ran, want 2 (a and b)", n)
	}
	if s := unneeded.State(); s != graph.Idle {
		t.Errorf("unneeded task is %v, want idle", s)
	}
	if v, err := b.Result(); v != 2 || err != nil {
		t.Errorf("target: %v, %v; want 2, nil", v, err)
	}
	if _, err := unneeded.Wait(t.Context()); !errors.Is(err, graph.ErrNotScheduled) {
		t.Errorf("Wait on an unneeded task: %v, want ErrNotScheduled", err)
	}
}

// TestTargetsKeepEveryTarget asks for two targets, one of which the other
// reads: both results must be kept, as Targets documents.
func TestTargetsKeepEveryTarget(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	c := graph.Add1(g, "c", b, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	if err := runGuarded(t, t.Context(), g, exec.Targets(b, c)); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Result(); v != 3 || err != nil {
		t.Errorf("target c: %v, %v; want 3, nil", v, err)
	}
	if v, err := b.Result(); v != 2 || err != nil {
		t.Errorf("target b, which c reads: %v, %v (state %v); want 2, nil", v, err, b.State())
	}
}

// TestRetryInTargetsRunRereadsInput retries a task in a run that releases
// results: its second attempt must get the same input as its first.
func TestRetryInTargetsRunRereadsInput(t *testing.T) {
	var attempts atomic.Int32
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 42, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) {
		if attempts.Add(1) == 1 {
			return 0, errBoom
		}
		return x, nil
	}, graph.Retries(1, 0))
	if err := runGuarded(t, t.Context(), g, exec.Targets(b), exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if v, err := b.Result(); v != 42 || err != nil {
		t.Fatalf("retried task got input %v, %v; want 42 on every attempt", v, err)
	}
}

// TestTargetsOnRandomGraphs runs random graphs twice, each time for a few
// random targets, on one to four workers, with some tasks built Keep. In
// each run exactly the tasks the targets need and that hold no result run,
// once; the targets and kept tasks end done with the right result; every
// other task that ran ends released and says so; tasks not needed stay
// as they were.
func TestTargetsOnRandomGraphs(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		for seed := range uint64(40) {
			rng := rand.New(rand.NewPCG(seed, 7))
			d := randomDAG(rng, 1+rng.IntN(50), 3, 0, 2)
			n := len(d.prio)
			want := make([]int, n) // a task's result: its number plus its inputs'
			keep := make([]bool, n)
			runs := make([]atomic.Int32, n)
			g := graph.New()
			ts := make([]graph.Task[int], n)
			for i := range n {
				want[i] = i
				in := make([]graph.Task[int], len(d.in[i]))
				for k, j := range d.in[i] {
					in[k] = ts[j]
					want[i] += want[j]
				}
				opts := []graph.Option{graph.Priority(d.prio[i])}
				if keep[i] = rng.IntN(8) == 0; keep[i] {
					opts = append(opts, graph.Keep())
				}
				ts[i] = graph.AddN(g, fmt.Sprintf("t%d", i), in, func(_ context.Context, xs []int) (int, error) {
					runs[i].Add(1)
					v := i
					for _, x := range xs {
						v += x
					}
					return v, nil
				}, opts...)
			}
			for round := range 2 {
				where := fmt.Sprintf("workers=%d seed=%d round=%d", workers, seed, round)
				targets := map[int]bool{}
				var refs []graph.Ref
				for range 1 + rng.IntN(3) {
					i := rng.IntN(n)
					targets[i] = true
					refs = append(refs, ts[i].Ref())
				}
				// needed: the targets and, through inputs, what they read
				// that holds no result (a done task's inputs are not read).
				before := make([]graph.State, n)
				for i := range n {
					before[i] = ts[i].State()
					runs[i].Store(0)
				}
				needed := make([]bool, n)
				var need func(i int)
				need = func(i int) {
					if needed[i] || before[i] == graph.Done {
						return
					}
					needed[i] = true
					for _, j := range d.in[i] {
						need(j)
					}
				}
				for i := range targets {
					if before[i] != graph.Done {
						need(i)
					}
				}
				if err := runGuarded(t, t.Context(), g, exec.Targets(refs...), exec.Workers(workers)); err != nil {
					t.Fatalf("%s: run: %v", where, err)
				}
				for i := range n {
					got, err := ts[i].Result()
					switch r := runs[i].Load(); {
					case needed[i] && r != 1, !needed[i] && r != 0:
						t.Errorf("%s: t%d ran %d times (needed: %v)", where, i, r, needed[i])
					case !needed[i] && ts[i].State() != before[i]:
						t.Errorf("%s: t%d was not needed but went from %v to %v", where, i, before[i], ts[i].State())
					case !needed[i]:
					case targets[i] || keep[i]:
						if err != nil || got != want[i] {
							t.Errorf("%s: t%d (target %v, kept %v) = %d, %v; want %d", where, i, targets[i], keep[i], got, err, want[i])
						}
					case !errors.Is(err, graph.ErrReleased):
						t.Errorf("%s: t%d = %d, %v (state %v); want it released", where, i, got, err, ts[i].State())
					}
				}
			}
		}
	}
}

// TestResultRacingReleaseNeverReadsZero reads a kept result while another
// goroutine releases it: Result returns the result or ErrReleased, never a
// zero value with a nil error (and, under -race, without a data race).
func TestResultRacingReleaseNeverReadsZero(t *testing.T) {
	for i := range 200 {
		g := graph.New()
		task := graph.Add(g, "t", func(context.Context) (int, error) { return 42, nil }, graph.Keep())
		if err := runGuarded(t, t.Context(), g, exec.Targets(task)); err != nil {
			t.Fatal(err)
		}
		released := make(chan struct{})
		go func() { task.Release(); close(released) }()
		for {
			v, err := task.Result()
			if err == nil && v != 42 {
				t.Fatalf("round %d: Result = %d, nil while the result was being released", i, v)
			}
			if err != nil {
				if !errors.Is(err, graph.ErrReleased) {
					t.Fatalf("round %d: Result error %v; want ErrReleased", i, err)
				}
				break
			}
		}
		<-released
	}
}

// TestValueIsNeverReleased: a value has no function to compute it again,
// so runs for targets never release it. A run for one reader of it, then
// a run for another, then a reader added to an open run for targets, and
// a reader after Task.Release, all read the value, never a zero with a nil
// error.
func TestValueIsNeverReleased(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			cfg := graph.Value(g, "value", 5)
			times := func(k int) func(context.Context, int) (int, error) {
				return func(_ context.Context, x int) (int, error) { return k * x, nil }
			}
			double := graph.Add1(g, "double", cfg, times(2))
			triple := graph.Add1(g, "triple", cfg, times(3))
			if err := runGuarded(t, t.Context(), g, exec.Targets(double), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := cfg.Result(); v != 5 || err != nil {
				t.Errorf("value after its reader ran in a run for targets: %v, %v (state %v); want 5", v, err, cfg.State())
			}
			if err := runGuarded(t, t.Context(), g, exec.Targets(triple), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := triple.Result(); v != 15 || err != nil {
				t.Errorf("triple, in the second run: %v, %v; want 15", v, err)
			}
			// A reader added to an open run for targets.
			e, err := exec.Start(t.Context(), g, exec.Targets(double), exec.Workers(workers))
			if err != nil {
				t.Fatal(err)
			}
			quad := graph.Add1(g, "quad", cfg, times(4))
			v, err := quad.Wait(t.Context())
			e.Close()
			if rerr := waitGuarded(t, e); rerr != nil {
				t.Fatal(rerr)
			}
			if v != 20 || err != nil {
				t.Errorf("quad, added to an open run: %v, %v; want 20", v, err)
			}
			// Release cannot drop what nothing could compute again.
			cfg.Release()
			five := graph.Add1(g, "five", cfg, times(5))
			if err := runGuarded(t, t.Context(), g, exec.Targets(five), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := five.Result(); v != 25 || err != nil {
				t.Errorf("five, after cfg.Release: %v, %v; want 25", v, err)
			}
			if v, err := cfg.Result(); v != 5 || err != nil {
				t.Errorf("value at the end: %v, %v (state %v); want 5", v, err, cfg.State())
			}
		})
	}
}

// TestReleaseDuringARunKeepsWhatItsReadersNeed: a kept task computed in
// an earlier run is released by the client while a run for targets, in
// which a reader of it waits to start, goes on. The reader must read the
// result, not a zero: the result is dropped only once the run no longer
// needs it (here, when the run ends).
func TestReleaseDuringARunKeepsWhatItsReadersNeed(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			kept := graph.Add(g, "kept", func(context.Context) (int, error) { return 42, nil }, graph.Keep())
			if err := runGuarded(t, t.Context(), g, exec.Targets(kept), exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			gate := make(chan struct{})
			started := make(chan struct{})
			wait := graph.Add(g, "wait", func(ctx context.Context) (int, error) {
				close(started)
				return 0, blockUntil(ctx, gate)
			})
			reader := graph.Add2(g, "reader", kept, wait, func(_ context.Context, x, _ int) (int, error) { return x + 1, nil })
			e, err := exec.Start(t.Context(), g, exec.Targets(reader), exec.Workers(workers))
			if err != nil {
				t.Fatal(err)
			}
			awaitClosed(t, started, "wait starts")
			kept.Release()
			close(gate)
			e.Close()
			if err := waitGuarded(t, e); err != nil {
				t.Fatal(err)
			}
			if v, err := reader.Result(); v != 43 || err != nil {
				t.Errorf("reader: %v, %v; want 43 (it read kept after kept.Release)", v, err)
			}
			if _, err := kept.Result(); !errors.Is(err, graph.ErrReleased) {
				t.Errorf("kept after the run: %v (state %v); want it released", err, kept.State())
			}
		})
	}
}
