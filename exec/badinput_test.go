//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package exec_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
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
			t.Errorf("%s panicked: %v\n%s", c.name, v, stack)
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

// expect returns nil if ok, or an error saying what was got.
func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("got "+format, args...)
}

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil and zero values, typed-nil handles and observers, nil
// contexts and options, tasks of no graph or of another graph, and a
// worker count out of range: each returns an error naming the problem or,
// where it returns none, does nothing. Runs are bounded (runGuarded), so
// that a bad input that hangs fails too.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	fn := func(context.Context) (int, error) { return 1, nil }
	newGraph := func() (*graph.Graph, *graph.Task[int]) {
		g := graph.New()
		return g, graph.Go(g, "a", fn)
	}
	var nilTask *graph.Task[int]
	var zeroTask graph.Task[int]
	var nilExec *exec.Execution
	var zeroExec exec.Execution
	var nilRec *recorder
	unbuilt := graph.Go1(graph.New(), "unbuilt", nilTask, func(_ context.Context, x int) (int, error) { return x, nil })
	_, foreign := newGraph()
	run := func(opts ...exec.Option) error {
		g, _ := newGraph()
		return runGuarded(t, ctx, g, opts...)
	}
	cases := []badCase{
		{name: "Run(nil context)", call: func() error { g, _ := newGraph(); return exec.Run(nil, g) }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "Start(nil context)", call: func() error {
			g, _ := newGraph()
			e, err := exec.Start(nil, g) //nolint:staticcheck // the nil context is the point
			return errors.Join(err, expect(e == nil, "an Execution"))
		}, text: "nil context"},
		{name: "Run(nil graph)", call: func() error { return exec.Run(ctx, nil) }, text: "nil graph"},
		{name: "Start(nil graph)", call: func() error { _, err := exec.Start(ctx, nil); return err }, text: "nil graph"},
		{name: "Run(zero graph)", call: func() error { return exec.Run(ctx, &graph.Graph{}) }},
		{name: "nil Option", call: func() error { return run(nil) }, text: "nil option"},
		{name: "Workers(0)", call: func() error { return run(exec.Workers(0)) }, text: "at least 1"},
		{name: "Workers(-1)", call: func() error { return run(exec.Workers(-1)) }, text: "at least 1"},
		{name: "Targets(nil)", call: func() error { return run(exec.Targets(nil)) }, want: graph.ErrNilInput, text: "target 0"},
		{name: "Targets(nil *Task)", call: func() error {
			g, a := newGraph()
			return runGuarded(t, ctx, g, exec.Targets(a, nilTask))
		}, want: graph.ErrNilInput, text: "target 1"},
		{name: "Targets(zero Task)", call: func() error { return run(exec.Targets(&zeroTask)) }, want: graph.ErrOtherGraph, text: "no graph"},
		{name: "Targets(unbuilt Task)", call: func() error { return run(exec.Targets(unbuilt)) }, want: graph.ErrNilInput, text: "could not be built"},
		{name: "Targets(another graph's Task)", call: func() error { return run(exec.Targets(foreign)) }, want: graph.ErrOtherGraph, text: "a"},
		{name: "Targets()", call: func() error { return run(exec.Targets()) }},
		{name: "Observe(nil)", call: func() error { return run(exec.Observe(nil)) }, text: "observer 0 is nil"},
		{name: "Observe(nil pointer)", call: func() error { return run(exec.Observe(&recorder{}, nilRec)) }, text: "observer 1 is nil"},
		{name: "Observe(nil ObserverFunc)", call: func() error { return run(exec.Observe(exec.ObserverFunc(nil))) }, text: "observer 0 is nil"},
		{name: "Observe()", call: func() error { return run(exec.Observe()) }},
		{name: "nil ObserverFunc.Observe", call: func() error { exec.ObserverFunc(nil).Observe(exec.Event{}); return nil }},
		{name: "EventKind(0).String", call: func() error { return expect(exec.EventKind(0).String() == "unknown", "%q", exec.EventKind(0)) }},
		{name: "EventKind(200).String", call: func() error { return expect(exec.EventKind(200).String() == "unknown", "%q", exec.EventKind(200)) }},

		// An Execution that Start did not make.
		{name: "nil Execution.Wait", call: nilExec.Wait, text: "nil"},
		{name: "nil Execution.Close", call: func() error { nilExec.Close(); return nil }},
		{name: "nil Execution.Stop", call: func() error { nilExec.Stop(); return nil }},
		{name: "nil Execution.Done", call: func() error {
			select {
			case <-nilExec.Done():
				return nil
			default:
				return errors.New("got a channel that is not closed: a wait on it would hang")
			}
		}},
		{name: "zero Execution.Wait", call: zeroExec.Wait, text: "zero"},
		{name: "zero Execution.Close", call: func() error { zeroExec.Close(); return nil }},
		{name: "zero Execution.Stop", call: func() error { zeroExec.Stop(); return nil }},
		{name: "zero Execution.Done", call: func() error { <-zeroExec.Done(); return nil }},

		// A flow whose function names a task that is nil, zero or unbuilt.
		{name: "Flow returning nil", call: func() error {
			return flowReturning(t, func(graph.Builder) *graph.Task[int] { return nil })
		}, want: graph.ErrNilInput, text: "flow"},
		{name: "Flow returning a zero Task", call: func() error {
			return flowReturning(t, func(graph.Builder) *graph.Task[int] { return &graph.Task[int]{} })
		}, want: graph.ErrOtherGraph},
		{name: "Flow returning an unbuilt Task", call: func() error {
			return flowReturning(t, func(b graph.Builder) *graph.Task[int] { return graph.Go[int](b, "nofn", nil) })
		}, want: graph.ErrNilFunc, text: "nofn"},

		// Errors' methods on nil pointers.
		{name: "nil Error", call: func() error {
			var e *exec.Error
			return expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
		{name: "nil ObserverError", call: func() error {
			var e *exec.ObserverError
			return expect(e.Error() == "<nil>" && e.Unwrap() == nil, "%q", e.Error())
		}},
	}
	runBad(t, cases)
}

// flowReturning runs a flow whose function returns what result returns,
// and returns the flow's error.
func flowReturning(t *testing.T, result func(graph.Builder) *graph.Task[int]) error {
	g := graph.New()
	f := graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (*graph.Task[int], error) {
		return result(b), nil
	})
	if err := runGuarded(t, t.Context(), g); err == nil {
		return errors.New("got a run without failure")
	}
	return f.Err()
}
