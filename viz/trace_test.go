package viz

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// parsedTrace is the part of the trace-event format the tests read.
type parsedTrace struct {
	DisplayTimeUnit string `json:"displayTimeUnit"`
	TraceEvents     []struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		Ts   float64        `json:"ts"`
		Dur  float64        `json:"dur"`
		Pid  int            `json:"pid"`
		Tid  int            `json:"tid"`
		Args map[string]any `json:"args"`
	} `json:"traceEvents"`
}

func parseTrace(t *testing.T, rec *Recorder) parsedTrace {
	t.Helper()
	var buf bytes.Buffer
	if err := rec.WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	var tr parsedTrace
	if err := json.Unmarshal(buf.Bytes(), &tr); err != nil {
		t.Fatalf("the trace is not JSON: %v\n%s", err, buf.Bytes())
	}
	return tr
}

// TestTraceOfRun records a real run and finds exactly one complete event
// per task that finished or failed, with its state and creator.
func TestTraceOfRun(t *testing.T) {
	var rec Recorder
	g := grow(t, 10, 200, &rec)
	tr := parseTrace(t, &rec)
	complete := map[int64]int{}
	named := map[int]bool{} // tids with a thread_name
	var tids []int
	for _, e := range tr.TraceEvents {
		switch e.Ph {
		case "X":
			id := int64(e.Args["id"].(float64))
			complete[id]++
			if e.Dur < 0 || e.Ts < 0 {
				t.Errorf("event %v has a negative time", e)
			}
			tids = append(tids, e.Tid)
			if e.Name == "child" && e.Args["creator"] == nil {
				t.Errorf("child #%d has no creator in its args", id)
			}
		case "M":
			if e.Name == "thread_name" {
				named[e.Tid] = true
			}
		default:
			t.Errorf("unexpected event phase %q", e.Ph)
		}
	}
	ended := 0
	for _, task := range tasksOf(g) {
		switch task.State() {
		case graph.Done, graph.Failed:
			ended++
			if complete[task.ID()] != 1 {
				t.Errorf("%s #%d (%s) has %d complete events, want 1", task.Name(), task.ID(), task.State(), complete[task.ID()])
			}
		}
	}
	if ended != g.Len() || len(complete) != ended {
		t.Errorf("%d tasks ended of %d; %d have complete events", ended, g.Len(), len(complete))
	}
	for _, tid := range tids {
		if !named[tid] {
			t.Errorf("row %d has no thread_name", tid)
		}
	}
}

// TestTraceGolden writes the trace of made-up events: fixed times, two
// workers whose spans overlap without nesting (so extra rows appear), a
// failure with its error, and a skipped task, which has no span.
func TestTraceGolden(t *testing.T) {
	g := runEvolving(t)
	var buf bytes.Buffer
	if err := syntheticRecorder(g).WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "trace.json.golden", buf.Bytes())
}

// TestTraceRows checks the row policy on spans of one worker: nested spans
// share a row, crossing ones get another, and one that starts after all
// ended goes back to the first.
func TestTraceRows(t *testing.T) {
	g := graph.New()
	var ts []graph.Ref
	for range 4 {
		ts = append(ts, graph.Add(g, "t", func(context.Context) (int, error) { return 0, nil }).Ref())
	}
	at := func(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }
	var rec Recorder
	span := func(i, from, to int) {
		rec.Observe(exec.Event{Kind: exec.EventStarted, Task: ts[i], Time: at(from), Worker: 3})
		rec.Observe(exec.Event{Kind: exec.EventFinished, Task: ts[i], Time: at(to), Worker: 3})
	}
	span(0, 0, 10) // outer
	span(1, 2, 5)  // nested in 0
	span(2, 8, 12) // crosses 0's end
	span(3, 20, 21)
	tr := parseTrace(t, &rec)
	tid := map[int64]int{}
	for _, e := range tr.TraceEvents {
		if e.Ph == "X" {
			tid[int64(e.Args["id"].(float64))] = e.Tid
		}
	}
	if tid[0] != 3 || tid[1] != 3 || tid[2] == 3 || tid[3] != 3 {
		t.Errorf("rows %v: want 0, 1 and 3 on worker 3's row, 2 on another", tid)
	}
}
