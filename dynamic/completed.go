package dynamic

import (
	"context"
	"errors"
	"iter"
	"sync"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Completed yields tasks in the order they finish, like Dask's as_completed.
// Tasks may be added while it is being iterated, from any goroutine. Use it
// from outside a run or from inside a task: inside a task, waiting for the
// next completion gives the worker slot back. It yields the handles it was
// given, of the type it was made for: a Completed[graph.Task[int]] yields
// Task[int]s, a Completed[graph.Ref] tasks of any result type.
//
// By default the loop ends whenever every task added so far has been
// yielded. When other goroutines go on adding tasks while it runs, call
// Until with the run they add to: the loop then waits for more until the
// run has ended. The pattern, with producers a sync.WaitGroup:
//
//	run, _ := exec.Start(ctx, g)
//	c := dynamic.AsCompleted(first...)
//	c.Until(run)
//	go func() { producers.Wait(); run.Close() }() // producers Add to c
//	for t, err := range c.All(ctx) { ... }
//
// The run must be closed by someone other than the loop: a deferred
// run.Close() in the function that ranges over c.All never runs, and the
// loop waits for ever (or until ctx is done).
//
// The zero value is an empty Completed ready to use. A nil *Completed
// holds nothing: Add does nothing, Len is 0, and Next returns an error.
type Completed[H graph.Handle] struct {
	mu        sync.Mutex
	notifier  *core.Node
	done      []H                     // finished, not yielded yet
	byNode    map[*core.Node]entry[H] // added, not finished
	waiting   int                     // added, not finished
	unchecked []*core.Node            // added since the last wait: not yet checked for waits that cannot end
	pending   []*core.Node            // added, maybe finished: what a wait inside a task records it waits on
	signal    *core.Signal            // fired by each completion, and by Add and Until once Until was called
	until     *exec.Execution         // see Until
	untilSet  bool                    // Until was called, maybe with nil
}

// entry is a task added and not finished yet, and how many times it was
// added: it is yielded that many times.
type entry[H graph.Handle] struct {
	task  H
	times int
}

// AsCompleted returns a Completed holding tasks.
func AsCompleted[H graph.Handle](tasks ...H) *Completed[H] {
	c := &Completed[H]{}
	c.Add(tasks...)
	return c
}

// initLocked sets up a Completed on first use, so that its zero value is
// usable. The caller holds c.mu.
func (c *Completed[H]) initLocked() {
	if c.signal != nil {
		return
	}
	c.byNode = map[*core.Node]entry[H]{}
	c.signal = core.NewSignal()
	c.notifier = core.NewNotifier(c.finished)
}

// finished is the notifier's function: it runs on the goroutine that
// finished n, with n's lock held, so it only records and signals.
func (c *Completed[H]) finished(n *core.Node) {
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
// already are yielded next. A task added twice is yielded twice. Zero
// handles are ignored.
func (c *Completed[H]) Add(tasks ...H) {
	if c == nil {
		return
	}
	for _, t := range tasks {
		n := refNode(t.Ref())
		if n == nil {
			continue
		}
		c.mu.Lock()
		c.initLocked()
		e, dup := c.byNode[n]
		c.byNode[n] = entry[H]{task: t, times: e.times + 1}
		c.waiting++
		if !dup {
			c.unchecked = append(c.unchecked, n)
			c.pending = append(c.pending, n)
		}
		wake := c.untilSet
		c.mu.Unlock()
		if !dup && !n.Watch(c.notifier) {
			c.finished(n) // on the caller's goroutine: nobody to give time to
		} else if wake {
			c.signal.Fire() // a Next waiting for more must wait for this task now
		}
	}
}

// Until makes Next and All wait for more tasks, instead of ending, when
// every task added so far has been yielded, until e has ended (Close or
// Stop, and every task of the run finished): then they end once every task
// added has been yielded. Waiting for the end, not for Close, lets a task
// still running after Close add more. Called inside a task of e, a Next
// that would wait for e's end returns a *graph.DeadlockError at once: the
// run cannot end while the task waits; inside a task of another run, that
// wait holds the task's slot, as any blocking call does. Until(nil) makes
// Next fail.
func (c *Completed[H]) Until(e *exec.Execution) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.initLocked()
	c.until, c.untilSet = e, true
	c.mu.Unlock()
	c.signal.Fire()
}

// compact drops finished nodes from pending once they are most of it. It
// builds a new slice, never rewriting one that a wait has recorded, so
// other goroutines may read those. The caller holds c.mu.
func (c *Completed[H]) compact() {
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
func (c *Completed[H]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiting + len(c.done)
}

// All yields each task once it has finished (successfully or not: check
// its Err or Result), in completion order, until Next reports no more. If
// ctx is done first, or a task it waits for is in no run, it yields the
// zero handle and the error, and stops. Tasks added during the loop are
// included.
func (c *Completed[H]) All(ctx context.Context) iter.Seq2[H, error] {
	return func(yield func(H, error) bool) {
		for {
			t, ok, err := c.Next(ctx)
			if !ok && err == nil {
				return
			}
			if !yield(t, err) || err != nil {
				return
			}
		}
	}
}

// Next returns the next task to finish, and true. It returns false when
// every task added has been returned (and, after Until, the run has
// ended), and the zero handle with an error when ctx is done or the tasks
// it waits for are in no run.
func (c *Completed[H]) Next(ctx context.Context) (H, bool, error) {
	var zero H
	switch {
	case c == nil:
		return zero, false, errors.New("dynamic: Next: the *Completed is nil")
	case ctx == nil:
		return zero, false, errors.New("dynamic: Next: nil context")
	}
	for {
		c.mu.Lock()
		if len(c.done) > 0 {
			t := c.done[0]
			c.done[0] = zero
			c.done = c.done[1:]
			c.mu.Unlock()
			return t, true, nil
		}
		if c.waiting == 0 {
			e, until := c.until, c.untilSet
			sig := c.signal
			c.mu.Unlock()
			if !until {
				return zero, false, nil
			}
			ended, err := waitMore(ctx, sig, e)
			if ended || err != nil {
				return zero, false, err
			}
			continue
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
			return zero, false, err
		}
	}
}

// waitMore waits, for a Completed with nothing pending after Until(e), for
// sig (a task was added) or e's end, which it reports. It fails at once
// inside a task of e, whose run cannot end while the task waits.
func waitMore(ctx context.Context, sig *core.Signal, e *exec.Execution) (ended bool, err error) {
	if e == nil {
		return false, errors.New("dynamic: Next: Until(nil): no run to wait for")
	}
	select {
	case <-e.Done():
		return true, nil
	default:
	}
	if n := core.Current(ctx); n != nil {
		if r := runOf(e); r != nil && n.Graph() != nil && n.Graph().RunOf(n) == r {
			return false, &graph.DeadlockError{Cycle: []string{n.Name(), n.Name()}}
		}
	} else if n := core.Returned(ctx); n != nil {
		return false, &graph.Error{Task: n.Name(), Err: graph.ErrTaskReturned}
	}
	select {
	case <-sig.C():
		sig.Consume()
		return false, nil
	case <-e.Done():
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// block waits for sig, fired when a node of pending finishes; inside a task
// it gives the slot back meanwhile. It fails at once if a node of check is
// in no run or held by an open batch, or (inside a task) needs the waiting
// task.
func block(ctx context.Context, sig *core.Signal, check, pending []*core.Node) error {
	for _, n := range check {
		if err := waitable(n); err != nil {
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
