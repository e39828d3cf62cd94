package core

import (
	"sync/atomic"

	"github.com/evolve-dag/evolve/internal/pages"
)

// table is an append-only list whose entries are read by index without the
// graph's lock: the graph's node index and its edges. Completions on the
// workers follow consumer links, which are ids, to nodes and edges added
// under the lock by other goroutines; an id lets the records hold no
// pointer (the collector never scans an edge, and a node holds three
// pointers fewer: see Node), at the price of this lookup.
//
// Why lock-free reads are safe: an entry is written once, under the lock,
// before anything that names it is published (a consumer link is stored
// after its edge and its node are in the table), and never changes after.
// Appending writes only past the length of every directory a reader can
// hold, and a chunk that is replaced (only the first one grows) goes into
// a new directory, so no word a reader may load is ever written again. A
// reader that learnt an index from a published link loads the directory
// after that link, so it sees a directory that holds the entry.
//
// Once a task has added a task while the graph ran (see settle), a task
// that adds a task without inputs may take an index without the lock
// (reserve) and store its entry itself (see Graph.Spawn); such an entry
// is stored and loaded atomically, and a reader holding the lock may find
// it nil for a moment. The first chunk, the only one copied as it grows,
// is full size by then.
type table[T any] struct {
	dir atomic.Pointer[[][]T] // chunks of 1<<chunkBits entries; the first one shorter while it grows
	// n counts the entries, those reserved and not yet stored included. It
	// changes under the graph's lock, with plain stores until settle, and
	// atomically after, when reserve may change it without the lock (a
	// goroutine that outlived its task may still be reserving after the
	// run ended: see Graph.late); it is always read atomically.
	n int64
	// last is the directory's last chunk, whose first entry has index
	// lastAt; guarded by the graph's lock. Most pushes store into it and
	// look at nothing else: no load of the directory, and no pointer
	// written but the entry (a pointer store outside a fresh object costs
	// a write barrier while the collector marks).
	last   []T
	lastAt int64
	// spare is what is left of the block the next chunks are cut from (see
	// nextChunk); guarded by the graph's lock.
	spare []T
	// reserving is set by settle, once the table may be reserved from:
	// pushes then count atomically.
	reserving atomic.Bool
}

// shared reports whether reserve may take indexes (see settle): pushes
// must use pushShared then. The caller holds the graph's lock.
func (t *table[T]) shared() bool { return t.reserving.Load() }

// at returns entry i, which must have been published to the caller.
func (t *table[T]) at(i int64) *T {
	d := *t.dir.Load()
	return &d[i>>chunkBits][i&(1<<chunkBits-1)]
}

// len is the number of entries.
func (t *table[T]) len() int64 { return atomic.LoadInt64(&t.n) }

// push appends v and returns its index. The caller holds the graph's
// lock, and no run is active: nothing reserves meanwhile.
func (t *table[T]) push(v T) int64 {
	i := t.n
	if k := i - t.lastAt; k < int64(len(t.last)) {
		t.last[k] = v
		t.n = i + 1
		return i
	}
	t.growTo(i)
	t.last[i-t.lastAt] = v
	t.n = i + 1
	return i
}

// pushShared is push once reserve may take indexes meanwhile (shared).
func (t *table[T]) pushShared(v T) int64 {
	i := atomic.AddInt64(&t.n, 1) - 1
	t.growTo(i)
	*t.at(i) = v
	return i
}

// reserve takes the next index without the graph's lock, for an entry the
// caller then stores (see entry). It takes none, and returns false, until
// settle has made the first chunk full size (growing it copies it), or
// when the table is full.
func (t *table[T]) reserve() (int64, bool) {
	if !t.reserving.Load() {
		return 0, false
	}
	for {
		i := atomic.LoadInt64(&t.n)
		if i >= MaxNodes {
			return 0, false
		}
		if atomic.CompareAndSwapInt64(&t.n, i, i+1) {
			return i, true
		}
	}
}

// entry returns where entry i, a reserved index, is stored, or nil if its
// chunk does not exist yet: the caller then grows the table with the lock
// held (growTo).
func (t *table[T]) entry(i int64) *T {
	d := *t.dir.Load()
	if c := i >> chunkBits; c < int64(len(d)) {
		return &d[c][i&(1<<chunkBits-1)]
	}
	return nil
}

// settle makes the first chunk full size, so that reserve may be used
// from now on. The caller holds the graph's lock.
func (t *table[T]) settle() {
	if !t.reserving.Load() {
		t.growTo(1<<chunkBits - 1)
		t.reserving.Store(true)
	}
}

// growTo makes room for entry i: new chunks up to i's, or the first chunk
// longer. The caller holds the graph's lock.
func (t *table[T]) growTo(i int64) {
	for {
		var d [][]T
		if p := t.dir.Load(); p != nil {
			d = *p
		}
		c := i >> chunkBits
		switch {
		case c < int64(len(d)) && i&(1<<chunkBits-1) < int64(len(d[c])):
			return
		case c == 0 && len(d) == 1:
			// Only the first chunk is short: it doubles until it is full
			// size, into a new directory (it is the directory's only chunk
			// then). Nothing reserves from it (see reserve).
			grown := make([]T, min(2*len(d[0]), 1<<chunkBits))
			pages.Touch(grown)
			copy(grown, d[0])
			t.last = grown
			t.publish([][]T{grown})
		case len(d) == 0:
			t.last, t.lastAt = make([]T, firstBlock), 0
			t.publish([][]T{t.last})
		default:
			// append may write into d's array, past every reader's length.
			t.last, t.lastAt = t.nextChunk(len(d)), int64(len(d))<<chunkBits
			t.publish(append(d, t.last))
		}
	}
}

// nextChunk returns a full-size chunk for a table that has k chunks. The
// chunks after the first are cut from blocks of up to maxBlock chunks,
// each block as many chunks as the table has (1, 2, 4, then 8), so that a
// large table's blocks are above the allocator's size classes and never
// written before Touch (see slabBytes in graph), while a table of a
// few thousand entries takes no more than twice what it holds.
func (t *table[T]) nextChunk(k int) []T {
	const size = 1 << chunkBits
	if len(t.spare) == 0 {
		t.spare = make([]T, min(k, maxBlock)*size)
		pages.Touch(t.spare)
	}
	c := t.spare[:size:size]
	t.spare = t.spare[size:]
	return c
}

// publish makes d the directory readers load.
func (t *table[T]) publish(d [][]T) {
	p := new([][]T)
	*p = d
	t.dir.Store(p)
}

// all calls yield with each entry in order, stopping when yield returns
// false. The caller holds the graph's lock.
func (t *table[T]) all(yield func(*T) bool) { t.upTo(t.len(), yield) }

// first is all for the first k entries (k at most len).
func (t *table[T]) first(k int64) func(yield func(*T) bool) {
	return func(yield func(*T) bool) { t.upTo(k, yield) }
}

// upTo calls yield with each of the first k entries in order, stopping
// when yield returns false. The caller holds the graph's lock.
func (t *table[T]) upTo(k int64, yield func(*T) bool) {
	p := t.dir.Load()
	if p == nil || k <= 0 {
		return
	}
	left := k
	for _, c := range *p {
		for j := range c[:min(int64(len(c)), left)] {
			if !yield(&c[j]) {
				return
			}
		}
		left -= int64(len(c))
		if left <= 0 {
			return
		}
	}
}
