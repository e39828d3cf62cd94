//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package graph_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// badCase is one call of an exported entry point with bad input. call
// returns the error the entry point returned, or, for one without an
// error, what is wrong with what it returned (nil when it is right).
type badCase struct {
	name string
	call func() error
	want error  // the error must wrap it; nil: the call must return nil
	text string // the error must contain it (it names the problem)
}

// runBad runs each case, failing on a panic or on an error that does not
// name the problem.
func runBad(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		var err error
		var v any
		var stack []byte
		func() {
			defer func() {
				if v = recover(); v != nil {
					stack = debug.Stack()
				}
			}()
			err = c.call()
		}()
		switch {
		case v != nil:
			t.Errorf("%s panicked: %v\n%s", c.name, v, panicSite(stack))
		case c.want == nil && c.text == "":
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case err == nil:
			t.Errorf("%s returned no error, want one wrapping %v", c.name, c.want)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s = %v, want an error wrapping %v", c.name, err, c.want)
		case !strings.Contains(err.Error(), c.text):
			t.Errorf("%s = %q, want it to say %q", c.name, err, c.text)
		}
	}
}

// panicSite returns the lines of a stack from the panic on, and a few more.
func panicSite(stack []byte) string {
	s := string(stack)
	if i := strings.Index(s, "panic("); i >= 0 {
		s = s[i:]
	}
	lines := strings.SplitN(s, "\n", 9)
	return strings.Join(lines[:min(len(lines), 8)], "\n")
}

