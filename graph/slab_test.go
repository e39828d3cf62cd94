package graph

import (
	"context"
	"runtime"
	"testing"
	"unsafe"

	"github.com/evolve-dag/evolve/internal/core"
)

// allocatedPerTask returns the bytes allocated per task while build adds
// tasks tasks.
func allocatedPerTask(tasks int, build func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	build()
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(tasks)
}

// TestSlabsWasteLittle: records are cut from slabs (see cutRecord); a graph
// that alternates more record types than it keeps slabs open for must not
// open a slab per task, and a small graph must not pay for a full slab.
// Each bound is a few times a record's size (about 130 bytes here), far
// below what a slab per task (32 KiB) or per small graph would cost.
func TestSlabsWasteLittle(t *testing.T) {
	f0 := func(context.Context) (int, error) { return 0, nil }
	const n = 6000
	alternating := allocatedPerTask(n, func() {
		g := New()
		v := Value(g, "v", 1)
		w := Value(g, "w", "s")
		for i := range n / 6 {
			Add(g, "a", f0)
			Add(g, "b", func(context.Context) (string, error) { return "", nil })
			Add1(g, "c", v, func(context.Context, int) (int, error) { return i, nil })
			Add1(g, "d", w, func(context.Context, string) (int, error) { return 0, nil })
			Add2(g, "e", v, v, func(context.Context, int, int) (int, error) { return 0, nil })
			Add2(g, "f", v, w, func(context.Context, int, string) (bool, error) { return true, nil })
		}
	})
	if alternating > 1024 {
		t.Errorf("six record types in turn: %.0f bytes allocated per task, want at most 1024", alternating)
	}
	const graphs = 500
	small := allocatedPerTask(3*graphs, func() {
		for range graphs {
			g := New()
			a := Add(g, "a", f0)
			Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
			Add1(g, "c", a, func(_ context.Context, x int) (int, error) { return x, nil })
		}
	})
	if small > 1024 {
		t.Errorf("graphs of three tasks: %.0f bytes allocated per task, want at most 1024", small)
	}
	t.Logf("bytes allocated per task: %.0f alternating six types, %.0f in graphs of three", alternating, small)
}

// TestSlabRecordsAreDistinct: concurrent adders never get the same record.
func TestSlabRecordsAreDistinct(t *testing.T) {
	g := New()
	const adders, each = 4, 3000
	out := make(chan Task[int], adders*each)
	done := make(chan struct{})
	for a := range adders {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				out <- Add(g, "t", func(context.Context) (int, error) { return a*each + i, nil })
			}
		}()
	}
	for range adders {
		<-done
	}
	close(out)
	seen := map[Task[int]]bool{}
	for h := range out {
		if seen[h] {
			t.Fatalf("two adds returned the same task %v", h)
		}
		seen[h] = true
	}
	if g.Len() != adders*each || len(seen) != adders*each {
		t.Fatalf("graph has %d tasks, %d distinct handles; want %d", g.Len(), len(seen), adders*each)
	}
}

// nopConsumer is the Consumer of a body run outside an executor.
type nopConsumer struct{}

func (nopConsumer) Consumed(*core.Node) {}

// TestSlabHeaderHoldsWhatRecordsShare: a record cut from a slab leaves its
// graph to its slab's header, and its function too when it is the one the
// header holds (see cutRecord); a closure made for one task is its own.
// Tasks of a shared function and closures of their own alternate over
// several slabs: each runs its own function and finds its graph, and the
// shared function's records hold no function of their own, but where a
// closure came first in its slab.
func TestSlabHeaderHoldsWhatRecordsShare(t *testing.T) {
	g := New()
	in := Value(g, "in", 1)
	shared := func(_ context.Context, x int) (int, error) { return -x, nil }
	const n = 3000 // a few slabs of records of about 100 bytes
	ts := make([]Task[int], n)
	own := func(i int) bool { return i%3 == 2 }
	for i := range n {
		if own(i) {
			ts[i] = Add1(g, "own", in, func(_ context.Context, x int) (int, error) { return i + x, nil })
		} else {
			ts[i] = Add1(g, "shared", in, shared)
		}
	}
	sharing := 0
	for i, h := range ts {
		rec := (*task1[int, int])(unsafe.Pointer(h.r))
		if h.Graph() != g {
			t.Fatalf("task %d: Graph() = %p, want %p", i, h.Graph(), g)
		}
		if err := nodeOf(rec).Body().Run(context.Background(), nopConsumer{}); err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		want := -1
		if own(i) {
			want = i + 1
		}
		if rec.val != want {
			t.Fatalf("task %d ran another task's function: got %d, want %d", i, rec.val, want)
		}
		if !own(i) && rec.fn == nil {
			sharing++
		}
	}
	// A slab whose first record is a closure holds that closure; the
	// shared function's records then hold it each.
	if shares := n - n/3; sharing < shares*9/10 {
		t.Errorf("%d of %d records of the shared function leave it to their slab's header, want at least 90 %%", sharing, shares)
	}
}

// TestKeptHandleKeepsItsGraph: a task's handle kept past its graph still
// names its graph, which its slab's header holds, so that the graph is not
// collected while the handle is reachable.
func TestKeptHandleKeepsItsGraph(t *testing.T) {
	collected := make(chan struct{})
	h := func() Task[int] {
		g := New()
		runtime.AddCleanup(g, func(c chan struct{}) { close(c) }, collected)
		for range 100 {
			Add(g, "other", func(context.Context) (int, error) { return 0, nil })
		}
		return Add(g, "kept", func(context.Context) (int, error) { return 0, nil })
	}()
	for range 3 {
		runtime.GC()
	}
	select {
	case <-collected:
		t.Fatal("the graph was collected while a handle of one of its tasks was reachable")
	default:
	}
	if h.Graph() == nil || h.Name() != "kept" {
		t.Fatalf("kept handle: Graph() = %v, Name() = %q", h.Graph(), h.Name())
	}
	runtime.KeepAlive(h)
}
