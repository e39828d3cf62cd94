//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package graph_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/internal/badinput"

	"github.com/evolve-dag/evolve/graph"
)

// TestBadInputNeverPanics calls every exported function and method of the
// package with zero handles, nil and zero-value graphs and builders, nil
// functions and contexts, and out-of-range options: each returns an error
// naming the problem or, where it returns none, a zero value.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	var nilTask graph.Task[int] // the zero Task: no task
	var nilRef graph.Ref        // the zero Ref: no task
	var nilGraph *graph.Graph
	var zeroGraph graph.Graph
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	fn := func(context.Context) (int, error) { return 1, nil }
	id1 := func(_ context.Context, x int) (int, error) { return x, nil }
	idle := graph.Add(g, "idle", fn) // in no run
	// Tasks that could not be built, with zero inputs among good ones.
	nilIn1 := graph.Add1(g, "nilIn1", nilTask, id1)
	nilInN := graph.AddN(g, "nilInN", []graph.Task[int]{a, graph.Task[int]{}, a}, func(context.Context, []int) (int, error) { return 0, nil })
	nilIn3 := graph.Add3(g, "nilIn3", a, nilTask, a, func(context.Context, int, int, int) (int, error) { return 0, nil })

	cases := []badinput.Case{
		// The zero handle.
		{Name: "nil Task.ID", Call: func() error { return badinput.Expect(nilTask.ID() == -1, "%d", nilTask.ID()) }},
		{Name: "nil Task.Name", Call: func() error { return badinput.Expect(nilTask.Name() == "<nil>", "%q", nilTask.Name()) }},
		{Name: "nil Task.String", Call: func() error { return badinput.Expect(nilTask.String() == "<nil>", "%q", nilTask.String()) }},
		{Name: "nil Task.Priority", Call: func() error { return badinput.Expect(nilTask.Priority() == 0, "%d", nilTask.Priority()) }},
		{Name: "nil Task.State", Call: func() error { return badinput.Expect(nilTask.State() == graph.Idle, "%v", nilTask.State()) }},
		{Name: "nil Task.Creator", Call: func() error { return badinput.Expect(nilTask.Creator() == (graph.Ref{}), "%v", nilTask.Creator()) }},
		{Name: "nil Task.Inputs", Call: func() error { return badinput.Expect(len(nilTask.Inputs()) == 0, "%v", nilTask.Inputs()) }},
		{Name: "nil Task.Graph", Call: func() error { return badinput.Expect(nilTask.Graph() == nil, "%v", nilTask.Graph()) }},
		{Name: "nil Task.Err", Call: func() error { return nilTask.Err() }, Want: graph.ErrNoTask, Text: "<nil>"},
		{Name: "nil Task.Result", Call: func() error { _, err := nilTask.Result(); return err }, Want: graph.ErrNoTask, Text: "<nil>"},
		{Name: "nil Task.Wait", Call: func() error { _, err := nilTask.Wait(ctx); return err }, Want: graph.ErrNoTask, Text: "<nil>"},
		{Name: "nil Task.Done", Call: func() error {
			select {
			case <-nilTask.Done():
				return nil // nothing to wait for: Err says why
			default:
				return errors.New("got a channel that is not closed: a wait on it would hang")
			}
		}},
		{Name: "nil Task.Cancel", Call: func() error { return badinput.Expect(!nilTask.Cancel(), "true") }},
		{Name: "nil Task.Release", Call: func() error { nilTask.Release(); return nil }},

		{Name: "zero Ref.ID", Call: func() error { return badinput.Expect(nilRef.ID() == -1, "%d", nilRef.ID()) }},
		{Name: "zero Ref.Name", Call: func() error { return badinput.Expect(nilRef.Name() == "<nil>", "%q", nilRef.Name()) }},
		{Name: "zero Ref.State", Call: func() error { return badinput.Expect(nilRef.State() == graph.Idle, "%v", nilRef.State()) }},
		{Name: "zero Ref.Inputs", Call: func() error { return badinput.Expect(len(nilRef.Inputs()) == 0, "%v", nilRef.Inputs()) }},
		{Name: "zero Ref.Creator", Call: func() error { return badinput.Expect(nilRef.Creator() == (graph.Ref{}), "%v", nilRef.Creator()) }},
		{Name: "zero Ref.Graph", Call: func() error { return badinput.Expect(nilRef.Graph() == nil, "%v", nilRef.Graph()) }},
		{Name: "zero Ref.Err", Call: func() error { return nilRef.Err() }, Want: graph.ErrNoTask},
		{Name: "zero Ref.Done", Call: func() error {
			select {
			case <-nilRef.Done():
				return nil
			default:
				return errors.New("got a channel that is not closed: a wait on it would hang")
			}
		}},
		{Name: "zero Ref.Cancel", Call: func() error { return badinput.Expect(!nilRef.Cancel(), "true") }},
		{Name: "zero Ref.Release", Call: func() error { nilRef.Release(); return nil }},
		{Name: "As(zero Ref)", Call: func() error {
			_, ok := graph.As[int](nilRef)
			return badinput.Expect(!ok, "ok")
		}},
		{Name: "As(wrong type)", Call: func() error {
			_, ok := graph.As[string](a.Ref())
			return badinput.Expect(!ok, "ok")
		}},
		{Name: "State(99).String", Call: func() error {
			return badinput.Expect(graph.State(99).String() == "State(99)", "%q", graph.State(99).String())
		}},

		// A task in no run.
		{Name: "idle Task.Wait", Call: func() error { _, err := idle.Wait(ctx); return err }, Want: graph.ErrNotScheduled},
		{Name: "idle Task.Result", Call: func() error { _, err := idle.Result(); return err }, Want: graph.ErrNotDone},

		// Tasks built with a nil input fail to build, and read nothing.
		{Name: "Add1(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilIn1.Inputs()) == 0, "%v", nilIn1.Inputs()) }},
		{Name: "AddN(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilInN.Inputs()) == 0, "%v", nilInN.Inputs()) }},
		{Name: "Add3(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilIn3.Inputs()) == 0, "%v", nilIn3.Inputs()) }},
		{Name: "Add1(nil input).Err", Call: func() error { return nilIn1.Err() }, Want: graph.ErrNoTask, Text: "nilIn1"},
		{Name: "Add1(nil input).ID", Call: func() error { return badinput.Expect(nilIn1.ID() == -1, "%d", nilIn1.ID()) }},

		// A nil graph, as a graph and as a builder.
		{Name: "nil Graph.Len", Call: func() error { return badinput.Expect(nilGraph.Len() == 0, "%d", nilGraph.Len()) }},
		{Name: "nil Graph.Tasks", Call: func() error {
			for range nilGraph.Tasks() {
				return errors.New("got a task")
			}
			return nil
		}},
		{Name: "nil Graph.Err", Call: nilGraph.Err, Want: graph.ErrNilBuilder, Text: "nil"},
		{Name: "nil Graph.Validate", Call: nilGraph.Validate, Want: graph.ErrNilBuilder, Text: "nil"},
		{Name: "nil Graph.Node", Call: func() error { return badinput.Expect(nilGraph.Node(0) == nil, "%v", nilGraph.Node(0)) }},
		{Name: "nil Graph.Nodes", Call: func() error { return badinput.Expect(nilGraph.Nodes().Len() == 0, "%d nodes", nilGraph.Nodes().Len()) }},
		{Name: "nil Graph.From", Call: func() error { return badinput.Expect(nilGraph.From(0).Len() == 0, "%d nodes", nilGraph.From(0).Len()) }},
		{Name: "nil Graph.To", Call: func() error { return badinput.Expect(nilGraph.To(0).Len() == 0, "%d nodes", nilGraph.To(0).Len()) }},
		{Name: "nil Graph.HasEdgeBetween", Call: func() error { return badinput.Expect(!nilGraph.HasEdgeBetween(0, 1), "true") }},
		{Name: "nil Graph.HasEdgeFromTo", Call: func() error { return badinput.Expect(!nilGraph.HasEdgeFromTo(0, 1), "true") }},
		{Name: "nil Graph.Edge", Call: func() error { return badinput.Expect(nilGraph.Edge(0, 1) == nil, "an edge") }},
		{Name: "Add(nil *Graph)", Call: func() error { return graph.Add(nilGraph, "x", fn).Err() }, Want: graph.ErrNilBuilder, Text: "x"},
		{Name: "Value(nil *Graph)", Call: func() error { return graph.Value(nilGraph, "value", 1).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil *Graph)", Call: func() error { return graph.Batch(nilGraph, func(graph.Builder) {}) }, Want: graph.ErrNilBuilder},

		// The zero Graph is an empty graph ready to use.
		{Name: "zero Graph.Len", Call: func() error { return badinput.Expect(zeroGraph.Len() == 0, "%d", zeroGraph.Len()) }},
		{Name: "zero Graph.Err", Call: zeroGraph.Err},
		{Name: "zero Graph.Validate", Call: zeroGraph.Validate},
		{Name: "zero Graph.Nodes", Call: func() error {
			return badinput.Expect(zeroGraph.Nodes().Len() == 0, "%d nodes", zeroGraph.Nodes().Len())
		}},
		{Name: "zero Graph.Node(-1)", Call: func() error { return badinput.Expect(zeroGraph.Node(-1) == nil, "a node") }},
		{Name: "zero Graph.From(7)", Call: func() error { return badinput.Expect(zeroGraph.From(7).Len() == 0, "nodes") }},
		{Name: "zero Graph.To(7)", Call: func() error { return badinput.Expect(zeroGraph.To(7).Len() == 0, "nodes") }},
		{Name: "zero Graph.Edge(7, 8)", Call: func() error { return badinput.Expect(zeroGraph.Edge(7, 8) == nil, "an edge") }},
		{Name: "Add(zero Graph)", Call: func() error { return graph.Add(&zeroGraph, "x", fn).Err() }},

		// Nil and zero-value builders and creators.
		{Name: "Add(nil Builder)", Call: func() error { return graph.Add(nil, "x", fn).Err() }, Want: graph.ErrNilBuilder, Text: "x"},
		{Name: "Add(Within(zero Ref))", Call: func() error { return graph.Add(graph.Within(nilRef), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Add(Within(zero Task))", Call: func() error { return graph.Add(graph.Within(nilTask), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Add(Within(unbuilt Task))", Call: func() error { return graph.Add(graph.Within(nilIn1), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil Builder)", Call: func() error { return graph.Batch(nil, func(graph.Builder) {}) }, Want: graph.ErrNilBuilder},
		{Name: "Batch(Within(zero Task))", Call: func() error { return graph.Batch(graph.Within(nilTask), func(graph.Builder) {}) }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil func)", Call: func() error { return graph.Batch(g, nil) }, Want: graph.ErrNilFunc},

		// Nil functions, and inputs that are not tasks of the graph.
		{Name: "Add(nil func)", Call: func() error { return graph.Add[int](g, "x", nil).Err() }, Want: graph.ErrNilFunc},
		{Name: "Flow(nil func)", Call: func() error { return graph.Flow[int](g, "x", nil).Err() }, Want: graph.ErrNilFunc},
		{Name: "Add2(nil input)", Call: func() error {
			return graph.Add2(g, "x", a, nilTask, func(context.Context, int, int) (int, error) { return 0, nil }).Err()
		}, Want: graph.ErrNoTask, Text: "input 1"},
		{Name: "Add1(other graph's input)", Call: func() error { return graph.Add1(g, "x", graph.Add(graph.New(), "o", fn), id1).Err() }, Want: graph.ErrOtherGraph, Text: "input 0"},
		{Name: "Add1(unbuilt input)", Call: func() error { return graph.Add1(g, "x", nilIn1, id1).Err() }, Want: graph.ErrNoTask, Text: "could not be built"},
		{Name: "AddN(nil slice)", Call: func() error {
			return graph.AddN(g, "x", nil, func(context.Context, []int) (int, error) { return 0, nil }).Err()
		}},

		{Name: "AddEach(nil Builder)", Call: func() error { return graph.AddEach(nil, "x", []int{1}, id1)[0].Err() }, Want: graph.ErrNilBuilder},
		{Name: "AddEach(nil func)", Call: func() error { return graph.AddEach[int, int](g, "x", []int{1}, nil)[0].Err() }, Want: graph.ErrNilFunc},
		{Name: "AddEach(Key)", Call: func() error { return graph.AddEach(g, "x", []int{1}, id1, graph.Key("k"))[0].Err() }, Want: graph.ErrInvalidOption, Text: `Key("k")`},
		{Name: "AddEach1(nil input)", Call: func() error { return graph.AddEach1(g, "x", []graph.Task[int]{a, nilTask}, id1)[1].Err() }, Want: graph.ErrNoTask, Text: "input 0"},
		{Name: "AddEach(nil slice)", Call: func() error {
			out := graph.AddEach(g, "x", []int(nil), id1)
			return badinput.Expect(len(out) == 0, "%d tasks", len(out))
		}},

		// Options out of range.
		{Name: "Priority(MaxInt64)", Call: func() error { return graph.Add(g, "x", fn, graph.Priority(math.MaxInt64)).Err() }, Want: graph.ErrInvalidOption, Text: "Priority(9223372036854775807)"},
		{Name: "Retries(-1)", Call: func() error { return graph.Add(g, "x", fn, graph.Retries(-1, 0)).Err() }, Want: graph.ErrInvalidOption, Text: "Retries(-1, 0s)"},
		{Name: "Retries(1, -1s)", Call: func() error { return graph.Add(g, "x", fn, graph.Retries(1, -time.Second)).Err() }, Want: graph.ErrInvalidOption, Text: "Retries(1, -1s)"},
		{Name: "Timeout(0)", Call: func() error { return graph.Add(g, "x", fn, graph.Timeout(0)).Err() }, Want: graph.ErrInvalidOption, Text: "Timeout(0s)"},
		{Name: "Timeout(-1s)", Call: func() error { return graph.Add(g, "x", fn, graph.Timeout(-time.Second)).Err() }, Want: graph.ErrInvalidOption, Text: "Timeout(-1s)"},
		{Name: "Key(\"\")", Call: func() error { return graph.Add(g, "x", fn, graph.Key("")).Err() }, Want: graph.ErrInvalidOption, Text: `Key("")`},
		{Name: "Option{} does nothing", Call: func() error { return graph.Add(g, "x", fn, graph.Option{}).Err() }},

		// Order with zero handles, unbuilt tasks and tasks of two graphs.
		{Name: "Order(zero Ref, a)", Call: func() error { return graph.Order(nilRef, a) }, Want: graph.ErrNoTask},
		{Name: "Order(zero Task, a)", Call: func() error { return graph.Order(nilTask, a) }, Want: graph.ErrNoTask},
		{Name: "Order(a, zero Task)", Call: func() error { return graph.Order(a, nilTask) }, Want: graph.ErrNoTask},
		{Name: "Order(a, unbuilt)", Call: func() error { return graph.Order(a, nilIn1) }, Want: graph.ErrNoTask, Text: "could not be built"},
		{Name: "Order(a, other graph's)", Call: func() error { return graph.Order(a, graph.Add(graph.New(), "o", fn)) }, Want: graph.ErrOtherGraph},
		{Name: "Task.Wait(nil context)", Call: func() error { _, err := a.Wait(nil); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point

		// Errors' methods on nil pointers, as fmt and errors.Is call them.
		{Name: "nil Error", Call: func() error {
			var e *graph.Error
			return badinput.Expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{Name: "nil SkipError", Call: func() error {
			var e *graph.SkipError
			return badinput.Expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{Name: "nil PanicError", Call: func() error {
			var e *graph.PanicError
			return badinput.Expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{Name: "nil DeadlockError", Call: func() error {
			var e *graph.DeadlockError
			return badinput.Expect(e.Error() == "<nil>", "%q", e.Error())
		}},
		{Name: "nil CycleError", Call: func() error {
			var e *graph.CycleError
			return badinput.Expect(e.Error() == "<nil>", "%q", e.Error())
		}},
	}
	badinput.Run(t, cases)
}
