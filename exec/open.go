package exec

import (
	"slices"
	"sync/atomic"

	"github.com/evolve-dag/evolve/internal/chaos"
	"github.com/evolve-dag/evolve/internal/core"
)

// The open span. A graph of a million independent tasks starts with a
// million roots in one span of the queue (see queue), and each worker
// took them one at a time under the runner's mutex: a lock, and the
// queue's lines moving between the cores, for every task. So the queue
// lends such a span to the workers (openOne): a worker whose task made
// nothing ready takes the next root itself (runner.nextRoot), and, while
// many roots are left, a few at a time into a lane of its own, which it
// then takes from with a compare-and-swap on a line no other worker
// writes, so that two workers run neighbouring records rarely and share
// no counter per task.
//
// A root in a lane is still queued: the queue's len, peek and pop see
// it, and a pop under the runner's mutex takes the best root of the
// span, from the lanes too (takeBest). So a worker that looks for a
// task (an idle one, or one that replaces a worker whose task waits for
// a root in that worker's lane) finds it, and roots never wait in a lane
// while a worse task runs. Nothing but a compare-and-swap on the lane's
// word takes a root from it, so the owner and the others never take one
// root twice.
//
// Closing (closeOpen, under the mutex, when a better node is queued)
// marks the span's word closed, which freezes its cursor and its end,
// and empties every lane, holding what it took as spans. A worker that
// fills its lane takes the roots from the cursor, stores them in the
// lane, and then looks at the word: if it is closed, it empties its lane
// again and gives back what it finds (runner.giveBack). Each side writes
// before it reads the other's word, so at least one sees the other, and
// the lane's swap gives its roots to exactly one of them. The queue lets
// go of an open span only by closing it, also once it looks empty: a
// worker may hold a chunk it has not yet put in its lane (found by the
// evolvechaos build: a root left in a lane nobody looked at).
//
// A span grows as its nodes become ready (session 21). Nodes made ready
// in creation order (a client adding tasks one by one, on any number of
// workers; a tree's next level, on one) are queued as spans too
// (queue.push joins them; see pushApart for the others), and a push of
// the id at the open span's end, of its priority, adds it there (extend):
// that keeps the invariant, since every node queued outside the span
// ranks after every node in it, and so after the new one too. A run of
// one worker does that without the mutex (runner.extendOpen), with a
// compare-and-swap on the span's word, which the close's atomic OR
// orders with it: an extension lands before the close, which then takes
// it back with the rest, or fails, and the worker queues its nodes under
// the mutex instead. So one worker runs a tree without a lock.
type openSpan struct {
	// w holds the cursor and the end, as offsets from base: the next id
	// not in a lane in bits 32 to 62, the end (not included) in bits 0 to
	// 31, and spanClosed once closed. One word, so that a worker taking
	// from the cursor, one extending the end (extend) and the close each
	// change it with one atomic operation that sees the others' whole.
	w atomic.Uint64
	_ [56]byte // written by the workers filling their lanes: apart from the rest

	base int64 // the span's first id: the word and the lanes hold offsets from it
	prio int
	g    *core.Graph
	// Lane i belongs to the worker with id i: one goroutine, since a
	// worker renewed keeps its goroutine's id and no other goroutine gets
	// it (spawnLocked), so only the owner fills a lane.
	lanes []lane
}

// spanClosed marks an open span's word once the queue has taken it back.
const spanClosed = 1 << 63

func packSpan(next, to int64) uint64 { return uint64(next)<<32 | uint64(to) }

// unpackSpan returns the cursor and the end of a span's word, as offsets,
// and whether it is closed.
func unpackSpan(v uint64) (next, to int64, closed bool) {
	return int64(v >> 32 & (1<<31 - 1)), int64(v & (1<<32 - 1)), v&spanClosed != 0
}

// lane holds the ids from base+lo up to base+hi, not included, in one
// word (lo in the high half), so that one compare-and-swap takes its
// head. Padded: its owner writes it on every task.
type lane struct {
	w atomic.Uint64
	_ [56]byte
}

func packLane(lo, hi int64) uint64 { return uint64(lo)<<32 | uint64(hi) }

func unpackLane(v uint64) (lo, hi int64) { return int64(v >> 32), int64(v & (1<<32 - 1)) }

// maxLanes bounds the lanes of an open span: workers with higher ids take
// their roots one at a time. maxChunk is how many roots a lane takes at
// once at most; a lane takes fewer as the span empties (see take), so
// that the last roots spread over the workers.
const (
	maxLanes = 64
	maxChunk = 64
)

