package viz

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/evolve-dag/evolve/graph"
)

// traceEvent is one entry of the Chrome trace-event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open. See "Trace Event Format",
// https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat,omitempty"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`            // microseconds
	Dur  *float64       `json:"dur,omitempty"` // microseconds; complete events only
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Args map[string]any `json:"args,omitempty"`
}

// tracePid is the one process of a trace: a run is one program.
const tracePid = 1

// WriteTrace writes what r recorded as a Chrome trace (JSON, trace-event
// format) that Perfetto and chrome://tracing open: one complete event
// ("ph": "X") per task that started, from its start to its end, on the row
// (tid) of the worker that started it, with its state, ID, creator, retries
// and error as args. Times are microseconds from the first recorded event.
// Tasks that never started (skipped, cancelled while waiting) have no span
// and are left out.
//
// A worker that waits for a task it added may run that task itself, so
// spans on one row nest as calls do. Spans that would overlap without
// nesting on one row (several goroutines of one task waiting at once) are
// moved to extra rows named after the worker, so every row stays a valid
// stack.
func (r *Recorder) WriteTrace(w io.Writer) error {
	switch {
	case r == nil:
		return errors.New("viz: trace: nil *Recorder")
	case isNil(w):
		return errors.New("viz: trace: nil writer")
	}
	spans := r.Spans()
	run := make([]Span, 0, len(spans))
	base := time.Time{}
	for _, s := range spans {
		if s.Start.IsZero() {
			continue
		}
		run = append(run, s)
		if base.IsZero() || s.Start.Before(base) {
			base = s.Start
		}
		if !s.Ready.IsZero() && s.Ready.Before(base) {
			base = s.Ready
		}
	}
	// By start, longer first, so that a span is placed after every span
	// that contains it.
	slices.SortStableFunc(run, func(a, b Span) int {
		return cmp.Or(a.Start.Compare(b.Start), b.End.Compare(a.End))
	})
	// Microseconds from whole nanoseconds, so that 1234 ns is 1.234, not
	// the float noise that subtracting two converted times leaves.
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

	rows := newRows()
	events := make([]traceEvent, 0, len(run)+16)
	for _, s := range run {
		end := s.End
		if end.IsZero() {
			end = s.Start // still running when written: a zero-length span marks the start
		}
		tid := rows.place(s.Worker, s.Start, end)
		dur := us(end.Sub(s.Start))
		args := map[string]any{"id": s.Task.ID(), "state": s.State.String()}
		if c := s.Task.Creator(); c != (graph.Ref{}) {
			args["creator"] = c.Name() + " #" + strconv.FormatInt(c.ID(), 10)
		}
		if p := s.Task.Priority(); p != 0 {
			args["priority"] = p
		}
		if !s.Ready.IsZero() {
			args["queued_us"] = us(s.Start.Sub(s.Ready))
		}
		if s.Retries > 0 {
			args["retries"] = s.Retries
		}
		if s.Err != nil {
			args["error"] = s.Err.Error()
		}
		events = append(events, traceEvent{
			Name: s.Task.Name(), Cat: "task", Ph: "X",
			Ts: us(s.Start.Sub(base)), Dur: &dur, Pid: tracePid, Tid: tid, Args: args,
		})
	}
	slices.SortFunc(rows.all, func(a, b *row) int { return cmp.Compare(a.sort, b.sort) })
	meta := []traceEvent{{Name: "process_name", Ph: "M", Pid: tracePid, Args: map[string]any{"name": "evolve run"}}}
	for _, row := range rows.all {
		meta = append(meta,
			traceEvent{Name: "thread_name", Ph: "M", Pid: tracePid, Tid: row.tid, Args: map[string]any{"name": row.name}},
			traceEvent{Name: "thread_sort_index", Ph: "M", Pid: tracePid, Tid: row.tid, Args: map[string]any{"sort_index": row.sort}})
	}

	// One event per line: the file stays greppable and diffable.
	bw := bufio.NewWriter(w)
	bw.WriteString("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")
	for i, e := range append(meta, events...) {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("viz: trace: %w", err)
		}
		if i > 0 {
			bw.WriteString(",\n")
		}
		bw.Write(b)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("viz: trace: %w", err)
	}
	return nil
}

// rows assigns spans to trace rows. Row tid = worker holds a worker's
// spans while they nest; a span that would cross one goes to the first
// extra row of that worker where it nests, created as needed.
type rows struct {
	byWorker map[int][]*row
	all      []*row
	next     int // the tid of the next extra row; extra rows come after worker rows
}

type row struct {
	tid   int
	sort  int // keeps a worker's extra rows under its own
	name  string
	stack []time.Time // ends of the open spans, innermost last
}

func newRows() *rows { return &rows{byWorker: map[int][]*row{}, next: 1 << 20} }

// place returns the tid for a span; spans arrive sorted by start, longest
// first.
func (rs *rows) place(worker int, start, end time.Time) int {
	for _, r := range rs.byWorker[worker] {
		for len(r.stack) > 0 && !r.stack[len(r.stack)-1].After(start) {
			r.stack = r.stack[:len(r.stack)-1] // closed before this one starts
		}
		if n := len(r.stack); n == 0 || !end.After(r.stack[n-1]) {
			r.stack = append(r.stack, end)
			return r.tid
		}
	}
	k := len(rs.byWorker[worker])
	r := &row{tid: worker, sort: worker*64 + k, name: "worker " + strconv.Itoa(worker), stack: []time.Time{end}}
	if k > 0 {
		r.tid = rs.next
		rs.next++
		r.name += " (" + strconv.Itoa(k) + ")"
	}
	rs.byWorker[worker] = append(rs.byWorker[worker], r)
	rs.all = append(rs.all, r)
	return r.tid
}
