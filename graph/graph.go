package graph

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/evolve-dag/evolve/internal/core"
	gonum "gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/iterator"
	"gonum.org/v1/gonum/graph/topo"
)

// Graph is a lazy task graph. The zero value is an empty graph ready to use.
// A Graph must not be copied after first use.
//
// A nil *Graph is an empty graph that nothing can be added to: its methods
// that return an error say so (the error wraps ErrNilBuilder), the others
// find nothing, and tasks built with it as their Builder fail with
// ErrNilBuilder.
type Graph struct {
	c     core.Graph
	slabs slabs // where the graph's task records are cut from (see cutRecord)
}

// errNilGraph is what a nil *Graph's methods return.
var errNilGraph = fmt.Errorf("graph: the *Graph is nil: %w", ErrNilBuilder)

// New returns an empty graph.
func New() *Graph { return new(Graph) }

// Build returns a new graph holding the tasks fn adds through b, which is
// the graph itself. It is the fastest way to build a whole graph before
// running it (Taskflow's way): until fn returns, the graph belongs to the
// goroutine calling Build, and adding a task takes no lock (BENCHMARKS.md).
//
// So, until Build returns, only that goroutine may use the graph and the
// handles of its tasks: fn must not hand them to goroutines that use them
// meanwhile (the race detector reports such a use as a data race). The
// graph cannot run while fn builds it: a run asked for meanwhile (through
// a handle's Graph) fails with an error wrapping ErrInBuild. Once Build
// has returned, the graph is like one from New, safe for concurrent use:
// tasks added later, through b or any Builder, take the lock as usual.
//
// A nil fn builds an empty graph whose Err reports ErrNilFunc.
func Build(fn func(b Builder)) *Graph {
	g := New()
	if fn == nil {
		g.c.Fail(&Error{Task: "graph.Build", Err: ErrNilFunc})
		return g
	}
	g.c.SetBuilding(true)
	defer g.c.SetBuilding(false) // a panic in fn leaves the graph shareable
	fn(g)
	return g
}

// Len is the number of tasks and values in the graph.
func (g *Graph) Len() int {
	if g == nil {
		return 0
	}
	return int(g.c.Len())
}

// Tasks returns the graph's tasks and values in creation order.
func (g *Graph) Tasks() iter.Seq[Ref] {
	return func(yield func(Ref) bool) {
		if g == nil {
			return
		}
		for _, n := range g.c.Nodes() {
			if !yield(refOf(n)) {
				return
			}
		}
	}
}

// Err returns the mistakes made while building, joined, or nil. An option
// with a bad value is such a mistake (see ErrInvalidOption).
func (g *Graph) Err() error {
	if g == nil {
		return errNilGraph
	}
	return errors.Join(g.c.Errs()...)
}

// Validate reports building mistakes and cycles. A graph built only from
// inputs cannot have a cycle; one that used Order is checked with gonum's
// topological sort, and the error names a cycle, such as
// "cycle: a -> b -> a".
func (g *Graph) Validate() error {
	if g == nil {
		return errNilGraph
	}
	if err := g.Err(); err != nil {
		return err
	}
	if !g.c.HasOrder() {
		return nil
	}
	if _, err := topo.Sort(g); err != nil {
		var u topo.Unorderable
		if errors.As(err, &u) && len(u) > 0 {
			return &CycleError{Cycle: cycleIn(u[0])}
		}
		return err
	}
	return nil
}

// cycleIn returns one cycle through the nodes of a strongly connected
// component, closed (its first name is repeated at the end).
func cycleIn(comp []gonum.Node) []string {
	in := make(map[int64]bool, len(comp))
	for _, n := range comp {
		in[n.ID()] = true
	}
	// Walk from the first node along edges inside the component until a node
	// repeats; the loop from that node is a cycle.
	start := comp[0].(Ref).n
	pos := map[*core.Node]int{}
	var path []*core.Node
	for n := start; ; {
		if i, ok := pos[n]; ok {
			path = append(path[i:], n)
			break
		}
		pos[n] = len(path)
		path = append(path, n)
		var next *core.Node
		for _, s := range n.Graph().Succs(n) {
			if in[s.ID()] {
				next = s
				break
			}
		}
		n = next
	}
	names := make([]string, len(path))
	for i, n := range path {
		names[i] = n.Name()
	}
	return names
}

// CycleError reports tasks that wait for each other.
type CycleError struct {
	Cycle []string // task names, first repeated last
}

// Error names the cycle, as "cycle: a -> b -> a".
func (e *CycleError) Error() string {
	if e == nil {
		return nilName
	}
	return "cycle: " + strings.Join(e.Cycle, " -> ")
}

// The methods below implement gonum's graph.Directed. Edges go from an input
// to the tasks that read it, so gonum's topological order is a valid run
// order. Nodes are the tasks' Refs.

// Node returns the task with the given ID, or nil.
func (g *Graph) Node(id int64) gonum.Node {
	if g == nil {
		return nil
	}
	n := g.c.Node(id)
	if n == nil {
		return nil
	}
	return refOf(n)
}

// Nodes returns all tasks.
func (g *Graph) Nodes() gonum.Nodes {
	if g == nil {
		return gonum.Empty
	}
	ns := g.c.Nodes()
	out := make([]gonum.Node, len(ns))
	for i, n := range ns {
		out[i] = refOf(n)
	}
	return iterator.NewOrderedNodes(out)
}

// From returns the tasks that read the task with the given ID.
func (g *Graph) From(id int64) gonum.Nodes {
	if g == nil {
		return gonum.Empty
	}
	n := g.c.Node(id)
	if n == nil {
		return gonum.Empty
	}
	return uniqueNodes(g.c.Succs(n))
}

// To returns the tasks whose results the task with the given ID reads, and
// the tasks it was ordered after.
func (g *Graph) To(id int64) gonum.Nodes {
	if g == nil {
		return gonum.Empty
	}
	n := g.c.Node(id)
	if n == nil {
		return gonum.Empty
	}
	return uniqueNodes(n.Deps())
}

func uniqueNodes(ns []*core.Node) gonum.Nodes {
	if len(ns) == 0 {
		return gonum.Empty
	}
	seen := make(map[*core.Node]bool, len(ns))
	out := make([]gonum.Node, 0, len(ns))
	for _, n := range ns {
		if !seen[n] {
			seen[n] = true
			out = append(out, refOf(n))
		}
	}
	return iterator.NewOrderedNodes(out)
}

// HasEdgeBetween reports whether one of the two tasks reads the other.
func (g *Graph) HasEdgeBetween(xid, yid int64) bool {
	return g.HasEdgeFromTo(xid, yid) || g.HasEdgeFromTo(yid, xid)
}

// HasEdgeFromTo reports whether the task v reads the task u.
func (g *Graph) HasEdgeFromTo(uid, vid int64) bool {
	if g == nil {
		return false
	}
	u, v := g.c.Node(uid), g.c.Node(vid)
	if u == nil || v == nil {
		return false
	}
	return slices.Contains(v.Deps(), u)
}

// Edge returns the edge from u to v, or nil.
func (g *Graph) Edge(uid, vid int64) gonum.Edge {
	if !g.HasEdgeFromTo(uid, vid) {
		return nil
	}
	return edge{from: g.Node(uid), to: g.Node(vid)}
}

type edge struct{ from, to gonum.Node }

func (e edge) From() gonum.Node         { return e.from }
func (e edge) To() gonum.Node           { return e.to }
func (e edge) ReversedEdge() gonum.Edge { return edge{from: e.to, to: e.from} }

var _ gonum.Directed = (*Graph)(nil)