// expect returns nil if ok, or an error saying what was got.
func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("got "+format, args...)
}

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

	cases := []badCase{
		// A nil handle.
		{name: "nil Task.ID", call: func() error { return expect(nilTask.ID() == -1, "%d", nilTask.ID()) }},
		{name: "nil Task.Name", call: func() error { return expect(nilTask.Name() == "<nil>", "%q", nilTask.Name()) }},
		{name: "nil Task.String", call: func() error { return expect(nilTask.String() == "<nil>", "%q", nilTask.String()) }},
		{name: "nil Task.Priority", call: func() error { return expect(nilTask.Priority() == 0, "%d", nilTask.Priority()) }},
		{name: "nil Task.State", call: func() error { return expect(nilTask.State() == graph.Idle, "%v", nilTask.State()) }},
		{name: "nil Task.Creator", call: func() error { return expect(nilTask.Creator() == nil, "%v", nilTask.Creator()) }},
		{name: "nil Task.Inputs", call: func() error { return expect(len(nilTask.Inputs()) == 0, "%v", nilTask.Inputs()) }},
		{name: "nil Task.Graph", call: func() error { return expect(nilTask.Graph() == nil, "%v", nilTask.Graph()) }},
		{name: "nil Task.Core", call: func() error { return expect(nilTask.Core(core.Key{}) == nil, "a node") }},
		{name: "nil Task.Err", call: func() error { return nilTask.Err() }, want: graph.ErrNilInput, text: "<nil>"},
		{name: "nil Task.Result", call: func() error { _, err := nilTask.Result(); return err }, want: graph.ErrNilInput, text: "<nil>"},
		{name: "nil Task.Wait", call: func() error { _, err := nilTask.Wait(ctx); return err }, want: graph.ErrNilInput, text: "<nil>"},
		{name: "nil Task.Done", call: func() error {
			select {
			case <-nilTask.Done():
				return nil // nothing to wait for: Err says why
			default:
				return errors.New("got a channel that is not closed: a wait on it would hang")
			}
		}},
		{name: "nil Task.Cancel", call: func() error { return expect(!nilTask.Cancel(), "true") }},
		{name: "nil Task.Release", call: func() error { nilTask.Release(); return nil }},

		// A zero-value handle: in no graph, never built.
		{name: "zero Task.ID", call: func() error { return expect(zeroTask.ID() == -1, "%d", zeroTask.ID()) }},
		{name: "zero Task.Name", call: func() error { return expect(zeroTask.Name() == "", "%q", zeroTask.Name()) }},
		{name: "zero Task.State", call: func() error { return expect(zeroTask.State() == graph.Idle, "%v", zeroTask.State()) }},
		{name: "zero Task.Inputs", call: func() error { return expect(len(zeroTask.Inputs()) == 0, "%v", zeroTask.Inputs()) }},
		{name: "zero Task.Creator", call: func() error { return expect(zeroTask.Creator() == nil, "%v", zeroTask.Creator()) }},
		{name: "zero Task.Graph", call: func() error { return expect(zeroTask.Graph() == nil, "%v", zeroTask.Graph()) }},
		{name: "zero Task.Err", call: func() error { return zeroTask.Err() }},
		{name: "zero Task.Result", call: func() error { _, err := zeroTask.Result(); return err }, want: graph.ErrNotDone},
		{name: "zero Task.Wait", call: func() error { _, err := zeroTask.Wait(ctx); return err }, want: graph.ErrNotScheduled},
		{name: "zero Task.Done", call: func() error { zeroTask.Done(); return nil }},
		{name: "zero Task.Cancel", call: func() error { return expect(!zeroTask.Cancel(), "true") }},
		{name: "zero Task.Release", call: func() error { zeroTask.Release(); return nil }},

		// Tasks built with a nil input fail to build, and read nothing.
		{name: "Go1(nil input).Inputs", call: func() error { return expect(len(nilIn1.Inputs()) == 0, "%v", nilIn1.Inputs()) }},
		{name: "GoN(nil input).Inputs", call: func() error { return expect(len(nilInN.Inputs()) == 0, "%v", nilInN.Inputs()) }},
		{name: "Go3(nil input).Inputs", call: func() error { return expect(len(nilIn3.Inputs()) == 0, "%v", nilIn3.Inputs()) }},
		{name: "Go1(nil input).Err", call: func() error { return nilIn1.Err() }, want: graph.ErrNilInput, text: "nilIn1"},
		{name: "Go1(nil input).ID", call: func() error { return expect(nilIn1.ID() == -1, "%d", nilIn1.ID()) }},

		// A nil graph, as a graph and as a builder.
		{name: "nil Graph.Len", call: func() error { return expect(nilGraph.Len() == 0, "%d", nilGraph.Len()) }},
		{name: "nil Graph.Tasks", call: func() error {
			for range nilGraph.Tasks() {
				return errors.New("got a task")
			}
			return nil
		}},
		{name: "nil Graph.Err", call: nilGraph.Err, want: graph.ErrNilBuilder, text: "nil"},
		{name: "nil Graph.Validate", call: nilGraph.Validate, want: graph.ErrNilBuilder, text: "nil"},
		{name: "nil Graph.Order", call: func() error { return nilGraph.Order(a, a) }, want: graph.ErrNilBuilder, text: "nil"},
		{name: "nil Graph.Core", call: func() error { return expect(nilGraph.Core(core.Key{}) == nil, "a graph") }},
		{name: "nil Graph.Node", call: func() error { return expect(nilGraph.Node(0) == nil, "%v", nilGraph.Node(0)) }},
		{name: "nil Graph.Nodes", call: func() error { return expect(nilGraph.Nodes().Len() == 0, "%d nodes", nilGraph.Nodes().Len()) }},
		{name: "nil Graph.From", call: func() error { return expect(nilGraph.From(0).Len() == 0, "%d nodes", nilGraph.From(0).Len()) }},
		{name: "nil Graph.To", call: func() error { return expect(nilGraph.To(0).Len() == 0, "%d nodes", nilGraph.To(0).Len()) }},
		{name: "nil Graph.HasEdgeBetween", call: func() error { return expect(!nilGraph.HasEdgeBetween(0, 1), "true") }},
		{name: "nil Graph.HasEdgeFromTo", call: func() error { return expect(!nilGraph.HasEdgeFromTo(0, 1), "true") }},
		{name: "nil Graph.Edge", call: func() error { return expect(nilGraph.Edge(0, 1) == nil, "an edge") }},
		{name: "Go(nil *Graph)", call: func() error { return graph.Go(nilGraph, "x", fn).Err() }, want: graph.ErrNilBuilder, text: "x"},
		{name: "Value(nil *Graph)", call: func() error { return graph.Value(nilGraph, 1).Err() }, want: graph.ErrNilBuilder},
		{name: "Batch(nil *Graph)", call: func() error { return graph.Batch(nilGraph, func(graph.Builder) {}) }, want: graph.ErrNilBuilder},

		// The zero Graph is an empty graph ready to use.
		{name: "zero Graph.Len", call: func() error { return expect(zeroGraph.Len() == 0, "%d", zeroGraph.Len()) }},
		{name: "zero Graph.Err", call: zeroGraph.Err},
		{name: "zero Graph.Validate", call: zeroGraph.Validate},
		{name: "zero Graph.Nodes", call: func() error { return expect(zeroGraph.Nodes().Len() == 0, "%d nodes", zeroGraph.Nodes().Len()) }},
		{name: "zero Graph.Node(-1)", call: func() error { return expect(zeroGraph.Node(-1) == nil, "a node") }},
		{name: "zero Graph.From(7)", call: func() error { return expect(zeroGraph.From(7).Len() == 0, "nodes") }},
		{name: "zero Graph.To(7)", call: func() error { return expect(zeroGraph.To(7).Len() == 0, "nodes") }},
		{name: "zero Graph.Edge(7, 8)", call: func() error { return expect(zeroGraph.Edge(7, 8) == nil, "an edge") }},
		{name: "Go(zero Graph)", call: func() error { return graph.Go(&zeroGraph, "x", fn).Err() }},

		// Nil, typed-nil and zero-value builders and creators.
		{name: "Go(nil Builder)", call: func() error { return graph.Go(nil, "x", fn).Err() }, want: graph.ErrNilBuilder, text: "x"},
		{name: "Go(Within(nil))", call: func() error { return graph.Go(graph.Within(nil), "x", fn).Err() }, want: graph.ErrNilBuilder},
		{name: "Go(Within(nil *Task))", call: func() error { return graph.Go(graph.Within(nilTask), "x", fn).Err() }, want: graph.ErrNilBuilder},
		{name: "Go(Within(zero Task))", call: func() error { return graph.Go(graph.Within(&zeroTask), "x", fn).Err() }, want: graph.ErrNilBuilder},
		{name: "Go(Within(unbuilt Task))", call: func() error { return graph.Go(graph.Within(nilIn1), "x", fn).Err() }, want: graph.ErrNilBuilder},
		{name: "Batch(nil Builder)", call: func() error { return graph.Batch(nil, func(graph.Builder) {}) }, want: graph.ErrNilBuilder},
		{name: "Batch(nil *Task)", call: func() error { return graph.Batch(nilTask, func(graph.Builder) {}) }, want: graph.ErrNilBuilder},
		{name: "Batch(nil func)", call: func() error { return graph.Batch(g, nil) }, want: graph.ErrNilFunc},

		// Nil functions, and inputs that are not tasks of the graph.
		{name: "Go(nil func)", call: func() error { return graph.Go[int](g, "x", nil).Err() }, want: graph.ErrNilFunc},
		{name: "Flow(nil func)", call: func() error { return graph.Flow[int](g, "x", nil).Err() }, want: graph.ErrNilFunc},
		{name: "Go2(nil input)", call: func() error {
			return graph.Go2(g, "x", a, nilTask, func(context.Context, int, int) (int, error) { return 0, nil }).Err()
		}, want: graph.ErrNilInput, text: "input 1"},
		{name: "Go1(zero Task input)", call: func() error { return graph.Go1(g, "x", &zeroTask, id1).Err() }, want: graph.ErrOtherGraph, text: "input 0"},
		{name: "Go1(unbuilt input)", call: func() error { return graph.Go1(g, "x", nilIn1, id1).Err() }, want: graph.ErrNilInput, text: "could not be built"},
		{name: "GoN(nil slice)", call: func() error {
			return graph.GoN(g, "x", nil, func(context.Context, []int) (int, error) { return 0, nil }).Err()
		}},

		// Options out of range.
		{name: "Priority(MaxInt64)", call: func() error { return graph.Go(g, "x", fn, graph.Priority(math.MaxInt64)).Err() }, text: "priority"},
		{name: "Retries(-1)", call: func() error { return graph.Go(g, "x", fn, graph.Retries(-1, 0)).Err() }, text: "retries"},
		{name: "Retries(1, -1s)", call: func() error { return graph.Go(g, "x", fn, graph.Retries(1, -time.Second)).Err() }, text: "backoff"},
		{name: "Timeout(0)", call: func() error { return graph.Go(g, "x", fn, graph.Timeout(0)).Err() }, text: "timeout"},
		{name: "Timeout(-1s)", call: func() error { return graph.Go(g, "x", fn, graph.Timeout(-time.Second)).Err() }, text: "timeout"},
		{name: "Key(\"\")", call: func() error { return graph.Go(g, "x", fn, graph.Key("")).Err() }, text: "key is empty"},
		{name: "Option{}", call: func() error { return graph.Go(g, "x", fn, graph.Option{}).Err() }, text: "unknown"},

		// Order and Await with nil, typed-nil and zero-value handles.
		{name: "Order(nil, a)", call: func() error { return g.Order(nil, a) }, want: graph.ErrNilInput},
		{name: "Order(nil *Task, a)", call: func() error { return g.Order(nilTask, a) }, want: graph.ErrNilInput},
		{name: "Order(a, nil *Task)", call: func() error { return g.Order(a, nilTask) }, want: graph.ErrNilInput},
		{name: "Order(a, zero Task)", call: func() error { return g.Order(a, &zeroTask) }, want: graph.ErrOtherGraph},
		{name: "Await(nil context)", call: func() error { return graph.Await(nil, a) }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "Await(nil)", call: func() error { return graph.Await(ctx, nil) }, want: graph.ErrNilInput},
		{name: "Await(nil *Task)", call: func() error { return graph.Await(ctx, nilTask) }, want: graph.ErrNilInput},
		{name: "Await(zero Task)", call: func() error { return graph.Await(ctx, &zeroTask) }, want: graph.ErrNotScheduled},
		{name: "Await()", call: func() error { return graph.Await(ctx) }},
		{name: "Task.Wait(nil context)", call: func() error { _, err := a.Wait(nil); return err }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "Waitable(nil)", call: func() error { return graph.Waitable(core.Key{}, nil) }, want: graph.ErrNilInput},

		// Errors' methods on nil pointers, as fmt and errors.Is call them.
		{name: "nil Error", call: func() error {
			var e *graph.Error
			return expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{name: "nil SkipError", call: func() error {
			var e *graph.SkipError
			return expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{name: "nil PanicError", call: func() error {
			var e *graph.PanicError
			return expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{name: "nil DeadlockError", call: func() error {
			var e *graph.DeadlockError
			return expect(e.Error() == "<nil>", "%q", e.Error())
		}},
		{name: "nil CycleError", call: func() error {
			var e *graph.CycleError
			return expect(e.Error() == "<nil>", "%q", e.Error())
		}},
	}
	runBad(t, cases)
}
