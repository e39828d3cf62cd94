package exec

import (
	"github.com/evolve-dag/evolve/internal/chaos"
	"github.com/evolve-dag/evolve/internal/core"
)

// before reports whether a should start before b: higher priority first,
// then creation order.
func before(a, b *core.Node) bool {
	pa, pb := a.Priority(), b.Priority()
	return pa > pb || pa == pb && a.ID() < b.ID()
}

// queue is the ready queue: a FIFO run of nodes pushed in order (each no
// better than the one before it) and a binary heap for the rest. Nodes
// usually become ready in creation order (a wide level, a wave, a
// breadth-first tree), so most pushes and pops are O(1) on the FIFO; the
// heap keeps the order exact when they do not. Pop takes the better of the
// two heads.
//
// A run's roots come as spans of ids instead (see core.Run's QueueSpan):
// each span is a FIFO run of its own, of one priority in creation order,
// whose nodes are read from the graph's index only as they are taken. A
// graph of a million independent tasks then starts without a million
// pushes, each reading a record the run reads again when it runs it.
// Begin gives a span per priority change among the roots, in creation
// order; the queue keeps at most maxSpans, so a pop compares a few heads.
// A node pushed whose id follows a span's last, of its priority, joins
// that span, and two such nodes at the end of the FIFO run become one:
// tasks a client adds one by one, or a tree's levels, are spans then,
// which the queue may lend (below). Nodes that a completion on one of
// several workers makes ready are pushed apart instead (see pushApart).
//
// The queue may lend a span to the workers (see openSpan): they take its
// nodes without the runner's mutex, while the span stays part of the
// queue for everything else (len, peek, pop). The invariant: every node
// queued outside the open span ranks after every node in it. So its
// nodes are the queue's best, and a worker may take one without looking
// at the rest. The queue opens a span only when everything else it holds
// ranks after it, and a push of a node that ranks before some node still
// in it closes it first: what is left of it is held as spans again.
//
// A node may be taken out of the queue's hands by a waiter (or cancelled)
// while it is still in it; its state then is no longer Ready, and whoever
// pops it skips it. Not safe for concurrent use (but for the open span's
// own methods): the runner's mutex guards it.
type queue struct {
	open *openSpan // lent to the workers, or nil (see openSpan); first: read on every push and pop
	fifo []*core.Node
	head int
	heap []*core.Node

	spans   []idSpan    // the spans not taken yet, in the order given
	inSpans int         // how many ids they hold
	g       *core.Graph // where the spans' nodes are

	openSize int // how many ids the open span held when opened (see len)
	// tries counts the calls of openOne; it opens no span before the one
	// numbered openAt, which a span closed early moves further each time
	// (see closeOpen).
	tries, openAt, backoff int
}

// idSpan is the ids from up to to, not included.
type idSpan struct{ from, to int64 }

// len returns how many nodes the queue holds, counting the open span at
// the size it was opened with: at least what it holds (workers take from
// it without the lock), and small enough to inline, since it is asked on
// every task. A count that must be exact (the stall search's) is
// exactLen's.
func (q *queue) len() int { return len(q.fifo) - q.head + len(q.heap) + q.inSpans + q.openSize }

// exactLen is len with what the open span holds now.
func (q *queue) exactLen() int {
	if q.open == nil {
		return q.len()
	}
	return q.len() - q.openSize + q.open.len()
}

// maxSpans is how many spans the queue holds at most: a pop compares
// their heads, so the roots of a graph whose priorities alternate are
// pushed one by one beyond it, as any node.
const maxSpans = 8

// pushSpan queues the nodes of g with ids from up to to, which are Ready
// and of one priority.
func (q *queue) pushSpan(g *core.Graph, from, to int64) {
	if from >= to {
		return
	}
	if q.open != nil {
		q.closeOpen()
	}
	q.addSpan(g, from, to)
}

// addSpan is pushSpan once the open span, if any, has been closed.
func (q *queue) addSpan(g *core.Graph, from, to int64) {
	if len(q.spans) == maxSpans {
		for id := from; id < to; id++ {
			q.push(g.At(id))
		}
		return
	}
	q.g = g
	q.spans = append(q.spans, idSpan{from, to})
	q.inSpans += int(to - from)
}

// bestSpan returns the best head of the spans, and its span's index, or
// nil and -1.
func (q *queue) bestSpan() (*core.Node, int) {
	var best *core.Node
	at := -1
	for i, sp := range q.spans {
		if n := q.g.At(sp.from); best == nil || before(n, best) {
			best, at = n, i
		}
	}
	return best, at
}

