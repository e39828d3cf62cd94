package dynamic

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Completed yields tasks in the order they finish, like Dask's as_completed.
// Tasks may be added while it is being iterated, from any goroutine. Use it
// from outside a run or from inside a task: inside a task, waiting for the
// next completion gives the worker slot back.
//
// The zero value is an empty Completed ready to use. A nil *Completed
// holds nothing: Add does nothing, Len is 0, and Next returns an error.
type Completed[T any] struct {
	mu        sync.Mutex
	notifier  *core.Node
	done      []*graph.Task[T]        // finished, not yielded yet
	byNode    map[*core.Node]entry[T] // added, not finished
	waiting   int                     // added, not finished
	unchecked []*core.Node            // added since the last wait: not yet checked for waits that cannot end
	pending   []*core.Node            // added, maybe finished: what a wait inside a task records it waits on
	signal    *core.Signal            // fired by each completion
}

// entry is a task added and not finished yet, and how many times it was
// added: it is yielded that many times.
type entry[T any] struct {
	task  *graph.Task[T]
	times int
}

// AsCompleted returns a Completed holding tasks.
func AsCompleted[T any](tasks ...*graph.Task[T]) *Completed[T] {
	c := &Completed[T]{}
	c.Add(tasks...)
	return c
}

// initLocked sets up a Completed on first use, so that its zero value is
// usable. The caller holds c.mu.
func (c *Completed[T]) initLocked() {
	if c.signal != nil {
		return
	}
	c.byNode = map[*core.Node]entry[T]{}
	c.signal = core.NewSignal()
	c.notifier = core.NewNotifier(c.finished)
}

// finished is the notifier's function: it runs on the goroutine that
// finished n, with n's lock held, so it only records and signals.
func (c *Completed[T]) finished(n *core.Node) {
	c.mu.Lock()
	if e, ok := c.byNode[n]; ok {
		delete(c.byNode, n)
		for range e.times {
			c.done = append(c.done, e.task)
		}
		c.waiting -= e.times
	}
	c.mu.Unlock()
	c.signal.Fire()
}

// Add adds tasks to be yielded when they finish; tasks that have finished
// already are yielded next. A task added twice is yielded twice. Nil tasks
// are ignored.
func (c *Completed[T]) Add(tasks ...*graph.Task[T]) {
	if c == nil {
		return
	}
	for _, t := range tasks {
		if t == nil {
			continue
		}
		n := t.Core(core.Key{})
		c.mu.Lock()
		c.initLocked()
		e, dup := c.byNode[n]
		c.byNode[n] = entry[T]{task: t, times: e.times + 1}
		c.waiting++
		if !dup {
			c.unchecked = append(c.unchecked, n)
			c.pending = append(c.pending, n)
		}
		c.mu.Unlock()
		if !dup && !n.Watch(c.notifier) {
			c.finished(n) // on the caller's goroutine: nobody to give time to
		}
	}
}

// compact drops finished nodes from pending once they are most of it. It
// builds a new slice, never rewriting one that a wait has recorded, so
// other goroutines may read those. The caller holds c.mu.
func (c *Completed[T]) compact() {
	if len(c.pending) < 64 || len(c.byNode)*2 > len(c.pending) {
		return
	}
	live := make([]*core.Node, 0, 2*len(c.byNode))
	for _, n := range c.pending {
		if _, ok := c.byNode[n]; ok {
			live = append(live, n)
		}
	}
	c.pending = live
}

// Len is the number of tasks added and not yielded yet.
func (c *Completed[T]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting + len(c.done)
}

// All yields each task once it has finished (successfully or not: check
// its Err or Result), in completion order, until every task added so far
// has been yielded. If ctx is done first, or a task it waits for is in no
// run, it yields (nil, err) and stops. Tasks added during the loop are
// included.
func (c *Completed[T]) All(ctx context.Context) iter.Seq2[*graph.Task[T], error] {
	return func(yield func(*graph.Task[T], error) bool) {
		for {
			t, err := c.Next(ctx)
			if t == nil && err == nil {
				return
			}
			if !yield(t, err) || err != nil {
				return
			}
		}
	}
}

// Next returns the next task to finish. It returns (nil, nil) when every
// task added has been returned, and (nil, err) when ctx is done or the
// tasks it waits for are in no run.
func (c *Completed[T]) Next(ctx context.Context) (*graph.Task[T], error) {
	switch {
	case c == nil:
		return nil, errors.New("dynamic: Next: the *Completed is nil")
	case ctx == nil:
		return nil, errors.New("dynamic: Next: nil context")
	}
	for {
		c.mu.Lock()
		if len(c.done) > 0 {
			t := c.done[0]
			c.done[0] = nil
			c.done = c.done[1:]
			c.mu.Unlock()
			return t, nil
		}
		if c.waiting == 0 {
			c.mu.Unlock()
			return nil, nil
		}
		// Check the tasks added since the last wait (checking all of them at
		// every wait would cost O(n) per completion), but record every
		// pending one as waited on, for the checks of other waits.
		on := c.unchecked
		c.unchecked = nil
		c.compact()
		pending := c.pending
		c.mu.Unlock()
		if err := block(ctx, c.signal, on, pending); err != nil {
			return nil, err
		}
	}
}

