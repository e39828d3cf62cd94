package exec_test

import (
	"context"
	"errors"
	"fmt"
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
	chain := []*graph.Task[[]byte]{graph.Go(g, "s0", func(context.Context) ([]byte, error) { return fresh(0), nil })}
	keptAt := n / 2
	for i := 1; i < n; i++ {
		var opts []graph.Option
		if i == keptAt {
			opts = append(opts, graph.Keep())
		}
		chain = append(chain, graph.Go1(g, fmt.Sprint("s", i), chain[i-1], func(_ context.Context, in []byte) ([]byte, error) {
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
	chain := []*graph.Task[int]{graph.Go(g, "c0", func(context.Context) (int, error) { return 0, nil })}
	for i := 1; i < 50; i++ {
		chain = append(chain, graph.Go1(g, fmt.Sprint("c", i), chain[i-1], func(_ context.Context, x int) (int, error) { return x + 1, nil }))
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
	a := graph.Go(g, "a", func(context.Context) (int, error) { ran.Add(1); return 1, nil })
	b := graph.Go1(g, "b", a, count)
	unneeded := graph.Go1(g, "unneeded", a, count)
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
	a := graph.Go(g, "a", func(context.Context) (int, error) { return 1, nil })
	b := graph.Go1(g, "b", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	c := graph.Go1(g, "c", b, func(_ context.Context, x int) (int, error) { return x + 1, nil })
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
	a := graph.Go(g, "a", func(context.Context) (int, error) { return 42, nil })
	b := graph.Go1(g, "b", a, func(_ context.Context, x int) (int, error) {
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
