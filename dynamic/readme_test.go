package dynamic_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// taste is README's "A taste": the lines between the README markers are
// the README's code block (TestREADMETaste).
func taste(ctx context.Context) error {
	// parse and process stand in for the README's functions.
	parse := func(_ context.Context, file string) ([]float64, error) {
		return map[string][]float64{"a.txt": {1, 2, 3}, "b.txt": {4, 5}}[file], nil
	}
	process := func(_ context.Context, x float64) (float64, error) { return 10 * x, nil }
	// README: begin
	g := graph.New()
	files := []string{"a.txt", "b.txt"}
	// A task per file (Dask's client.map), which parses it, then adds a
	// task per item, at high priority, and waits for them: tasks from
	// tasks. Waiting gives this task's worker slot back. (Wait with the
	// task's own ctx: it is how the wait knows which slot to give back;
	// with another context it holds the slot while it blocks, and in a
	// pool of one that never ends.)
	parsed := graph.AddEach(g, "parse", files, func(ctx context.Context, file string) ([]float64, error) {
		items, err := parse(ctx, file)
		if err != nil {
			return nil, err
		}
		children := graph.AddEach(dynamic.Scope(ctx), "process", items, process, graph.Priority(10))
		return dynamic.Gather(ctx, dynamic.Raise, children...)
	})
	total := graph.AddN(g, "total", parsed, func(_ context.Context, lists [][]float64) (float64, error) {
		var sum float64
		for _, l := range lists {
			for _, x := range l {
				sum += x
			}
		}
		return sum, nil
	})
	if err := exec.Run(ctx, g, exec.Workers(6)); err != nil { // adding ran nothing: this runs it
		return err
	}
	sum, err := total.Result()
	// README: end
	if err != nil {
		return err
	}
	fmt.Println(sum)
	return nil
}

// README's "A taste": files parsed in parallel, each parse adding a task
// per item and gathering them, and a fan-in over all files.
func Example_taste() {
	if err := taste(context.Background()); err != nil {
		fmt.Println(err)
	}
	// Output: 150
}

// sumSlow adds up [lo, hi) one by one: the leaf of the README's sum.
func sumSlow(lo, hi int) int {
	s := 0
	for i := lo; i < hi; i++ {
		s += i
	}
	return s
}

// README join: begin
func sum(ctx context.Context, lo, hi int) (int, error) {
	if hi-lo <= 1000 {
		return sumSlow(lo, hi), nil
	}
	mid := (lo + hi) / 2
	a, b, err := dynamic.Join(ctx,
		func(ctx context.Context) (int, error) { return sum(ctx, lo, mid) },
		func(ctx context.Context) (int, error) { return sum(ctx, mid, hi) })
	return a + b, err
}

// README join: end

// TestREADMEJoin runs the README's sum in a task, and fails when the
// README's block under its Join heading and sum differ.
func TestREADMEJoin(t *testing.T) {
	g := graph.New()
	total := graph.Add(g, "sum", func(ctx context.Context) (int, error) { return sum(ctx, 0, 100_000) })
	if err := exec.Run(t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	if v, err := total.Result(); v != 4999950000 || err != nil {
		t.Errorf("sum = %d, %v; want 4999950000", v, err)
	}
	readmeMatches(t, "\n### Parallel calls inside a task: `dynamic.Join`\n", "README join", "")
}

// TestREADMETaste fails when README's "A taste" code block and taste's
// marked lines differ, so that the README cannot drift from the API.
func TestREADMETaste(t *testing.T) { readmeMatches(t, "\n## A taste\n", "README", "\t") }

// readmeMatches fails unless the first go block of README.md after the
// heading (a regexp) is the code of readme_test.go between the markers
// "// <marker>: begin" and "// <marker>: end", with indent cut from each
// line.
func readmeMatches(t *testing.T, heading, marker, indent string) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)" + heading + ".*?```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatalf("README.md has no ```go block after %s", heading)
	}
	src, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	r := regexp.MustCompile(`(?s)// ` + marker + `: begin\n(.*?)\n\s*// ` + marker + `: end`).FindSubmatch(src)
	if r == nil {
		t.Fatalf("readme_test.go has no %q markers", marker)
	}
	var code []string
	for _, line := range strings.Split(string(r[1]), "\n") {
		code = append(code, strings.TrimPrefix(line, indent))
	}
	want := strings.TrimSpace(strings.Join(code, "\n"))
	if got := strings.TrimSpace(string(m[1])); got != want {
		t.Errorf("README's block after %s differs from readme_test.go's %q lines; README has:\n%s\n\nthe test has:\n%s", heading, marker, got, want)
	}
}
