package viz

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

func TestRecorderRun(t *testing.T) {
	var rec Recorder
	g := runEvolving(t, &rec)
	spans := rec.Spans()
	if len(spans) != g.Len()-1 { // the value never runs
		t.Fatalf("%d spans for %d tasks and a value", len(spans), g.Len()-1)
	}
	for i, s := range spans {
		if i > 0 && spans[i-1].Task.ID() >= s.Task.ID() {
			t.Errorf("spans out of ID order at %d", i)
		}
		if s.State != s.Task.State() {
			t.Errorf("%s #%d: recorded %s, is %s", s.Task.Name(), s.Task.ID(), s.State, s.Task.State())
		}
		switch s.State {
		case graph.Done, graph.Failed:
			if s.Start.IsZero() || s.End.Before(s.Start) || s.Ready.After(s.Start) || s.Worker < 0 || s.EndWorker < 0 {
				t.Errorf("%s #%d: span %+v", s.Task.Name(), s.Task.ID(), s)
			}
		case graph.Skipped:
			if !s.Start.IsZero() || s.Duration() != 0 || s.Worker != -1 || s.Err == nil {
				t.Errorf("skipped %s: span %+v", s.Task.Name(), s)
			}
		}
		if got, ok := rec.Span(s.Task.ID()); !ok || got.End != s.End {
			t.Errorf("Span(%d) = %+v, %v", s.Task.ID(), got, ok)
		}
	}
	if _, ok := rec.Span(-1); ok {
		t.Error("Span(-1) found something")
	}
	if _, ok := rec.Span(1 << 40); ok {
		t.Error("Span(huge) found something")
	}
	rec.Reset()
	if n := len(rec.Spans()); n != 0 {
		t.Errorf("%d spans after Reset", n)
	}
}

// TestRecorderFlow checks that a flow's second Ready (when its subgraph
// joins) keeps its start, and that a span covers the join.
func TestRecorderFlow(t *testing.T) {
	g := graph.New()
	var kid graph.Task[int]
	f := graph.Flow(g, "flow", func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
		kid = graph.Add(b, "kid", func(context.Context) (int, error) {
			time.Sleep(2 * time.Millisecond)
			return 1, nil
		})
		return kid, nil
	})
	var rec Recorder
	if err := exec.Run(context.Background(), g, exec.Workers(2), exec.Observe(&rec)); err != nil {
		t.Fatal(err)
	}
	fs, _ := rec.Span(f.ID())
	ks, _ := rec.Span(kid.ID())
	if fs.State != graph.Done || fs.Start.IsZero() || fs.End.Before(ks.End) {
		t.Errorf("flow span %+v does not cover its kid's %+v", fs, ks)
	}
}

// TestRecorderRerun checks that a second run of a task replaces its record.
func TestRecorderRerun(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	var rec Recorder
	ready := func(at time.Time) {
		rec.Observe(exec.Event{Kind: exec.EventReady, Task: a.Ref(), Time: at, Worker: -1})
	}
	start := func(at time.Time) {
		rec.Observe(exec.Event{Kind: exec.EventStarted, Task: a.Ref(), Time: at, Worker: 1})
	}
	end := func(at time.Time, k exec.EventKind) {
		rec.Observe(exec.Event{Kind: k, Task: a.Ref(), Time: at, Worker: 1})
	}
	ms := func(n int) time.Time { return epoch.Add(time.Duration(n) * time.Millisecond) }
	ready(ms(0))
	start(ms(1))
	rec.Observe(exec.Event{Kind: exec.EventRetried, Task: a.Ref(), Time: ms(2), Worker: 1})
	end(ms(3), exec.EventFailed)
	if s, _ := rec.Span(a.ID()); s.Retries != 1 || s.Duration() != 2*time.Millisecond || s.State != graph.Failed {
		t.Errorf("first run: %+v", s)
	}
	ready(ms(10))
	start(ms(12))
	end(ms(13), exec.EventFinished)
	if s, _ := rec.Span(a.ID()); s.Retries != 0 || s.Duration() != time.Millisecond || s.State != graph.Done || !s.Ready.Equal(ms(10)) {
		t.Errorf("second run: %+v", s)
	}
	end(ms(20), exec.EventCancelled) // a third run, cancelled while waiting
	if s, _ := rec.Span(a.ID()); !s.Start.IsZero() || s.State != graph.Cancelled || s.Worker != -1 {
		t.Errorf("third run: %+v", s)
	}
}

// TestRecorderCreated: EventCreated, told of a task added while the graph
// runs, begins the task's record without ending it: the task waits.
func TestRecorderCreated(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	var rec Recorder
	rec.Observe(exec.Event{Kind: exec.EventCreated, Task: a.Ref(), Time: epoch, Worker: -1})
	if s, ok := rec.Span(a.ID()); !ok || !s.End.IsZero() || s.State != graph.Waiting || s.Worker != -1 || s.EndWorker != -1 {
		t.Errorf("after EventCreated: %+v, %v; want a waiting task's record, not ended", s, ok)
	}
	rec.Observe(exec.Event{Kind: exec.EventReady, Task: a.Ref(), Time: epoch.Add(time.Millisecond), Worker: -1})
	if s, _ := rec.Span(a.ID()); !s.Ready.Equal(epoch.Add(time.Millisecond)) || !s.End.IsZero() || s.State != graph.Ready {
		t.Errorf("after EventReady: %+v", s)
	}
}

// TestRecorderConcurrent hammers a Recorder from many goroutines, for the
// race detector, while another goroutine reads it.
func TestRecorderConcurrent(t *testing.T) {
	g := graph.New()
	var tasks []graph.Ref
	for range 1000 {
		tasks = append(tasks, graph.Add(g, "t", func(context.Context) (int, error) { return 0, nil }).Ref())
	}
	var rec Recorder
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(tasks); i += 8 {
				now := time.Now()
				rec.Observe(exec.Event{Kind: exec.EventReady, Task: tasks[i], Time: now, Worker: -1})
				rec.Observe(exec.Event{Kind: exec.EventStarted, Task: tasks[i], Time: now, Worker: w})
				rec.Observe(exec.Event{Kind: exec.EventFinished, Task: tasks[i], Time: now.Add(time.Microsecond), Worker: w})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			rec.Spans()
		}
	})
	wg.Wait()
	spans := rec.Spans()
	if len(spans) != len(tasks) {
		t.Fatalf("%d spans, want %d", len(spans), len(tasks))
	}
	for _, s := range spans {
		if s.State != graph.Done || s.Duration() != time.Microsecond || s.Worker != int(s.Task.ID()%8) {
			t.Errorf("span %+v", s)
		}
	}
}
