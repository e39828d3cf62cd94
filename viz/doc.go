// Package viz draws evolve task graphs and what their runs did: DOT
// drawings of a graph as built or as it evolved (with emicklei/dot),
// rendering through graphviz, Chrome traces of a run, and a terminal
// progress bar.
//
// Everything that watches a run is an exec.Observer: a Recorder keeps each
// task's start, end and worker, and a Progress draws a bar. The executor
// pays nothing for them when none is attached.
//
//	var rec viz.Recorder
//	err := exec.Run(ctx, g, exec.Observe(&rec))
//	files, err := viz.WriteFiles(ctx, g, &rec, "out/run") // out/run.dot, .svg, .trace.json
//
// # Drawings
//
// DOT draws a box per task and an arrow from each input to its reader.
// Tasks added while the graph ran are drawn inside a cluster with the task
// that added them, nested as the growth was. With States the boxes are
// coloured by state, with a legend, durations and errors. Above
// DefaultSummaryAbove tasks (see SummaryAbove), tasks of the same name
// added by the same kind of task fold into one box with a count and a
// state tally, so a drawing's size follows the number of task kinds, not
// of tasks: a 100,000-task graph lays out in well under a second.
//
// Render and WriteFile run graphviz's dot program, which must be installed
// (apt-get install graphviz); when it is not, their error wraps the
// standard library's os/exec.ErrNotFound.
package viz
