package core

import (
	"context"
	"sync/atomic"
)

// Fork is one fork-join call of a running task (dynamic.Join): functions
// that are part of the task, not tasks of the graph. The executor runs
// them (see Awaiter.Join): the first on the calling goroutine, the others
// where a worker is idle, or on the caller after the first; the call
// returns once every one has returned. No handle to a function escapes the
// call, so nothing of it outlives the call: the caller allocates a Fork
// with its functions and results in one object, and drops it afterwards.
type Fork struct {
	// Ctx is the caller's context. A job runs with it on the caller's
	// goroutine, and on another worker with a context that answers as it
	// does but for the worker it waits through.
	Ctx context.Context
	// Self is the task that called: jobs are part of it. Set by the
	// executor.
	Self *Node
	Body Jobs
	N    int // the number of functions

	// lent counts the jobs taken by other workers that have not returned,
	// less those the caller knows of (see Lend and Return): it reaches
	// zero once, when the last of them has returned and the caller counted
	// them all.
	lent atomic.Int32
	// Done, and Waiter if the caller parks, are set by the caller before
	// it counts the jobs other workers took (Lend), so that the last one
	// to return finds them: Waiter resumes the caller's parked wait, Done
	// ends its wait once the run has stopped and nobody hands slots over
	// any more, or a wait that never parked (a goroutine whose task
	// returned). Waiter is nil then.
	Waiter *Node
	Done   chan struct{}
}

// Jobs is the typed part of a Fork, made by the caller for its functions:
// it keeps each one's result and error, which the caller reads once the
// call's functions have all returned. For each i, the executor calls
// RunJob or Fail once.
type Jobs interface {
	// RunJob calls function i with ctx and keeps its result and error.
	RunJob(ctx context.Context, i int)
	// Fail keeps err as function i's error: it panicked, or was not
	// called.
	Fail(i int, err error)
}

// Lend tells f that k of its jobs were taken by other workers, and
// reports whether the caller must wait for some: false if they have all
// returned already. The caller sets Waiter and Done first.
func (f *Fork) Lend(k int) bool { return f.lent.Add(int32(k)) != 0 }

// Return tells f that k of its jobs taken by other workers have
// returned, and reports whether they were the last ones the caller waits
// for: then its Waiter and Done are set, and the returning worker wakes
// the caller.
func (f *Fork) Return(k int) bool { return f.lent.Add(int32(-k)) == 0 }
