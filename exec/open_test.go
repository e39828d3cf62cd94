package exec

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestOpenSpanTakesEachRootOnce races workers taking roots from an open
// span (their lanes and the cursor) with pops under a mutex and a close
// by a push that ranks before them, as the runner does: every root is
// taken exactly once, by a worker, a pop, or from what the close or a
// worker's give-back left in the queue, and the pops under the mutex
// take the queue's best node.
func TestOpenSpanTakesEachRootOnce(t *testing.T) {
	const roots = 3000
	cg := tasksGraph(roots)
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 20))
		workers := 1 + rng.IntN(5)
		var mu sync.Mutex // the runner's
		var q queue
		q.pushSpan(cg, 0, roots)
		q.openOne(workers)
		o := q.open
		if o == nil {
			t.Fatalf("seed %d: a span of %d roots was not opened", seed, roots)
		}
		if got, exact := q.len(), q.exactLen(); got != roots || exact != roots {
			t.Fatalf("seed %d: len = %d, exactLen = %d, want %d", seed, got, exact, roots)
		}
		taken := make([]atomic.Int32, roots)
		take := func(n *core.Node) {
			if n.ID() < roots && taken[n.ID()].Add(1) != 1 {
				t.Errorf("seed %d: root %d taken twice", seed, n.ID())
			}
		}
		closeAfter := rng.IntN(roots)
		urgent := testNode(t, 1, roots)
		var wg sync.WaitGroup
		for w := range workers + 1 { // worker ids up to workers: the last has no lane
			wg.Go(func() {
				wrng := rand.New(rand.NewPCG(seed, uint64(w)))
				// pop takes the queue's best under the mutex, as a worker in
				// its loop does, and reports whether there was one.
				pop := func() bool {
					mu.Lock()
					n := q.pop()
					mu.Unlock()
					if n != nil && n != urgent {
						take(n)
					}
					return n != nil
				}
				for {
					if wrng.IntN(8) == 0 {
						if !pop() {
							return
						}
						continue
					}
					id := takeRoot(&mu, &q, o, w)
					if id >= 0 {
						take(cg.At(id))
					} else if !pop() {
						return
					}
				}
			})
		}
		wg.Go(func() {
			for {
				mu.Lock()
				left := q.exactLen()
				if left <= roots-closeAfter {
					q.push(urgent)
					if q.open != nil {
						t.Errorf("seed %d: a push that ranks first left the span open", seed)
					}
					if top := q.peek(); top != urgent {
						t.Errorf("seed %d: peek after the push = %v, want the pushed node", seed, desc(top))
					}
					mu.Unlock()
					return
				}
				mu.Unlock()
			}
		})
		wg.Wait()
		// The push may come after the workers found the queue empty: it
		// holds the pushed node then, and nothing else.
		for n := q.pop(); n != nil; n = q.pop() {
			if n != urgent {
				t.Fatalf("seed %d: the queue holds root %d after every worker found it empty", seed, n.ID())
			}
		}
		if q.len() != 0 || q.exactLen() != 0 {
			t.Fatalf("seed %d: len %d, exactLen %d once empty", seed, q.len(), q.exactLen())
		}
		for id := range taken {
			if taken[id].Load() != 1 {
				t.Fatalf("seed %d (%d workers): root %d taken %d times", seed, workers, id, taken[id].Load())
			}
		}
	}
}

