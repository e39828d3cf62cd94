package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestRandomReruns builds a graph in rounds, between runs, and runs it
// after each round: the whole graph or a few targets. Between runs it
// releases kept results and adds ordering edges; some tasks fail their
// first attempt, some give an older task a new reader from inside the
// run (which brings it in if a run for targets left it out), and some
// wait for an older task. What it checks is what a graph that is run,
// grown and run again promises: a task runs only once its inputs have
// their results (it is given the right values), only if the run needs
// it (or a new reader brought it in), at most once per run unless a run
// for targets released its result and a new reader had it computed
// again (never for a kept task), and never again once it has a result in
// a run of the whole graph; a wait returns once its task has finished; a
// run of the whole graph leaves every task finished, and one that
// returns nil leaves every result right; a run for targets leaves what
// it does not need as it was.
//
// EVOLVE_RERUN_SEEDS (default 150) and EVOLVE_RERUN_FROM (default 1) set
// the seeds; each runs on one worker and on two.
func TestRandomReruns(t *testing.T) {
	seeds, from := envInt(t, "EVOLVE_RERUN_SEEDS", 150), envInt(t, "EVOLVE_RERUN_FROM", 1)
	if testing.Short() {
		seeds = min(seeds, 20)
	}
	for seed := from; seed < from+seeds; seed++ {
		for _, workers := range []int{1, 2} {
			if !rerunSeed(t, uint64(seed), workers) {
				t.Fatalf("seed %d, workers %d failed: replay with EVOLVE_RERUN_FROM=%d EVOLVE_RERUN_SEEDS=1", seed, workers, seed)
			}
		}
	}
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		t.Fatalf("%s=%q: want a number, at least 0", name, s)
	}
	return v
}

// rrTask is a task of TestRandomReruns: its result is base plus its
// inputs' results, which want holds.
type rrTask struct {
	h     graph.Task[int]
	in    []*rrTask
	after []*rrTask // ordered after these (graph.Order)
	base  int
	want  int
	flaky bool // fails its first attempt
	kept  bool // built with graph.Keep and not released since
	runs  atomic.Int32
	// pull, if set, is an older task that the body gives a new reader,
	// which brings it into a run for targets that left it out; await, if
	// set, an older task the body waits for (it may be out of the run).
	pull, await *rrTask
}

type rrWorld struct {
	t      *testing.T
	g      *graph.Graph
	b      graph.Builder // what add adds through: g, or graph.Build's while it builds g
	mu     sync.Mutex    // guards all while a run goes on, pulled and wrong
	all    []*rrTask
	pulled map[*rrTask]bool // given a new reader in this run, with what they read
	wrong  []string         // what bodies saw wrong
	whole  bool             // the run is of the whole graph; set before it starts
}

