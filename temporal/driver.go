package temporal

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// Driver is the client side of a run: the code of a registered driver
// submits tasks through it (it is a Builder), waits for them (Wait, Gather),
// reacts to them as they finish (AsCompleted), and runs concurrent parts
// (Go). In-process it is a client of an evolve run; on Temporal it runs
// inside the run's workflow. A Driver is for the goroutine (or workflow
// coroutine) it was given to; Go gives each new one its own.
type Driver struct {
	be   backend
	errs []error
	// wctx is, on Temporal, the context of the workflow coroutine the
	// driver runs in: blocking calls must use their own coroutine's.
	wctx workflow.Context
}

// backend is what a runner provides to drivers.
type backend interface {
	// submit adds s to the run and returns its ID.
	submit(d *Driver, s TaskSpec) (int64, error)
	// wait blocks until task id has finished and returns its outcome.
	wait(d *Driver, id int64) (json.RawMessage, error)
	// completion returns an empty as-completed set.
	completion(d *Driver) completion
	// spawn runs fn concurrently with its own Driver.
	spawn(d *Driver, fn func(*Driver))
	// join waits for every fn that d spawned.
	join(d *Driver)
}

// completion is an as-completed set of task IDs.
type completion interface {
	add(ids ...int64)
	// next returns the next ID to finish, or false once every ID added so
	// far was returned.
	next() (int64, bool, error)
}

func (d *Driver) add(s TaskSpec) int64 {
	if err := d.Err(); err != nil {
		return noTask
	}
	id, err := d.be.submit(d, s)
	if err != nil {
		d.fail(err)
		return noTask
	}
	return id
}

func (d *Driver) fail(err error) { d.errs = append(d.errs, err) }

// Err returns the mistakes made while submitting through d, joined, or nil.
// Once one is made, d submits nothing more, and waits return it.
func (d *Driver) Err() error { return errors.Join(d.errs...) }

// Go runs fn concurrently with the rest of the driver, with a Driver of its
// own: in-process in a goroutine, on Temporal in a workflow coroutine
// (workflow.Go). The run ends only after fn returns. A mistake fn makes
// while submitting is reported by the run.
func (d *Driver) Go(fn func(d *Driver)) {
	if fn == nil {
		d.fail(errors.New("evolve/temporal: Driver.Go: nil function"))
		return
	}
	d.be.spawn(d, fn)
}

// Join waits until every function started with d.Go has returned.
func (d *Driver) Join() { d.be.join(d) }

// Wait waits for the task r and returns its result, or its error: a
// *TaskError if it failed, a *graph.SkipError if a task it needs failed, a
// *graph.DeadlockError if it can never run.
func Wait[T any](d *Driver, r Ref[T]) (T, error) {
	var v T
	if err := d.Err(); err != nil {
		return v, err
	}
	raw, err := d.be.wait(d, r.ID)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("evolve/temporal: decoding the result of task #%d: %w", r.ID, err)
	}
	return v, nil
}

// Gather waits for every task of rs and returns their results in order,
// or the error of the first of them, in the order of rs, that did not
// succeed. It waits for all of them either way, so that both runners
// report the same error.
func Gather[T any](d *Driver, rs []Ref[T]) ([]T, error) {
	out := make([]T, len(rs))
	var first error
	for i, r := range rs {
		v, err := Wait(d, r)
		if err != nil && first == nil {
			first = err
		}
		out[i] = v
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

// Completed yields tasks in the order they finish, like Dask's
// as_completed; tasks may be added while it is being iterated.
type Completed[T any] struct {
	d *Driver
	c completion
}

// AsCompleted returns a Completed holding rs.
func AsCompleted[T any](d *Driver, rs ...Ref[T]) *Completed[T] {
	c := &Completed[T]{d: d, c: d.be.completion(d)}
	c.Add(rs...)
	return c
}

// Add adds tasks to be yielded when they finish.
func (c *Completed[T]) Add(rs ...Ref[T]) {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	c.c.add(ids...)
}

// Next returns the next task to finish (successfully or not: read it with
// Wait, which then returns at once), and false once every task added so far
// was returned.
func (c *Completed[T]) Next() (Ref[T], bool, error) {
	if err := c.d.Err(); err != nil {
		return Ref[T]{ID: noTask}, false, err
	}
	id, ok, err := c.c.next()
	return Ref[T]{ID: id}, ok, err
}
