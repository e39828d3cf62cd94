//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package viz_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// badCase is one call of an exported entry point with bad input. call
// returns the error the entry point returned, or, for one without an
// error, what is wrong with what it returned (nil when it is right).
type badCase struct {
	name string
	call func() error
	want error  // the error must wrap it; nil: the call must return nil
	text string // the error must contain it (it names the problem)
}

// runBad runs each case, failing on a panic or on an error that does not
// name the problem.
func runBad(t *testing.T, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		var err error
		var v any
		var stack []byte
		func() {
			defer func() {
				if v = recover(); v != nil {
					stack = debug.Stack()
				}
			}()
			err = c.call()
		}()
		switch {
		case v != nil:
			t.Errorf("%s panicked: %v\n%s", c.name, v, stack)
		case c.want == nil && c.text == "":
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		case err == nil:
			t.Errorf("%s returned no error, want one wrapping %v", c.name, c.want)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s = %v, want an error wrapping %v", c.name, err, c.want)
		case !strings.Contains(err.Error(), c.text):
			t.Errorf("%s = %q, want it to say %q", c.name, err, c.text)
		}
	}
}

// expect returns nil if ok, or an error saying what was got.
func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("got "+format, args...)
}

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil contexts, graphs, drawings, writers (and writers holding
// a nil pointer), nil and zero Recorders and Progress bars, events of nil
// tasks, and options out of range: each returns an error naming the
// problem or, where it returns none, does nothing harmful.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	g := graph.New()
	graph.Go(g, "a", func(context.Context) (int, error) { return 1, nil })
	d := viz.DOT(g)
	var buf bytes.Buffer
	var nilBuf *bytes.Buffer
	var nilRec *viz.Recorder
	var nilProgress *viz.Progress
	var nilTask *graph.Task[int]
	cases := []badCase{
		{name: "DOT(nil)", call: func() error { return expect(strings.Contains(viz.DOT(nil).String(), "digraph"), "%s", viz.DOT(nil)) }},
		{name: "DOT(nil option)", call: func() error { viz.DOT(g, nil, viz.Title("")); return nil }},
		{name: "DOT(SummaryAbove(-1))", call: func() error { viz.DOT(g, viz.SummaryAbove(-1)); return nil }},
		{name: "DOT(States(nil))", call: func() error { viz.DOT(g, viz.States(nil)); return nil }},

		{name: "Render(nil context)", call: func() error { return viz.Render(nil, &buf, d, "svg") }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "Render(nil writer)", call: func() error { return viz.Render(ctx, nil, d, "svg") }, text: "nil writer"},
		{name: "Render(nil *bytes.Buffer)", call: func() error { return viz.Render(ctx, nilBuf, d, "svg") }, text: "nil writer"},
		{name: "Render(nil drawing)", call: func() error { return viz.Render(ctx, &buf, nil, "svg") }, text: "nil *dot.Graph"},
		{name: "Render(no format)", call: func() error { return viz.Render(ctx, &buf, d, "") }, text: "format"},
		{name: "Render(an option as format)", call: func() error { return viz.Render(ctx, &buf, d, "-o/tmp/x") }, text: "format"},

		{name: "WriteFile(nil context)", call: func() error { return viz.WriteFile(nil, filepath.Join(dir, "x.svg"), d) }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "WriteFile(nil drawing)", call: func() error { return viz.WriteFile(ctx, filepath.Join(dir, "x.dot"), nil) }, text: "nil *dot.Graph"},
		{name: "WriteFile(no extension)", call: func() error { return viz.WriteFile(ctx, filepath.Join(dir, "x"), d) }, text: "no extension"},
		{name: "WriteFile(\"\")", call: func() error { return viz.WriteFile(ctx, "", d) }, text: "no extension"},

		{name: "WriteFiles(nil context)", call: func() error { _, err := viz.WriteFiles(nil, g, nil, filepath.Join(dir, "run")); return err }, text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{name: "WriteFiles(nil graph)", call: func() error { _, err := viz.WriteFiles(ctx, nil, nil, filepath.Join(dir, "run")); return err }, text: "nil graph"},
		{name: "WriteFiles(\"\")", call: func() error { _, err := viz.WriteFiles(ctx, g, nil, ""); return err }, text: "names no file"},
		{name: "WriteFiles(dir/)", call: func() error { _, err := viz.WriteFiles(ctx, g, nil, dir+"/"); return err }, text: "names no file"},
		{name: "WriteFiles(nil Recorder)", call: func() error {
			files, err := viz.WriteFiles(ctx, g, nil, filepath.Join(dir, "run"))
			return errors.Join(err, expect(len(files) > 0 && !strings.HasSuffix(files[len(files)-1], ".json"), "%v", files))
		}},

		{name: "nil Recorder.Observe", call: func() error { nilRec.Observe(exec.Event{Kind: exec.EventReady}); return nil }},
		{name: "nil Recorder.Reset", call: func() error { nilRec.Reset(); return nil }},
		{name: "nil Recorder.Span", call: func() error { _, ok := nilRec.Span(0); return expect(!ok, "a span") }},
		{name: "nil Recorder.Spans", call: func() error { return expect(len(nilRec.Spans()) == 0, "%v", nilRec.Spans()) }},
		{name: "nil Recorder.WriteTrace", call: func() error { return nilRec.WriteTrace(&buf) }, text: "nil *Recorder"},
		{name: "Recorder.WriteTrace(nil)", call: func() error { return new(viz.Recorder).WriteTrace(nil) }, text: "nil writer"},
		{name: "Recorder.WriteTrace(nil *bytes.Buffer)", call: func() error { return new(viz.Recorder).WriteTrace(nilBuf) }, text: "nil writer"},
		{name: "Recorder.Observe(events of nil tasks)", call: func() error {
			var r viz.Recorder
			r.Observe(exec.Event{Kind: exec.EventStarted})
			r.Observe(exec.Event{Kind: exec.EventStarted, Task: nilTask, Time: time.Now()})
			return expect(len(r.Spans()) == 0, "%v", r.Spans())
		}},
		{name: "Recorder.Span(-5)", call: func() error { _, ok := new(viz.Recorder).Span(-5); return expect(!ok, "a span") }},
		{name: "Span{}.Duration", call: func() error { return expect(viz.Span{}.Duration() == 0, "%v", viz.Span{}.Duration()) }},

		{name: "nil Progress.Observe", call: func() error { nilProgress.Observe(exec.Event{Kind: exec.EventFinished}); return nil }},
		{name: "nil Progress.Stop", call: func() error { nilProgress.Stop(); return nil }},
		{name: "zero Progress", call: func() error {
			var p viz.Progress
			p.Observe(exec.Event{Kind: exec.EventFinished, Task: nilTask})
			p.Stop()
			p.Stop()
			return nil
		}},
		{name: "NewProgress(nil, ForceProgress)", call: func() error {
			p := viz.NewProgress(nil, viz.ForceProgress(), viz.ProgressEvery(time.Millisecond))
			p.Observe(exec.Event{Kind: exec.EventFinished, Task: nilTask})
			p.Stop()
			return nil
		}},
		{name: "NewProgress(nil *bytes.Buffer, ForceProgress)", call: func() error {
			p := viz.NewProgress(nilBuf, viz.ForceProgress(), viz.ProgressEvery(time.Millisecond))
			p.Stop()
			return nil
		}},
		{name: "NewProgress(nil option, ProgressEvery(0), ProgressEvery(-1s))", call: func() error {
			var out bytes.Buffer
			p := viz.NewProgress(&out, nil, viz.ProgressEvery(0), viz.ProgressEvery(-time.Second), viz.ForceProgress())
			p.Stop()
			return expect(strings.Contains(out.String(), "0/0"), "%q", out.String())
		}},
	}
	runBad(t, cases)
}
