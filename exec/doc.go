// Package exec runs task graphs: a ready queue ordered by priority, a
// bounded pool of workers, errors, cancellation, retries and events.
//
// Run runs a whole graph, or with Targets only what chosen tasks need, and
// returns when every task of the run finished. Start opens a run that
// clients add tasks to from other goroutines until Close.
//
// # Scheduling
//
// Each task counts its unfinished inputs; the input that finishes last
// makes it ready. There is no precomputed order, so tasks added while the
// graph runs are scheduled like the others. Ready tasks start by priority,
// higher first, and equal priorities in creation order: with one worker the
// run order is exactly that. A worker that makes a task ready runs it next
// itself when nothing better waits in the queue, without a trip through the
// queue. While every task of the graph has priority 0, a task that a
// running task adds without inputs stays with the worker running its
// creator, out of the queue, until the creator waits or finishes or
// another worker looks for work: a creator that then waits for it (fib)
// runs it without any lock. The roots of a wide graph (many tasks without
// inputs, of one priority) are taken by the workers a few at a time
// without the queue's lock, and stay in the queue's order: a task made
// ready that ranks before them is run first. Tasks a client adds one by
// one join such a run as they are added, on any number of workers; with
// one worker, so do tasks made ready in creation order (a tree's levels).
//
// # Concurrency contract
//
//   - At most Workers(n) task functions run at once (default
//     runtime.GOMAXPROCS(0)). A task that waits for other tasks (Task.Wait,
//     the dynamic package's waits) gives its slot back while it waits
//     and queues for one again, at its own priority, before it goes on;
//     an awaited task that is ready and outranked by nothing runs at once
//     on the waiter's own slot. Nested waits of any depth never deadlock a
//     pool of one. A wait cut short by the task's own context queues for a
//     slot too before it returns; only once the run is stopped do tasks
//     whose waits it ended go on without one, to return. A task holds one
//     slot whatever goroutines it starts, and the runner sees them only
//     when they wait: the first of them to wait gives the slot back, even
//     while the function goes on, so that a function waiting for its own
//     goroutine (a channel, a WaitGroup) cannot hold the slot that the
//     tasks the goroutine waits for need. For that while, the function
//     runs beyond Workers(n).
//   - The functions of a fork-join call (dynamic.Join) are part of the
//     calling task: the caller runs the first and takes the others back
//     one by one, and a worker with a free slot and nothing queued may take
//     one first and run it on that slot; the call waits for those without
//     its slot, and returns once every function has returned, each having
//     run exactly once (or, if the call's context ended before it started,
//     not at all).
//   - Tasks that need each other never hang a run. When nothing runs and
//     nothing is queued while tasks are outstanding, every one of them
//     waits for another, and the goroutine that let the last slot go looks
//     for a cycle of inputs, waits and joins among them at once. If a task
//     on the cycle waits in its body, the wait of the newest such task
//     returns a *graph.DeadlockError naming the cycle (the task may handle
//     it); otherwise the newest task that waits for its inputs or joins
//     what it emitted fails with one. Either way the rest of the run goes
//     on, and each cycle is reported once. A wait for the waiting task
//     itself fails at once.
//   - A task's error or panic fails it (a panic becomes a *graph.PanicError
//     with the stack); tasks that need it are skipped with a
//     *graph.SkipError that names it. Other branches go on unless
//     StopOnError is set. A function that ends its goroutine
//     (runtime.Goexit, t.FailNow called from a task) fails its task with
//     graph.ErrGoexit, and the tasks whose functions ran on that
//     goroutine with it.
//   - When the run's context is done, no task starts any more, running
//     tasks see their context done, waits return, tasks not finished end
//     cancelled, and Run returns, once running functions have returned, an
//     error that reaches the context's error (and its cause): the context's
//     error itself, or an *Error with it as Stopped when tasks also failed.
//     Only a run whose every task succeeded anyway returns nil. No goroutine
//     outlives Run (or, for Start, the run's end).
//   - Observers are called on the goroutine where an event happens, so they
//     must be safe for concurrent use, and never with a lock held, so they
//     may add tasks. One that panics is dropped from the run, which goes on
//     and reports it with an *ObserverError (see Observer); one that ends
//     its goroutine (runtime.Goexit) stops the run, with an *ObserverError
//     as the cause. With no observer, no event is built.
//   - The context a task function gets is the task's own: its deadline,
//     Done and values are the run's context's, and, while the function
//     runs, it is how dynamic.Scope and waits know the task. A goroutine
//     that keeps it after the function returned can still watch Done, but
//     adding or waiting with it fails with graph.ErrTaskReturned, and so
//     does a wait it began while the function ran that would block only
//     after the function returned. A wait inside a task with another
//     context holds the task's slot while it blocks (see graph's
//     Task.Wait).
//
// # Cost
//
// A task costs about 50 to 105 ns to run on one worker, and allocates
// nothing while running; building it costs a record of 112 to 144 bytes,
// cut from a slab, and 95 to 150 ns (graph package), most of it page faults
// and the garbage collector marking the new tasks.
// BENCHMARKS.md has the measurements, against a sequential loop and an
// errgroup runner, with the command that reproduces them.
package exec