func (w *rrWorld) fault(format string, args ...any) {
	w.mu.Lock()
	w.wrong = append(w.wrong, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// reader adds, from inside the running task of ctx, a new task reading
// x, which brings x into the run if the run left it out.
func (w *rrWorld) reader(ctx context.Context, x *rrTask) {
	w.mu.Lock()
	r := &rrTask{base: 1000 + len(w.all), in: []*rrTask{x}}
	r.want = r.base + x.want
	name := fmt.Sprintf("t%d", len(w.all))
	w.all = append(w.all, r)
	var mark func(*rrTask)
	mark = func(t *rrTask) {
		if w.pulled[t] {
			return
		}
		w.pulled[t] = true
		for _, d := range append(slices.Clone(t.in), t.after...) {
			mark(d)
		}
	}
	mark(x)
	w.mu.Unlock()
	r.h = graph.Add1(dynamic.Scope(ctx), name, x.h, func(_ context.Context, v int) (int, error) {
		r.runs.Add(1)
		if v != x.want {
			w.fault("%s read %d from %s, whose result is %d", name, v, x.h.Name(), x.want)
		}
		return r.base + v, nil
	})
}

func (w *rrWorld) add(rng *rand.Rand) {
	x := &rrTask{base: 1 + rng.IntN(100), flaky: rng.IntN(6) == 0}
	for range rng.IntN(4) {
		if len(w.all) > 0 {
			x.in = append(x.in, w.all[rng.IntN(len(w.all))])
		}
	}
	if len(w.all) > 0 {
		switch rng.IntN(5) {
		case 0:
			x.pull = w.all[rng.IntN(len(w.all))]
		case 1:
			x.await = w.all[rng.IntN(len(w.all))]
		}
	}
	x.want = x.base
	in := make([]graph.Task[int], len(x.in))
	for i, d := range x.in {
		in[i] = d.h
		x.want += d.want
	}
	var opts []graph.Option
	if rng.IntN(4) == 0 {
		opts = append(opts, graph.Keep())
		x.kept = true
	}
	opts = append(opts, graph.Priority(rng.IntN(3)-1))
	name := fmt.Sprintf("t%d", len(w.all))
	x.h = graph.AddN(w.b, name, in, func(ctx context.Context, xs []int) (int, error) {
		attempt := x.runs.Add(1)
		sum := x.base
		for i, v := range xs {
			if v != x.in[i].want {
				w.fault("%s read %d from %s, whose result is %d", name, v, x.in[i].h.Name(), x.in[i].want)
			}
			sum += v
		}
		for _, d := range x.after {
			if s := d.h.State(); s != graph.Done && s != graph.Released {
				w.fault("%s started while %s, which it is ordered after, is %v", name, d.h.Name(), s)
			}
		}
		if x.pull != nil {
			w.reader(ctx, x.pull)
		}
		if q := x.await; q != nil {
			// Older than x, so it cannot need x: the wait ends, unless
			// the run left q out (a run for targets).
			strict := w.whole || q.kept // else a new reader may have it computed again once the wait ended
			err := dynamic.WaitAll(ctx, q.h)
			switch {
			case err == nil && strict && !q.h.State().Terminal():
				w.fault("%s: the wait for %s returned while it is %v", name, q.h.Name(), q.h.State())
			case err != nil && !errors.Is(err, graph.ErrNotScheduled):
				w.fault("%s: the wait for %s: %v", name, q.h.Name(), err)
			}
		}
		if x.flaky && attempt == 1 {
			return 0, errBoom
		}
		return sum, nil
	}, opts...)
	w.all = append(w.all, x)
}

// needs returns the tasks a run for targets needs: the targets and, for
// each task without a result, its inputs, recursively.
func (w *rrWorld) needs(targets []*rrTask) map[*rrTask]bool {
	set := map[*rrTask]bool{}
	var visit func(x *rrTask)
	visit = func(x *rrTask) {
		if set[x] || x.h.State() == graph.Done {
			return
		}
		set[x] = true
		for _, d := range x.in {
			visit(d)
		}
		for _, d := range x.after {
			visit(d)
		}
	}
	for _, x := range targets {
		visit(x)
	}
	return set
}

func rerunSeed(t *testing.T, seed uint64, workers int) bool {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	w := &rrWorld{t: t}
	fail := func(format string, args ...any) bool {
		t.Errorf("seed %d, workers %d: "+format, append([]any{seed, workers}, args...)...)
		return false
	}
	rounds := 2 + rng.IntN(5)
	for round := range rounds {
		adds := 1 + rng.IntN(8)
		if round == 0 && seed%2 == 1 {
			// The first tasks built without the lock (see graph.Build): the
			// reruns must not tell the difference.
			w.g = graph.Build(func(b graph.Builder) {
				w.b = b
				for range adds {
					w.add(rng)
				}
			})
			w.b = w.g
		} else {
			if w.g == nil {
				w.g = graph.New()
				w.b = w.g
			}
			for range adds {
				w.add(rng)
			}
		}
		if rng.IntN(4) == 0 && len(w.all) >= 2 {
			i := rng.IntN(len(w.all) - 1)
			j := i + 1 + rng.IntN(len(w.all)-1-i)
			if err := graph.Order(w.all[i].h, w.all[j].h); err != nil {
				return fail("Order(%s, %s): %v", w.all[i].h.Name(), w.all[j].h.Name(), err)
			}
			w.all[j].after = append(w.all[j].after, w.all[i])
		}
		if rng.IntN(2) == 0 {
			x := w.all[rng.IntN(len(w.all))]
			x.h.Release()
			x.kept = false
		}
		whole := round == rounds-1 || rng.IntN(3) > 0
		var opts []exec.Option
		var need map[*rrTask]bool
		if !whole {
			targets := []*rrTask{w.all[rng.IntN(len(w.all))], w.all[rng.IntN(len(w.all))]}
			opts = append(opts, exec.Targets(targets[0].h, targets[1].h))
			need = w.needs(targets)
		}
		before := make([]int32, len(w.all))
		states := make([]graph.State, len(w.all))
		for i, x := range w.all {
			before[i], states[i] = x.runs.Load(), x.h.State()
		}
		w.pulled, w.whole = map[*rrTask]bool{}, whole
		err := runGuarded(t, t.Context(), w.g, append(opts, exec.Workers(workers))...)
		if err != nil && !errors.Is(err, errBoom) {
			return fail("round %d: Run = %v", round, err)
		}
		if len(w.wrong) > 0 {
			return fail("round %d: %s", round, w.wrong[0])
		}
		for i, x := range w.all {
			if i >= len(before) {
				// Added during the run, by a task: it joined the run.
				before, states = append(before, 0), append(states, graph.Idle)
				if need != nil {
					need[x] = true
				}
			}
			if w.pulled[x] && need != nil {
				need[x] = true // a new reader brought it in
			}
			ran := x.runs.Load() - before[i]
			s := x.h.State()
			// A run for targets releases what is not kept once its readers
			// have read it, and computes it again for a new reader (a
			// task's pull): only a kept task runs at most once there.
			strict := whole || x.kept
			switch {
			case ran > 1 && strict:
				return fail("round %d: %s ran %d times in one run", round, x.h.Name(), ran)
			case ran == 1 && states[i] == graph.Done && strict:
				return fail("round %d: %s ran again although it had its result (kept %v, now %v, given a new reader %v)", round, x.h.Name(), x.kept, s, w.pulled[x])
			case !whole && !need[x] && (ran > 0 || s != states[i] && (states[i] != graph.Done || s != graph.Released)):
				// A result read by the run is released when it is read,
				// unless kept (see exec.Targets).
				return fail("round %d: %s, which the targets do not need, ran %d times and went from %v to %v", round, x.h.Name(), ran, states[i], s)
			case whole && !s.Terminal():
				return fail("round %d: %s is %v after a run of the whole graph", round, x.h.Name(), s)
			case whole && err == nil && s != graph.Done:
				return fail("round %d: %s is %v after a run of the whole graph that succeeded", round, x.h.Name(), s)
			}
			if s == graph.Done {
				if v, rerr := x.h.Result(); v != x.want || rerr != nil {
					return fail("round %d: %s: %v, %v; want %d", round, x.h.Name(), v, rerr, x.want)
				}
			}
		}
	}
	// Every task fails at most once, and each run of the whole graph
	// attempts every task whose inputs succeed: at most one run per task
	// finishes everything.
	for range len(w.all) {
		if err := runGuarded(t, t.Context(), w.g, exec.Workers(workers)); err == nil {
			break
		}
	}
	for _, x := range w.all {
		if v, err := x.h.Result(); v != x.want || err != nil {
			return fail("at the end: %s: %v, %v; want %d", x.h.Name(), v, err, x.want)
		}
	}
	return len(w.wrong) == 0 || fail("%s", w.wrong[0])
}
