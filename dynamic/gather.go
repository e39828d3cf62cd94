package dynamic

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Mode is how Gather treats failed tasks.
type Mode int

const (
	// Raise makes Gather return as soon as a task fails, with that task's
	// error (Dask's errors="raise").
	Raise Mode = iota
	// Skip makes Gather wait for every task and return the results of
	// those that succeeded, with a *GatherError naming the others (Dask's
	// errors="skip").
	Skip
)

// Gather waits for tasks and returns their results in order. In Raise mode
// it returns at the first failure, with an error that names the task and
// wraps its cause. In Skip mode it waits for every task and returns the
// results of the tasks that succeeded, in order, and, if any did not, a
// *GatherError naming them: the results are valid alongside it, as
// os.ReadDir's entries are alongside its error. Any other error (ctx, a
// deadlock, a task in no run) comes with no results. Inside a task it
// waits without holding the worker slot. In a run for targets it reads
// each result before it can be released, as Task.Wait does.
//
// Inside a task, the two modes wait differently. Skip mode waits as
// WaitAll does: it runs the tasks that are ready on the task's own slot,
// and blocks only for the others. Raise mode must return at a failure
// even while other tasks run, so it blocks from the start, giving the
// slot back: for many small tasks, such as a recursion that gathers the
// children it just added, that is a goroutine switch or two per task,
// about twenty times the cost of WaitAll followed by Result (fib: 7 us
// per task against 0.35; BENCHMARKS.md, session 13).
//
// A zero Task makes Gather fail at once with an error wrapping
// graph.ErrNoTask, before it waits for any.
func Gather[T any](ctx context.Context, mode Mode, tasks ...graph.Task[T]) ([]T, error) {
	switch {
	case ctx == nil:
		return nil, errors.New("dynamic: Gather: nil context")
	case mode != Raise && mode != Skip:
		return nil, fmt.Errorf("dynamic: Gather: mode %d is neither Raise nor Skip", mode)
	}
	for i, t := range tasks {
		if refNode(t.Ref()) == nil {
			return nil, noTask("Gather", i)
		}
	}
	held, err := hold(tasks)
	if err != nil {
		return nil, err
	}
	defer unhold(held)
	if mode == Raise {
		c := AsCompleted(tasks...)
		for t, err := range c.All(ctx) {
			if err != nil {
				return nil, err
			}
			if err := t.Err(); err != nil {
				return nil, failure(t.Ref(), err)
			}
		}
	} else if err := WaitAll(ctx, tasks...); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(tasks))
	var ge *GatherError
	for i, t := range tasks {
		v, err := t.Result()
		if err != nil {
			if mode == Raise {
				return nil, failure(t.Ref(), err)
			}
			if ge == nil {
				ge = &GatherError{total: len(tasks)}
			}
			ge.Index = append(ge.Index, i)
			ge.Errs = append(ge.Errs, failure(t.Ref(), err))
			continue
		}
		out = append(out, v)
	}
	if ge != nil {
		return out, ge
	}
	return out, nil
}

// GatherError lists the tasks that did not succeed in a Gather in Skip
// mode. errors.Is and errors.As reach each task's error.
type GatherError struct {
	Index []int   // positions in Gather's tasks of those that did not succeed, ascending
	Errs  []error // their errors, each naming its task
	total int     // how many tasks Gather was given
}

// Error says how many tasks failed and why, as
// `gather: 2 of 10 tasks failed: task "a": …; task "b": …`.
func (e *GatherError) Error() string {
	if e == nil {
		return "<nil>"
	}
	var sb strings.Builder
	if e.total > 0 {
		fmt.Fprintf(&sb, "gather: %d of %d tasks failed", len(e.Errs), e.total)
	} else {
		fmt.Fprintf(&sb, "gather: %d tasks failed", len(e.Errs))
	}
	for i, err := range e.Errs {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString("; ")
		}
		sb.WriteString(err.Error())
	}
	return sb.String()
}

// Unwrap returns the tasks' errors.
func (e *GatherError) Unwrap() []error {
	if e == nil {
		return nil
	}
	return e.Errs
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

// heldNode is a result held for a reader (see core.Graph.Hold).
type heldNode struct {
	n     *core.Node
	epoch uint32
}

// hold keeps the results of tasks from being released until unhold, in a
// run that releases results; it holds nothing in any other run. It fails,
// holding nothing, if a task is in no run (see core.Graph.Hold).
func hold[T any](tasks []graph.Task[T]) ([]heldNode, error) {
	var held []heldNode
	for _, t := range tasks {
		n := refNode(t.Ref())
		if n == nil {
			continue
		}
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
