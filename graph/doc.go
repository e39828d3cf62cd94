// Package graph builds lazy task graphs with typed handles. Adding a task
// runs nothing: exec.Run runs the graph.
//
// A task is a function shaped func(ctx, inputs...) (T, error). Adding one
// with Add, Add1, Add2, Add3 or AddN returns a Task[T], a small comparable
// handle that later tasks take as input (the compiler checks the types)
// and that yields the result after a run. Plain values enter a graph with
// Value, or are captured by the task's function. AddEach and AddEach1 add
// a task per element of a slice, or per task, in one call (Dask's
// client.map): one function, each task given its own element.
//
//	g := new(graph.Graph)
//	a := graph.Value(g, "twenty", 20)
//	b := graph.Add1(g, "double", a, func(ctx context.Context, x int) (int, error) { return 2 * x, nil })
//	// exec.Run(ctx, g) runs it; then b.Result() is 40.
//
// Functions that take tasks take any Handle: a Task[T] of any T, or a Ref,
// the untyped handle (see Handle). The zero handle names no task.
//
// Building never panics: a mistake (a nil function, a handle from another
// graph, a zero handle as input, an option with a bad value) is kept as an
// error on the returned task and on the graph, and Run reports it before
// running anything.
//
// # Options
//
// The options of evolve's packages follow one rule: the call that takes
// options checks them all before it does anything; a bad value is an error
// that names the option call and wraps ErrInvalidOption (here it fails the
// task, as every building mistake does); the zero value of an Option type
// does nothing.
//
// The graph implements gonum's graph.Directed, with edges from each input to
// the tasks that read it, so gonum's algorithms (topological order, paths,
// cycles) apply to it.
//
// # Concurrency
//
// A Graph is safe for concurrent use: several goroutines may add tasks at
// once, before or during a run. Tasks added while the graph runs join the
// run at once. A running task adds tasks on its own behalf through a Builder
// from the dynamic package, and those record it as their creator.
//
// A graph that one goroutine builds whole before running it can skip the
// lock that this takes on every add: Build hands its function the new
// graph, owned by the calling goroutine until the function returns, and
// returns it shared like any other.
//
// # Cost
//
// A task costs a record of about 100-120 bytes (more for tasks with many
// inputs or with options), cut from a slab of records of its type, so that
// adding tasks allocates a share of one object each, plus 16 bytes per
// input edge beyond the first consumer; see BENCHMARKS.md. Inside Build,
// adding takes no lock (about 15 % of a chain task's build). AddEach and
// AddEach1 cut theirs from arrays allocated for the call and take the
// graph's lock once for many tasks: as cheap as adding them one by one
// inside Build, and cheaper than a closure per task, which allocates one.
package graph
