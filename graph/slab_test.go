package graph

import (
	"context"
	"runtime"
	"testing"
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
