package viz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRenderSVG(t *testing.T) {
	needDot(t)
	g := runEvolving(t)
	var svg bytes.Buffer
	if err := Render(context.Background(), &svg, mustDOT(g, States(nil)), "svg"); err != nil {
		t.Fatal(err)
	}
	out := svg.String()
	if !strings.Contains(out, "<svg") {
		t.Fatalf("not an SVG:\n%.500s", out)
	}
	for _, want := range []string{">load</text>", ">item</text>", ">detail</text>", ">bad</text>", ">disk full</text>", ">added by load</text>"} {
		if !strings.Contains(out, want) {
			t.Errorf("the SVG lacks %s", want)
		}
	}
	// graphviz marks each cluster's group; 2 loads, 2 items that added a
	// detail, and the legend.
	if n := strings.Count(out, `class="cluster"`); n != 5 {
		t.Errorf("the SVG has %d clusters, want 5", n)
	}
}

func TestRenderBadFormat(t *testing.T) {
	needDot(t)
	g := buildEvolving()
	err := Render(context.Background(), new(bytes.Buffer), mustDOT(g), "no-such-format")
	if err == nil || !strings.Contains(err.Error(), "no-such-format") || errors.Is(err, osexec.ErrNotFound) {
		t.Errorf("err = %v; want dot's complaint about the format", err)
	}
	if err := Render(context.Background(), new(bytes.Buffer), mustDOT(g), ""); err == nil {
		t.Error("an empty format was accepted")
	}
}

func TestRenderCancelled(t *testing.T) {
	needDot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Render(ctx, new(bytes.Buffer), mustDOT(buildEvolving()), "svg")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled", err)
	}
}

// TestRenderWithoutGraphviz hides dot by emptying PATH: rendering fails
// with an error that names the program and wraps exec.ErrNotFound, and
// WriteFiles still writes what needs no graphviz.
func TestRenderWithoutGraphviz(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	g := runEvolving(t)
	err := Render(context.Background(), new(bytes.Buffer), mustDOT(g), "svg")
	if !errors.Is(err, osexec.ErrNotFound) || !strings.Contains(err.Error(), `"dot"`) || !strings.Contains(err.Error(), "graphviz") {
		t.Errorf("err = %v; want one naming graphviz's dot and wrapping exec.ErrNotFound", err)
	}
	dir := t.TempDir()
	if err := WriteFile(context.Background(), filepath.Join(dir, "g.png"), mustDOT(g)); !errors.Is(err, osexec.ErrNotFound) {
		t.Errorf("WriteFile .png: err = %v; want exec.ErrNotFound", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("a failed WriteFile left %v", left)
	}
	rec := syntheticRecorder(g)
	files, err := WriteFiles(context.Background(), g, rec, filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "run.dot"), filepath.Join(dir, "run.trace.json")}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("WriteFiles wrote %v, want %v", files, want)
	}
}

func TestWriteFiles(t *testing.T) {
	needDot(t)
	g := runEvolving(t)
	rec := syntheticRecorder(g)
	prefix := filepath.Join(t.TempDir(), "out", "run") // out/ does not exist yet
	files, err := WriteFiles(context.Background(), g, rec, prefix, Title("evolving"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("WriteFiles wrote %v, want .dot, .svg and .trace.json", files)
	}
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read(prefix + ".dot"); !strings.HasPrefix(s, "digraph") || !strings.Contains(s, `label="evolving"`) {
		t.Errorf("run.dot:\n%s", s)
	}
	if s := read(prefix + ".svg"); !strings.Contains(s, ">evolving</text>") {
		t.Errorf("run.svg lacks the title")
	}
	var tr struct{ TraceEvents []traceEvent }
	if err := json.Unmarshal([]byte(read(prefix+".trace.json")), &tr); err != nil || len(tr.TraceEvents) == 0 {
		t.Errorf("run.trace.json: %v, %d events", err, len(tr.TraceEvents))
	}
	// WriteFile picks the format by extension; .gv is DOT source too.
	for _, name := range []string{"g.gv", "g.png"} {
		path := filepath.Join(t.TempDir(), name)
		if err := WriteFile(context.Background(), path, mustDOT(g)); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := WriteFile(context.Background(), filepath.Join(t.TempDir(), "noext"), mustDOT(g)); err == nil {
		t.Error("a path without extension was accepted")
	}
}

// TestRender100kSummary grows a graph to 100,000 tasks and more while it
// runs (1,000 parents each adding 100 children) and lays out its summary
// with graphviz. It logs the layout time; it asserts no timing, which
// depends on the machine.
func TestRender100kSummary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 100k-task run")
	}
	needDot(t)
	var rec Recorder
	g := grow(t, 1000, 100, &rec)
	t0 := time.Now()
	d := mustDOT(g, States(&rec))
	built := time.Since(t0)
	var svg bytes.Buffer
	t1 := time.Now()
	if err := Render(context.Background(), &svg, d, "svg"); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d tasks: DOT built in %v (%d bytes), laid out by dot -Tsvg in %v", g.Len(), built, len(d.String()), time.Since(t1))
	for _, want := range []string{">parent ×1000</text>", ">child ×100000</text>", ">done 99900 · failed 100</text>", ">added by parent</text>"} {
		if !strings.Contains(svg.String(), want) {
			t.Errorf("the SVG lacks %s", want)
		}
	}
}
