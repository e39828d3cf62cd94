package temporal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
	"github.com/evolve-dag/evolve/viz"
)

// TestDrawReport draws runs of two programs, one evolving a fan-out through
// flows and one whose tasks fail, in-process and on the server, and checks
// the drawing and the trace against the records: a box per task in its
// recorded state, an arrow per dependency, a cluster per creator, and a
// complete trace event per task that ran, with its name, duration and
// worker.
func TestDrawReport(t *testing.T) {
	ctx := context.Background()
	_, fan, err := temporal.RunLocal(ctx, seed.Reg, seed.FanOut, seed.FanOutIn{Flows: 3, Per: 4}, temporal.Workers(3))
	if err != nil {
		t.Fatal(err)
	}
	_, bad, err := temporal.RunLocal(ctx, seed.Reg, seed.Errors, seed.ErrorsIn{}, temporal.Workers(3))
	if err == nil {
		t.Fatal("the errors program succeeded")
	}
	// The same two programs on the server: a Temporal run's records draw
	// the same way.
	_, tfan, err := temporal.RunTemporal(ctx, tc, seed.FanOut, seed.FanOutIn{Flows: 3, Per: 4}, temporal.TaskQueue(queue))
	if err != nil {
		t.Fatal(err)
	}
	_, tbad, err := temporal.RunTemporal(ctx, tc, seed.Errors, seed.ErrorsIn{}, temporal.TaskQueue(queue))
	if err == nil {
		t.Fatal("the errors program succeeded on Temporal")
	}
	if tbad == nil {
		t.Fatal("a failed Temporal run returned no report")
	}
	for name, rep := range map[string]*temporal.Report{"fanout": fan, "errors": bad, "temporal/fanout": tfan, "temporal/errors": tbad} {
		t.Run(name, func(t *testing.T) {
			checkDOT(t, rep)
			checkTrace(t, rep)
		})
	}
}

var (
	// A task's box: its node ID, the first lines of its label, its tooltip's ID.
	boxRe  = regexp.MustCompile(`(?m)^\s*(n\d+)\[.*label="([^"]*)".*tooltip="#(\d+) `)
	edgeRe = regexp.MustCompile(`(?m)^\s*(n\d+)->(n\d+)(\[[^\]]*\])?;`)
)

func checkDOT(t *testing.T, rep *temporal.Report) {
	d, err := rep.DOT(viz.Title("run"))
	if err != nil {
		t.Fatal(err)
	}
	src := d.String()
	boxes := boxRe.FindAllStringSubmatch(src, -1)
	if len(boxes) != len(rep.Tasks) {
		t.Fatalf("%d task boxes, want one per task: %d\n%s", len(boxes), len(rep.Tasks), src)
	}
	idOf := map[string]int64{}
	for _, b := range boxes {
		id, _ := strconv.ParseInt(b[3], 10, 64)
		idOf[b[1]] = id
		if id < 0 || id >= int64(len(rep.Tasks)) {
			t.Fatalf("box %s is of task #%d, not a task of the run", b[1], id)
		}
		r := rep.Tasks[id]
		name, rest, _ := strings.Cut(b[2], `\n`)
		if name != r.Name || !strings.HasPrefix(rest, r.State) {
			t.Errorf("box of #%d reads %q, want %s in state %s", id, b[2], r.Name, r.State)
		}
		if r.State != "skipped" && !regexp.MustCompile(`\d(ns|µs|ms|s)`).MatchString(rest) {
			t.Errorf("box of #%d reads %q, without how long it ran", id, b[2])
		}
	}
	// Data arrows, one per dependency; and viz's dashed arrows from a
	// creator to each task it added that reads nothing.
	want, wantSpawn := map[string]bool{}, map[string]bool{}
	creators := map[int64]bool{}
	for _, r := range rep.Tasks {
		for _, dep := range r.Deps {
			want[fmt.Sprintf("#%d->#%d", dep, r.ID)] = true
		}
		if r.Creator >= 0 {
			creators[r.Creator] = true
			if len(r.Deps) == 0 {
				wantSpawn[fmt.Sprintf("#%d->#%d", r.Creator, r.ID)] = true
			}
		}
	}
	got, gotSpawn := map[string]bool{}, map[string]bool{}
	for _, e := range edgeRe.FindAllStringSubmatch(src, -1) {
		if strings.Contains(e[3], "invis") {
			continue // the legend's
		}
		from, ok1 := idOf[e[1]]
		to, ok2 := idOf[e[2]]
		if !ok1 || !ok2 {
			t.Errorf("arrow %s->%s between boxes that are not tasks", e[1], e[2])
			continue
		}
		k := fmt.Sprintf("#%d->#%d", from, to)
		m := got
		if strings.Contains(e[3], "dashed") {
			m = gotSpawn
		}
		if m[k] {
			t.Errorf("two arrows %s", k)
		}
		m[k] = true
	}
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("arrows %v, want one per dependency: %v", got, want)
	}
	if fmt.Sprint(gotSpawn) != fmt.Sprint(wantSpawn) {
		t.Errorf("dashed arrows %v, want one from a creator to each task it added that reads nothing: %v", gotSpawn, wantSpawn)
	}
	if len(creators) == 0 {
		t.Fatal("no task of the run was added by a flow")
	}
	if n := strings.Count(src, `label="added by `); n != len(creators) {
		t.Errorf("%d clusters of added tasks, want one per creator: %d", n, len(creators))
	}
}

func checkTrace(t *testing.T, rep *temporal.Report) {
	var buf bytes.Buffer
	if err := rep.WriteTrace(&buf); err != nil {
		t.Fatal(err)
	}
	var tr struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Ph   string         `json:"ph"`
			Dur  *float64       `json:"dur"`
			Tid  int            `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &tr); err != nil {
		t.Fatalf("the trace is not JSON: %v\n%s", err, buf.Bytes())
	}
	rows := map[int]string{}
	spans := map[int64]bool{}
	for _, e := range tr.TraceEvents {
		switch {
		case e.Ph == "M" && e.Name == "thread_name":
			rows[e.Tid], _ = e.Args["name"].(string)
		case e.Ph == "X":
			id := int64(e.Args["id"].(float64))
			if spans[id] {
				t.Errorf("two spans of #%d", id)
			}
			spans[id] = true
			if id < 0 || id >= int64(len(rep.Tasks)) {
				t.Fatalf("span of #%d, not a task of the run", id)
			}
			r := rep.Tasks[id]
			want := float64(r.End.Sub(r.Start).Nanoseconds()) / 1e3
			if e.Name != r.Name || e.Dur == nil || math.Abs(*e.Dur-want) > 0.001 {
				t.Errorf("span of #%d: %q for %v µs, want %q for %v µs", id, e.Name, e.Dur, r.Name, want)
			}
		}
	}
	ran := 0
	for _, r := range rep.Tasks {
		if !r.Start.IsZero() {
			ran++
			if !spans[r.ID] {
				t.Errorf("no span of #%d %s, which ran", r.ID, r.Name)
			}
		}
	}
	if ran == 0 || len(spans) != ran {
		t.Errorf("%d spans, want one per task that ran: %d", len(spans), ran)
	}
	// Rows are named after the workers that ran the tasks.
	for _, e := range tr.TraceEvents {
		if e.Ph == "X" {
			w := rep.Tasks[int64(e.Args["id"].(float64))].Worker
			if !strings.HasPrefix(rows[e.Tid], w) || w == "" {
				t.Errorf("span %s on row %q, want the row of %q", e.Name, rows[e.Tid], w)
			}
		}
	}
}
