package viz

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// BenchmarkRecorderObserve is the cost of recording one event, from many
// goroutines at once as workers report: the cost an attached Recorder adds
// to a run, three events per task.
func BenchmarkRecorderObserve(b *testing.B) {
	g := graph.New()
	const n = 1 << 14
	tasks := make([]graph.Ref, n)
	for i := range tasks {
		tasks[i] = graph.Add(g, "t", func(context.Context) (int, error) { return 0, nil }).Ref()
	}
	var rec Recorder
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			rec.Observe(exec.Event{Kind: exec.EventStarted, Task: tasks[i&(n-1)], Time: now, Worker: 1})
			i += 7
		}
	})
}

// BenchmarkProgressObserve is the cost of counting one event in a drawn
// progress bar.
func BenchmarkProgressObserve(b *testing.B) {
	g := graph.New()
	const n = 1 << 14
	tasks := make([]graph.Ref, n)
	for i := range tasks {
		tasks[i] = graph.Add(g, "t", func(context.Context) (int, error) { return 0, nil }).Ref()
	}
	p := mustProgress(io.Discard, ForceProgress(), ProgressEvery(time.Hour))
	defer p.Stop()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p.Observe(exec.Event{Kind: exec.EventFinished, Task: tasks[i&(n-1)], Time: time.Time{}, Worker: 1})
			i += 7
		}
	})
}

// BenchmarkDOTSummary100k builds the summary DOT of a graph that grew to
// 101,000 tasks in a run.
func BenchmarkDOTSummary100k(b *testing.B) {
	var rec Recorder
	g := grow(b, 1000, 100, &rec)
	b.ResetTimer()
	for b.Loop() {
		mustDOT(g, States(&rec)).Write(io.Discard)
	}
}

// BenchmarkDOTDetail500 builds the detailed DOT of 500 tasks, the most the
// default threshold draws one by one.
func BenchmarkDOTDetail500(b *testing.B) {
	var rec Recorder
	g := grow(b, 5, 99, &rec)
	b.ResetTimer()
	for b.Loop() {
		mustDOT(g, States(&rec)).Write(io.Discard)
	}
}
