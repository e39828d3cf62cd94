package graph

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/evolve-dag/evolve/internal/core"
)

// Each task shape embeds record[T], which holds the node and the result,
// and implements core.Body: one record per task (see place.slabbed for
// where it is allocated), inputs read through typed pointers. Handle
// returns the record, so that a node's typed handle can be found again
// (Key, As) without an allocation.
// Run reads every input first and reports it consumed, then calls the
// function, so that a consumer's copy survives the input's release.

// inputs returns the k input fields of a body that begin at first, which
// are pointers to records laid out one after another, as the nodes they
// point to: a record begins with its node (see core.Node.Init), so a
// pointer to a record is a pointer to its node. The slice is the body's
// own memory, so listing a task's inputs allocates nothing and costs one
// call (see core.Body). TestInputsAreTheBodysFields checks the layout.
func inputs[R any](first **R, k int) []*core.Node {
	return unsafe.Slice((**core.Node)(unsafe.Pointer(first)), k)
}

type value[T any] struct{ record[T] }

func (b *value[T]) Run(context.Context, core.Consumer) error { return nil }
func (b *value[T]) Inputs() []*core.Node                     { return nil }
func (b *value[T]) Drop()                                    { drop(&b.val) }
func (b *value[T]) Handle() any                              { return &b.record }

type task0[T any] struct {
	record[T]
	fn func(context.Context) (T, error)
}

func (b *task0[T]) Run(ctx context.Context, _ core.Consumer) (err error) {
	fn := b.fn
	if fn == nil { // its slab's (see sharesFunc)
		fn = headerOf(b).fn
	}
	b.val, err = fn(ctx)
	return err
}
func (b *task0[T]) Inputs() []*core.Node { return nil }
func (b *task0[T]) Drop()                { drop(&b.val) }
func (b *task0[T]) Handle() any          { return &b.record }

type task1[A, T any] struct {
	record[T]
	a  *record[A]
	fn func(context.Context, A) (T, error)
}

func (b *task1[A, T]) Run(ctx context.Context, c core.Consumer) (err error) {
	a := b.a.val
	c.Consumed(&b.a.n)
	fn := b.fn
	if fn == nil {
		fn = headerOf(b).fn
	}
	b.val, err = fn(ctx, a)
	return err
}
func (b *task1[A, T]) Inputs() []*core.Node { return inputs(&b.a, 1) }
func (b *task1[A, T]) Drop()                { drop(&b.val) }
func (b *task1[A, T]) Handle() any          { return &b.record }

type task2[A, B, T any] struct {
	record[T]
	a  *record[A]
	b  *record[B]
	fn func(context.Context, A, B) (T, error)
}

func (b *task2[A, B, T]) Run(ctx context.Context, c core.Consumer) (err error) {
	x, y := b.a.val, b.b.val
	c.Consumed(&b.a.n)
	c.Consumed(&b.b.n)
	fn := b.fn
	if fn == nil {
		fn = headerOf(b).fn
	}
	b.val, err = fn(ctx, x, y)
	return err
}
func (b *task2[A, B, T]) Inputs() []*core.Node { return inputs(&b.a, 2) }
func (b *task2[A, B, T]) Drop()                { drop(&b.val) }
func (b *task2[A, B, T]) Handle() any          { return &b.record }

type task3[A, B, C, T any] struct {
	record[T]
	a  *record[A]
	b  *record[B]
	c  *record[C]
	fn func(context.Context, A, B, C) (T, error)
}

func (b *task3[A, B, C, T]) Run(ctx context.Context, c core.Consumer) (err error) {
	x, y, z := b.a.val, b.b.val, b.c.val
	c.Consumed(&b.a.n)
	c.Consumed(&b.b.n)
	c.Consumed(&b.c.n)
	fn := b.fn
	if fn == nil {
		fn = headerOf(b).fn
	}
	b.val, err = fn(ctx, x, y, z)
	return err
}
func (b *task3[A, B, C, T]) Inputs() []*core.Node { return inputs(&b.a, 3) }
func (b *task3[A, B, C, T]) Drop()                { drop(&b.val) }
func (b *task3[A, B, C, T]) Handle() any          { return &b.record }

type taskN[A, T any] struct {
	record[T]
	in []*record[A]
	fn func(context.Context, []A) (T, error)
}

func (b *taskN[A, T]) Run(ctx context.Context, c core.Consumer) (err error) {
	xs := make([]A, len(b.in))
	for i, t := range b.in {
		xs[i] = t.val
		c.Consumed(&t.n)
	}
	fn := b.fn
	if fn == nil {
		fn = headerOf(b).fn
	}
	b.val, err = fn(ctx, xs)
	return err
}
func (b *taskN[A, T]) Inputs() []*core.Node {
	if len(b.in) == 0 {
		return nil
	}
	return inputs(&b.in[0], len(b.in))
}
func (b *taskN[A, T]) Drop()       { drop(&b.val) }
func (b *taskN[A, T]) Handle() any { return &b.record }

// flow is a task whose function emits a subgraph and names the task whose
// result becomes its own; it finishes when everything it emitted has.
type flow[T any] struct {
	record[T]
	fn     func(context.Context, Builder) (Task[T], error)
	result *record[T]
}

func (b *flow[T]) Run(ctx context.Context, _ core.Consumer) error {
	fn := b.fn
	if fn == nil {
		fn = headerOf(b).fn
	}
	t, err := fn(ctx, Ref{&b.n})
	if err != nil {
		return err
	}
	name := b.n.Name()
	r := t.r
	switch {
	case r == nil:
		return &Error{Task: name, Err: fmt.Errorf("its function returned no task and no error: %w", ErrNoTask)}
	case r == &b.record:
		// Joining itself, it could never finish: say so now rather than
		// leave it to the executor's search for stalled runs.
		return &Error{Task: name, Err: &DeadlockError{Cycle: []string{name, name}}}
	case r.n.Graph() == nil && r.n.Err() != nil:
		return &Error{Task: name, Err: fmt.Errorf("returned task %q could not be built: %w", r.n.Name(), r.n.Err())}
	case r.n.Graph() != b.n.Graph():
		return &Error{Task: name, Err: fmt.Errorf("returned task %q: %w", r.n.Name(), ErrOtherGraph)}
	}
	b.result = r
	return nil
}

// Joined is called when every emitted task has finished: the flow's result
// is the named task's.
func (b *flow[T]) Joined() error {
	r := b.result
	if r == nil {
		return nil
	}
	b.result = nil
	v, err := Task[T]{r}.Result()
	b.val = v
	return err
}

// JoinOn is the task whose result the flow takes, once its function ran.
func (b *flow[T]) JoinOn() *core.Node {
	if b.result == nil {
		return nil
	}
	return &b.result.n
}
func (b *flow[T]) Inputs() []*core.Node { return nil }
func (b *flow[T]) Drop()                { drop(&b.val) }
func (b *flow[T]) Handle() any          { return &b.record }

func drop[T any](p *T) {
	var zero T
	*p = zero
}
