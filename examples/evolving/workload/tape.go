package workload

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Tape records when each Parse and Process call of a run began and ended,
// so that [Workload.Replay] can work out what the run's own decisions
// would have cost with no overhead at all. Parse and Process record in the
// Tape their context carries (see [WithTape]). The zero value is ready to
// use; a Tape is safe for concurrent use.
//
// Recording reads the clock twice per call and appends under a mutex held
// for the append alone: nothing waits for anything else, so recording
// does not change which task runs when.
type Tape struct {
	mu    sync.Mutex
	calls []call
}

// call is one recorded Parse (file set) or Process (item set) call.
type call struct {
	file       string  // the parsed file's name, for a Parse call
	x          float64 // the processed item's value, for a Process call
	parse      bool
	start, end time.Time
}

func (t *Tape) record(c call) {
	t.mu.Lock()
	t.calls = append(t.calls, c)
	t.mu.Unlock()
}

// Len returns the number of calls recorded so far.
func (t *Tape) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.calls)
}

// tapeKey is the context key of the Tape that Parse and Process record in.
type tapeKey struct{}

// WithTape returns a copy of ctx in which Parse and Process record in t.
// Contexts derived from it (the contexts an executor gives the tasks of a
// run started with it) record there too.
func WithTape(ctx context.Context, t *Tape) context.Context {
	return context.WithValue(ctx, tapeKey{}, t)
}

// tapeIn returns the Tape ctx carries, or nil.
func tapeIn(ctx context.Context) *Tape {
	t, _ := ctx.Value(tapeKey{}).(*Tape)
	return t
}

// Replay returns the makespan of a run with zero overhead that makes the
// same decisions as the run t recorded: it starts the calls in the order
// the run started them, each as soon as one of workers is free and, for a
// Process call, the parse of its item's file has ended, and each takes as
// long as it took in the run. The run's sleeps and their errors are in
// both, and so is its order, whether a priority or a slow client chose it;
// what the run took beyond the replay is what the executor and the client
// code cost: the time from when a call could have started to when it did.
//
// A replay never takes longer than the run it replays: a run that starts
// the same calls in the same order, each no earlier than a worker and its
// parse allow, cannot end before the schedule that starts each at the
// earliest such instant.
//
// It fails if t holds a call that is not of w (a file or an item w does
// not have), a Process call before its file was parsed, or workers < 1.
func (w Workload) Replay(workers int, t *Tape) (time.Duration, error) {
	if workers < 1 {
		return 0, fmt.Errorf("workload: Replay: workers = %d, want at least 1", workers)
	}
	fileOf := map[float64]string{}
	files := map[string]bool{}
	for _, f := range w.Files {
		files[f.Name] = true
		for _, it := range f.Items {
			if other, dup := fileOf[it.X]; dup {
				return 0, fmt.Errorf("workload: Replay: items of %s and %s have the same value %v: their calls cannot be told apart", other, f.Name, it.X)
			}
			fileOf[it.X] = f.Name
		}
	}
	t.mu.Lock()
	calls := slices.Clone(t.calls)
	t.mu.Unlock()
	if len(calls) == 0 {
		return 0, nil
	}
	// Stable: calls that began at one reading of the clock keep the order
	// they were recorded in.
	slices.SortStableFunc(calls, func(a, b call) int { return a.start.Compare(b.start) })
	free := make([]time.Duration, workers) // when each worker is free; 0 is the first call's start
	parsed := map[string]time.Duration{}   // when each file's parse ends in the replay
	var makespan time.Duration
	for _, c := range calls {
		ready := time.Duration(0)
		name := c.file
		if !c.parse {
			var ok bool
			if name, ok = fileOf[c.x]; !ok {
				return 0, fmt.Errorf("workload: Replay: a Process call of an item (%v) that no file has", c.x)
			}
			if ready, ok = parsed[name]; !ok {
				return 0, fmt.Errorf("workload: Replay: an item of %s was processed before %s was parsed", name, name)
			}
		} else if !files[name] {
			return 0, fmt.Errorf("workload: Replay: a Parse call of %q, which is no file of the workload", name)
		}
		k := 0
		for i := range free {
			if free[i] < free[k] {
				k = i
			}
		}
		end := max(free[k], ready) + c.end.Sub(c.start)
		free[k] = end
		if c.parse {
			parsed[name] = end
		}
		makespan = max(makespan, end)
	}
	return makespan, nil
}
