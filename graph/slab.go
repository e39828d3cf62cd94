package graph

import (
	"unsafe"

	"github.com/evolve-dag/evolve/internal/core"
	"github.com/evolve-dag/evolve/internal/pages"
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
//
// A slab's first record is no task: it is the slab's header, which holds
// for the others what most of them share (core.Graph.SlabHeader): the
// graph, and the function of the first of them that has one. A record
// then holds how far its header is, and its own function only when it is
// not the header's (a closure made for it): a build stores two pointers
// less per task, each through the collector's write barrier while it
// marks, which a growing graph makes it do much of the time
// (BENCHMARKS.md, session 23). A slab whose first record's function is
// a closure of its own keeps that one: the records of a function shared
// after it then hold it each, as every record did before.

const (
	// slabBytes is the most a slab takes: a whole number of the
	// allocator's pages, so that a full-size slab wastes less than one
	// record, and above its largest size class (32 KiB), so that the
	// allocator keeps the slab's type in its span instead of in a header
	// that it stores into the slab's first page (a store through the write
	// barrier while the collector marks: see pages.Touch, BENCHMARKS.md,
	// session 21).
	slabBytes = 64 << 10
	// firstSlab is how many records a type's first slab holds, beside its
	// header.
	firstSlab = 3
)

// slab is an open slab of records of type B, handed out in order after
// buf[0], its header.
type slab[B any] struct {
	buf  []B
	next int // the next record to hand out; guarded by the graph's lock
}

// openSlab is a graph's open slab of some record type: s is a *slab[B],
// next and size its count and length, for the eviction check.
type openSlab struct {
	s    any
	next *int
	size int
}

// mostlyUsed reports whether three quarters of the slab are handed out.
func (o *openSlab) mostlyUsed() bool { return *o.next >= o.size-o.size/4 }

// slabs are a graph's open slabs, guarded by the graph's lock: a record
// is cut under the lock that adding it takes anyway, so that cutting it
// costs no atomic operation of its own (each is a full exchange here, a
// tenth of a chain task's build with the link's two; BENCHMARKS.md,
// session 11).
type slabs struct {
	open [4]*openSlab
	turn uint32 // which open slab a new record type may replace next
	last int    // the open slab cut from last: most adds are of the type before
}

// cutRecord returns a zero B for a task being added at at, whose graph is
// not nil, and its slab's header: cut from the graph's open slab of Bs, or
// allocated on its own, with no header, when its slabs are taken. Unless at
// is owned (see Build), it takes the graph's lock first, and the
// constructor that calls it hands the record to add, which lets the lock
// go (see place.slabbed).
func cutRecord[B any](at place) (t, header *B) {
	g := at.g
	if !at.owned {
		g.c.Lock()
	}
	ss := &g.slabs
	if o := ss.open[ss.last]; o != nil {
		if s, ok := o.s.(*slab[B]); ok && s.next < len(s.buf) {
			s.next++
			return &s.buf[s.next-1], &s.buf[0]
		}
	}
	free := -1
	for i, o := range ss.open {
		if o == nil {
			if free < 0 {
				free = i
			}
			continue
		}
		if s, ok := o.s.(*slab[B]); ok {
			ss.last = i
			if k := s.next; k < len(s.buf) {
				s.next++
				return &s.buf[k], &s.buf[0]
			}
			return openNew[B](g, &ss.open[i], 2*(len(s.buf)-1))
		}
	}
	if free < 0 {
		ss.turn++
		at := int(ss.turn % uint32(len(ss.open)))
		if !ss.open[at].mostlyUsed() {
			return new(B), nil
		}
		free = at
	}
	ss.last = free
	return openNew[B](g, &ss.open[free], firstSlab)
}

// openNew opens a slab of g's of up to n Bs and its header in at, in place
// of the one there, and returns its first record and its header.
func openNew[B any](g *Graph, at **openSlab, n int) (t, header *B) {
	var zero B
	n = max(2, min(n+1, slabBytes/max(1, int(unsafe.Sizeof(zero)))))
	s := &slab[B]{buf: make([]B, n), next: 2}
	pages.Touch(s.buf)
	g.c.SlabHeader(nodeOf(&s.buf[0]))
	*at = &openSlab{s: s, next: &s.next, size: n}
	return &s.buf[1], &s.buf[0]
}

// nodeOf returns the node of t, a task record: a record begins with its
// node (see inputs).
func nodeOf[B any](t *B) *core.Node { return (*core.Node)(unsafe.Pointer(t)) }

// backOf returns how many bytes before t, a record cut from a slab, its
// header is; 0 for a record allocated on its own (header nil).
func backOf[B any](t, header *B) uint32 {
	if header == nil {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(t)) - uintptr(unsafe.Pointer(header)))
}

// headerOf returns the header of the slab t was cut from. Only a record
// cut from a slab may ask.
func headerOf[B any](t *B) *B {
	return (*B)(unsafe.Pointer(nodeOf(t).Header()))
}

// sharesFunc reports whether a record whose slab's header has the
// function *shared (set if it had none yet) can leave its own function
// nil: fn is that function. F is a func type, one pointer: two values of
// it are the same function when that pointer is, and a record whose
// function is another value (a closure made for it) holds its own.
func sharesFunc[F any](shared *F, fn F) bool {
	p := (*unsafe.Pointer)(unsafe.Pointer(shared))
	if *p == nil {
		*shared = fn
		return true
	}
	return *p == *(*unsafe.Pointer)(unsafe.Pointer(&fn))
}
