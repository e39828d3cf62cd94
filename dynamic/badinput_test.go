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
	cases := []badinput.Case{
		{Name: "Scope(nil)", Call: func() error { return graph.Go(dynamic.Scope(nil), "x", fn).Err() }, Want: graph.ErrNilBuilder}, //nolint:staticcheck // the nil context is the point
		{Name: "Scope outside a task", Call: func() error { return graph.Go(dynamic.Scope(ctx), "x", fn).Err() }, Want: graph.ErrNilBuilder},

		{Name: "WaitAll(nil context)", Call: func() error { return dynamic.WaitAll(nil, v) }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WaitAll(nil)", Call: func() error { return dynamic.WaitAll(ctx, v, nil) }, Want: graph.ErrNilInput},
		{Name: "WaitAll(nil *Task)", Call: func() error { return dynamic.WaitAll(ctx, v, nilTask) }, Want: graph.ErrNilInput},
		{Name: "WaitAll(zero Task)", Call: func() error { return dynamic.WaitAll(ctx, &zeroTask) }, Want: graph.ErrNotScheduled},
		{Name: "WaitAll()", Call: func() error { return dynamic.WaitAll(ctx) }},

		{Name: "WaitFirst(nil context)", Call: func() error { _, err := dynamic.WaitFirst(nil, v); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WaitFirst()", Call: func() error { _, err := dynamic.WaitFirst(ctx); return err }, Text: "no tasks"},
		{Name: "WaitFirst(nil)", Call: func() error { _, err := dynamic.WaitFirst(ctx, nil); return err }, Want: graph.ErrNilInput, Text: "task 0"},
		{Name: "WaitFirst(nil *Task)", Call: func() error { _, err := dynamic.WaitFirst(ctx, &zeroTask, nilTask); return err }, Want: graph.ErrNilInput, Text: "task 1"},
		{Name: "WaitFirst(zero Task)", Call: func() error { _, err := dynamic.WaitFirst(ctx, &zeroTask); return err }, Want: graph.ErrNotScheduled},

		{Name: "Gather(nil context)", Call: func() error { _, err := dynamic.Gather(nil, []*graph.Task[int]{v}, dynamic.Raise); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Gather(Raise, nil task)", Call: func() error {
			_, err := dynamic.Gather(ctx, []*graph.Task[int]{v, nil}, dynamic.Raise)
			return err
		}, Want: graph.ErrNilInput, Text: "task 1"},
		{Name: "Gather(Skip, nil task)", Call: func() error {
			_, err := dynamic.Gather(ctx, []*graph.Task[int]{nil, v}, dynamic.Skip)
			return err
		}, Want: graph.ErrNilInput, Text: "task 0"},
		{Name: "Gather(zero Task)", Call: func() error { _, err := dynamic.Gather(ctx, []*graph.Task[int]{&zeroTask}, dynamic.Raise); return err }, Want: graph.ErrNotScheduled},
		{Name: "Gather(Mode(7))", Call: func() error { _, err := dynamic.Gather(ctx, []*graph.Task[int]{v}, dynamic.Mode(7)); return err }, Text: "mode 7"},
		{Name: "Gather(nil slice)", Call: func() error {
			out, err := dynamic.Gather[int](ctx, nil, dynamic.Raise)
			return errors.Join(err, badinput.Expect(len(out) == 0, "%v", out))
		}},

		{Name: "AsCompleted(nil, nil *Task)", Call: func() error {
			c := dynamic.AsCompleted(nil, nilTask)
			t, err := c.Next(ctx)
			return errors.Join(err, badinput.Expect(c.Len() == 0 && t == nil, "Len %d, Next %v", c.Len(), t))
		}},
		{Name: "AsCompleted(zero Task).Next", Call: func() error { _, err := dynamic.AsCompleted(&zeroTask).Next(ctx); return err }, Want: graph.ErrNotScheduled},
		{Name: "Completed.Next(nil context)", Call: func() error { _, err := dynamic.AsCompleted(v).Next(nil); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "zero Completed", Call: func() error {
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
			return badinput.Expect(n == 1, "%d tasks", n)
		}},
		{Name: "nil Completed.Add", Call: func() error { nilCompleted.Add(v); return nil }},
		{Name: "nil Completed.Len", Call: func() error { return badinput.Expect(nilCompleted.Len() == 0, "%d", nilCompleted.Len()) }},
		{Name: "nil Completed.Next", Call: func() error { _, err := nilCompleted.Next(ctx); return err }, Text: "nil"},
		{Name: "nil Completed.All", Call: func() error {
			for _, err := range nilCompleted.All(ctx) {
				return err
			}
			return nil
		}, Text: "nil"},
	}
	badinput.Run(t, cases)
}
