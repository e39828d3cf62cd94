package exec

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestQueuePopsInOrder checks the ready queue against a sorted reference
// over random interleavings of pushes and pops: every pop returns the best
// node held (highest priority, then lowest id), whichever of the FIFO run
// and the heap holds it, and nothing is lost or returned twice.
func TestQueuePopsInOrder(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var q queue
		var held []*core.Node
		next := int64(0)
		for step := range 400 {
			if rng.IntN(3) > 0 || len(held) == 0 {
				n := testNode(t, rng.IntN(4)-1, rng.Int64N(64)<<20|next) // unique ids, in no particular order
				next++
				q.push(n)
				held = append(held, n)
				continue
			}
			slices.SortFunc(held, func(a, b *core.Node) int {
				if before(a, b) {
					return -1
				}
				return 1
			})
			want := held[0]
			if got := q.peek(); got != want {
				t.Fatalf("seed %d step %d: peek = %v, want %v", seed, step, desc(got), desc(want))
			}
			if got := q.pop(); got != want {
				t.Fatalf("seed %d step %d: pop = %v, want %v", seed, step, desc(got), desc(want))
			}
			held = held[1:]
			if q.len() != len(held) {
				t.Fatalf("seed %d step %d: len = %d, want %d", seed, step, q.len(), len(held))
			}
		}
	}
	var q queue
	if q.pop() != nil || q.peek() != nil {
		t.Fatal("an empty queue returned a node")
	}
}

// TestQueueSkipsStaleNodes checks that peekLive drops nodes that are no
// longer ready (taken by a waiter, or cancelled, while queued).
func TestQueueSkipsStaleNodes(t *testing.T) {
	var q queue
	a, b := testNode(t, 0, 1), testNode(t, 0, 2)
	q.push(a)
	q.push(b)
	a.SetState(core.Running)
	b.SetState(core.Ready)
	if got := q.peekLive(); got != b {
		t.Fatalf("peekLive = %v, want %v", desc(got), desc(b))
	}
	if q.len() != 1 {
		t.Fatalf("len = %d after dropping the stale node, want 1", q.len())
	}
}

// TestQueueDropsDeadTail checks that dropDeadTail drops the nodes at the
// back of the FIFO run that are no longer ready, and stops at a ready one.
func TestQueueDropsDeadTail(t *testing.T) {
	var q queue
	ns := []*core.Node{testNode(t, 0, 1), testNode(t, 0, 2), testNode(t, 0, 3), testNode(t, 0, 4)}
	for _, n := range ns {
		n.SetState(core.Ready)
		q.push(n)
	}
	ns[1].SetState(core.Running) // taken by a waiter, behind a ready node: stays for now
	ns[3].SetState(core.Done)
	for _, c := range []struct {
		dead *core.Node
		want int
	}{{nil, 3}, {ns[2], 1}, {ns[0], 0}} {
		if c.dead != nil {
			c.dead.SetState(core.Running)
		}
		q.dropDeadTail()
		if q.len() != c.want {
			t.Fatalf("len = %d after dropping the dead tail, want %d", q.len(), c.want)
		}
	}
	if q.peekLive() != nil {
		t.Fatal("an emptied queue returned a node")
	}
	q.push(ns[0]) // the emptied queue takes nodes again
	ns[0].SetState(core.Ready)
	if got := q.pop(); got != ns[0] {
		t.Fatalf("pop = %v, want %v", desc(got), desc(ns[0]))
	}
}

// testNode makes a node with a priority and an id, as Graph.Add would.
func testNode(t *testing.T, prio int, id int64) *core.Node {
	t.Helper()
	return core.NewDetached("n", prio, id)
}

func desc(n *core.Node) any {
	if n == nil {
		return nil
	}
	return [2]int64{int64(n.Priority()), n.ID()}
}

// TestQueueSpansGrowInOrder is TestQueuePopsInOrder for pushes that join
// spans: nodes of a graph, of a few priorities, pushed mostly in runs of
// consecutive ids, so that they join the spans Begin gave, the FIFO run's
// last node, and the open span, which the queue opens when it can;
// waiters, which have their owner's id, and nodes pushed apart (as a
// completion's on several workers), among them. Pops and takes from the
// open span give the nodes in order, each once, and the count is right
// throughout.
func TestQueueSpansGrowInOrder(t *testing.T) {
	const total = 1000
	g := graph.New()
	prio := make([]int, total)
	for i := range total {
		prio[i] = []int{0, 0, 0, 1, -1}[i/150%5]
		graph.Add(g, "task", func(context.Context) (int, error) { return i, nil }, graph.Priority(prio[i]))
	}
	cg := graphCore(g)
	for seed := range uint64(60) {
		rng := rand.New(rand.NewPCG(seed, 22))
		q := queue{}
		q.pushSpan(cg, 0, 20)
		held := make(map[*core.Node]bool)
		for id := range int64(20) {
			held[cg.At(id)] = true
		}
		next := int64(20)
		opened := false
		for step := 0; len(held) > 0 || next < total; step++ {
			if q.open == nil && q.inSpans >= minOpen && q.openOne(1) != nil {
				opened = true
			}
			if next < total && (rng.IntN(3) > 0 || len(held) == 0) {
				k := min(int64(1+rng.IntN(6)), total-next)
				if rng.IntN(5) == 0 && next+2*k < total {
					next += k // a gap: ids never made ready
				}
				for range k {
					n := cg.At(next)
					if rng.IntN(30) == 0 {
						n = core.NewWaiter(n) // its owner's id, and no place in the index
					}
					if held[n] {
						continue
					}
					if rng.IntN(4) == 0 {
						q.pushApart(n) // a completion's, on several workers
					} else {
						q.push(n)
					}
					held[n] = true
					next++
				}
				continue
			}
			var want *core.Node
			for n := range held {
				if want == nil || before(n, want) {
					want = n
				}
			}
			var got *core.Node
			if o := q.open; o != nil && rng.IntN(2) == 0 {
				if id, _ := o.take(0); id >= 0 {
					got = cg.At(id)
				}
			}
			if got == nil {
				got = q.pop()
			}
			if got != want && !(got != nil && before(got, want) == before(want, got)) {
				t.Fatalf("seed %d step %d: took %v, want %v", seed, step, desc(got), desc(want))
			}
			if !held[got] {
				t.Fatalf("seed %d step %d: took %v, not queued or taken before", seed, step, desc(got))
			}
			delete(held, got)
			if q.exactLen() != len(held) {
				t.Fatalf("seed %d step %d: exactLen = %d, want %d", seed, step, q.exactLen(), len(held))
			}
		}
		if !opened {
			t.Fatalf("seed %d: no span opened", seed)
		}
	}
}