// block waits for sig, fired when a node of pending finishes; inside a task
// it gives the slot back meanwhile. It fails at once if a node of check is
// in no run or held by an open batch, or (inside a task) needs the waiting
// task.
func block(ctx context.Context, sig *core.Signal, check, pending []*core.Node) error {
	for _, n := range check {
		if err := graph.Waitable(core.Key{}, n); err != nil {
			return err
		}
	}
	if a := core.AwaiterOf(ctx); a != nil {
		return a.Block(ctx, sig, pending)
	}
	if n := core.Returned(ctx); n != nil {
		return &graph.Error{Task: n.Name(), Err: graph.ErrTaskReturned}
	}
	select {
	case <-sig.C():
		sig.Consume()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Mode is how Gather treats failed tasks.
type Mode int

const (
	// Raise makes Gather return as soon as a task fails, with that task's
	// error (Dask's errors="raise").
	Raise Mode = iota
	// Skip makes Gather wait for every task and leave out the results of
	// those that failed (Dask's errors="skip").
	Skip
)

// Gather waits for tasks and returns their results in order. In Raise mode
// it returns at the first failure, with an error that names the task and
// wraps its cause; in Skip mode it returns the results of the tasks that
// succeeded. Inside a task it waits without holding the worker slot. In a
// run for targets it reads each result before it can be released, as
// Task.Wait does.
//
// A nil task makes Gather fail at once with an error wrapping
// graph.ErrNilInput, before it waits for any.
func Gather[T any](ctx context.Context, tasks []*graph.Task[T], mode Mode) ([]T, error) {
	if ctx == nil {
		return nil, errors.New("dynamic: Gather: nil context")
	}
	for i, t := range tasks {
		if t == nil {
			return nil, &graph.Error{Task: "<nil>", Err: fmt.Errorf("Gather: task %d: %w", i, graph.ErrNilInput)}
		}
	}
	held, err := hold(tasks)
	if err != nil {
		return nil, err
	}
	defer unhold(held)
	switch mode {
	case Raise:
		c := AsCompleted(tasks...)
		for t, err := range c.All(ctx) {
			if err != nil {
				return nil, err
			}
			if err := t.Err(); err != nil {
				return nil, failure(t, err)
			}
		}
	case Skip:
		refs := make([]graph.Ref, len(tasks))
		for i, t := range tasks {
			refs[i] = t
		}
		if err := graph.Await(ctx, refs...); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("dynamic: Gather: mode %d is neither Raise nor Skip", mode)
	}
	out := make([]T, 0, len(tasks))
	for _, t := range tasks {
		v, err := t.Result()
		if err != nil {
			if mode == Skip {
				continue
			}
			return nil, failure(t, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// failure names the task in err unless err already does.
func failure(t graph.Ref, err error) error {
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Task == t.Name() {
		return err
	}
	var se *graph.SkipError
	if errors.As(err, &se) && se.Task == t.Name() {
		return err
	}
	var pe *graph.PanicError
	if errors.As(err, &pe) && pe.Task == t.Name() {
		return err
	}
	return &graph.Error{Task: t.Name(), Err: err}
}

// WaitAll waits until every task finished, without holding the worker slot
// inside a task. It returns an error only if the wait itself fails (ctx, a
// deadlock, a task in no run); read the tasks' own errors from them.
func WaitAll(ctx context.Context, tasks ...graph.Ref) error { return graph.Await(ctx, tasks...) }

// WaitFirst waits until one of the tasks finished and returns it.
func WaitFirst(ctx context.Context, tasks ...graph.Ref) (graph.Ref, error) {
	if ctx == nil {
		return nil, errors.New("dynamic: WaitFirst: nil context")
	}
	var first graph.Ref
	sig := core.NewSignal()
	var mu sync.Mutex
	byNode := make(map[*core.Node]graph.Ref, len(tasks))
	note := core.NewNotifier(func(n *core.Node) {
		mu.Lock()
		if first == nil {
			first = byNode[n]
		}
		mu.Unlock()
		sig.Fire()
	})
	if len(tasks) == 0 {
		return nil, errors.New("dynamic: WaitFirst: no tasks")
	}
	var watched []*core.Node
	defer func() {
		for _, n := range watched {
			n.Unwatch(note)
		}
	}()
	for i, t := range tasks {
		var n *core.Node
		if t != nil {
			n = t.Core(core.Key{})
		}
		if n == nil {
			return nil, &graph.Error{Task: "<nil>", Err: fmt.Errorf("WaitFirst: task %d: %w", i, graph.ErrNilInput)}
		}
		mu.Lock()
		byNode[n] = t
		mu.Unlock()
		if !n.Watch(note) {
			return t, nil
		}
		watched = append(watched, n)
	}
	if err := block(ctx, sig, watched, watched); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return first, nil
}

// heldNode is a result held for a reader (see core.Graph.Hold).
type heldNode struct {
	n     *core.Node
	epoch uint32
}

// hold keeps the results of tasks from being released until unhold, in a
// run that releases results; it holds nothing in any other run. It fails,
// holding nothing, if a task is in no run (see core.Graph.Hold).
func hold[T any](tasks []*graph.Task[T]) ([]heldNode, error) {
	var held []heldNode
	for _, t := range tasks {
		if t == nil {
			continue
		}
		n := t.Core(core.Key{})
		if cg := n.Graph(); cg != nil {
			epoch, ok, outside := cg.Hold(n)
			if outside {
				unhold(held)
				return nil, &graph.Error{Task: n.Name(), Err: graph.ErrNotScheduled}
			}
			if ok {
				held = append(held, heldNode{n, epoch})
			}
		}
	}
	return held, nil
}

func unhold(held []heldNode) {
	for _, h := range held {
		h.n.Graph().Unhold(h.n, h.epoch)
	}
}
