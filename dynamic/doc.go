// Package dynamic is the growing side of evolve: workflows whose extent is
// not known up front, where what tasks compute decides what runs next.
//
// Four styles, which mix freely (see the examples):
//
//   - Tasks from tasks. Inside a running task, Scope(ctx) is a
//     graph.Builder: the task adds children exactly as tasks are added
//     before a run, and waits for them with Task.Wait, WaitAll or
//     Gather. Waiting gives the task's worker slot back and takes one
//     again before the task goes on (Dask's secede and rejoin, done for
//     you), so nested fan-out of any depth never deadlocks a bounded pool.
//     graph.Flow emits a subgraph without waiting: the flow's consumers
//     wait for it instead (Taskflow's subflow join).
//   - As completed. exec.Start opens a run; the client adds tasks to the
//     graph from outside while it runs, and AsCompleted yields them in the
//     order they finish, accepting new ones as it goes; with
//     Completed.Until, until the run has ended, so that goroutines that
//     add concurrently need no polling loop.
//   - Fork-join calls. Inside a running task, Join(ctx, fa, fb) calls two
//     functions in parallel and returns both results (rayon's join,
//     Taskflow's TaskGroup); JoinAll and JoinEach do so for a slice. The
//     functions are part of the task, not tasks of the graph: the caller
//     runs the first, idle workers take the others, and the call waits
//     for theirs without holding its slot, so a recursion of Joins of any
//     depth never deadlocks a bounded pool either. Nothing of them is
//     left once the call returns: no handle, no name, no place in the
//     drawing. Use them for parallel work whose results only the caller
//     reads; add tasks when they need a handle, options or a name.
//   - Goroutines. Any number of client goroutines add tasks to the running
//     graph and wait for their own, each like a sequential program (the
//     async/await style). A client that reacts to a result with several
//     tasks adds them with graph.Batch, so that they reach the run as one
//     step.
//
// Every handle is a future: Task.Wait, Done, State, Err and Cancel. Every
// function that takes tasks takes any graph.Handle, so a []graph.Task[T]
// passes as tasks..., and WaitFirst and Completed give back the caller's
// own handle type.
//
// # Cost
//
// On a 2-core VM (fib(25), BENCHMARKS.md): a task spawned from a task and
// awaited costs about 250 ns on one worker and 170 on two, and 2.5
// allocations: the task, its function's closure, and half of the list of
// what its parent awaits; about twice what it costs just to allocate and
// keep a small record and a closure per spawned task in Go. When the
// awaited task is ready and nothing outranks it, the waiter runs it on its
// own goroutine, so there is no goroutine switch and no record of the
// wait; a wait that must block records what it waits for (for the
// executor's stall search) and hands the slot to another goroutine, about
// a microsecond. A function called by Join costs about 70 ns, within
// Taskflow's time for a subflow task, and 1.5 allocations (half of the
// call's one object, and its closure): nothing is kept. A task submitted
// by a client while the run goes on costs about 200–250 ns.
package dynamic
