//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/evolve-dag/evolve/internal/badinput"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/graph"
)

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil contexts, zero handles, tasks in no run, an unknown
// Mode, and nil and zero-value Completed: each returns an error naming the
// problem or, where it returns none, a zero value. Waits are bounded by
// liveness, so that one that would hang fails with the context's error
// instead of the one wanted.
func TestBadInputNeverPanics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), liveness)
	defer cancel()
	g := graph.New()
	v := graph.Value(g, "value", 3) // done from the start: nothing to wait for
	var zero graph.Task[int]
	fn := func(context.Context) (int, error) { return 1, nil }
	idle := graph.Add(g, "idle", fn) // in no run
	var nilCompleted *dynamic.Completed[graph.Task[int]]
	cases := []badinput.Case{
		{Name: "Scope(nil)", Call: func() error { return graph.Add(dynamic.Scope(nil), "x", fn).Err() }, Want: graph.ErrNilBuilder}, //nolint:staticcheck // the nil context is the point
		{Name: "Scope outside a task", Call: func() error { return graph.Add(dynamic.Scope(ctx), "x", fn).Err() }, Want: graph.ErrNilBuilder},

		{Name: "WaitAll(nil context)", Call: func() error { return dynamic.WaitAll(nil, v) }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WaitAll(zero Task)", Call: func() error { return dynamic.WaitAll(ctx, v, zero) }, Want: graph.ErrNoTask, Text: "task 1"},
		{Name: "WaitAll(zero Ref)", Call: func() error { return dynamic.WaitAll(ctx, graph.Ref{}) }, Want: graph.ErrNoTask},
		{Name: "WaitAll(task in no run)", Call: func() error { return dynamic.WaitAll(ctx, idle) }, Want: graph.ErrNotScheduled},
		{Name: "WaitAll(no tasks)", Call: func() error { return dynamic.WaitAll[graph.Ref](ctx) }},

		{Name: "WaitFirst(nil context)", Call: func() error { _, err := dynamic.WaitFirst(nil, v); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WaitFirst(no tasks)", Call: func() error { _, err := dynamic.WaitFirst[graph.Ref](ctx); return err }, Text: "no tasks"},
		{Name: "WaitFirst(zero Task)", Call: func() error { _, err := dynamic.WaitFirst(ctx, zero); return err }, Want: graph.ErrNoTask, Text: "task 0"},
		{Name: "WaitFirst(idle, zero)", Call: func() error { _, err := dynamic.WaitFirst(ctx, idle, zero); return err }, Want: graph.ErrNoTask, Text: "task 1"},
		{Name: "WaitFirst(task in no run)", Call: func() error { _, err := dynamic.WaitFirst(ctx, idle); return err }, Want: graph.ErrNotScheduled},

		{Name: "Gather(nil context)", Call: func() error { _, err := dynamic.Gather(nil, dynamic.Raise, v); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Gather(Raise, zero Task)", Call: func() error {
			_, err := dynamic.Gather(ctx, dynamic.Raise, v, zero)
			return err
		}, Want: graph.ErrNoTask, Text: "task 1"},
		{Name: "Gather(Skip, zero Task)", Call: func() error {
			_, err := dynamic.Gather(ctx, dynamic.Skip, zero, v)
			return err
		}, Want: graph.ErrNoTask, Text: "task 0"},
		{Name: "Gather(task in no run)", Call: func() error { _, err := dynamic.Gather(ctx, dynamic.Raise, idle); return err }, Want: graph.ErrNotScheduled},
		{Name: "Gather(Mode(7))", Call: func() error { _, err := dynamic.Gather(ctx, dynamic.Mode(7), v); return err }, Text: "mode 7"},
		{Name: "Gather(no tasks)", Call: func() error {
			out, err := dynamic.Gather[int](ctx, dynamic.Raise)
			return errors.Join(err, badinput.Expect(len(out) == 0, "%v", out))
		}},

		{Name: "AsCompleted(zero, zero)", Call: func() error {
			c := dynamic.AsCompleted(zero, zero)
			t, ok, err := c.Next(ctx)
			return errors.Join(err, badinput.Expect(c.Len() == 0 && !ok && t == zero, "Len %d, Next %v, %v", c.Len(), t, ok))
		}},
		{Name: "AsCompleted(task in no run).Next", Call: func() error { _, _, err := dynamic.AsCompleted(idle).Next(ctx); return err }, Want: graph.ErrNotScheduled},
		{Name: "Completed.Next(nil context)", Call: func() error { _, _, err := dynamic.AsCompleted(v).Next(nil); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Completed.Until(nil).Next", Call: func() error {
			c := dynamic.AsCompleted[graph.Ref]()
			c.Until(nil)
			_, _, err := c.Next(ctx)
			return err
		}, Text: "Until(nil)"},
		{Name: "zero Completed", Call: func() error {
			var c dynamic.Completed[graph.Task[int]]
			if c.Len() != 0 {
				return fmt.Errorf("got Len %d", c.Len())
			}
			if t, ok, err := c.Next(ctx); ok || t != zero || err != nil {
				return fmt.Errorf("got Next %v, %v, %v on an empty Completed", t, ok, err)
			}
			c.Add(v, zero)
			n := 0
			for t, err := range c.All(ctx) {
				if err != nil || t != v {
					return fmt.Errorf("got %v, %v", t, err)
				}
				n++
			}
			return badinput.Expect(n == 1, "%d tasks", n)
		}},
		{Name: "nil Completed.Add", Call: func() error { nilCompleted.Add(v); return nil }},
		{Name: "nil Completed.Until", Call: func() error { nilCompleted.Until(nil); return nil }},
		{Name: "nil Completed.Len", Call: func() error { return badinput.Expect(nilCompleted.Len() == 0, "%d", nilCompleted.Len()) }},
		{Name: "nil Completed.Next", Call: func() error { _, _, err := nilCompleted.Next(ctx); return err }, Text: "nil"},
		{Name: "nil Completed.All", Call: func() error {
			for _, err := range nilCompleted.All(ctx) {
				return err
			}
			return nil
		}, Text: "nil"},
	}
	badinput.Run(t, cases)
}