// minOpen is the fewest roots the queue lends as an open span: opening
// one costs an allocation, closing one a few atomic operations.
const minOpen = 16

// openOne lends the queue's best span to the workers of a run with
// workers workers, if every other node the queue holds ranks after every
// node of the span (the invariant of queue) and the span holds at least
// minOpen ids, and returns it, or nil. The caller holds the runner's
// mutex, and publishes the span (see runner.open).
func (q *queue) openOne(workers int) *openSpan {
	if q.open != nil || len(q.spans) == 0 {
		return nil
	}
	if q.tries++; q.tries < q.openAt {
		return nil
	}
	head, at := q.bestSpan()
	sp := q.spans[at]
	if n := sp.to - sp.from; n < minOpen || n >= 1<<31 {
		return nil
	}
	prio := head.Priority()
	// Each other span, the FIFO run and the heap hold their best node
	// first: that it ranks after the span's last node is enough.
	after := func(n *core.Node) bool {
		p := n.Priority()
		return p < prio || p == prio && n.ID() >= sp.to
	}
	for i, other := range q.spans {
		if i != at && !after(q.g.At(other.from)) {
			return nil
		}
	}
	if q.head < len(q.fifo) && !after(q.fifo[q.head]) || len(q.heap) > 0 && !after(q.heap[0]) {
		return nil
	}
	o := &openSpan{
		base:  sp.from,
		prio:  prio,
		g:     q.g,
		lanes: make([]lane, min(workers, maxLanes)),
	}
	o.w.Store(packSpan(0, sp.to-sp.from))
	q.spans = slices.Delete(q.spans, at, at+1)
	q.inSpans -= int(sp.to - sp.from)
	q.open, q.openSize = o, int(sp.to-sp.from)
	return o
}

// closeOpen takes back what is left of the open span, in its lanes too,
// as spans of the queue's. Workers holding it take nothing more from it.
// The caller holds the runner's mutex.
//
// A span closed before minOpen of its roots were taken cost more than it
// saved: a graph whose roots each make a better task ready (a consumer of
// a higher priority) would open and close one for every root. So each
// such close doubles the number of times the queue is asked to open one
// (once a pop while it holds spans) before it opens a span again; a span
// that served more resets it.
func (q *queue) closeOpen() {
	o := q.open
	q.open, q.openSize = nil, 0
	next, to, _ := unpackSpan(o.w.Or(spanClosed))
	for i := range o.lanes {
		if lo, hi := unpackLane(o.lanes[i].w.Swap(0)); lo < hi {
			q.addSpan(o.g, o.base+lo, o.base+hi)
		}
	}
	if next < to {
		q.addSpan(o.g, o.base+next, o.base+to)
	}
	if next < minOpen {
		q.backoff = max(2*q.backoff, minOpen)
		q.openAt = q.tries + q.backoff
	} else {
		q.backoff = 0
	}
}

// beatenBy reports whether n, about to be queued, ranks before a node
// still in o. The end read may be older than a worker's extension (see
// extend) racing with the call: that does not change the answer, since
// n, queued now, is in none.
func (o *openSpan) beatenBy(n *core.Node) bool {
	p := n.Priority()
	_, to, _ := unpackSpan(o.w.Load())
	return p > o.prio || p == o.prio && n.ID() < o.base+to
}

// extend adds the ids from up to to at the end of o, and reports whether
// it did: only if from is o's end and o is not closed. The nodes must be
// Ready, of o's priority, and queued nowhere else. Safe for concurrent
// use: a worker whose task made the next ids ready queues them so without
// the runner's mutex (runner.extendOpen), the queue with it (push).
//
// It keeps the queue's invariant without looking at the rest of the
// queue: every node queued outside o ranks after every node in o, and
// so, if of o's priority, has an id at o's end or beyond, and not from,
// which is not queued elsewhere: it ranks after from's node as well.
func (o *openSpan) extend(from, to int64) bool {
	for {
		v := o.w.Load()
		next, end, closed := unpackSpan(v)
		if closed || o.base+end != from {
			return false
		}
		if o.w.CompareAndSwap(v, packSpan(next, to-o.base)) {
			return true
		}
	}
}

// len returns how many ids o holds, in its lanes too. A moment's count:
// workers take from it meanwhile.
func (o *openSpan) len() int {
	next, to, _ := unpackSpan(o.w.Load())
	k := max(to-next, 0)
	for i := range o.lanes {
		if lo, hi := unpackLane(o.lanes[i].w.Load()); lo < hi {
			k += hi - lo
		}
	}
	return int(k)
}

