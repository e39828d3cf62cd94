package graph_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	gonum "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/path"
	"gonum.org/v1/gonum/graph/topo"
	"gonum.org/v1/gonum/graph/traverse"
)

var _ gonum.Directed = graph.New()

// randomGraph builds n tasks, each reading up to three earlier ones
// (duplicates possible), plus some ordering edges from earlier to later
// tasks. It returns the handles and, for each task, the set of tasks it
// must wait for.
func randomGraph(t *testing.T, rng *rand.Rand, n int) ([]graph.Task[int], []map[int]bool) {
	t.Helper()
	g := graph.New()
	ts := make([]graph.Task[int], n)
	deps := make([]map[int]bool, n)
	for i := range n {
		deps[i] = map[int]bool{}
		var in []graph.Task[int]
		for range rng.IntN(4) {
			if i == 0 {
				break
			}
			j := rng.IntN(i)
			in = append(in, ts[j])
			deps[i][j] = true
		}
		ts[i] = graph.AddN(g, fmt.Sprint("n", i), in, func(context.Context, []int) (int, error) { return 0, nil })
	}
	for range n / 4 {
		if n < 2 {
			break
		}
		j := rng.IntN(n - 1)
		i := j + 1 + rng.IntN(n-j-1)
		if err := graph.Order(ts[j], ts[i]); err != nil {
			t.Fatal(err)
		}
		deps[i][j] = true
	}
	return ts, deps
}

func idsOf(ns gonum.Nodes) []int64 {
	var out []int64
	for ns.Next() {
		out = append(out, ns.Node().ID())
	}
	slices.Sort(out)
	return out
}

// TestGonumEdgesAgreeWithInputs checks Node, From, To, HasEdgeFromTo,
// HasEdgeBetween and Edge against the inputs and orders each task was
// built with: edges go from an input to its reader.
func TestGonumEdgesAgreeWithInputs(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(30)
		ts, deps := randomGraph(t, rng, n)
		g := ts[0].Graph()
		for i, h := range ts {
			if r := g.Node(int64(i)); r != gonum.Node(h.Ref()) {
				t.Fatalf("seed %d: Node(%d) = %v, want %s", seed, i, r, h.Name())
			}
			var wantTo, wantFrom []int64
			for j := range n {
				if deps[i][j] {
					wantTo = append(wantTo, int64(j))
				}
				if deps[j][i] {
					wantFrom = append(wantFrom, int64(j))
				}
				has := g.HasEdgeFromTo(int64(j), int64(i))
				if has != deps[i][j] {
					t.Fatalf("seed %d: HasEdgeFromTo(%d, %d) = %v, want %v", seed, j, i, has, deps[i][j])
				}
				if g.HasEdgeBetween(int64(i), int64(j)) != (deps[i][j] || deps[j][i]) {
					t.Fatalf("seed %d: HasEdgeBetween(%d, %d) is wrong", seed, i, j)
				}
				e := g.Edge(int64(j), int64(i))
				if (e != nil) != has {
					t.Fatalf("seed %d: Edge(%d, %d) = %v, want an edge: %v", seed, j, i, e, has)
				}
				if e != nil && (e.From().ID() != int64(j) || e.To().ID() != int64(i) || e.ReversedEdge().From().ID() != int64(i)) {
					t.Fatalf("seed %d: Edge(%d, %d) has ends %d, %d", seed, j, i, e.From().ID(), e.To().ID())
				}
			}
			if got := idsOf(g.To(int64(i))); !slices.Equal(got, wantTo) {
				t.Fatalf("seed %d: To(%d) = %v, want %v", seed, i, got, wantTo)
			}
			if got := idsOf(g.From(int64(i))); !slices.Equal(got, wantFrom) {
				t.Fatalf("seed %d: From(%d) = %v, want %v", seed, i, got, wantFrom)
			}
		}
		if g.Node(-1) != nil || g.Node(int64(n)) != nil {
			t.Fatalf("seed %d: Node of a missing id is not nil", seed)
		}
		if g.From(int64(n)).Len() != 0 || g.To(-1).Len() != 0 || g.HasEdgeFromTo(-1, 0) || g.Edge(0, int64(n)) != nil {
			t.Fatalf("seed %d: missing ids have edges", seed)
		}
	}
}

// TestGonumNodesListsEveryTask: Nodes returns every task, once.
func TestGonumNodesListsEveryTask(t *testing.T) {
	ts, _ := randomGraph(t, rand.New(rand.NewPCG(1, 7)), 10)
	g := ts[0].Graph()
	var got []int64
	noPanic(t, "Nodes", func() { got = idsOf(g.Nodes()) })
	if want := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("Nodes() = %v, want %v", got, want)
	}
}

// TestGonumTopoSortRespectsInputs: gonum's topological order of a graph
// runs every task after everything it waits for.
func TestGonumTopoSortRespectsInputs(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 8))
		n := 1 + rng.IntN(40)
		ts, deps := randomGraph(t, rng, n)
		var order []gonum.Node
		var err error
		noPanic(t, "topo.Sort", func() { order, err = topo.Sort(ts[0].Graph()) })
		if err != nil || len(order) != n {
			t.Fatalf("seed %d: topo.Sort = %d nodes, %v; want %d, nil", seed, len(order), err, n)
		}
		pos := map[int64]int{}
		for k, x := range order {
			pos[x.ID()] = k
		}
		for i := range n {
			for j := range deps[i] {
				if pos[int64(j)] >= pos[int64(i)] {
					t.Fatalf("seed %d: topo order puts n%d before its input n%d", seed, i, j)
				}
			}
		}
	}
}

// descendants returns the hop distance from root to every task reachable
// from it along edges (input to reader), by breadth-first search.
func descendants(deps []map[int]bool, root int) map[int]int {
	dist := map[int]int{root: 0}
	queue := []int{root}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for i := range deps {
			if _, seen := dist[i]; !seen && deps[i][x] {
				dist[i] = dist[x] + 1
				queue = append(queue, i)
			}
		}
	}
	return dist
}

// TestGonumTraverseReachesDescendants: gonum's breadth-first walk from a
// task visits exactly the tasks that depend on it.
func TestGonumTraverseReachesDescendants(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 9))
		ts, deps := randomGraph(t, rng, 25)
		want := descendants(deps, 0)
		got := map[int]int{}
		var bf traverse.BreadthFirst
		bf.Walk(ts[0].Graph(), ts[0], func(n gonum.Node, d int) bool {
			got[int(n.ID())] = d
			return false
		})
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: BreadthFirst depths %v, want %v", seed, got, want)
		}
	}
}

// TestGonumDijkstraDistances: gonum's shortest paths from a task, with
// unit weights, are the hop distances to its descendants.
func TestGonumDijkstraDistances(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 10))
		ts, deps := randomGraph(t, rng, 25)
		want := descendants(deps, 0)
		var sh path.Shortest
		noPanic(t, "path.DijkstraFrom", func() { sh = path.DijkstraFrom(ts[0], ts[0].Graph()) })
		for i, h := range ts {
			d := sh.WeightTo(h.ID())
			if w, ok := want[i]; ok != !isInf(d) || ok && d != float64(w) {
				t.Fatalf("seed %d: distance to n%d = %v, want %v (reachable %v)", seed, i, d, w, ok)
			}
		}
	}
}

func isInf(f float64) bool { return f > 1e300 }
