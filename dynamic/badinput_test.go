//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
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
// package with nil contexts, nil and typed-nil tasks, tasks in no run, an
// unknown Mode, and nil and zero-value Completed: each returns an error
// naming the problem or, where it returns none, a zero value. Waits are
// bounded by liveness, so that one that would hang fails with the
// context's error instead of the one wanted.
func TestBadInputNeverPanics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), liveness)
	defer cancel()
	g := graph.New()
	v := graph.Value(g, 3) // done from the start: nothing to wait for
	var nilTask *graph.Task[int]
	var zeroTask graph.Task[int]
	var nilCompleted *dynamic.Completed[int]
	fn := func(context.Context) (int, error) { return 1, nil }
	cases := []badCase{
		{name: "Scope(nil)", call: func() error { return graph.Go(dynamic.Scope(nil), "x", fn).Err() }, want: graph.ErrNilBuilder}, //nolint:staticcheck // the nil context is the point
		{name: "Scope outside a task", call: func() error { return graph.Go(dynamic.Scope(ctx), "x", fn).Err() }, want: graph.ErrNilBuilder},

		{name: "WaitAll(nil context)", call: func() error { return dynamic.WaitAll(nil, v) }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "WaitAll(nil)", call: func() error { return dynamic.WaitAll(ctx, v, nil) }, want: graph.ErrNilInput},
		{name: "WaitAll(nil *Task)", call: func() error { return dynamic.WaitAll(ctx, v, nilTask) }, want: graph.ErrNilInput},
		{name: "WaitAll(zero Task)", call: func() error { return dynamic.WaitAll(ctx, &zeroTask) }, want: graph.ErrNotScheduled},
		{name: "WaitAll()", call: func() error { return dynamic.WaitAll(ctx) }},

		{name: "WaitFirst(nil context)", call: func() error { _, err := dynamic.WaitFirst(nil, v); return err }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "WaitFirst()", call: func() error { _, err := dynamic.WaitFirst(ctx); return err }, text: "no tasks"},
		{name: "WaitFirst(nil)", call: func() error { _, err := dynamic.WaitFirst(ctx, nil); return err }, want: graph.ErrNilInput, text: "task 0"},
		{name: "WaitFirst(nil *Task)", call: func() error { _, err := dynamic.WaitFirst(ctx, &zeroTask, nilTask); return err }, want: graph.ErrNilInput, text: "task 1"},
		{name: "WaitFirst(zero Task)", call: func() error { _, err := dynamic.WaitFirst(ctx, &zeroTask); return err }, want: graph.ErrNotScheduled},

		{name: "Gather(nil context)", call: func() error { _, err := dynamic.Gather(nil, []*graph.Task[int]{v}, dynamic.Raise); return err }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "Gather(Raise, nil task)", call: func() error {
			_, err := dynamic.Gather(ctx, []*graph.Task[int]{v, nil}, dynamic.Raise)
			return err
		}, want: graph.ErrNilInput, text: "task 1"},
		{name: "Gather(Skip, nil task)", call: func() error {
			_, err := dynamic.Gather(ctx, []*graph.Task[int]{nil, v}, dynamic.Skip)
			return err
		}, want: graph.ErrNilInput, text: "task 0"},
		{name: "Gather(zero Task)", call: func() error { _, err := dynamic.Gather(ctx, []*graph.Task[int]{&zeroTask}, dynamic.Raise); return err }, want: graph.ErrNotScheduled},
		{name: "Gather(Mode(7))", call: func() error { _, err := dynamic.Gather(ctx, []*graph.Task[int]{v}, dynamic.Mode(7)); return err }, text: "mode 7"},
		{name: "Gather(nil slice)", call: func() error {
			out, err := dynamic.Gather[int](ctx, nil, dynamic.Raise)
			return errors.Join(err, expect(len(out) == 0, "%v", out))
		}},

		{name: "AsCompleted(nil, nil *Task)", call: func() error {
			c := dynamic.AsCompleted(nil, nilTask)
			t, err := c.Next(ctx)
			return errors.Join(err, expect(c.Len() == 0 && t == nil, "Len %d, Next %v", c.Len(), t))
		}},
		{name: "AsCompleted(zero Task).Next", call: func() error { _, err := dynamic.AsCompleted(&zeroTask).Next(ctx); return err }, want: graph.ErrNotScheduled},
		{name: "Completed.Next(nil context)", call: func() error { _, err := dynamic.AsCompleted(v).Next(nil); return err }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "zero Completed", call: func() error {
			var c dynamic.Completed[int]
			if c.Len() != 0 {
				return fmt.Errorf("got Len %d", c.Len())
			}
			if t, err := c.Next(ctx); t != nil || err != nil {
				return fmt.Errorf("got Next %v, %v on an empty Completed", t, err)
			}
			c.Add(v, nil)
			n := 0
			for t, err := range c.All(ctx) {
				if err != nil || t != v {
					return fmt.Errorf("got %v, %v", t, err)
				}
				n++
			}
			return expect(n == 1, "%d tasks", n)
		}},
		{name: "nil Completed.Add", call: func() error { nilCompleted.Add(v); return nil }},
		{name: "nil Completed.Len", call: func() error { return expect(nilCompleted.Len() == 0, "%d", nilCompleted.Len()) }},
		{name: "nil Completed.Next", call: func() error { _, err := nilCompleted.Next(ctx); return err }, text: "nil"},
		{name: "nil Completed.All", call: func() error {
			for _, err := range nilCompleted.All(ctx) {
				return err
			}
			return nil
		}, text: "nil"},
	}
	runBad(t, cases)
}
