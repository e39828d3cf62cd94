package dynamic

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Join calls fa and fb in parallel and returns both results once both
// have returned, with the error of the first in argument order that
// failed (a panic is a *graph.PanicError). It is a fork-join call, as in
// rayon's join or Taskflow's TaskGroup: the two functions are part of the
// calling task, not tasks of the graph.
//
// Inside a task, fa runs on the calling goroutine and fb on a worker of
// the run that has a free slot and nothing queued, or on the calling
// goroutine after fa if none took it first; the call waits for a worker
// running fb as any wait does, without holding its slot, so that nested
// Joins of any depth never deadlock a bounded pool. Both get ctx, which
// inside them stands for the calling task: Scope(ctx) adds children of
// the task, and a wait gives back the slot of the worker the function
// runs on. A function that has not started when ctx ends is not called:
// its error is ctx's. Outside a task (a client's context), each function runs on
// a goroutine of its own. With a context kept past its task, neither runs
// and the error wraps graph.ErrTaskReturned.
//
// Use Join for parallel calls whose results only the caller reads, such
// as a recursion that splits its work in two: they cost about a function
// call and a small allocation each, and nothing of them is left once the
// call returns. Add tasks with Scope instead when they need a name, a
// handle, options, or a place in the graph's drawing.
func Join[A, B any](ctx context.Context, fa func(context.Context) (A, error), fb func(context.Context) (B, error)) (A, B, error) {
	switch {
	case fa == nil:
		var a A
		var b B
		return a, b, nilFunc("Join", 0)
	case fb == nil:
		var a A
		var b B
		return a, b, nilFunc("Join", 1)
	}
	j := &join2[A, B]{fa: fa, fb: fb}
	if err := fork(ctx, "Join", &j.f, j, 2); err != nil {
		return j.a, j.b, err
	}
	if j.ea != nil {
		return j.a, j.b, j.ea
	}
	return j.a, j.b, j.eb
}

type join2[A, B any] struct {
	f      core.Fork
	fa     func(context.Context) (A, error)
	fb     func(context.Context) (B, error)
	a      A
	b      B
	ea, eb error
}

func (j *join2[A, B]) RunJob(ctx context.Context, i int) {
	if i == 0 {
		j.a, j.ea = j.fa(ctx)
	} else {
		j.b, j.eb = j.fb(ctx)
	}
}

func (j *join2[A, B]) Fail(i int, err error) {
	if i == 0 {
		j.ea = err
	} else {
		j.eb = err
	}
}

// JoinAll calls every function of fns in parallel, as Join does for two,
// and returns their results in order once all have returned, with the
// error of the first in order that failed. A failure stops none of the
// others: to stop them, give them a context of their own and cancel it
// in the failing function (context.WithCancelCause).
func JoinAll[T any](ctx context.Context, fns ...func(context.Context) (T, error)) ([]T, error) {
	for i, fn := range fns {
		if fn == nil {
			return nil, nilFunc("JoinAll", i)
		}
	}
	j := &joinAll[T]{fns: fns, out: make([]T, len(fns)), errs: make([]error, len(fns))}
	if err := fork(ctx, "JoinAll", &j.f, j, len(fns)); err != nil {
		return j.out, err
	}
	return j.out, firstErr(j.errs)
}

type joinAll[T any] struct {
	f    core.Fork
	fns  []func(context.Context) (T, error)
	out  []T
	errs []error
}

func (j *joinAll[T]) RunJob(ctx context.Context, i int) { j.out[i], j.errs[i] = j.fns[i](ctx) }
func (j *joinAll[T]) Fail(i int, err error)             { j.errs[i] = err }

// JoinEach calls fn with each item in parallel, as Join does for two
// functions, and returns the results in the items' order once all calls
// have returned, with the error of the first in order that failed: a
// parallel map over items inside a task. The caller runs the first item,
// then the others from the last back, and each idle worker that comes
// takes half of what is left in one step, so a call costs about 25 ns
// per item beyond fn.
func JoinEach[A, T any](ctx context.Context, items []A, fn func(context.Context, A) (T, error)) ([]T, error) {
	if fn == nil {
		return nil, fmt.Errorf("dynamic: JoinEach: %w", graph.ErrNilFunc)
	}
	j := &joinEach[A, T]{items: items, fn: fn, out: make([]T, len(items)), errs: make([]error, len(items))}
	if err := fork(ctx, "JoinEach", &j.f, j, len(items)); err != nil {
		return j.out, err
	}
	return j.out, firstErr(j.errs)
}

type joinEach[A, T any] struct {
	f     core.Fork
	items []A
	fn    func(context.Context, A) (T, error)
	out   []T
	errs  []error
}

func (j *joinEach[A, T]) RunJob(ctx context.Context, i int) {
	j.out[i], j.errs[i] = j.fn(ctx, j.items[i])
}
func (j *joinEach[A, T]) Fail(i int, err error) { j.errs[i] = err }

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// nilFunc is the error of a nil function given to call at position i.
func nilFunc(call string, i int) error {
	return fmt.Errorf("dynamic: %s: function %d: %w", call, i, graph.ErrNilFunc)
}

// fork runs the n functions of f, whose typed part is body, which keeps
// their results and errors. It returns an error only if none ran: ctx is
// nil, or the context of a task that returned.
func fork(ctx context.Context, call string, f *core.Fork, body core.Jobs, n int) error {
	if ctx == nil {
		return fmt.Errorf("dynamic: %s: nil context", call)
	}
	f.Ctx, f.Body, f.N = ctx, body, n
	switch a := core.AwaiterOf(ctx); {
	case a != nil:
		a.Join(ctx, f)
	case core.Returned(ctx) != nil:
		return &graph.Error{Task: core.Returned(ctx).Name(), Err: graph.ErrTaskReturned}
	default:
		forkOutside(ctx, f)
	}
	return nil
}

// forkOutside runs the functions of f each on a goroutine of its own: a
// call outside any task has no pool to share.
func forkOutside(ctx context.Context, f *core.Fork) {
	var wg sync.WaitGroup
	for i := range f.N {
		wg.Go(func() {
			if err := ctx.Err(); err != nil {
				f.Body.Fail(i, err)
				return
			}
			defer func() {
				if v := recover(); v != nil {
					f.Body.Fail(i, &graph.PanicError{Value: v, Stack: debug.Stack()})
				}
			}()
			f.Body.RunJob(ctx, i)
		})
	}
	wg.Wait()
}
