// Package temporal runs evolve workflows beyond one machine, on Temporal,
// and the same workflows in-process on evolve's own executor.
//
// A workflow is written once, against a Registry:
//
//   - tasks are functions registered under explicit names (Register,
//     Register1, RegisterN), with JSON-encodable arguments and results;
//   - tasks that add tasks (RegisterFlow) return what they add as data,
//     through an Emitter, and name the task whose result is theirs: the
//     flow finishes when that task does, as graph.Flow does in-process;
//   - the client side (submitting work, as-completed loops, a goroutine per
//     file) is a driver (RegisterDriver), which submits with Call, Call1,
//     CallN and CallFlow and waits with Wait, Gather, AsCompleted and Join.
//
// RunLocal runs it in this process: an evolve graph, run by exec with a
// bounded pool, growing as the driver and the flows submit. RunTemporal
// runs it on a Temporal cluster: the driver and the scheduler run as a
// deterministic workflow ("evolve.run"), and every task runs as an
// activity, by its registered name, on whichever worker serves the task
// queue (RegisterWorker). Both encode every value, so a value that cannot
// cross machines fails in the first local run.
//
// # Choices, and why
//
// Tasks that add tasks return them as data rather than starting child
// workflows. An activity cannot schedule activities, and a child workflow
// per flow would cost a workflow execution (and its history) per flow and
// hide its tasks from the parent's priority order, window and as-completed
// loops. As data, what a flow adds joins the one scheduler of the run,
// exactly as in-process, and a flow that dies with its worker is run again
// and adds the same tasks (flows must be deterministic in what they add).
// The price: a flow cannot wait for what it adds; it returns, and the task
// it names finishes it (Temporal's children are used only for batches, below).
//
// The scheduler is a pure state machine (core.go): tasks added, finished,
// failed or emitted go in; the next task to start comes out. The workflow
// drives it from its root coroutine; drivers run in coroutines of their
// own, and the loop starts tasks only once every driver is parked, so its
// decisions depend on events alone, and replay (after a worker dies)
// repeats them exactly. The tests replay every run's history to check.
//
// # Mapping evolve onto Temporal
//
//   - Priority: the workflow starts ready tasks in exact priority order,
//     then submission order, as exec does. Each activity also gets one of
//     Temporal's five priority keys (see PriorityKey), which order the task
//     queue across runs approximately: measured on this server, 100 queued
//     activities of keys 5..1 ran at mean positions 78, 68, 48, 35, 19.
//   - The bounded pool: at most InFlight tasks of a run are started and
//     unfinished (default 500; Temporal refuses more than 2,000 pending
//     activities per workflow), and each worker runs at most its
//     MaxConcurrentActivityExecutionSize at once.
//   - Errors: a task's error fails it with a *TaskError (its text crosses
//     machines; in-process errors.Is/As also reach the original); tasks
//     that need it are skipped with a *graph.SkipError naming where the
//     failure started; a cycle fails with a *graph.DeadlockError; a run
//     whose driver succeeded but whose tasks failed returns a *RunError.
//     Both runners return the same types, fields and text (tested).
//   - Retries become the activity's RetryPolicy: Retries(n, backoff) gives
//     n+1 attempts for the task's own errors (Permanent ones are not
//     retried), and LostWorker gives a few more for attempts lost with
//     their worker, noticed through heartbeats the worker sends for tasks
//     that run long. Timeout becomes StartToCloseTimeout.
//   - Cancellation: cancelling RunTemporal's context cancels the workflow;
//     running tasks see their context done at their next heartbeat.
//
// # Big runs
//
// A workflow's history ends at 51,200 events (about 4.5 per activity), so
// a run schedules its first BatchAbove activities (default 2,000) itself
// and then starts ready tasks in child workflows of BatchSize (default 100)
// tasks, each of which costs its parent about 8 events. Child workflows
// rather than continue-as-new: a driver is running Go code whose state (its
// local variables, where it is in its loop) cannot be carried over, while
// batches keep the whole run, driver included, in one execution. Results
// larger than a payload can hold (2 MB) travel by reference: see Store.
//
// A step of the run's loop handles every event of a workflow task (up to
// InFlight completions) without yielding, and the SDK fails a workflow
// task whose coroutine runs for a second without yielding. On a loaded
// machine (the tests: server, worker and other builds on two shared cores)
// a step of a 20,000-task run was starved that long; give workers
// worker.Options.DeadlockDetectionTimeout of several seconds.
package temporal
