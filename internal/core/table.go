package core

import "sync/atomic"

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
type table[T any] struct {
	dir atomic.Pointer[[][]T] // chunks of 1<<chunkBits entries; the first one shorter while it grows
	n   int64                 // entries; guarded by the graph's lock
	// last is the directory's last chunk, whose first entry has index
	// lastAt; guarded by the graph's lock. Most pushes store into it and
	// look at nothing else: no load of the directory, and no pointer
	// written but the entry (a pointer store outside a fresh object costs
	// a write barrier while the collector marks).
	last   []T
	lastAt int64
}

// at returns entry i, which must have been published to the caller.
func (t *table[T]) at(i int64) *T {
	d := *t.dir.Load()
	return &d[i>>chunkBits][i&(1<<chunkBits-1)]
}

// len is the number of entries. The caller holds the graph's lock.
func (t *table[T]) len() int64 { return t.n }

// push appends v and returns its index. The caller holds the graph's lock.
func (t *table[T]) push(v T) int64 {
	i := t.n
	if k := i - t.lastAt; k < int64(len(t.last)) {
		t.last[k] = v
		t.n++
		return i
	}
	t.grow()
	t.last[i-t.lastAt] = v
	t.n++
	return i
}

// grow makes room for one more entry: a new chunk, or the first chunk
// twice as long.
func (t *table[T]) grow() {
	var d [][]T
	if p := t.dir.Load(); p != nil {
		d = *p
	}
	if c := t.n >> chunkBits; c == int64(len(d)) {
		size := 1 << chunkBits
		if c == 0 {
			size = firstBlock
		}
		// append may write into d's array, past every reader's length.
		t.last, t.lastAt = make([]T, size), t.n
		t.publish(append(d, t.last))
		return
	}
	// Only the first chunk is short: it doubles until it is full size,
	// into a new directory (it is the directory's only chunk then).
	grown := make([]T, min(2*len(d[0]), 1<<chunkBits))
	copy(grown, d[0])
	t.last = grown
	t.publish([][]T{grown})
}

// publish makes d the directory readers load.
func (t *table[T]) publish(d [][]T) {
	p := new([][]T)
	*p = d
	t.dir.Store(p)
}

// all calls yield with each entry in order, stopping when yield returns
// false. The caller holds the graph's lock.
func (t *table[T]) all(yield func(*T) bool) { t.upTo(t.n, yield) }

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
