//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package exec_test

import (
	"context"
	"errors"
	"testing"

	"github.com/evolve-dag/evolve/internal/badinput"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil and zero values, zero handles, typed-nil observers, nil
// contexts and options, tasks of no graph or of another graph, and a
// worker count out of range: each returns an error naming the problem or,
// where it returns none, does nothing. Runs are bounded (runGuarded), so
// that a bad input that hangs fails too.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	fn := func(context.Context) (int, error) { return 1, nil }
	newGraph := func() (*graph.Graph, graph.Task[int]) {
		g := graph.New()
		return g, graph.Add(g, "a", fn)
	}
	var nilTask graph.Task[int] // the zero Task: no task
	var nilExec *exec.Execution
	var zeroExec exec.Execution
	var nilRec *recorder
	unbuilt := graph.Add1(graph.New(), "unbuilt", nilTask, func(_ context.Context, x int) (int, error) { return x, nil })
	_, foreign := newGraph()
	run := func(opts ...exec.Option) error {
		g, _ := newGraph()
		return runGuarded(t, ctx, g, opts...)
	}
	cases := []badinput.Case{
		{Name: "Run(nil context)", Call: func() error { g, _ := newGraph(); return exec.Run(nil, g) }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Start(nil context)", Call: func() error {
			g, _ := newGraph()
			e, err := exec.Start(nil, g) //nolint:staticcheck // the nil context is the point
			return errors.Join(err, badinput.Expect(e == nil, "an Execution"))
		}, Text: "nil context"},
		{Name: "Run(nil graph)", Call: func() error { return exec.Run(ctx, nil) }, Text: "nil graph"},
		{Name: "Start(nil graph)", Call: func() error { _, err := exec.Start(ctx, nil); return err }, Text: "nil graph"},
		{Name: "Run(zero graph)", Call: func() error { return exec.Run(ctx, &graph.Graph{}) }},
		{Name: "zero Option", Call: func() error { return run(exec.Option{}) }},
		{Name: "Workers(0)", Call: func() error { return run(exec.Workers(0)) }, Want: graph.ErrInvalidOption, Text: "Workers(0)"},
		{Name: "Workers(-1)", Call: func() error { return run(exec.Workers(-1)) }, Want: graph.ErrInvalidOption, Text: "Workers(-1)"},
		{Name: "Targets(zero Ref)", Call: func() error { return run(exec.Targets(graph.Ref{})) }, Want: graph.ErrNoTask, Text: "target 0"},
		{Name: "Targets(a, zero Task)", Call: func() error {
			g, a := newGraph()
			return runGuarded(t, ctx, g, exec.Targets(a, nilTask))
		}, Want: graph.ErrInvalidOption, Text: "target 1"},
		{Name: "Targets(unbuilt Task)", Call: func() error { return run(exec.Targets(unbuilt)) }, Want: graph.ErrNoTask, Text: "could not be built"},
		{Name: "Targets(another graph's Task)", Call: func() error { return run(exec.Targets(foreign)) }, Want: graph.ErrOtherGraph, Text: "a"},
		{Name: "Targets()", Call: func() error { return run(exec.Targets[graph.Ref]()) }},
		{Name: "Observe(nil)", Call: func() error { return run(exec.Observe(nil)) }, Want: graph.ErrInvalidOption, Text: "observer 0 is nil"},
		{Name: "Observe(nil pointer)", Call: func() error { return run(exec.Observe(&recorder{}, nilRec)) }, Text: "observer 1 is nil"},
		{Name: "Observe(nil ObserverFunc)", Call: func() error { return run(exec.Observe(exec.ObserverFunc(nil))) }, Text: "observer 0 is nil"},
		{Name: "Observe()", Call: func() error { return run(exec.Observe()) }},
		{Name: "nil ObserverFunc.Observe", Call: func() error { exec.ObserverFunc(nil).Observe(exec.Event{}); return nil }},
		{Name: "EventKind(0).String", Call: func() error { return badinput.Expect(exec.EventKind(0).String() == "unknown", "%q", exec.EventKind(0)) }},
		{Name: "EventKind(200).String", Call: func() error {
			return badinput.Expect(exec.EventKind(200).String() == "unknown", "%q", exec.EventKind(200))
		}},

		// An Execution that Start did not make.
		{Name: "nil Execution.Wait", Call: nilExec.Wait, Text: "nil"},
		{Name: "nil Execution.Close", Call: func() error { nilExec.Close(); return nil }},
		{Name: "nil Execution.Stop", Call: func() error { nilExec.Stop(); return nil }},
		{Name: "nil Execution.Done", Call: func() error {
			select {
			case <-nilExec.Done():
				return nil
			default:
				return errors.New("got a channel that is not closed: a wait on it would hang")
			}
		}},
		{Name: "zero Execution.Wait", Call: zeroExec.Wait, Text: "zero"},
		{Name: "zero Execution.Close", Call: func() error { zeroExec.Close(); return nil }},
		{Name: "zero Execution.Stop", Call: func() error { zeroExec.Stop(); return nil }},
		{Name: "zero Execution.Done", Call: func() error { <-zeroExec.Done(); return nil }},

		// A flow whose function names a task that is zero or unbuilt.
		{Name: "Flow returning a zero Task", Call: func() error {
			return flowReturning(t, func(graph.Builder) graph.Task[int] { return graph.Task[int]{} })
		}, Want: graph.ErrNoTask, Text: "flow"},
		{Name: "Flow returning an unbuilt Task", Call: func() error {
			return flowReturning(t, func(b graph.Builder) graph.Task[int] { return graph.Add[int](b, "nofn", nil) })
		}, Want: graph.ErrNilFunc, Text: "nofn"},

		// Errors' methods on nil pointers.
		{Name: "nil Error", Call: func() error {
			var e *exec.Error
			return badinput.Expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{Name: "nil ObserverError", Call: func() error {
			var e *exec.ObserverError
			return badinput.Expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
	}
	badinput.Run(t, cases)
}

// flowReturning runs a flow whose function returns what result returns,
// and returns the flow's error.
func flowReturning(t *testing.T, result func(graph.Builder) graph.Task[int]) error {
	g := graph.New()
	f := graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
		return result(b), nil
	})
	if err := runGuarded(t, t.Context(), g); err == nil {
		return errors.New("got a run without failure")
	}
	return f.Err()
}
