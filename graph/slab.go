package graph

import (
	"sync/atomic"
	"unsafe"
)

// Records of tasks added before a run, or by clients, are cut from slabs:
// arrays of task records of one type, so that adding a task costs a share
// of one allocation instead of one of its own, and the collector finds a
// few large objects instead of a million small ones (BENCHMARKS.md,
// session 6). Tasks that running tasks add are allocated each on its own
// (see place.slabbed).
//
// A graph keeps one open slab for each of up to four record types (most
// graphs add tasks of a handful of shapes). A type's first slab holds a few
// records and each next one twice as many, up to slabBytes, so that a small
// graph allocates little more than its records. A fifth type takes the
// place of an open slab only once that slab is mostly handed out, and is
// allocated record by record until then, so that graphs alternating many
// types waste at most a quarter of a slab per slab, never a slab per task.
//
// A slab lives as long as any record in it is reachable: the graph keeps
// every task anyway, and a handle kept past its graph keeps its slab.

const (
	// slabBytes is the most a slab takes: one of the allocator's size
	// classes, so that a full-size slab wastes less than one record.
	slabBytes = 32 << 10
	// firstSlab is how many records a type's first slab holds.
	firstSlab = 4
)

// slab is an open slab of records of type B, handed out in order.
type slab[B any] struct {
	buf  []B
	next atomic.Int64
}

// openSlab is a graph's open slab of some record type: s is a *slab[B],
// next and size its count and length, for the eviction check.
type openSlab struct {
	s    any
	next *atomic.Int64
	size int64
}

// mostlyUsed reports whether three quarters of the slab are handed out.
func (o *openSlab) mostlyUsed() bool { return o.next.Load() >= o.size-o.size/4 }

// slabs are a graph's open slabs.
type slabs struct {
	open [4]atomic.Pointer[openSlab]
	turn atomic.Uint32 // which open slab a new record type may replace next
}

// newRecord returns a zero B for a task being added to g, which is not
// nil: cut from g's open slab of Bs, or allocated on its own when g's
// slabs are taken.
func newRecord[B any](g *Graph) *B {
	ss := &g.slabs
	var free *atomic.Pointer[openSlab]
	for i := range ss.open {
		o := ss.open[i].Load()
		if o == nil {
			if free == nil {
				free = &ss.open[i]
			}
			continue
		}
		if s, ok := o.s.(*slab[B]); ok {
			if k := s.next.Add(1) - 1; k < int64(len(s.buf)) {
				return &s.buf[k]
			}
			return openNew[B](&ss.open[i], 2*len(s.buf))
		}
	}
	if free == nil {
		at := &ss.open[ss.turn.Add(1)%uint32(len(ss.open))]
		if o := at.Load(); o != nil && !o.mostlyUsed() {
			return new(B)
		}
		free = at
	}
	return openNew[B](free, firstSlab)
}

// openNew opens a slab of up to n Bs in at, in place of the one there, and
// returns its first record. Two goroutines that open one at once each
// hand out their first record; the slab stored first loses the rest.
func openNew[B any](at *atomic.Pointer[openSlab], n int) *B {
	var zero B
	n = max(1, min(n, slabBytes/max(1, int(unsafe.Sizeof(zero)))))
	s := &slab[B]{buf: make([]B, n)}
	s.next.Store(1)
	at.Store(&openSlab{s: s, next: &s.next, size: int64(n)})
	return &s.buf[0]
}