// popSpan removes the head of span i.
func (q *queue) popSpan(i int) {
	q.inSpans--
	if q.spans[i].from++; q.spans[i].from == q.spans[i].to {
		q.spans = append(q.spans[:i], q.spans[i+1:]...)
	}
}

// push queues n. A node whose id follows the last of a span of its
// priority joins that span (the open span too): nodes made ready in
// creation order, a tree's level, stay one span (see openSpan). Two
// such nodes at the end of the FIFO run become a span of their own.
func (q *queue) push(n *core.Node) {
	if o := q.open; o != nil && o.beatenBy(n) {
		q.closeOpen()
	}
	if q.joinSpan(n) {
		return
	}
	q.pushNode(n)
}

// pushApart is push without joining a span: for the nodes a completion
// makes ready in a run of several workers, which finish different parts
// of a level, so that half of the nodes would miss a span's end, while
// every pop of a span looks its head up in the index (tree 1.13x
// and wave 1.07x the time on two workers with them joined; BENCHMARKS.md,
// session 21). A client's tasks, added in order, join spans on any number
// of workers.
func (q *queue) pushApart(n *core.Node) {
	if o := q.open; o != nil && o.beatenBy(n) {
		q.closeOpen()
	}
	q.pushNode(n)
}

// pushNode queues n on the FIFO run, or on the heap if it ranks before
// the run's last node.
func (q *queue) pushNode(n *core.Node) {
	if k := len(q.fifo); k == q.head || !before(n, q.fifo[k-1]) {
		if q.head > 0 && q.head == k {
			q.fifo, q.head = q.fifo[:0], 0
		}
		if len(q.fifo) == cap(q.fifo) {
			// Double, where append grows large slices by a quarter: a wide
			// level of a million nodes is then copied twice, not twenty times.
			grown := make([]*core.Node, len(q.fifo), max(2*cap(q.fifo), 64))
			copy(grown, q.fifo)
			q.fifo = grown
		}
		q.fifo = append(q.fifo, n)
		return
	}
	q.heap = append(q.heap, n)
	q.up(len(q.heap) - 1)
}

// spannable reports whether n may be queued in a span of the queue's
// graph (inSpanOf), taking n's graph as the queue's if it has none yet.
func (q *queue) spannable(n *core.Node) bool {
	if q.g == nil {
		q.g = n.Graph()
	}
	return q.g != nil && inSpanOf(n, q.g)
}

// inSpanOf reports whether n may be queued in a span of g: a span holds
// ids, read back from g's index, so only g's tasks (a waiter has its
// owner's id).
func inSpanOf(n *core.Node, g *core.Graph) bool { return n.TaskOf(g) }

// joinSpan queues n in a span, and reports whether it did: at the end of
// a span whose last id is n's previous one, of n's priority (the open
// span too), or with the FIFO run's last node, if that is n's previous
// one and of its priority, as a new span. The caller has closed the open
// span if n ranks before a node in it.
func (q *queue) joinSpan(n *core.Node) bool {
	if !q.spannable(n) {
		return false
	}
	id, p := n.ID(), n.Priority()
	if o := q.open; o != nil && p == o.prio && o.extend(id, id+1) {
		q.openSize++
		return true
	}
	for i := range q.spans {
		if sp := &q.spans[i]; sp.to == id && q.g.At(sp.from).Priority() == p {
			sp.to++
			q.inSpans++
			return true
		}
	}
	k := len(q.fifo)
	if k == q.head || len(q.spans) == maxSpans {
		return false
	}
	if last := q.fifo[k-1]; last.ID() == id-1 && last.Priority() == p && q.spannable(last) {
		q.fifo[k-1] = nil
		q.fifo = q.fifo[:k-1]
		q.spans = append(q.spans, idSpan{id - 1, id + 1})
		q.inSpans += 2
		return true
	}
	return false
}

// peek returns the best node without removing it, or nil.
func (q *queue) peek() *core.Node {
	if q.open != nil {
		if n := q.open.peek(); n != nil {
			return n // the best (see queue); a worker may take it meanwhile
		}
	}
	var f *core.Node
	if q.head < len(q.fifo) {
		f = q.fifo[q.head]
	}
	if len(q.heap) > 0 && (f == nil || before(q.heap[0], f)) {
		f = q.heap[0]
	}
	if len(q.spans) > 0 {
		if s, _ := q.bestSpan(); f == nil || before(s, f) {
			return s
		}
	}
	return f
}

