package viz

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/emicklei/dot"
	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; if the change is intended, run go test -update.\ngot:\n%s", path, got)
	}
}

// needDot skips the test when graphviz's dot is not installed, except in
// CI (the CI variable is set), where a missing dot must fail the build
// rather than silently skip the rendering tests.
func needDot(t testing.TB) {
	t.Helper()
	if _, err := osexec.LookPath(dotProgram); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and graphviz is missing: %v (apt-get install graphviz)", err)
		}
		t.Skipf("graphviz is not installed: %v", err)
	}
}

var errDiskFull = errors.New("disk full\nat block 7")

// buildEvolving builds a small graph that grows when run: two "load" tasks
// (priority 5) each add three "item" tasks (priority 10) and wait for
// them; the last item of each adds a nested "detail" task. A "bad" task
// fails, so "report", which reads it, is skipped, and "sum" gathers the
// loads and a value.
func buildEvolving() *graph.Graph {
	g := graph.New()
	var loads []graph.Task[int]
	for range 2 {
		loads = append(loads, graph.Add(g, "load", func(ctx context.Context) (int, error) {
			s := dynamic.Scope(ctx)
			var items []graph.Task[int]
			for j := range 3 {
				items = append(items, graph.Add(s, "item", func(ctx context.Context) (int, error) {
					if j < 2 {
						return j, nil
					}
					return graph.Add(dynamic.Scope(ctx), "detail", func(context.Context) (int, error) {
						return 10, nil
					}).Wait(ctx)
				}, graph.Priority(10)))
			}
			xs, err := dynamic.Gather(ctx, dynamic.Raise, items...)
			return len(xs), err
		}, graph.Priority(5)))
	}
	bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errDiskFull })
	graph.Add1(g, "report", bad, func(_ context.Context, x int) (int, error) { return x, nil })
	seed := graph.Value(g, "value", 1)
	graph.Add2(g, "sum", loads[0], seed, func(_ context.Context, a, b int) (int, error) { return a + b, nil })
	return g
}

// runEvolving builds and runs buildEvolving's graph on one worker, so that
// task IDs and the order of growth are the same every time.
func runEvolving(t testing.TB, obs ...exec.Observer) *graph.Graph {
	t.Helper()
	g := buildEvolving()
	err := exec.Run(context.Background(), g, exec.Workers(1), exec.Observe(obs...))
	var ee *exec.Error
	if !errors.As(err, &ee) || ee.Failed != 1 || ee.Skipped != 1 {
		t.Fatalf("run: %v; want one failure and one skip", err)
	}
	return g
}

// epoch is the fixed time synthetic events start at.
var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// syntheticRecorder returns a Recorder fed made-up events for g's tasks,
// as if task i became ready at i ms, started 0.25 ms later on worker i%2
// and ran (i+1)·1.5 ms, ending as it actually ended in g: deterministic
// durations for golden files.
func syntheticRecorder(g *graph.Graph) *Recorder {
	var rec Recorder
	for _, t := range tasksOf(g) {
		if t.Creator() == (graph.Ref{}) && t.Name() == "value" {
			continue // values never run, so a run reports nothing about them
		}
		i := t.ID()
		ready := epoch.Add(time.Duration(i) * time.Millisecond)
		start := ready.Add(250 * time.Microsecond)
		end := start.Add(time.Duration(i+1) * 1500 * time.Microsecond)
		w := int(i % 2)
		rec.Observe(exec.Event{Kind: exec.EventReady, Task: t, Time: ready, Worker: -1})
		switch t.State() {
		case graph.Skipped:
			rec.Observe(exec.Event{Kind: exec.EventSkipped, Task: t, Time: ready, Worker: w, Err: t.Err()})
			continue
		case graph.Failed:
			rec.Observe(exec.Event{Kind: exec.EventStarted, Task: t, Time: start, Worker: w})
			rec.Observe(exec.Event{Kind: exec.EventFailed, Task: t, Time: end, Worker: w, Err: t.Err()})
		default:
			rec.Observe(exec.Event{Kind: exec.EventStarted, Task: t, Time: start, Worker: w})
			rec.Observe(exec.Event{Kind: exec.EventFinished, Task: t, Time: end, Worker: w})
		}
	}
	return &rec
}

// grow runs a graph of parents tasks named "parent", each adding kids
// tasks named "child" while it runs and waiting for them: the evolved
// graph has parents·(kids+1) tasks. Every 1000th child (counting across
// parents in creation order) fails, so the summary has a tally to show.
func grow(t testing.TB, parents, kids int, obs ...exec.Observer) *graph.Graph {
	t.Helper()
	g := graph.New()
	for i := range parents {
		graph.Add(g, "parent", func(ctx context.Context) (int, error) {
			s := dynamic.Scope(ctx)
			children := make([]graph.Task[int], kids)
			for j := range children {
				children[j] = graph.Add(s, "child", func(context.Context) (int, error) {
					if (i*kids+j)%1000 == 999 {
						return 0, errDiskFull
					}
					return j, nil
				})
			}
			return kids, dynamic.WaitAll(ctx, children...)
		})
	}
	err := exec.Run(context.Background(), g, exec.Observe(obs...))
	var ee *exec.Error
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if got, want := g.Len(), parents*(kids+1); got != want {
		t.Fatalf("the graph grew to %d tasks, want %d", got, want)
	}
	return g
}

// mustDOT is DOT for options known to be good: it panics on an error.
func mustDOT(g *graph.Graph, opts ...Option) *dot.Graph {
	d, err := DOT(g, opts...)
	if err != nil {
		panic(err)
	}
	return d
}

// mustProgress is NewProgress for options known to be good: it panics on
// an error.
func mustProgress(w io.Writer, opts ...ProgressOption) *Progress {
	p, err := NewProgress(w, opts...)
	if err != nil {
		panic(err)
	}
	return p
}
