package temporal

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emicklei/dot"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/viz"
)

// DOT draws the graph the run evolved, with evolve's viz package, from what
// the run recorded: a box per task coloured by how it ended, with how long
// it ran, an arrow from each task it read, and the tasks a flow added drawn
// inside a cluster with that flow. opts are viz's (Title, SummaryAbove);
// States is already given. It draws a run of RunTemporal as it draws one of
// RunLocal, since both record the same things; a run made with Record(false)
// has no records and draws as an empty graph.
//
// Why rebuild: viz draws an evolve graph and reads each task's state from
// it, so DOT rebuilds one, a task per record, added in ID order with its
// recorded creator (graph.Within) and its dependencies as inputs, and runs
// it, each task's function only giving back the recorded result or error.
// The registered functions never run. Tasks the run never ended (an
// unfinished run) are not run and draw as not run.
func (r *Report) DOT(opts ...viz.Option) (*dot.Graph, error) {
	g, rec, err := r.rebuild()
	if err != nil {
		return nil, err
	}
	return viz.DOT(g, append([]viz.Option{viz.States(rec)}, opts...)...)
}

// WriteTrace writes the run as a Chrome trace (JSON, trace-event format)
// that Perfetto (ui.perfetto.dev) and chrome://tracing open, with viz's
// Recorder.WriteTrace: one complete event per task that started, from its
// recorded start to its end, named after the task, on a row per worker
// named after the worker that ran it ("local-0", or a Temporal worker's
// identity), with its state, ID, creator and error as args. Times are
// microseconds from the first task's start. For a retried task the span
// runs from its first attempt's start to its last attempt's end.
func (r *Report) WriteTrace(w io.Writer) error {
	if r == nil {
		return errors.New("evolve/temporal: trace: nil *Report")
	}
	_, rec, err := r.rebuild()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := rec.WriteTrace(&buf); err != nil {
		return err
	}
	return renameRows(w, &buf, r.workers())
}

// workers returns the run's worker names, numbered in order of their first
// task's start (ties by name): the Recorder keys rows by number.
func (r *Report) workers() []string {
	type first struct {
		name string
		at   time.Time
	}
	seen := map[string]int{}
	var ws []first
	for _, t := range r.Tasks {
		if t.Start.IsZero() {
			continue
		}
		if i, ok := seen[t.Worker]; ok {
			if t.Start.Before(ws[i].at) {
				ws[i].at = t.Start
			}
			continue
		}
		seen[t.Worker] = len(ws)
		ws = append(ws, first{t.Worker, t.Start})
	}
	slices.SortFunc(ws, func(a, b first) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.name, b.name)) })
	names := make([]string, len(ws))
	for i, w := range ws {
		names[i] = w.name
	}
	return names
}