// TestOpenSpanKeepsOrderWithLaterNodes: one goroutine taking from an open
// span through its lane and popping the queue in turn gets the roots in
// creation order, nodes pushed that rank after them only once they are
// all taken, and one that ranks before some of them (a higher priority,
// or the same and an earlier id) at once.
func TestOpenSpanKeepsOrderWithLaterNodes(t *testing.T) {
	const first, to = 100, 300 // the roots: ids 100 to 299
	cg := tasksGraph(to)
	for _, ranksBefore := range []*core.Node{testNode(t, 2, to+3), testNode(t, 0, 50)} {
		var q queue
		q.pushSpan(cg, first, to)
		q.openOne(1)
		o := q.open
		later := testNode(t, 0, to+1) // same priority, created after
		lower := testNode(t, -1, to+2)
		var got []int64
		at := -1 // len(got) when ranksBefore was pushed
		for i := 0; ; i++ {
			switch i {
			case 10:
				q.push(later)
				q.push(lower)
				if q.open == nil {
					t.Fatal("nodes that rank after every root closed the span")
				}
			case 150:
				q.push(ranksBefore)
				at = len(got)
			}
			var n *core.Node
			if id, back := o.take(0); back[0] < back[1] {
				t.Fatalf("a lane taken back without a close: %v", back)
			} else if id >= 0 {
				n = cg.At(id)
			} else if n = q.pop(); n == nil {
				break
			}
			got = append(got, n.ID())
			if i%7 == 0 { // a pop between takes, as a worker back in its loop
				if n := q.pop(); n != nil {
					got = append(got, n.ID())
				}
			}
		}
		var want []int64
		for id := range int64(to - first) {
			want = append(want, first+id)
		}
		want = slices.Insert(want, at, ranksBefore.ID()) // next, once pushed
		want = append(want, later.ID(), lower.ID())
		if !slices.Equal(got, want) {
			t.Fatalf("pushed %v: order\n got %v\nwant %v", desc(ranksBefore), got, want)
		}
	}
}

// TestOpenSpanBacksOffWhenClosedEarly: roots that each make a better node
// ready close the open span at once; the queue opens one again after ever
// longer runs of pops, not after every root, and all the roots still come
// in order.
func TestOpenSpanBacksOffWhenClosedEarly(t *testing.T) {
	const roots = 4000
	cg := tasksGraph(roots)
	var q queue
	q.pushSpan(cg, 0, roots)
	opens := 0
	var got []int64
	for i := range roots {
		if q.open == nil {
			q.openOne(1)
			if q.open != nil {
				opens++
			}
		}
		n := q.pop()
		if n == nil {
			t.Fatalf("pop %d: the queue is empty", i)
		}
		got = append(got, n.ID())
		q.push(testNode(t, 1, int64(roots+i))) // a consumer of a higher priority
		if better := q.pop(); better.Priority() != 1 {
			t.Fatalf("pop after root %d: %v, want the consumer", n.ID(), desc(better))
		}
	}
	if !slices.IsSorted(got) || len(got) != roots {
		t.Fatalf("roots out of order: %v", got)
	}
	if opens > 12 {
		t.Fatalf("%d spans opened for %d roots that each closed one", opens, roots)
	}
	if opens < 2 {
		t.Fatalf("%d spans opened: the queue should try again after a while", opens)
	}
}

