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
	"github.com/evolve-dag/evolve/internal/core"
)

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil, typed-nil and zero-value handles, graphs and builders,
// nil functions and contexts, and out-of-range options: each returns an
// error naming the problem or, where it returns none, a zero value.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	var nilTask *graph.Task[int]
	var zeroTask graph.Task[int]
	var nilGraph *graph.Graph
	var zeroGraph graph.Graph
	g := graph.New()
	a := graph.Go(g, "a", func(context.Context) (int, error) { return 1, nil })
	fn := func(context.Context) (int, error) { return 1, nil }
	id1 := func(_ context.Context, x int) (int, error) { return x, nil }
	// Tasks that could not be built, with nil inputs among good ones.
	nilIn1 := graph.Go1(g, "nilIn1", nilTask, id1)
	nilInN := graph.GoN(g, "nilInN", []*graph.Task[int]{a, nil, a}, func(context.Context, []int) (int, error) { return 0, nil })
	nilIn3 := graph.Go3(g, "nilIn3", a, nilTask, a, func(context.Context, int, int, int) (int, error) { return 0, nil })

	cases := []badinput.Case{
		// A nil handle.
		{Name: "nil Task.ID", Call: func() error { return badinput.Expect(nilTask.ID() == -1, "%d", nilTask.ID()) }},
		{Name: "nil Task.Name", Call: func() error { return badinput.Expect(nilTask.Name() == "<nil>", "%q", nilTask.Name()) }},
		{Name: "nil Task.String", Call: func() error { return badinput.Expect(nilTask.String() == "<nil>", "%q", nilTask.String()) }},
		{Name: "nil Task.Priority", Call: func() error { return badinput.Expect(nilTask.Priority() == 0, "%d", nilTask.Priority()) }},
		{Name: "nil Task.State", Call: func() error { return badinput.Expect(nilTask.State() == graph.Idle, "%v", nilTask.State()) }},
		{Name: "nil Task.Creator", Call: func() error { return badinput.Expect(nilTask.Creator() == nil, "%v", nilTask.Creator()) }},
		{Name: "nil Task.Inputs", Call: func() error { return badinput.Expect(len(nilTask.Inputs()) == 0, "%v", nilTask.Inputs()) }},
		{Name: "nil Task.Graph", Call: func() error { return badinput.Expect(nilTask.Graph() == nil, "%v", nilTask.Graph()) }},
		{Name: "nil Task.Core", Call: func() error { return badinput.Expect(nilTask.Core(core.Key{}) == nil, "a node") }},
		{Name: "nil Task.Err", Call: func() error { return nilTask.Err() }, Want: graph.ErrNilInput, Text: "<nil>"},
		{Name: "nil Task.Result", Call: func() error { _, err := nilTask.Result(); return err }, Want: graph.ErrNilInput, Text: "<nil>"},
		{Name: "nil Task.Wait", Call: func() error { _, err := nilTask.Wait(ctx); return err }, Want: graph.ErrNilInput, Text: "<nil>"},
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

		// A zero-value handle: in no graph, never built.
		{Name: "zero Task.ID", Call: func() error { return badinput.Expect(zeroTask.ID() == -1, "%d", zeroTask.ID()) }},
		{Name: "zero Task.Name", Call: func() error { return badinput.Expect(zeroTask.Name() == "", "%q", zeroTask.Name()) }},
		{Name: "zero Task.State", Call: func() error { return badinput.Expect(zeroTask.State() == graph.Idle, "%v", zeroTask.State()) }},
		{Name: "zero Task.Inputs", Call: func() error { return badinput.Expect(len(zeroTask.Inputs()) == 0, "%v", zeroTask.Inputs()) }},
		{Name: "zero Task.Creator", Call: func() error { return badinput.Expect(zeroTask.Creator() == nil, "%v", zeroTask.Creator()) }},
		{Name: "zero Task.Graph", Call: func() error { return badinput.Expect(zeroTask.Graph() == nil, "%v", zeroTask.Graph()) }},
		{Name: "zero Task.Err", Call: func() error { return zeroTask.Err() }},
		{Name: "zero Task.Result", Call: func() error { _, err := zeroTask.Result(); return err }, Want: graph.ErrNotDone},
		{Name: "zero Task.Wait", Call: func() error { _, err := zeroTask.Wait(ctx); return err }, Want: graph.ErrNotScheduled},
		{Name: "zero Task.Done", Call: func() error { zeroTask.Done(); return nil }},
		{Name: "zero Task.Cancel", Call: func() error { return badinput.Expect(!zeroTask.Cancel(), "true") }},
		{Name: "zero Task.Release", Call: func() error { zeroTask.Release(); return nil }},

		// Tasks built with a nil input fail to build, and read nothing.
		{Name: "Go1(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilIn1.Inputs()) == 0, "%v", nilIn1.Inputs()) }},
		{Name: "GoN(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilInN.Inputs()) == 0, "%v", nilInN.Inputs()) }},
		{Name: "Go3(nil input).Inputs", Call: func() error { return badinput.Expect(len(nilIn3.Inputs()) == 0, "%v", nilIn3.Inputs()) }},
		{Name: "Go1(nil input).Err", Call: func() error { return nilIn1.Err() }, Want: graph.ErrNilInput, Text: "nilIn1"},
		{Name: "Go1(nil input).ID", Call: func() error { return badinput.Expect(nilIn1.ID() == -1, "%d", nilIn1.ID()) }},

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
		{Name: "nil Graph.Order", Call: func() error { return nilGraph.Order(a, a) }, Want: graph.ErrNilBuilder, Text: "nil"},
		{Name: "nil Graph.Core", Call: func() error { return badinput.Expect(nilGraph.Core(core.Key{}) == nil, "a graph") }},
		{Name: "nil Graph.Node", Call: func() error { return badinput.Expect(nilGraph.Node(0) == nil, "%v", nilGraph.Node(0)) }},
		{Name: "nil Graph.Nodes", Call: func() error { return badinput.Expect(nilGraph.Nodes().Len() == 0, "%d nodes", nilGraph.Nodes().Len()) }},
		{Name: "nil Graph.From", Call: func() error { return badinput.Expect(nilGraph.From(0).Len() == 0, "%d nodes", nilGraph.From(0).Len()) }},
		{Name: "nil Graph.To", Call: func() error { return badinput.Expect(nilGraph.To(0).Len() == 0, "%d nodes", nilGraph.To(0).Len()) }},
		{Name: "nil Graph.HasEdgeBetween", Call: func() error { return badinput.Expect(!nilGraph.HasEdgeBetween(0, 1), "true") }},
		{Name: "nil Graph.HasEdgeFromTo", Call: func() error { return badinput.Expect(!nilGraph.HasEdgeFromTo(0, 1), "true") }},
		{Name: "nil Graph.Edge", Call: func() error { return badinput.Expect(nilGraph.Edge(0, 1) == nil, "an edge") }},
		{Name: "Go(nil *Graph)", Call: func() error { return graph.Go(nilGraph, "x", fn).Err() }, Want: graph.ErrNilBuilder, Text: "x"},
		{Name: "Value(nil *Graph)", Call: func() error { return graph.Value(nilGraph, 1).Err() }, Want: graph.ErrNilBuilder},
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
		{Name: "Go(zero Graph)", Call: func() error { return graph.Go(&zeroGraph, "x", fn).Err() }},

		// Nil, typed-nil and zero-value builders and creators.
		{Name: "Go(nil Builder)", Call: func() error { return graph.Go(nil, "x", fn).Err() }, Want: graph.ErrNilBuilder, Text: "x"},
		{Name: "Go(Within(nil))", Call: func() error { return graph.Go(graph.Within(nil), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Go(Within(nil *Task))", Call: func() error { return graph.Go(graph.Within(nilTask), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Go(Within(zero Task))", Call: func() error { return graph.Go(graph.Within(&zeroTask), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Go(Within(unbuilt Task))", Call: func() error { return graph.Go(graph.Within(nilIn1), "x", fn).Err() }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil Builder)", Call: func() error { return graph.Batch(nil, func(graph.Builder) {}) }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil *Task)", Call: func() error { return graph.Batch(nilTask, func(graph.Builder) {}) }, Want: graph.ErrNilBuilder},
		{Name: "Batch(nil func)", Call: func() error { return graph.Batch(g, nil) }, Want: graph.ErrNilFunc},

		// Nil functions, and inputs that are not tasks of the graph.
		{Name: "Go(nil func)", Call: func() error { return graph.Go[int](g, "x", nil).Err() }, Want: graph.ErrNilFunc},
		{Name: "Flow(nil func)", Call: func() error { return graph.Flow[int](g, "x", nil).Err() }, Want: graph.ErrNilFunc},
		{Name: "Go2(nil input)", Call: func() error {
			return graph.Go2(g, "x", a, nilTask, func(context.Context, int, int) (int, error) { return 0, nil }).Err()
		}, Want: graph.ErrNilInput, Text: "input 1"},
		{Name: "Go1(zero Task input)", Call: func() error { return graph.Go1(g, "x", &zeroTask, id1).Err() }, Want: graph.ErrOtherGraph, Text: "input 0"},
		{Name: "Go1(unbuilt input)", Call: func() error { return graph.Go1(g, "x", nilIn1, id1).Err() }, Want: graph.ErrNilInput, Text: "could not be built"},
		{Name: "GoN(nil slice)", Call: func() error {
			return graph.GoN(g, "x", nil, func(context.Context, []int) (int, error) { return 0, nil }).Err()
		}},

		// Options out of range.
		{Name: "Priority(MaxInt64)", Call: func() error { return graph.Go(g, "x", fn, graph.Priority(math.MaxInt64)).Err() }, Text: "priority"},
		{Name: "Retries(-1)", Call: func() error { return graph.Go(g, "x", fn, graph.Retries(-1, 0)).Err() }, Text: "retries"},
		{Name: "Retries(1, -1s)", Call: func() error { return graph.Go(g, "x", fn, graph.Retries(1, -time.Second)).Err() }, Text: "backoff"},
		{Name: "Timeout(0)", Call: func() error { return graph.Go(g, "x", fn, graph.Timeout(0)).Err() }, Text: "timeout"},
		{Name: "Timeout(-1s)", Call: func() error { return graph.Go(g, "x", fn, graph.Timeout(-time.Second)).Err() }, Text: "timeout"},
		{Name: "Key(\"\")", Call: func() error { return graph.Go(g, "x", fn, graph.Key("")).Err() }, Text: "key is empty"},
		{Name: "Option{}", Call: func() error { return graph.Go(g, "x", fn, graph.Option{}).Err() }, Text: "unknown"},

		// Order and Await with nil, typed-nil and zero-value handles.
		{Name: "Order(nil, a)", Call: func() error { return g.Order(nil, a) }, Want: graph.ErrNilInput},
		{Name: "Order(nil *Task, a)", Call: func() error { return g.Order(nilTask, a) }, Want: graph.ErrNilInput},
		{Name: "Order(a, nil *Task)", Call: func() error { return g.Order(a, nilTask) }, Want: graph.ErrNilInput},
		{Name: "Order(a, zero Task)", Call: func() error { return g.Order(a, &zeroTask) }, Want: graph.ErrOtherGraph},
		{Name: "Await(nil context)", Call: func() error { return graph.Await(nil, a) }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Await(nil)", Call: func() error { return graph.Await(ctx, nil) }, Want: graph.ErrNilInput},
		{Name: "Await(nil *Task)", Call: func() error { return graph.Await(ctx, nilTask) }, Want: graph.ErrNilInput},
		{Name: "Await(zero Task)", Call: func() error { return graph.Await(ctx, &zeroTask) }, Want: graph.ErrNotScheduled},
		{Name: "Await()", Call: func() error { return graph.Await(ctx) }},
		{Name: "Task.Wait(nil context)", Call: func() error { _, err := a.Wait(nil); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Waitable(nil)", Call: func() error { return graph.Waitable(core.Key{}, nil) }, Want: graph.ErrNilInput},

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
