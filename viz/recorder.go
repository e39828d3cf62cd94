package viz

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// Recorder is an exec.Observer that records, for each task of a run, when
// it became ready, started and ended, on which worker, and how it ended.
// DOT reads durations from it (see States) and WriteTrace turns it into a
// timeline. The zero value is ready to use; a Recorder must not be copied
// after first use.
//
//	var rec viz.Recorder
//	err := exec.Run(ctx, g, exec.Observe(&rec))
//
// Concurrency. Observe is called by the executor from many workers at once.
// Records are kept in 64 stripes chosen by task ID, each with its own lock
// and its own slice indexed by ID/64, so two workers contend only when they
// report tasks whose IDs are equal modulo 64 at the same moment, and
// recording allocates nothing but the amortised growth of the slices. An
// event costs about 50 ns with two workers reporting at once
// (BenchmarkRecorderObserve). Reading methods (Span, Spans, WriteTrace)
// may be called while a run goes on; they see each task as of its last
// event.
//
// A graph may run several times: a task's record then describes its last
// run. A nil *Recorder records nothing: its Observe and Reset do nothing,
// Span and Spans find nothing, and WriteTrace returns an error.
type Recorder struct {
	once    sync.Once
	base    time.Time // the time of the first event; records hold offsets from it
	stripes [nStripes]stripe
}

// nStripes is a power of two, so the stripe is ID&(nStripes-1). 64 is well
// above any worker count where lock contention would show, and small enough
// that the Recorder stays a single allocation of 8 KiB.
const nStripes = 64

// stripe is one lock and the records of the IDs it owns. The padding keeps
// two stripes' locks off the same cache line, so workers hitting different
// stripes do not slow each other down.
type stripe struct {
	mu   sync.Mutex
	recs []record // recs[id/nStripes]; guarded by mu
	_    [128 - 32]byte
}

// record is what a Recorder keeps per task. Times are nanoseconds since the
// Recorder's base, valid when their bit is in seen.
type record struct {
	task              graph.Ref
	err               error
	ready, start, end int64
	worker, endWorker int32
	retries           int32
	last              exec.EventKind
	seen              uint8 // sawReady | sawStart | sawEnd
}

const (
	sawReady = 1 << iota
	sawStart
	sawEnd
)

// Span is what a Recorder knows about one task.
type Span struct {
	Task      graph.Ref
	Ready     time.Time   // when its inputs were all done; zero if not seen
	Start     time.Time   // when its function started; zero if it never started
	End       time.Time   // when it finished, failed, was skipped or cancelled; zero while not ended
	Worker    int         // the worker that started it; -1 if it never started
	EndWorker int         // the worker that ended it; -1 when none did
	State     graph.State // where the task's last event left it
	Err       error       // for failed, skipped and cancelled tasks
	Retries   int         // attempts that failed and were retried
}

// Duration is how long the task's function ran, including any time it spent
// waiting for tasks it added or, for a flow, for its subgraph to join. It is
// 0 for a task that has not both started and ended.
func (s Span) Duration() time.Duration {
	if s.Start.IsZero() || s.End.IsZero() {
		return 0
	}
	return s.End.Sub(s.Start)
}

// Observe records e. It implements exec.Observer.
func (r *Recorder) Observe(e exec.Event) {
	if r == nil || e.Task == (graph.Ref{}) {
		return
	}
	id := e.Task.ID()
	if id < 0 {
		return // a nil handle, or one in no graph: no run reports those
	}
	r.once.Do(func() { r.base = e.Time })
	at := int64(e.Time.Sub(r.base)) // monotonic when both times carry a reading
	s := &r.stripes[id&(nStripes-1)]
	i := int(id / nStripes)
	s.mu.Lock()
	if i >= len(s.recs) {
		// Grow geometrically; the fresh tail of a new array is zeroed, and
		// the old tail beyond len was never written (recs only shrinks to nil).
		s.recs = slices.Grow(s.recs, i+1-len(s.recs))[:i+1]
	}
	rec := &s.recs[i]
	r.apply(rec, e, at)
	s.mu.Unlock()
}