// TestOpenSpanGrowsWhileTaken races workers taking from an open span
// (their lanes, the cursor, pops under a mutex) with a goroutine that
// makes the next ids ready, as completions do: it adds them at the span's
// end without the mutex (extend), or pushes them under it, where they join
// the span or the queue's spans, and at some point pushes a node that
// ranks before them all, which closes the span, so that the adds after it
// fail and push instead. Every id is taken exactly once: none is lost to
// an add racing with the close, none is taken twice.
func TestOpenSpanGrowsWhileTaken(t *testing.T) {
	const total, first = 6000, 100
	cg := tasksGraph(total)
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 21))
		workers := 1 + rng.IntN(4)
		var mu sync.Mutex // the runner's
		q := queue{}
		q.pushSpan(cg, 0, first)
		q.openOne(workers)
		o := q.open
		if o == nil {
			t.Fatalf("seed %d: a span of %d ids was not opened", seed, first)
		}
		taken := make([]atomic.Int32, total)
		urgent := testNode(t, 1, total)
		take := func(n *core.Node) {
			if n != urgent && taken[n.ID()].Add(1) != 1 {
				t.Errorf("seed %d: id %d taken twice", seed, n.ID())
			}
		}
		pop := func() bool {
			mu.Lock()
			n := q.pop()
			mu.Unlock()
			if n != nil {
				take(n)
			}
			return n != nil
		}
		var done atomic.Bool // every id was added
		var wg sync.WaitGroup
		for w := range workers + 1 { // worker ids up to workers: the last has no lane
			wg.Go(func() {
				wrng := rand.New(rand.NewPCG(seed, uint64(w)+100))
				for {
					end := done.Load() // read before looking: what it missed is added after
					if wrng.IntN(8) == 0 && pop() {
						continue
					}
					id := takeRoot(&mu, &q, o, w)
					if id >= 0 {
						take(cg.At(id))
					} else if !pop() && end {
						return
					}
				}
			})
		}
		wg.Go(func() {
			defer done.Store(true)
			closeAt := first + rng.IntN(total-first)
			for next := first; next < total; {
				k := min(1+rng.IntN(4), total-next)
				if next >= closeAt && closeAt >= 0 {
					mu.Lock()
					q.push(urgent)
					if q.open != nil {
						t.Errorf("seed %d: a push that ranks first left the span open", seed)
					}
					mu.Unlock()
					closeAt = -1
				}
				if rng.IntN(3) == 0 || !o.extend(int64(next), int64(next+k)) {
					mu.Lock()
					for id := next; id < next+k; id++ {
						q.push(cg.At(int64(id)))
					}
					mu.Unlock()
				}
				next += k
			}
		})
		wg.Wait()
		for pop() {
		}
		for id := range taken {
			if got := taken[id].Load(); got != 1 {
				t.Fatalf("seed %d (%d workers): id %d taken %d times", seed, workers, id, got)
			}
		}
	}
}

// takeRoot is a worker's take in the open span's tests, as nextRoot does
// it: the next id for worker w, or -1, giving back under mu what the
// worker took into its lane as o was closed.
func takeRoot(mu *sync.Mutex, q *queue, o *openSpan, w int) int64 {
	id, back := o.take(w)
	if back[0] < back[1] {
		mu.Lock()
		q.pushSpan(o.g, back[0], back[1])
		mu.Unlock()
	}
	return id
}

// TestPeekLiveKeepsWhatWorkersLeave: a goroutine holding the runner's
// mutex claims the queue's best node (as a waiter does) and then looks
// for the best live one (peekLive, as the next claim does), dropping the
// dead front, while workers take from the open span's lanes and cursor
// without the mutex. Every node ends taken by exactly one of them: none
// is dropped while ready. (A peekLive that popped whatever was best after
// its look dropped a ready root a worker had moved up to the front: a run
// hung with that root ready and every worker parked.)
func TestPeekLiveKeepsWhatWorkersLeave(t *testing.T) {
	const total = 4000
	cg := tasksGraph(total)
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 23))
		workers := 1 + rng.IntN(3)
		for id := range int64(total) {
			cg.At(id).SetState(core.Ready)
		}
		var mu sync.Mutex
		var q queue
		q.pushSpan(cg, 0, total)
		q.openOne(workers)
		o := q.open
		if o == nil {
			t.Fatal("no span opened")
		}
		var taken atomic.Int64
		run := func(n *core.Node) { // as dispatch: a node taken runs once
			if n.CAS(core.Ready, core.Running) {
				taken.Add(1)
			}
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for {
					id := takeRoot(&mu, &q, o, w)
					if id < 0 {
						return
					}
					run(cg.At(id))
				}
			})
		}
		wg.Go(func() {
			crng := rand.New(rand.NewPCG(seed, 24))
			for {
				mu.Lock()
				top := q.peekLive()
				if top != nil && crng.IntN(2) == 0 {
					run(top) // claimed by a waiter: dead at the front
					q.peekLive()
				}
				mu.Unlock()
				if top == nil {
					return
				}
			}
		})
		wg.Wait()
		for n := q.pop(); n != nil; n = q.pop() {
			run(n)
		}
		if got := taken.Load(); got != total {
			for id := range int64(total) {
				if s := cg.At(id).State(); s != core.Running {
					t.Fatalf("seed %d (%d workers): %d of %d nodes ran; node %d left %v, out of the queue", seed, workers, got, total, id, s)
				}
			}
		}
	}
}

