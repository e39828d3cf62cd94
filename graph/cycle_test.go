package graph_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"gonum.org/v1/gonum/graph/topo"
)

// isRotation reports whether cycle, a closed walk (first name repeated
// last), is a rotation of want, also closed.
func isRotation(cycle, want []string) bool {
	if len(cycle) != len(want) || len(cycle) == 0 || cycle[0] != cycle[len(cycle)-1] {
		return false
	}
	open, w := cycle[:len(cycle)-1], want[:len(want)-1]
	for i := range w {
		if slices.Equal(open, append(slices.Clone(w[i:]), w[:i]...)) {
			return true
		}
	}
	return false
}

// TestCycleIsNamed closes cycles with Order: Validate returns a
// *graph.CycleError whose text names the cycle, and gonum's topo agrees
// the graph is cyclic.
func TestCycleIsNamed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *graph.Graph) error
		want  []string
	}{
		{"two", func(g *graph.Graph) error {
			a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
			b := graph.Add(g, "b", func(context.Context) (int, error) { return 1, nil })
			return errors.Join(graph.Order(a, b), graph.Order(b, a))
		}, []string{"a", "b", "a"}},
		{"through inputs", func(g *graph.Graph) error {
			a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
			b := graph.Add1(g, "b", a, id)
			c := graph.Add1(g, "c", b, id)
			graph.Add1(g, "d", a, id) // not on the cycle
			return graph.Order(c, a)
		}, []string{"a", "b", "c", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.New()
			if err := tc.build(g); err != nil {
				t.Fatalf("Order: %v", err)
			}
			var err error
			noPanic(t, "Validate", func() { err = g.Validate() })
			var ce *graph.CycleError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v (%T), want *graph.CycleError", err, err)
			}
			if !isRotation(ce.Cycle, tc.want) {
				t.Errorf("cycle %v, want %v (any rotation)", ce.Cycle, tc.want)
			}
			if want := "cycle: " + strings.Join(ce.Cycle, " -> "); err.Error() != want {
				t.Errorf("error text %q, want %q", err.Error(), want)
			}
			noPanic(t, "topo.Sort", func() {
				if _, terr := topo.Sort(g); terr == nil {
					t.Error("gonum's topo.Sort finds no cycle")
				}
			})
		})
	}
}

// TestSelfOrderIsACycle orders a task after itself, which it could never
// be: Order must refuse it, or Validate must report the cycle "a -> a".
// (gonum's topo.Sort and DirectedCyclesIn ignore self-loops, so a check
// built only on them misses this one.)
func TestSelfOrderIsACycle(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	if err := graph.Order(a, a); err != nil {
		return // refused up front: fine
	}
	var err error
	noPanic(t, "Validate", func() { err = g.Validate() })
	var ce *graph.CycleError
	if !errors.As(err, &ce) || !slices.Equal(ce.Cycle, []string{"a", "a"}) {
		t.Fatalf("Order(a, a) accepted, then Validate = %v; want a *graph.CycleError naming a -> a", err)
	}
}

// TestOrderWithoutCycleValidates: ordering edges that close no cycle pass
// Validate, and gonum's topo sorts the graph.
func TestOrderWithoutCycleValidates(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	b := graph.Add(g, "b", func(context.Context) (int, error) { return 1, nil })
	c := graph.Add1(g, "c", a, id)
	if err := errors.Join(graph.Order(b, a), graph.Order(b, c)); err != nil {
		t.Fatal(err)
	}
	noPanic(t, "Validate", func() {
		if err := g.Validate(); err != nil {
			t.Fatalf("Validate = %v", err)
		}
	})
}