// best returns the lowest id o holds, and the lane that holds it (-1: the
// cursor), or -1 if o is empty. Ids in lanes were taken from the cursor
// before it moved on: any lane's head is below it.
func (o *openSpan) best() (id int64, at int) {
	id, at = -1, -1
	for i := range o.lanes {
		if lo, hi := unpackLane(o.lanes[i].w.Load()); lo < hi && (id < 0 || o.base+lo < id) {
			id, at = o.base+lo, i
		}
	}
	if id < 0 {
		if next, to, closed := unpackSpan(o.w.Load()); !closed && next < to {
			id = o.base + next
		}
	}
	return id, at
}

// peek returns o's best node, or nil. Workers may take it meanwhile.
func (o *openSpan) peek() *core.Node {
	if id, _ := o.best(); id >= 0 {
		return o.g.At(id)
	}
	return nil
}

// takeBest takes o's best node, or returns nil if o is empty: a pop of
// the queue, under the runner's mutex, racing with the workers' takes.
func (o *openSpan) takeBest() *core.Node {
	for {
		id, at := o.best()
		switch {
		case id < 0:
			return nil
		case at >= 0:
			if id := o.takeLane(at); id >= 0 { // maybe not the head seen: the owner took that
				return o.g.At(id)
			}
		case o.takeCursor(id):
			return o.g.At(id)
		}
	}
}

// dropHead takes id from o if it is still the head of lane at (the cursor
// if at is -1), as best found it; if a worker took it meanwhile, nothing.
// takeLane with a condition, written apart so that takeLane, on every
// worker's take, stays small enough to inline.
func (o *openSpan) dropHead(id int64, at int) {
	if at < 0 {
		o.takeCursor(id)
		return
	}
	l := &o.lanes[at]
	for {
		v := l.w.Load()
		lo, hi := unpackLane(v)
		if lo >= hi || o.base+lo != id || l.w.CompareAndSwap(v, packLane(lo+1, hi)) {
			return
		}
	}
}

// takeCursor takes id, if it is the cursor's next: it fails when a
// worker took it first, and when o was closed meanwhile.
func (o *openSpan) takeCursor(id int64) bool {
	for {
		v := o.w.Load()
		next, to, closed := unpackSpan(v)
		if closed || o.base+next != id || next >= to {
			return false
		}
		if o.w.CompareAndSwap(v, packSpan(next+1, to)) {
			return true
		}
	}
}

// takeLane takes the head of lane i and returns its id, or -1 if the lane
// is empty. The head taken may not be the one the caller saw: it takes
// whatever is first when its compare-and-swap lands. Safe for concurrent use.
func (o *openSpan) takeLane(i int) int64 {
	l := &o.lanes[i]
	for {
		v := l.w.Load()
		lo, hi := unpackLane(v)
		if lo >= hi {
			return -1
		}
		if l.w.CompareAndSwap(v, packLane(lo+1, hi)) {
			return o.base + lo
		}
	}
}

// take returns the next root for the worker with the given id, from its
// lane, or, once that is empty, from the cursor, filling the lane with a
// few more while many are left; or -1 once its lane and the cursor are
// empty (other lanes may still hold roots, for a pop under the lock to
// take). What it filled the lane with after o was closed is returned as
// back, for the caller to give back to the queue (see openSpan): lo < hi.
func (o *openSpan) take(worker int) (id int64, back [2]int64) {
	if worker < len(o.lanes) {
		if id := o.takeLane(worker); id >= 0 {
			return id, back
		}
	}
	for {
		v := o.w.Load()
		c, to, closed := unpackSpan(v)
		if closed || c >= to {
			return -1, back
		}
		k := int64(1)
		if worker < len(o.lanes) {
			// A chunk while the span holds many more roots than the workers
			// could take at once: four long roots on four workers still run
			// at once, and the last ones spread over the workers.
			k = min(maxChunk, (to-c)/int64(4*len(o.lanes)))
		}
		if k <= 1 {
			if o.w.CompareAndSwap(v, packSpan(c+1, to)) {
				return o.base + c, back
			}
			continue
		}
		if !o.w.CompareAndSwap(v, packSpan(c+k, to)) {
			continue
		}
		if chaos.On {
			chaos.Pause() // a close here must not lose the chunk
		}
		l := &o.lanes[worker]
		l.w.Store(packLane(c+1, c+k))
		if chaos.On {
			chaos.Pause()
		}
		if o.w.Load()&spanClosed != 0 {
			// The close may not have seen the lane: take it back.
			if lo, hi := unpackLane(l.w.Swap(0)); lo < hi {
				back = [2]int64{o.base + lo, o.base + hi}
			}
		}
		return o.base + c, back
	}
}