// apply updates rec with e, which happened at offset at; the caller holds
// rec's stripe lock.
func (r *Recorder) apply(rec *record, e exec.Event, at int64) {
	fresh := record{worker: -1, endWorker: -1}
	switch e.Kind {
	case exec.EventReady:
		if rec.seen&(sawStart|sawEnd) == sawStart {
			// A flow becomes ready a second time when its subgraph has
			// joined: it is still the same run, still running.
			return
		}
		// Any other Ready begins a new run of the task.
		*rec = fresh
		rec.ready = at
		rec.seen = sawReady
	case exec.EventStarted:
		if rec.seen&sawEnd != 0 || rec.task == (graph.Ref{}) { // no Ready seen for this run: the observer came late
			*rec = fresh
		}
		rec.start, rec.worker = at, int32(e.Worker)
		rec.seen |= sawStart
	case exec.EventRetried:
		rec.retries++
	case exec.EventCreated:
		// Added while the graph runs: a new run of the task begins, which
		// its Ready, next, starts over.
		*rec = fresh
	default: // Finished, Failed, Skipped, Cancelled
		if rec.seen&sawEnd != 0 || rec.task == (graph.Ref{}) { // ended without Ready or Started: cancelled while waiting
			*rec = fresh
		}
		rec.end, rec.endWorker, rec.err = at, int32(e.Worker), e.Err
		rec.seen |= sawEnd
	}
	rec.task = e.Task
	rec.last = e.Kind
}

// Span returns the record of the task with the given ID, and false if no
// event about that task was recorded.
func (r *Recorder) Span(id int64) (Span, bool) {
	if r == nil || id < 0 {
		return Span{}, false
	}
	s := &r.stripes[id&(nStripes-1)]
	i := int(id / nStripes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.recs) || s.recs[i].task == (graph.Ref{}) {
		return Span{}, false
	}
	return r.span(&s.recs[i]), true
}

// Spans returns every record, in task ID (creation) order.
func (r *Recorder) Spans() []Span {
	if r == nil {
		return nil
	}
	var out []Span
	for k := range r.stripes {
		s := &r.stripes[k]
		s.mu.Lock()
		for i := range s.recs {
			if s.recs[i].task != (graph.Ref{}) {
				out = append(out, r.span(&s.recs[i]))
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Span) int { return cmp.Compare(a.Task.ID(), b.Task.ID()) })
	return out
}

// Reset forgets every record, so the Recorder can observe another graph.
// It must not be called while a run reports to it.
func (r *Recorder) Reset() {
	if r == nil {
		return
	}
	for k := range r.stripes {
		s := &r.stripes[k]
		s.mu.Lock()
		s.recs = nil
		s.mu.Unlock()
	}
	r.once = sync.Once{}
}

// span converts a record; the caller holds its stripe's lock.
func (r *Recorder) span(rec *record) Span {
	at := func(bit uint8, ns int64) time.Time {
		if rec.seen&bit == 0 {
			return time.Time{}
		}
		return r.base.Add(time.Duration(ns))
	}
	return Span{
		Task:      rec.task,
		Ready:     at(sawReady, rec.ready),
		Start:     at(sawStart, rec.start),
		End:       at(sawEnd, rec.end),
		Worker:    int(rec.worker),
		EndWorker: int(rec.endWorker),
		Err:       rec.err,
		Retries:   int(rec.retries),
		State:     stateOf(rec.last),
	}
}

// stateOf is the state a task's last event left it in.
func stateOf(k exec.EventKind) graph.State {
	switch k {
	case exec.EventCreated:
		return graph.Waiting
	case exec.EventReady:
		return graph.Ready
	case exec.EventStarted, exec.EventRetried:
		return graph.Running
	case exec.EventFinished:
		return graph.Done
	case exec.EventFailed:
		return graph.Failed
	case exec.EventSkipped:
		return graph.Skipped
	case exec.EventCancelled:
		return graph.Cancelled
	}
	return graph.Idle
}