// pop removes and returns the best node, or nil.
func (q *queue) pop() *core.Node {
	if q.open != nil {
		if n := q.open.takeBest(); n != nil {
			return n
		}
		// Emptied by the workers, but for a chunk a worker may be about
		// to put in its lane: closed, that worker gives it back.
		q.closeOpen()
	}
	if len(q.spans) > 0 {
		if s, i := q.bestSpan(); q.beats(s) {
			q.popSpan(i)
			return s
		}
	}
	if len(q.heap) > 0 && (q.head == len(q.fifo) || before(q.heap[0], q.fifo[q.head])) {
		return q.popHeap()
	}
	if q.head == len(q.fifo) {
		return nil
	}
	return q.popFIFO()
}

// popHeap removes and returns the heap's best node; the heap is not empty.
func (q *queue) popHeap() *core.Node {
	n := q.heap[0]
	last := len(q.heap) - 1
	q.heap[0] = q.heap[last]
	q.heap[last] = nil
	q.heap = q.heap[:last]
	if last > 0 {
		q.down(0)
	}
	return n
}

// popFIFO removes and returns the FIFO run's first node; the run is not
// empty.
func (q *queue) popFIFO() *core.Node {
	n := q.fifo[q.head]
	q.fifo[q.head] = nil // let the node go when it is done
	q.head++
	if q.head == len(q.fifo) {
		q.fifo, q.head = q.fifo[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.fifo) {
		k := copy(q.fifo, q.fifo[q.head:])
		clear(q.fifo[k:])
		q.fifo, q.head = q.fifo[:k], 0
	}
	return n
}

// beats reports whether s, a span's head, starts before the heads of the
// FIFO run and the heap.
func (q *queue) beats(s *core.Node) bool {
	return (q.head == len(q.fifo) || before(s, q.fifo[q.head])) &&
		(len(q.heap) == 0 || before(s, q.heap[0]))
}

// peekLive drops nodes that are no longer ready from the front and returns
// the best ready node, or nil.
func (q *queue) peekLive() *core.Node {
	for {
		n := q.peek()
		if n == nil || n.State() == core.Ready {
			return n
		}
		if chaos.On {
			chaos.Pause() // a worker may take n from the open span here
		}
		q.dropHead(n)
	}
}

// dropHead drops n, a node that peek returned, from the front of the
// queue: exactly n, or nothing if it is no longer there. A pop would not
// do: workers take from the open span without the runner's mutex, so the
// best node a pop takes may be another than the one peek saw, a ready one
// that the caller would then drop (found by a random run: a task left
// ready with every worker parked; see TestPeekLiveKeepsWhatWorkersLeave).
func (q *queue) dropHead(n *core.Node) {
	if o := q.open; o != nil {
		if id, at := o.best(); id == n.ID() && o.g.At(id) == n {
			o.dropHead(id, at)
			return
		}
	}
	switch {
	case q.head < len(q.fifo) && q.fifo[q.head] == n:
		q.popFIFO()
	case len(q.heap) > 0 && q.heap[0] == n:
		q.popHeap()
	default:
		for i, sp := range q.spans {
			if q.g.At(sp.from) == n {
				q.popSpan(i)
				return
			}
		}
		// Taken from the open span by a worker since peek saw it.
	}
}

// dropDeadTail drops nodes that are no longer ready from the back of the
// FIFO run and of each span. A waiter that runs the tasks it awaits
// itself claims the ones it just added, which sit at the back: without
// this, a recursion that runs inline (fib) would leave every task it ever
// added in the queue until it returned, since the front holds a live
// sibling all along.
func (q *queue) dropDeadTail() {
	for i := len(q.spans) - 1; i >= 0; i-- {
		sp := &q.spans[i]
		for sp.to > sp.from && q.g.At(sp.to-1).State() != core.Ready {
			sp.to--
			q.inSpans--
		}
		if sp.from == sp.to {
			q.spans = append(q.spans[:i], q.spans[i+1:]...)
		}
	}
	k := len(q.fifo)
	for k > q.head && q.fifo[k-1].State() != core.Ready {
		k--
		q.fifo[k] = nil
	}
	q.fifo = q.fifo[:k]
	if k == q.head {
		q.fifo, q.head = q.fifo[:0], 0
	}
}

func (q *queue) up(i int) {
	h := q.heap
	for i > 0 {
		p := (i - 1) / 2
		if !before(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *queue) down(i int) {
	h := q.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && before(h[r], h[l]) {
			m = r
		}
		if !before(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