// TestPeekLiveWithAnEmptyOpenSpan: while the open span is empty (its
// workers took every root, and nothing closed it yet), peekLive drops
// dead nodes from the rest of the queue and returns the first ready one.
func TestPeekLiveWithAnEmptyOpenSpan(t *testing.T) {
	const roots = 40
	cg := tasksGraph(roots)
	var q queue
	q.pushSpan(cg, 0, roots)
	o := q.openOne(1)
	for o.take(0); ; {
		if id, _ := o.take(0); id < 0 {
			break
		}
	}
	dead, live := testNode(t, -1, roots), testNode(t, -1, roots+1)
	dead.SetState(core.Running) // claimed by a waiter while queued
	live.SetState(core.Ready)
	q.push(dead)
	q.push(live)
	if got := q.peekLive(); got != live {
		t.Fatalf("peekLive = %v, want the ready node after the dead one", desc(got))
	}
}

// tasksGraph returns the core of a graph of n tasks without inputs, of
// priority 0, for the queue's tests: ids 0 to n-1.
func tasksGraph(n int) *core.Graph {
	g := graph.New()
	for range n {
		graph.Add(g, "task", func(context.Context) (int, error) { return 0, nil })
	}
	return graphCore(g)
}

// TestClientTasksJoinSpansOnSeveralWorkers: tasks a client adds one by one
// while a run of two workers is busy are queued as one span, which the
// workers may then take without the runner's mutex; the consumers that a
// completion makes ready on one of two workers are pushed apart, on the
// FIFO run (see queue.pushApart). Both runs then finish every task.
func TestClientTasksJoinSpansOnSeveralWorkers(t *testing.T) {
	const clients, consumers = 100, 10
	ctx := context.Background()
	started := make(chan struct{}, 2)
	gate := make(chan struct{})
	block := func(context.Context) (int, error) {
		started <- struct{}{}
		<-gate
		return 1, nil
	}
	var ran atomic.Int64
	quick := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
	queued := func(e *Execution) (inSpans, inFIFO int) {
		e.r.mu.Lock()
		defer e.r.mu.Unlock()
		return e.r.q.inSpans + e.r.q.openSize, len(e.r.q.fifo) - e.r.q.head + len(e.r.q.heap)
	}

	// A client's tasks, both workers blocked.
	g := graph.New()
	graph.Add(g, "block", block)
	graph.Add(g, "block", block)
	e, err := Start(ctx, g, Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	<-started
	for range clients {
		graph.Add(g, "client", quick)
	}
	if spans, fifo := queued(e); spans != clients || fifo != 0 {
		t.Errorf("a client's %d tasks are queued %d in spans and %d apart, want all in spans", clients, spans, fifo)
	}
	close(gate)
	e.Close()
	if err := e.Wait(); err != nil || ran.Load() != clients {
		t.Fatalf("the run ran %d of the client's %d tasks: %v", ran.Load(), clients, err)
	}

	// A completion's consumers, on two workers.
	started, gate = make(chan struct{}, 2), make(chan struct{})
	ran.Store(0)
	g = graph.New()
	graph.Add(g, "block", block)
	root := graph.Add(g, "root", quick)
	for range consumers {
		graph.Add1(g, "consumer", root, func(context.Context, int) (int, error) {
			ran.Add(1)
			select {
			case started <- struct{}{}: // the first runs inline, and blocks
				<-gate
			default:
			}
			return 1, nil
		})
	}
	e, err = Start(ctx, g, Workers(2))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	<-started
	if spans, fifo := queued(e); spans != 0 || fifo != consumers-1 {
		t.Errorf("a completion's %d other consumers are queued %d in spans and %d apart, want all apart", consumers-1, spans, fifo)
	}
	close(gate)
	e.Close()
	if err := e.Wait(); err != nil || ran.Load() != 1+consumers {
		t.Fatalf("the run ran %d of its %d quick tasks: %v", ran.Load(), 1+consumers, err)
	}
}
