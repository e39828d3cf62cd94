package viz_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// A graph drawn before it runs: a box per task, an arrow per input.
func ExampleDOT() {
	g := graph.New()
	a := graph.Value(g, "value", 20)
	b := graph.Add1(g, "double", a, func(_ context.Context, x int) (int, error) { return 2 * x, nil }, graph.Priority(1))
	graph.Add2(g, "sum", a, b, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	d, err := viz.DOT(g)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, line := range strings.Split(d.String(), "\n") {
		if strings.TrimSpace(line) != "" { // emicklei/dot ends with a blank line
			fmt.Println(line)
		}
	}
	// Output:
	// digraph  {
	// 	fontname="Helvetica";nodesep="0.25";ranksep="0.4";
	// 	n1[fontname="Helvetica",fontsize="11",label="value",shape="box",style="rounded",tooltip="#0 value"];
	// 	n2[fontname="Helvetica",fontsize="11",label="double\nprio 1",shape="box",style="rounded",tooltip="#1 double"];
	// 	n3[fontname="Helvetica",fontsize="11",label="sum",shape="box",style="rounded",tooltip="#2 sum"];
	// 	n1->n2;
	// 	n1->n3;
	// 	n2->n3;
	// }
}

// A graph drawn after it grew in a run: what each task added is in a
// cluster with it, and boxes are coloured by state.
func ExampleStates() {
	g := graph.New()
	graph.Add(g, "parse", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		items := []graph.Task[int]{
			graph.Add(s, "item", func(context.Context) (int, error) { return 1, nil }),
			graph.Add(s, "item", func(context.Context) (int, error) { return 2, nil }),
		}
		xs, err := dynamic.Gather(ctx, dynamic.Raise, items...)
		return len(xs), err
	})
	var rec viz.Recorder
	if err := exec.Run(context.Background(), g, exec.Observe(&rec)); err != nil {
		fmt.Println(err)
		return
	}
	d, err := viz.DOT(g, viz.States(&rec))
	if err != nil {
		fmt.Println(err)
		return
	}
	out := d.String()
	fmt.Println(strings.Count(out, "subgraph cluster_"), "clusters: the parse task's and the legend")
	fmt.Println(strings.Contains(out, `label="added by parse"`))
	// Output:
	// 2 clusters: the parse task's and the legend
	// true
}

// Write the evolved graph, its SVG (when graphviz is installed) and the
// run's trace next to each other.
func ExampleWriteFiles() {
	g := graph.New()
	graph.Add(g, "hello", func(context.Context) (string, error) { return "hello", nil })
	var rec viz.Recorder
	ctx := context.Background()
	if err := exec.Run(ctx, g, exec.Observe(&rec)); err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "viz-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	files, err := viz.WriteFiles(ctx, g, &rec, filepath.Join(dir, "out", "run"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range files {
		fmt.Println(filepath.Base(f)) // run.dot, run.svg if graphviz is installed, run.trace.json
	}
}

// A progress bar for a long run, in one line plus a deferred Stop. On a
// terminal it redraws itself; here, writing to a pipe, it stays quiet.
func ExampleNewProgress() {
	g := graph.New()
	for range 100 {
		graph.Add(g, "work", func(context.Context) (int, error) { return 0, nil })
	}
	p, err := viz.NewProgress(os.Stderr) // viz.ForceProgress() draws even on a pipe
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Stop()
	if err := exec.Run(context.Background(), g, exec.Observe(p)); err != nil {
		fmt.Println(err)
	}
}

// A run's timeline for Perfetto (ui.perfetto.dev) or chrome://tracing: a
// span per task that ran, on its worker's row.
func ExampleRecorder_WriteTrace() {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x + 1, nil })
	var rec viz.Recorder
	if err := exec.Run(context.Background(), g, exec.Observe(&rec)); err != nil {
		fmt.Println(err)
		return
	}
	var sb strings.Builder
	if err := rec.WriteTrace(&sb); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Count(sb.String(), `"ph":"X"`), "spans")
	for _, s := range rec.Spans() {
		fmt.Println(s.Task.Name(), s.State)
	}
	// Output:
	// 2 spans
	// a done
	// b done
}
