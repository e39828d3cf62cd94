//lint:file-ignore SA1012 these tests pass nil contexts on purpose: nothing may panic on them

package viz_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/internal/badinput"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// TestBadInputNeverPanics calls every exported function and method of the
// package with nil contexts, graphs, drawings, writers (and writers holding
// a nil pointer), nil and zero Recorders and Progress bars, events of nil
// tasks, and options out of range: each returns an error naming the
// problem or, where it returns none, does nothing harmful.
func TestBadInputNeverPanics(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	g := graph.New()
	graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	d, err := viz.DOT(g)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var nilBuf *bytes.Buffer
	var nilRec *viz.Recorder
	var nilProgress *viz.Progress
	var nilTask graph.Task[int]
	cases := []badinput.Case{
		{Name: "DOT(nil)", Call: func() error {
			d, err := viz.DOT(nil)
			return errors.Join(err, badinput.Expect(strings.Contains(d.String(), "digraph"), "%s", d))
		}},
		{Name: "DOT(zero Option)", Call: func() error { _, err := viz.DOT(g, viz.Option{}, viz.Title("")); return err }},
		{Name: "DOT(SummaryAbove(-1))", Call: func() error { _, err := viz.DOT(g, viz.SummaryAbove(-1)); return err }, Want: graph.ErrInvalidOption, Text: "viz: SummaryAbove(-1)"},
		{Name: "WriteFiles(SummaryAbove(-1))", Call: func() error {
			_, err := viz.WriteFiles(ctx, g, nil, filepath.Join(dir, "bad", "run"), viz.SummaryAbove(-1))
			if _, serr := os.Stat(filepath.Join(dir, "bad")); serr == nil {
				err = errors.Join(err, errors.New("WriteFiles made a directory before it checked its options"))
			}
			return err
		}, Want: graph.ErrInvalidOption, Text: "SummaryAbove(-1)"},
		{Name: "DOT(States(nil))", Call: func() error { _, err := viz.DOT(g, viz.States(nil)); return err }},

		{Name: "Render(nil context)", Call: func() error { return viz.Render(nil, &buf, d, "svg") }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "Render(nil writer)", Call: func() error { return viz.Render(ctx, nil, d, "svg") }, Text: "nil writer"},
		{Name: "Render(nil *bytes.Buffer)", Call: func() error { return viz.Render(ctx, nilBuf, d, "svg") }, Text: "nil writer"},
		{Name: "Render(nil drawing)", Call: func() error { return viz.Render(ctx, &buf, nil, "svg") }, Text: "nil *dot.Graph"},
		{Name: "Render(no format)", Call: func() error { return viz.Render(ctx, &buf, d, "") }, Text: "format"},
		{Name: "Render(an option as format)", Call: func() error { return viz.Render(ctx, &buf, d, "-o/tmp/x") }, Text: "format"},

		{Name: "WriteFile(nil context)", Call: func() error { return viz.WriteFile(nil, filepath.Join(dir, "x.svg"), d) }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WriteFile(nil drawing)", Call: func() error { return viz.WriteFile(ctx, filepath.Join(dir, "x.dot"), nil) }, Text: "nil *dot.Graph"},
		{Name: "WriteFile(no extension)", Call: func() error { return viz.WriteFile(ctx, filepath.Join(dir, "x"), d) }, Text: "no extension"},
		{Name: "WriteFile(\"\")", Call: func() error { return viz.WriteFile(ctx, "", d) }, Text: "no extension"},

		{Name: "WriteFiles(nil context)", Call: func() error { _, err := viz.WriteFiles(nil, g, nil, filepath.Join(dir, "run")); return err }, Text: "nil context"}, //nolint:staticcheck // the nil context is the point
		{Name: "WriteFiles(nil graph)", Call: func() error { _, err := viz.WriteFiles(ctx, nil, nil, filepath.Join(dir, "run")); return err }, Text: "nil graph"},
		{Name: "WriteFiles(\"\")", Call: func() error { _, err := viz.WriteFiles(ctx, g, nil, ""); return err }, Text: "names no file"},
		{Name: "WriteFiles(dir/)", Call: func() error { _, err := viz.WriteFiles(ctx, g, nil, dir+"/"); return err }, Text: "names no file"},
		{Name: "WriteFiles(nil Recorder)", Call: func() error {
			files, err := viz.WriteFiles(ctx, g, nil, filepath.Join(dir, "run"))
			return errors.Join(err, badinput.Expect(len(files) > 0 && !strings.HasSuffix(files[len(files)-1], ".json"), "%v", files))
		}},

		{Name: "nil Recorder.Observe", Call: func() error { nilRec.Observe(exec.Event{Kind: exec.EventReady}); return nil }},
		{Name: "nil Recorder.Reset", Call: func() error { nilRec.Reset(); return nil }},
		{Name: "nil Recorder.Span", Call: func() error { _, ok := nilRec.Span(0); return badinput.Expect(!ok, "a span") }},
		{Name: "nil Recorder.Spans", Call: func() error { return badinput.Expect(len(nilRec.Spans()) == 0, "%v", nilRec.Spans()) }},
		{Name: "nil Recorder.WriteTrace", Call: func() error { return nilRec.WriteTrace(&buf) }, Text: "nil *Recorder"},
		{Name: "Recorder.WriteTrace(nil)", Call: func() error { return new(viz.Recorder).WriteTrace(nil) }, Text: "nil writer"},
		{Name: "Recorder.WriteTrace(nil *bytes.Buffer)", Call: func() error { return new(viz.Recorder).WriteTrace(nilBuf) }, Text: "nil writer"},
		{Name: "Recorder.Observe(events of nil tasks)", Call: func() error {
			var r viz.Recorder
			r.Observe(exec.Event{Kind: exec.EventStarted})
			r.Observe(exec.Event{Kind: exec.EventStarted, Task: nilTask.Ref(), Time: time.Now()})
			return badinput.Expect(len(r.Spans()) == 0, "%v", r.Spans())
		}},
		{Name: "Recorder.Span(-5)", Call: func() error { _, ok := new(viz.Recorder).Span(-5); return badinput.Expect(!ok, "a span") }},
		{Name: "Span{}.Duration", Call: func() error { return badinput.Expect(viz.Span{}.Duration() == 0, "%v", viz.Span{}.Duration()) }},

		{Name: "nil Progress.Observe", Call: func() error { nilProgress.Observe(exec.Event{Kind: exec.EventFinished}); return nil }},
		{Name: "nil Progress.Stop", Call: func() error { nilProgress.Stop(); return nil }},
		{Name: "zero Progress", Call: func() error {
			var p viz.Progress
			p.Observe(exec.Event{Kind: exec.EventFinished, Task: nilTask.Ref()})
			p.Stop()
			p.Stop()
			return nil
		}},
		{Name: "NewProgress(nil, ForceProgress)", Call: func() error {
			p, err := viz.NewProgress(nil, viz.ForceProgress(), viz.ProgressEvery(time.Millisecond))
			p.Observe(exec.Event{Kind: exec.EventFinished, Task: nilTask.Ref()})
			p.Stop()
			return err
		}},
		{Name: "NewProgress(nil *bytes.Buffer, ForceProgress)", Call: func() error {
			p, err := viz.NewProgress(nilBuf, viz.ForceProgress(), viz.ProgressEvery(time.Millisecond))
			p.Stop()
			return err
		}},
		{Name: "NewProgress(zero ProgressOption)", Call: func() error {
			var out bytes.Buffer
			p, err := viz.NewProgress(&out, viz.ProgressOption{}, viz.ForceProgress())
			if err != nil {
				return err
			}
			p.Stop()
			return badinput.Expect(strings.Contains(out.String(), "0/0"), "%q", out.String())
		}},
		{Name: "NewProgress(ProgressEvery(0))", Call: func() error {
			p, err := viz.NewProgress(&buf, viz.ProgressEvery(0))
			return errors.Join(err, badinput.Expect(p == nil, "a Progress"))
		}, Want: graph.ErrInvalidOption, Text: "viz: ProgressEvery(0s)"},
		{Name: "NewProgress(ProgressEvery(-1s))", Call: func() error {
			_, err := viz.NewProgress(&buf, viz.ForceProgress(), viz.ProgressEvery(-time.Second))
			return err
		}, Want: graph.ErrInvalidOption, Text: "ProgressEvery(-1s)"},
	}
	badinput.Run(t, cases)
}