// rebuild makes the evolve graph and the Recorder that viz draws r from:
// see DOT.
func (r *Report) rebuild() (*graph.Graph, *viz.Recorder, error) {
	if r == nil {
		return nil, nil, errors.New("evolve/temporal: draw: nil *Report")
	}
	recs := slices.Clone(r.Tasks)
	slices.SortFunc(recs, func(a, b TaskRecord) int { return cmp.Compare(a.ID, b.ID) })
	g := graph.New()
	tasks := make(map[int64]graph.Task[json.RawMessage], len(recs))
	var targets []graph.Task[json.RawMessage]
	for i := range recs {
		tr := &recs[i]
		if _, dup := tasks[tr.ID]; dup {
			return nil, nil, fmt.Errorf("evolve/temporal: draw: two records of task #%d", tr.ID)
		}
		ins := make([]graph.Task[json.RawMessage], len(tr.Deps))
		for j, d := range tr.Deps {
			t, ok := tasks[d]
			if !ok {
				return nil, nil, fmt.Errorf("evolve/temporal: draw: task %q #%d reads #%d, which is not a task recorded before it", tr.Name, tr.ID, d)
			}
			ins[j] = t
		}
		var b graph.Builder = g
		if tr.Creator >= 0 {
			c, ok := tasks[tr.Creator]
			if !ok {
				return nil, nil, fmt.Errorf("evolve/temporal: draw: task %q #%d was added by #%d, which is not a task recorded before it", tr.Name, tr.ID, tr.Creator)
			}
			b = graph.Within(c)
		}
		var opts []graph.Option
		if tr.Priority != 0 {
			opts = append(opts, graph.Priority(tr.Priority))
		}
		t := graph.AddN(b, tr.Name, ins, replay(tr), opts...)
		if err := t.Err(); err != nil {
			return nil, nil, fmt.Errorf("evolve/temporal: draw: task %q #%d: %w", tr.Name, tr.ID, err)
		}
		tasks[tr.ID] = t
		switch tr.State {
		case "done", "failed", "skipped":
			targets = append(targets, t)
		}
	}
	if len(targets) > 0 {
		// Failed tasks fail the run, and their dependents are skipped as
		// they were: the error is what the drawing shows.
		_ = exec.Run(context.Background(), g, exec.Targets(targets...))
	}

	// The Recorder gets the recorded times, not the replay's.
	type event struct {
		at time.Time
		e  exec.Event
	}
	names := r.workers()
	num := make(map[string]int, len(names))
	for i, n := range names {
		num[n] = i
	}
	var evs []event
	for _, tr := range recs {
		t := tasks[tr.ID].Ref()
		worker := -1
		if !tr.Start.IsZero() {
			worker = num[tr.Worker]
			evs = append(evs, event{tr.Start, exec.Event{Kind: exec.EventStarted, Task: t, Time: tr.Start, Worker: worker}})
		}
		if tr.End.IsZero() {
			continue
		}
		kind := exec.EventFinished
		switch tr.State {
		case "done":
		case "skipped":
			kind = exec.EventSkipped
		case "cancelled":
			kind = exec.EventCancelled
		default:
			kind = exec.EventFailed
		}
		evs = append(evs, event{tr.End, exec.Event{Kind: kind, Task: t, Time: tr.End, Worker: worker, Err: tr.Err}})
	}
	// In time order, so that the Recorder's base is the first event.
	slices.SortStableFunc(evs, func(a, b event) int { return a.at.Compare(b.at) })
	rec := new(viz.Recorder)
	for _, e := range evs {
		rec.Observe(e.e)
	}
	return g, rec, nil
}

// replay is the function of a rebuilt task: it gives back what the run
// recorded.
func replay(tr *TaskRecord) func(context.Context, []json.RawMessage) (json.RawMessage, error) {
	res, err, state := tr.Result, tr.Err, tr.State
	return func(context.Context, []json.RawMessage) (json.RawMessage, error) {
		switch {
		case state == "done":
			return res, nil
		case err != nil:
			return nil, err
		default:
			return nil, fmt.Errorf("evolve/temporal: %s", state)
		}
	}
}

// renameRows copies a trace written by viz.Recorder.WriteTrace, one event a
// line, from src to w, naming the row of worker i ("worker i", and its
// extra rows "worker i (k)") after names[i].
func renameRows(w io.Writer, src io.Reader, names []string) error {
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"thread_name"`)) {
			line = renameRow(line, names)
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("evolve/temporal: trace: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("evolve/temporal: trace: %w", err)
	}
	return nil
}

// renameRow renames one thread_name event; a line it does not understand
// is kept as it is.
func renameRow(line []byte, names []string) []byte {
	body, comma := bytes.CutSuffix(line, []byte(","))
	var ev map[string]any
	if json.Unmarshal(body, &ev) != nil {
		return line
	}
	args, _ := ev["args"].(map[string]any)
	name, _ := args["name"].(string)
	rest, ok := strings.CutPrefix(name, "worker ")
	if !ok {
		return line
	}
	num, extra, _ := strings.Cut(rest, " ")
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 || i >= len(names) || names[i] == "" {
		return line
	}
	args["name"] = strings.TrimSpace(names[i] + " " + extra)
	out, err := json.Marshal(ev)
	if err != nil {
		return line
	}
	if comma {
		out = append(out, ',')
	}
	return out
}
