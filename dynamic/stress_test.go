package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/chaos"
)

// TestRandomGrowingRuns drives runs with random workloads that use the
// dynamic features together, the way an application would: a static graph
// with ordering edges to start from, tasks that add tasks and wait for
// them, tasks that wait for any other task, tasks that add tasks and
// return, flows, tasks that fail, panic or fail until retried, an observer
// that adds tasks from inside events or panics, and client goroutines that
// add tasks (one by one and in batches), wait for results, iterate them as
// they complete and cancel tasks, all while the run goes on. New tasks
// read any existing task, finished or not, so waits that could never end
// arise too; one run in four is stopped while it grows, and one in four is
// for a few targets, so that results are released and computed again when
// a new task reads them. After each run it checks what must hold whatever
// the interleaving:
//
//   - the run ends, and every task ends in a terminal state;
//   - no body runs twice (but for its retries), none runs before its inputs
//     and the tasks it is ordered after succeeded, and never more bodies
//     run at once than there are workers;
//   - every value a body reads (an input, a child, any task it waited for)
//     is one its producer computed, and a task that succeeded has the
//     result it last computed;
//   - a task that did not succeed has a reason: it was told to fail or
//     panic, an input, a child it waited for or a task its flow emitted
//     did not succeed, it was cancelled, or it was on a cycle of tasks
//     needing each other, in which case every step of the reported cycle
//     is a real input, wait or join, and no cycle is reported twice;
//   - the run's error says so when a task did not succeed, or an observer
//     panicked.
//
// EVOLVE_STRESS_SEEDS=n runs n seeds instead of 40, to search longer, and
// EVOLVE_STRESS_FROM=k starts at seed k, to run a failing seed again:
//
//	EVOLVE_STRESS_SEEDS=2000 go test ./dynamic -run TestRandomGrowingRuns
//	EVOLVE_STRESS_FROM=17 EVOLVE_STRESS_SEEDS=1 go test ./dynamic -run TestRandomGrowingRuns -count 1000
//
// EVOLVE_STRESS_DUMP=1 adds every goroutine's stack to the log of a run
// that hangs.
//
// EVOLVE_STRESS_MIX=flows makes a third of the tasks flows and every run a
// run for targets; EVOLVE_STRESS_MIX=waits makes a third of the tasks wait
// for a random existing task, so that cycles of waits are common.
// EVOLVE_STRESS_MIX=unranked gives every task priority 0, the only runs in
// which workers keep the tasks their tasks add instead of queuing them
// (see exec's kept.go); unranked-waits is waits with that. Each of them
// with "+wide" (or "wide" alone) begins the graph with 16 to 63 tasks
// without inputs of one priority, which the run's queue lends its workers
// as a span (see exec's open.go): EVOLVE_STRESS_MIX=waits+wide.
//
// These runs are truly concurrent, which is how they find races, and so
// a failing seed does not replay exactly; TestReplayableRuns runs the
// same workloads so that they do.
func TestRandomGrowingRuns(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	seeds = stressEnv(t, "EVOLVE_STRESS_SEEDS", seeds, 1)
	mix := stressMix(t)
	from := stressEnv(t, "EVOLVE_STRESS_FROM", 0, 0)
	for seed := from; seed < from+seeds; seed++ {
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("seed=%d/workers=%d", seed, workers), func(t *testing.T) {
				runStress(t, uint64(seed), workers, mix)
			})
		}
	}
}

// TestRandomGrowingRunsUnranked is TestRandomGrowingRuns with the
// unranked and unranked-waits mixes, so that every run of the tests
// covers workers keeping the tasks their tasks add.
func TestRandomGrowingRunsUnranked(t *testing.T) {
	runStressMixes(t, 20, stressOptions{unranked: true}, stressOptions{unranked: true, waits: true})
}

// TestRandomGrowingRunsWide is TestRandomGrowingRuns with the wide mix,
// alone and with waits and unranked-waits, so that every run of the tests
// covers roots that the workers take from an open span and its lanes.
func TestRandomGrowingRunsWide(t *testing.T) {
	runStressMixes(t, 20, stressOptions{wide: true}, stressOptions{wide: true, waits: true}, stressOptions{wide: true, waits: true, unranked: true})
}

// TestRandomGrowingRunsTree is TestRandomGrowingRuns with the tree mix,
// alone, with waits and with unranked-waits, so that every run of the
// tests covers tasks queued at the end of an open span as they become
// ready (on one worker).
func TestRandomGrowingRunsTree(t *testing.T) {
	runStressMixes(t, 20, stressOptions{tree: true}, stressOptions{tree: true, waits: true}, stressOptions{tree: true, waits: true, unranked: true})
}

// runStressMixes runs seeds seeds (a quarter of them in -short) of each
// mix on 1, 2 and 3 workers.
func runStressMixes(t *testing.T, seeds int, mixes ...stressOptions) {
	if testing.Short() {
		seeds /= 4
	}
	for _, mix := range mixes {
		for seed := range seeds {
			for _, workers := range []int{1, 2, 3} {
				name := fmt.Sprintf("waits=%v/unranked=%v/wide=%v/tree=%v/seed=%d/workers=%d", mix.waits, mix.unranked, mix.wide, mix.tree, seed, workers)
				t.Run(name, func(t *testing.T) { runStress(t, uint64(seed), workers, mix) })
			}
		}
	}
}

// TestStressSeedsThatFoundBugs runs again, many times each, the seeds of
// TestRandomGrowingRuns at which a bug showed, so that it cannot come back
// unnoticed. Each showed in about one run in a hundred of its seed:
//
//   - 344909, 302389, 353413, 315081, 360365 (default mix): a node brought
//     into a run twice (activate joined a node that a join before it had
//     brought in already), so the run never ended and readers read a
//     dropped result;
//   - 18081, 37517 (waits): a wait for a task that joined the run just after
//     the wait looked read a released result;
//   - 40525 (flows) and 2021 (waits): a new reader counted down by the old
//     completion of a result computed again, which read zero;
//   - 21500597 (waits, a run for targets; about one run in 400 under
//     -race): a task that the run had left out, pulled in by a new reader
//     while another task awaited it, read as Ready for a moment before it
//     was prepared, was claimed, and ran twice (see core's prepare, and
//     exec's TestTaskLeftOutByARunIsNotClaimedWhileJoiningTheNext).
func TestStressSeedsThatFoundBugs(t *testing.T) {
	rounds := 100
	if testing.Short() || raceEnabled {
		rounds = 10
	}
	cases := []struct {
		mix   stressOptions
		seeds []uint64
	}{
		{stressOptions{}, []uint64{344909, 302389, 353413, 315081, 360365}},
		{stressOptions{waits: true}, []uint64{18081, 37517, 2021, 21500597}},
		{stressOptions{flows: true}, []uint64{40525}},
	}
	for _, c := range cases {
		for _, seed := range c.seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				for range rounds {
					for _, workers := range []int{1, 2, 3} {
						runStress(t, seed, workers, c.mix)
						if t.Failed() {
							return
						}
					}
				}
			})
		}
	}
}

// TestReplayableRuns runs the workloads of TestRandomGrowingRuns so that a
// seed replays exactly: in a testing/synctest bubble, on one processor
// (GOMAXPROCS=1), with every task body and every client action taking a
// pause of fake time drawn from the seed, each ending at an instant no
// other pause ends at. Then what happens at each instant is decided by the
// seed and the worker count. Each seed runs twice, and the two traces
// (every event of every task, at its fake time) must be equal, except
// under the race detector, which perturbs scheduling on purpose. All of
// TestRandomGrowingRuns's checks apply too. A run that hangs shows at
// once: the bubble's clock jumps to the liveness bound.
//
// EVOLVE_REPLAY_SEEDS, EVOLVE_REPLAY_FROM and EVOLVE_STRESS_MIX choose the
// seeds and the mix, as for TestRandomGrowingRuns:
//
//	EVOLVE_REPLAY_FROM=17 EVOLVE_REPLAY_SEEDS=1 go test ./dynamic -run TestReplayableRuns -v
func TestReplayableRuns(t *testing.T) {
	seeds := 30
	if testing.Short() {
		seeds = 8
	}
	seeds = stressEnv(t, "EVOLVE_REPLAY_SEEDS", seeds, 1)
	mix := stressMix(t)
	mix.replay = true
	from := stressEnv(t, "EVOLVE_REPLAY_FROM", 0, 0)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for seed := from; seed < from+seeds; seed++ {
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("seed=%d/workers=%d", seed, workers), func(t *testing.T) {
				replay(t, uint64(seed), workers, mix)
			})
		}
	}
}

// replay runs seed twice in a synctest bubble (the caller has set
// GOMAXPROCS to 1) and fails the test if the two traces differ.
//
// The collector is off meanwhile, and what the last collection left (spans
// to sweep, pages to return) is done before. At an instant where two
// goroutines of the bubble are runnable (say a worker that finished a task
// and the worker it woke), the one to run first is the scheduler's choice,
// the same in every run on one processor, unless the runtime's own work
// takes the processor from one of them: a collection (to scan its stack or
// to mark), or the sweeper and the scavenger after one, at moments set by
// real time. Where their turns decide whether a released result is still
// there for a new reader, the two runs then differ, both correct (seed
// 70005981, see TestReplaySeedsThatFoundBugs).
func replay(t *testing.T, seed uint64, workers int, mix stressOptions) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	debug.FreeOSMemory() // sweeps, and returns the free pages, now
	var traces [2][]string
	for i := range traces {
		synctest.Test(t, func(t *testing.T) {
			traces[i] = byInstant(runStress(t, seed, workers, mix))
		})
	}
	if dir := os.Getenv("EVOLVE_REPLAY_DUMP"); dir != "" {
		for i, tr := range traces {
			os.WriteFile(fmt.Sprintf("%s/seed%d-w%d-%d.txt", dir, seed, workers, i), []byte(strings.Join(tr, "\n")), 0o644)
		}
	}
	// The race detector and the evolvechaos build (internal/chaos) perturb
	// goroutine scheduling on purpose: under them the checks above still
	// run, but runs need not replay.
	if i, ok := firstDiff(traces[0], traces[1]); !ok && !raceEnabled && !chaos.On {
		t.Errorf("the two runs of the seed differ at event %d of %d/%d:\n%s\n%s",
			i, len(traces[0]), len(traces[1]), at(traces[0], i), at(traces[1], i))
	}
}

// TestReplaySeedsThatFoundBugs replays, many times each, the seeds of
// TestReplayableRuns at which a run did not replay:
//
//   - 67002927 (unranked mix, three workers), about a third of its runs:
//     a task waiting for its children, one of which it ran itself, when
//     the run was stopped: the stop ended the task's context and, on
//     another worker, the last child, and whether the waiter saw that
//     child finished depended on which of the two goroutines the Go
//     scheduler woke first. A wait whose context is done returns its
//     error now (exec's Await and Block).
//   - 70005981 (unranked mix, three workers), about once in 160,000 runs,
//     with two copies of the test looping: in one run a released result was
//     computed again for a new reader, in the other it was still there when
//     the reader came. The harness's fault, not the run's: the runtime's
//     work after a collection changed which of the two goroutines involved
//     went first (see replay). Run with GOGC=off, the seed replayed
//     1,170,000 times; with the collector off only during replay, it failed
//     once in 440,000; with what the last collection left done first, as
//     replay does now, it replayed 1,600,000 times. The runtime must take
//     the processor at that moment for the seed to fail, so these rounds
//     alone rarely would; the seed stays for what it runs.
func TestReplaySeedsThatFoundBugs(t *testing.T) {
	rounds := 100
	if testing.Short() || raceEnabled {
		rounds = 10
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	cases := []struct {
		mix     stressOptions
		seed    uint64
		workers int
	}{
		{stressOptions{unranked: true, replay: true}, 67002927, 3},
		{stressOptions{unranked: true, replay: true}, 70005981, 3},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("seed=%d/workers=%d", c.seed, c.workers), func(t *testing.T) {
			for range rounds {
				replay(t, c.seed, c.workers, c.mix)
				if t.Failed() {
					return
				}
			}
		})
	}
}

// byInstant sorts the events of each instant of a trace, whose lines
// begin with their fake time. Goroutines woken at one instant by one
// event (a run's end wakes every waiter, a completion a parked worker)
// take turns in an order the Go scheduler picks, even on one processor
// (a goroutine that runs long is preempted): what happens at each instant
// is a function of the seed, the order within it may not be.
func byInstant(trace []string) []string {
	out := slices.Clone(trace)
	for i := 0; i < len(out); {
		j := i + 1
		at, _, _ := strings.Cut(out[i], " ")
		for j < len(out) && strings.HasPrefix(out[j], at+" ") {
			j++
		}
		slices.Sort(out[i:j])
		i = j
	}
	return out
}

// firstDiff returns the index of the first element where a and b differ,
// and whether they are equal.
func firstDiff(a, b []string) (int, bool) {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i, false
		}
	}
	return min(len(a), len(b)), len(a) == len(b)
}

func at(trace []string, i int) string {
	if i < len(trace) {
		return trace[i]
	}
	return "(end)"
}

// stressOptions is what a stress run mixes, beyond the default.
type stressOptions struct {
	flows  bool // a third of the tasks are flows, every run is for targets
	waits  bool // a third of the tasks wait for a random existing task
	replay bool // the run replays exactly (see TestReplayableRuns)
	// unranked gives every task priority 0, so that workers keep the
	// tasks they add (see exec's kept.go), which they do only then.
	unranked bool
	// wide begins the graph with 16 to 63 tasks without inputs, of one
	// priority: one span of roots that the run's queue lends to its
	// workers (see exec's open.go), which it does only for many roots.
	wide bool
	// tree begins the graph (after wide's roots, if any) with a tree of
	// 40 to 100 tasks of 2 to 4 children each, of one priority (the
	// highest, and the wide roots' too), in breadth-first order, each
	// reading its parent: each completion makes the next ids ready, which
	// a run of one worker queues at the end of a span it lends (see
	// exec's runner.extendOpen).
	tree bool
}

func stressMix(t *testing.T) stressOptions {
	v := os.Getenv("EVOLVE_STRESS_MIX")
	mix, tree := strings.CutSuffix(v, "+tree")
	if mix == "tree" {
		mix, tree = "", true
	}
	mix, wide := strings.CutSuffix(mix, "+wide")
	if mix == "wide" {
		mix, wide = "", true
	}
	var o stressOptions
	switch mix {
	case "":
	case "flows":
		o = stressOptions{flows: true}
	case "waits":
		o = stressOptions{waits: true}
	case "unranked":
		o = stressOptions{unranked: true}
	case "unranked-waits":
		o = stressOptions{waits: true, unranked: true}
	default:
		t.Fatalf("EVOLVE_STRESS_MIX=%q: want flows, waits, unranked, unranked-waits, or nothing, each with +wide, +tree, +wide+tree or none, or wide, tree, wide+tree", v)
	}
	o.wide, o.tree = wide, tree
	return o
}

// stressEnv returns the number in the environment variable name, at least
// min, or def when it is not set.
func stressEnv(t *testing.T, name string, def, min int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		t.Fatalf("%s=%q: want a whole number, at least %d", name, v, min)
	}
	return n
}

// What a task's body does.
const (
	planPlain     = iota // return 1 + the sum of its inputs
	planFail             // return errBoom
	planPanic            // panic
	planSpawn            // add children, and return without waiting
	planSpawnWait        // add children and wait for them; add their results
	planFlow             // a graph.Flow: emit children, return the last one
	planWaitAny          // wait for a random existing task, and add its result
	planFlaky            // fail the first attempts (it has Retries), then return like planPlain
)

// errFlaky is what a flaky task's failing attempts return.
var errFlaky = errors.New("flaky")

// stressTask is one task of a stress run, with what the test needs to check
// it afterwards.
type stressTask struct {
	name   string
	seq    int // its number: its name is "t<seq>"
	h      graph.Task[int]
	inputs []*stressTask
	after  []*stressTask // ordered after these (graph.Order), without reading them
	plan   int
	kids   int // children to add, for the spawning plans
	flakes int // attempts that fail before one succeeds (planFlaky)
	// timeout: built with graph.Timeout, so its wait may end early
	timeout bool
	runs    atomic.Int32
	// Written by the body, read after the run.
	waited []*stressTask // the children it waited for
	// holding: it read them with Task.Wait or Gather, which read a result
	// before it can be released (see exec.Targets)
	holding bool
	returns []*stressTask // a flow's returned task in each of its runs; nil for a run that emitted none (guarded by the world's mu)
	vals    []int         // every result the body returned, in order (guarded by the world's mu)
	// Written by clients.
	cancelled atomic.Bool
}

// stressWorld is one stress run: the graph and every task added to it.
type stressWorld struct {
	t      *testing.T
	seed   uint64
	g      *graph.Graph
	gauge  gauge
	seq    atomic.Int64
	budget atomic.Int64 // tasks that may still be added: bounds the growth

	mu     sync.Mutex
	all    []*stressTask // in the order they were added
	byName map[string]*stressTask
	broken []string // invariants broken inside bodies

	// roots is how many of the first tasks still to add have no inputs and
	// priority rootPrio (the wide mix); set and read before the run.
	roots    int
	rootPrio int
	// treeLeft is how many tasks of the tree mix are still to add, of
	// treeSize, the first at treeAt in all, with treeFan children each;
	// set and read before the run.
	treeLeft, treeSize, treeAt, treeFan int
	building                            bool // the first tasks are being added, before the run
	stopped                             bool // the test stops the run while it grows
	targeted                            bool // the run is for a few targets: results nobody needs any more are released
	mix                                 stressOptions

	// For replayable runs (guarded by mu): the trace of the run's events.
	trace []string
	start time.Time
}

// pause takes a pause of fake time in a replayable run; it does nothing in
// other runs. id names the pausing goroutine's role (a task, a client), and
// is unique in the run and below pauseIDs.
//
// The pause ends at a whole microsecond plus 2*id nanoseconds: no other
// pause ends at that instant, so only one goroutine wakes at a time, and
// the instant depends on the seed and the pausing role alone. (Finding a
// free instant by trying the next nanosecond, as this used to, gave the
// instant to whichever of two goroutines asked first, which the Go
// scheduler decides: under load, a preempted goroutine asked second and
// the run's later instants moved by a nanosecond.) The offset is even, and
// deadlines in these runs are odd numbers of nanoseconds after a task's
// start (see add), so a deadline rarely ends at a pause's instant either.
func (w *stressWorld) pause(rng *rand.Rand, id int) {
	if !w.mix.replay {
		return
	}
	d := time.Duration(1+rng.IntN(100)) * time.Microsecond
	at := time.Now().Add(d).Truncate(time.Microsecond).Add(time.Duration(2*id) * time.Nanosecond)
	time.Sleep(time.Until(at))
}

// pauseIDs bounds the ids of pausing roles: tasks have their sequence
// number, the clients the last two.
const pauseIDs = 500

// Observe records the events of a replayable run.
func (w *stressWorld) Observe(e exec.Event) {
	w.mu.Lock()
	// Not the worker: which of the workers woken at once takes a task is
	// the Go scheduler's choice, and changes nothing else.
	w.trace = append(w.trace, fmt.Sprintf("%v %v %s", time.Since(w.start), e.Kind, e.Task.Name()))
	w.mu.Unlock()
}

// unfinished counts the tasks that did not succeed.
func (w *stressWorld) unfinished() int {
	k := 0
	for _, st := range w.all {
		if st.h.State() != graph.Done {
			k++
		}
	}
	return k
}

// runStress runs one random workload and checks it; for a replayable run
// it returns the trace of its events.
func runStress(t *testing.T, seed uint64, workers int, mix stressOptions) []string {
	w := &stressWorld{t: t, seed: seed, byName: map[string]*stressTask{}, mix: mix,
		start: time.Now(), building: true}
	w.budget.Store(160)
	rng := rand.New(rand.NewPCG(seed, 0))
	first := 20
	if mix.wide {
		wrng := rand.New(rand.NewPCG(seed, 97))
		w.roots = 16 + wrng.IntN(48)
		if !mix.unranked {
			w.rootPrio = wrng.IntN(3)
		}
		first += w.roots
	}
	if mix.tree {
		trng := rand.New(rand.NewPCG(seed, 96))
		w.treeSize, w.treeFan = 40+trng.IntN(61), 2+trng.IntN(3)
		w.treeLeft, w.treeAt = w.treeSize, first-20
		w.budget.Add(int64(w.treeSize))
		if !mix.unranked {
			// The highest: the queue lends a span only while every other
			// node queued ranks after it (see exec's queue).
			w.rootPrio = 2
		}
		first += w.treeSize
	}
	if seed%8 < 4 {
		// The first tasks built by one goroutine without the lock (see
		// graph.Build); the graph then grows as any other.
		w.g = graph.Build(func(b graph.Builder) {
			for range first {
				w.add(b, rng, 0)
			}
		})
	} else {
		w.g = graph.New()
		for range first {
			w.add(w.g, rng, 0)
		}
	}
	w.building = false
	w.order(rand.New(rand.NewPCG(seed, 98)))
	opts := []exec.Option{exec.Workers(workers)}
	if mix.replay {
		opts = append(opts, exec.Observe(w))
	}
	var rogue *rogueObserver
	if orng := rand.New(rand.NewPCG(seed, 99)); orng.IntN(6) == 0 {
		// An observer that misbehaves: it adds a task from inside an event,
		// and may panic once. The run must go on and say so.
		rogue = &rogueObserver{w: w, addAt: 1 + orng.Int64N(60), panicAt: -1}
		if orng.IntN(2) == 0 {
			rogue.panicAt = 1 + orng.Int64N(100)
		}
		opts = append(opts, exec.Observe(rogue))
	}
	if seed%4 == 1 || mix.flows {
		// A run for a few targets, which releases results nobody needs any
		// more; tasks added later that read them have them computed again.
		w.targeted = true
		opts = append(opts, exec.Targets(w.all[rng.IntN(len(w.all))].h, w.all[rng.IntN(len(w.all))].h))
	}
	e := start(t, w.g, opts...)
	if seed%4 == 3 && !mix.flows {
		// Stop the run while it grows: everything must still end, and
		// promptly.
		w.stopped = true
		after := time.Duration(rng.IntN(2000))*time.Microsecond + time.Duration(1+2*rng.IntN(500)) // odd: see pause
		stop := time.AfterFunc(after, e.Stop)
		defer stop.Stop()
	}
	var clients sync.WaitGroup
	for c := range 2 {
		clients.Go(func() { w.client(t.Context(), rand.New(rand.NewPCG(seed, uint64(c)+1)), pauseIDs-1-c) })
	}
	// If the run hangs, say where before the liveness bound ends it.
	var watchdog sync.WaitGroup
	watch := make(chan struct{})
	watchdog.Go(func() {
		select {
		case <-e.Done():
		case <-watch:
		case <-time.After(liveness / 2):
			w.logUnfinished()
			if os.Getenv("EVOLVE_STRESS_DUMP") != "" {
				buf := make([]byte, 1<<20)
				w.t.Logf("goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
		}
	})
	clients.Wait()
	runErr := finish(t, e)
	close(watch)
	watchdog.Wait()
	if w.stopped && runErr == nil && w.unfinished() > 0 {
		t.Errorf("the run was stopped with tasks unfinished, but returned nil")
	}
	if errors.Is(runErr, errLiveness) {
		t.Errorf("the run did not end within %v: %v", liveness, runErr)
	}
	w.check(workers, runErr)
	var oe *exec.ObserverError
	if rogue != nil && rogue.panicked.Load() && !errors.As(runErr, &oe) {
		t.Errorf("an observer panicked, but the run returned %v", runErr)
	}
	if (rogue == nil || !rogue.panicked.Load()) && errors.As(runErr, &oe) {
		t.Errorf("no observer panicked, but the run returned %v", runErr)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.trace
}

// logUnfinished logs every task that has not finished, with what it needs.
func (w *stressWorld) logUnfinished() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.all {
		s := st.h.State()
		if s.Terminal() {
			continue
		}
		var needs []string
		for _, x := range w.needs(st) {
			needs = append(needs, x.name+":"+x.h.State().String())
		}
		w.t.Logf("unfinished after %v: %s (plan %d) is %v, needs %v", liveness/2, st.name, st.plan, s, needs)
	}
}

// add adds a task with a random plan, reading up to three random existing
// tasks, and returns it; nil when the budget is spent.
func (w *stressWorld) add(b graph.Builder, rng *rand.Rand, depth int) *stressTask {
	if w.budget.Add(-1) < 0 {
		return nil
	}
	seq := int(w.seq.Add(1))
	if seq >= pauseIDs-2 {
		w.breakf("task %d: more tasks than pause ids (%d)", seq, pauseIDs)
	}
	st := &stressTask{name: fmt.Sprintf("t%d", seq), seq: seq}
	spawn, spawnWait, flow, waitAny := 5, 9, 11, 12 // thresholds out of 20
	switch {
	case w.mix.flows:
		spawn, spawnWait, flow, waitAny = 4, 7, 14, 14
	case w.mix.waits:
		spawn, spawnWait, flow, waitAny = 4, 6, 8, 15
	}
	switch r := rng.IntN(20); {
	case r == 0:
		st.plan = planFail
	case r == 1:
		st.plan = planPanic
	case r == 2:
		st.plan, st.flakes = planFlaky, 1+rng.IntN(2)
	case r < spawn && depth < 4:
		st.plan, st.kids = planSpawn, 1+rng.IntN(3)
	case r < spawnWait && depth < 4:
		st.plan, st.kids = planSpawnWait, 1+rng.IntN(3)
	case r < flow && depth < 4:
		st.plan, st.kids = planFlow, 1+rng.IntN(3)
	case r < waitAny:
		st.plan = planWaitAny
	default:
		st.plan = planPlain
	}
	opts := []graph.Option{graph.Priority(rng.IntN(3))}
	if w.mix.unranked {
		opts[0] = graph.Option{}
	}
	root := w.roots > 0
	if root {
		w.roots--
		opts[0] = graph.Priority(w.rootPrio)
	}
	var parent *stressTask // of a task of the tree mix
	if w.mix.tree && w.building && st.plan == planFlow {
		st.plan, st.kids = planPlain, 0 // a flow reads nothing: the run would begin with it
	}
	if tree := !root && w.treeLeft > 0; tree {
		root = true // no random inputs
		if rng.IntN(4) > 0 {
			// Mostly plain, so that failures and waits leave most of the
			// tree to run.
			st.plan, st.kids, st.flakes = planPlain, 0, 0
		}
		j := w.treeSize - w.treeLeft
		w.treeLeft--
		opts[0] = graph.Priority(w.rootPrio)
		if j > 0 {
			w.mu.Lock()
			parent = w.all[w.treeAt+(j-1)/w.treeFan]
			w.mu.Unlock()
		}
	}
	if st.plan == planSpawnWait && rng.IntN(4) == 0 {
		// Its wait may be cut short by its own deadline.
		st.timeout = true
		// Odd nanoseconds: in a replayable run no deadline ends at the
		// instant a pause does (see pause).
		opts = append(opts, graph.Timeout(time.Duration(50+rng.IntN(500))*time.Microsecond+time.Duration(1+2*rng.IntN(500))))
	}
	if st.plan == planFlaky {
		opts = append(opts, graph.Retries(st.flakes, 0))
	}
	if st.plan == planFlow {
		st.h = graph.Flow(b, st.name, w.flowBody(st, depth), opts...)
	} else {
		w.mu.Lock()
		if parent != nil {
			st.inputs = append(st.inputs, parent)
		}
		k := rng.IntN(4)
		if w.mix.tree {
			// Every other task reads some: the tree's root is the only one
			// the run begins with, so the queue's spans are the tree's.
			k++
		}
		for ; k > 0 && len(w.all) > 0 && !root; k-- {
			st.inputs = append(st.inputs, w.all[rng.IntN(len(w.all))])
		}
		w.mu.Unlock()
		in := make([]graph.Task[int], len(st.inputs))
		for i, x := range st.inputs {
			in[i] = x.h
		}
		st.h = graph.AddN(b, st.name, in, w.body(st, depth), opts...)
	}
	w.mu.Lock()
	w.all = append(w.all, st)
	w.byName[st.name] = st
	w.mu.Unlock()
	return st
}

// enter is the start of every body: it counts the run and checks that
// every input has succeeded.
func (w *stressWorld) enter(st *stressTask) *rand.Rand {
	if n := st.runs.Add(1); n > int32(1+st.flakes) && !w.targeted {
		w.breakf("%s: body ran %d times", st.name, n)
	}
	for _, x := range append(slices.Clone(st.inputs), st.after...) {
		// In a run for targets an input may be released as soon as this
		// task read it, and computed again for a newer reader: there the
		// check is on the values read instead (see body).
		if s := x.h.State(); s != graph.Done && !w.targeted {
			w.breakf("%s: body ran while its input %s was %v", st.name, x.name, s)
		}
	}
	h := fnv.New64a()
	h.Write([]byte(st.name))
	return rand.New(rand.NewPCG(w.seed, h.Sum64()))
}

func (w *stressWorld) body(st *stressTask, depth int) func(context.Context, []int) (int, error) {
	return func(ctx context.Context, in []int) (int, error) {
		w.gauge.in()
		defer w.gauge.out()
		rng := w.enter(st)
		w.pause(rng, st.seq)
		v := 1
		for k, x := range in {
			if !slices.Contains(w.results(st.inputs[k]), x) {
				w.breakf("%s: read %d from %s, which never computed it (%v)", st.name, x, st.inputs[k].name, w.results(st.inputs[k]))
			}
			v += x
		}
		switch st.plan {
		case planFail:
			return 0, errBoom
		case planPanic:
			panic("stress: told to panic")
		case planFlaky:
			if st.runs.Load() <= int32(st.flakes) {
				return 0, errFlaky
			}
		case planWaitAny:
			x := w.pickFor(rng, st)
			if x == nil {
				break
			}
			w.mu.Lock()
			st.waited = []*stressTask{x}
			w.mu.Unlock()
			w.gauge.out() // a waiting body gives its slot back
			got, holding, err := w.readOne(ctx, rng, x)
			w.gauge.in()
			st.holding = holding
			if err != nil {
				return 0, err
			}
			v += got
		case planSpawn, planSpawnWait:
			s := dynamic.Scope(ctx)
			var kids []*stressTask
			for range st.kids {
				if k := w.add(s, rng, depth+1); k != nil {
					kids = append(kids, k)
				}
			}
			if st.plan == planSpawn || len(kids) == 0 {
				break
			}
			st.waited = kids
			w.gauge.out() // a waiting body gives its slot back
			sum, holding, err := w.readAll(ctx, rng, kids)
			w.gauge.in()
			st.holding = holding
			if err != nil {
				return 0, err
			}
			v += sum
		}
		w.mu.Lock()
		st.vals = append(st.vals, v)
		w.mu.Unlock()
		return v, nil
	}
}

// order adds a few ordering edges (graph.Order) between the tasks built
// before the run, in either direction of creation, where they close no
// cycle.
func (w *stressWorld) order(rng *rand.Rand) {
	for range rng.IntN(4) {
		a, b := w.all[rng.IntN(len(w.all))], w.all[rng.IntN(len(w.all))]
		if a == b || w.reaches(a, b) {
			continue // b after a would close a cycle
		}
		if err := graph.Order(a.h, b.h); err != nil {
			w.breakf("Order(%s, %s): %v", a.name, b.name, err)
			continue
		}
		b.after = append(b.after, a)
	}
}

// reaches reports whether from needs to through inputs and ordering edges.
func (w *stressWorld) reaches(from, to *stressTask) bool {
	seen := map[*stressTask]bool{}
	stack := []*stressTask{from}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x == to {
			return true
		}
		if seen[x] {
			continue
		}
		seen[x] = true
		stack = append(append(stack, x.inputs...), x.after...)
	}
	return false
}

// rogueObserver adds a task from inside the addAt-th event it is told, and
// panics at the panicAt-th.
type rogueObserver struct {
	w              *stressWorld
	addAt, panicAt int64
	n              atomic.Int64
	panicked       atomic.Bool
}

func (o *rogueObserver) Observe(exec.Event) {
	switch o.n.Add(1) {
	case o.addAt:
		o.w.add(o.w.g, rand.New(rand.NewPCG(o.w.seed, 97)), 0)
	case o.panicAt:
		o.panicked.Store(true)
		panic("stress: a rogue observer")
	}
}

// pickFor returns a random task added before st, or nil.
func (w *stressWorld) pickFor(rng *rand.Rand, st *stressTask) *stressTask {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := slices.Index(w.all, st)
	if i <= 0 {
		return nil
	}
	return w.all[rng.IntN(i)]
}

// readOne waits for x, any task, which may need the waiter (a cycle), and
// returns its result, and whether the way it read it holds results.
func (w *stressWorld) readOne(ctx context.Context, rng *rand.Rand, x *stressTask) (int, bool, error) {
	var v int
	var err error
	holding := rng.IntN(2) == 0
	if holding {
		v, err = x.h.Wait(ctx)
	} else if err = dynamic.WaitAll(ctx, x.h); err == nil {
		v, err = x.h.Result()
	}
	if err == nil && !slices.Contains(w.results(x), v) {
		w.breakf("read %d from %s, which never computed it (%v)", v, x.name, w.results(x))
	}
	return v, holding, err
}

// readAll waits for every task of kids to finish, in one of the ways a
// task can wait for its children, and returns the sum of their results,
// and whether the way it read them holds results (Task.Wait, Gather). It
// checks that each value read is one the child computed.
func (w *stressWorld) readAll(ctx context.Context, rng *rand.Rand, kids []*stressTask) (sum int, holding bool, err error) {
	hs := make([]graph.Task[int], len(kids))
	refs := make([]graph.Ref, len(kids))
	for i, k := range kids {
		hs[i], refs[i] = k.h, k.h.Ref()
	}
	read := func(i, v int) {
		if !slices.Contains(w.results(kids[i]), v) {
			w.breakf("read %d from child %s, which never computed it (%v)", v, kids[i].name, w.results(kids[i]))
		}
		sum += v
	}
	switch rng.IntN(5) {
	case 0:
		err = dynamic.WaitAll(ctx, refs...)
	case 1:
		err = dynamic.WaitAll(ctx, refs...)
	case 2:
		vs, err := dynamic.Gather(ctx, dynamic.Raise, hs...)
		for i, v := range vs {
			read(i, v)
		}
		return sum, true, err
	case 3:
		for i, h := range hs {
			v, err := h.Wait(ctx)
			if err != nil {
				return 0, true, err
			}
			read(i, v)
		}
		return sum, true, nil
	default:
		for _, e := range dynamic.AsCompleted(hs...).All(ctx) {
			if e != nil {
				err = e
				break
			}
		}
	}
	if err != nil {
		return 0, false, err
	}
	for i, h := range hs {
		v, err := h.Result()
		if err != nil {
			return 0, false, err
		}
		read(i, v)
	}
	return sum, false, nil
}

func (w *stressWorld) flowBody(st *stressTask, depth int) func(context.Context, graph.Builder) (graph.Task[int], error) {
	return func(ctx context.Context, b graph.Builder) (graph.Task[int], error) {
		w.gauge.in()
		defer w.gauge.out()
		rng := w.enter(st)
		w.pause(rng, st.seq)
		var last *stressTask
		for range st.kids {
			if k := w.add(b, rng, depth+1); k != nil {
				last = k
			}
		}
		w.mu.Lock()
		st.returns = append(st.returns, last)
		w.mu.Unlock()
		if last == nil {
			return graph.Value(b, "value", 0), nil
		}
		return last.h, nil
	}
}

// client acts on the running graph as an application's goroutine would.
func (w *stressWorld) client(ctx context.Context, rng *rand.Rand, id int) {
	pick := func() *stressTask {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.all[rng.IntN(len(w.all))]
	}
	for range 15 {
		w.pause(rng, id)
		switch rng.IntN(7) {
		case 0, 1:
			w.add(w.g, rng, 0)
		case 2:
			graph.Batch(w.g, func(b graph.Builder) {
				for range 1 + rng.IntN(3) {
					w.add(b, rng, 0)
				}
			})
		case 3:
			// A wait may fail (the task failed, or is held by a batch); it
			// must not hang.
			wctx, cancel := context.WithTimeout(ctx, liveness)
			p := pick()
			p.h.Wait(wctx)
			late := wctx.Err() != nil
			cancel()
			if late {
				w.breakf("a client's Task.Wait did not end within %v", liveness)
			}
		case 4:
			if rng.IntN(3) == 0 {
				st := pick()
				st.cancelled.Store(true)
				st.h.Cancel()
			}
		case 5:
			ts := []graph.Task[int]{pick().h, pick().h, pick().h}
			seen := 0
			wctx, cancel := context.WithTimeout(ctx, liveness)
			for range dynamic.AsCompleted(ts...).All(wctx) {
				if wctx.Err() != nil {
					w.breakf("AsCompleted did not end within %v", liveness)
					break
				}
				seen++
			}
			cancel()
			if seen > len(ts) {
				w.breakf("AsCompleted yielded %d tasks of %d", seen, len(ts))
			}
		case 6:
			a, b := pick(), pick()
			wctx, cancel := context.WithTimeout(ctx, liveness)
			first, err := dynamic.WaitFirst(wctx, a.h, b.h)
			late := wctx.Err() != nil
			cancel()
			switch {
			case late:
				w.breakf("WaitFirst did not end within %v", liveness)
			case err == nil && !first.State().Terminal() && !w.targeted: // a targeted run may be computing it again
				w.breakf("WaitFirst returned %s, which is %v", first.Name(), first.State())
			}
		}
	}
}

func (w *stressWorld) breakf(format string, args ...any) {
	w.mu.Lock()
	w.broken = append(w.broken, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// check checks every task once the run has ended.
func (w *stressWorld) check(workers int, runErr error) {
	t := w.t
	for _, b := range w.broken {
		t.Error(b)
	}
	// Once a run is stopped, tasks whose waits it ended go on without a
	// slot, to return (see exec's concurrency contract).
	if p := w.gauge.peak.Load(); p > int64(workers) && !w.stopped {
		t.Errorf("%d bodies ran at once with %d workers", p, workers)
	}
	var failedRuns int
	for _, st := range w.all {
		s := st.h.State()
		if s == graph.Idle && (w.stopped || w.targeted) {
			continue // added after the stopped run had ended, or not needed by the targets
		}
		if !s.Terminal() {
			t.Errorf("%s: %v after the run ended", st.name, s)
			continue
		}
		if s == graph.Done || s == graph.Released {
			w.checkDone(st)
			continue
		}
		failedRuns++
		if why := w.reason(st); why != "" {
			t.Errorf("%s: %v with %v: %s", st.name, s, st.h.Err(), why)
		}
	}
	if failedRuns > 0 && runErr == nil {
		t.Errorf("%d tasks did not succeed, but the run returned nil", failedRuns)
	}
	w.checkCyclesReportedOnce()
}

// checkCyclesReportedOnce checks that no cycle of tasks was reported as a
// deadlock twice: breaking a cycle at one task unblocks the others, so a
// second report of the same tasks means the executor ended two waits (or
// failed two tasks) for one deadlock. A report is counted at the task it
// names first, where the wait was ended or the task failed; tasks that
// pass such an error on are not reports.
func (w *stressWorld) checkCyclesReportedOnce() {
	seen := map[string]string{}
	for _, st := range w.all {
		var de *graph.DeadlockError
		if !errors.As(st.h.Err(), &de) || len(de.Cycle) == 0 || de.Cycle[0] != st.name {
			continue
		}
		members := slices.Clone(de.Cycle[:len(de.Cycle)-1])
		slices.Sort(members)
		key := strings.Join(members, ",")
		if other, ok := seen[key]; ok {
			w.t.Errorf("the cycle of %s was reported twice, at %s and at %s", key, other, st.name)
		}
		seen[key] = st.name
	}
}

// checkDone checks a task that succeeded: its body ran (once, unless a
// run for targets released its result and a new reader had it computed
// again) and a done task's result is the one it last computed. Whether
// that result is right for its inputs, each body checked when it read
// them.
func (w *stressWorld) checkDone(st *stressTask) {
	t := w.t
	if r := st.runs.Load(); r != int32(1+st.flakes) && !(w.targeted && r > 1) {
		t.Errorf("%s: succeeded, but its body ran %d times (%d failing attempts planned)", st.name, r, st.flakes)
	}
	if st.plan == planFail || st.plan == planPanic {
		t.Errorf("%s: succeeded, but it was told to fail", st.name)
		return
	}
	vals := w.results(st)
	if len(vals) == 0 {
		t.Errorf("%s: %v, but it never computed a result", st.name, st.h.State())
		return
	}
	if st.h.State() != graph.Done {
		if _, err := st.h.Result(); !errors.Is(err, graph.ErrReleased) {
			t.Errorf("%s: released, but Result says %v", st.name, err)
		}
		return
	}
	if v, err := st.h.Result(); err != nil || v != vals[len(vals)-1] && (st.plan != planFlow || !slices.Contains(vals, v)) {
		t.Errorf("%s: done, but Result says %d, %v; it computed %v", st.name, v, err, vals)
	}
}

// results returns the results st computed so far: its body's, or for a
// flow those of the tasks it returned (0 for a run that emitted none).
func (w *stressWorld) results(st *stressTask) []int {
	w.mu.Lock()
	vals, returns := slices.Clone(st.vals), slices.Clone(st.returns)
	w.mu.Unlock()
	if st.plan != planFlow {
		return vals
	}
	for _, r := range returns {
		if r == nil {
			vals = append(vals, 0)
		} else {
			vals = append(vals, w.results(r)...)
		}
	}
	return vals
}

// reason returns "" when the task that did not succeed had a reason not to,
// or what is wrong.
func (w *stressWorld) reason(st *stressTask) string {
	err := st.h.Err()
	if st.cancelled.Load() || w.stopped && st.h.State() == graph.Cancelled {
		return ""
	}
	var de *graph.DeadlockError
	if errors.As(err, &de) && len(de.Cycle) > 0 && de.Cycle[0] == st.name {
		// Its own wait could never end, or the executor broke a cycle of
		// tasks needing each other at it.
		return w.checkCycle(st, de.Cycle)
	}
	if st.plan == planWaitAny && errors.Is(err, graph.ErrNotScheduled) && w.targeted {
		return "" // it waited for a task that the targets do not need (see Task.Wait)
	}
	if st.plan == planWaitAny && errors.Is(err, graph.ErrInBatch) {
		return "" // it waited for a task that a client's open Batch holds back
	}
	if st.timeout && errors.Is(err, context.DeadlineExceeded) {
		return "" // its deadline cut its wait short
	}
	if w.targeted && (st.plan == planSpawnWait || st.plan == planWaitAny) && !st.holding && (errors.Is(err, graph.ErrReleased) || errors.Is(err, graph.ErrNotDone)) {
		// A run for targets releases a result once the tasks that read it
		// as an input have (and computes it again for a new reader): a
		// child's result read with Result after a wait is not kept for
		// its parent unless built Keep (exec.Targets says so). Task.Wait
		// and Gather read results before they can be released.
		return ""
	}
	if st.runs.Load() > 0 {
		switch st.plan {
		case planFail:
			if errors.Is(err, errBoom) {
				return ""
			}
		case planFlaky:
			if errors.Is(err, errFlaky) && w.stopped {
				return "" // the run stopped before its retry
			}
		case planPanic:
			var pe *graph.PanicError
			if errors.As(err, &pe) {
				return ""
			}
			return "told to panic, but the error is no *graph.PanicError"
		}
	}
	for _, x := range w.needs(st) {
		if s := x.h.State(); s != graph.Done && s != graph.Released {
			return "" // something it needs did not succeed
		}
	}
	return "nothing it needs failed, and nothing else explains it"
}

// needs returns what st needs to succeed: its inputs, the children it
// waited for, and, for a flow, the tasks it emitted.
func (w *stressWorld) needs(st *stressTask) []*stressTask {
	out := append(append(append([]*stressTask(nil), st.inputs...), st.after...), st.waited...)
	if st.plan == planFlow {
		for _, x := range w.all {
			if c := x.h.Creator(); c != (graph.Ref{}) && c.Name() == st.name {
				out = append(out, x)
			}
		}
	}
	return out
}

// checkCycle checks that each step of a reported cycle, from st back to
// it, is a real need: an input, a child waited for, or a task a flow
// emitted.
func (w *stressWorld) checkCycle(st *stressTask, cycle []string) string {
	if len(cycle) < 2 || cycle[0] != st.name || cycle[len(cycle)-1] != st.name {
		return fmt.Sprintf("the cycle %v does not go from the task back to it", cycle)
	}
	for i := 0; i+1 < len(cycle); i++ {
		a, b := w.byName[cycle[i]], w.byName[cycle[i+1]]
		if a == nil || b == nil {
			return fmt.Sprintf("the cycle %v names a task the test did not add", cycle)
		}
		if !hasTask(w.needs(a), b) {
			return fmt.Sprintf("in the cycle %s, %s does not need %s", strings.Join(cycle, " -> "), a.name, b.name)
		}
	}
	return ""
}

func hasTask(ts []*stressTask, x *stressTask) bool {
	for _, t := range ts {
		if t == x {
			return true
		}
	}
	return false
}

// FuzzReplayableRun is TestReplayableRuns with the fuzzer choosing the
// seed, the worker count and the mix: a failing input replays exactly.
//
//	go test ./dynamic -run '^$' -fuzz FuzzReplayableRun -fuzztime 10m
func FuzzReplayableRun(f *testing.F) {
	f.Add(uint64(0), uint8(1), uint8(0))
	f.Add(uint64(1), uint8(2), uint8(1))
	f.Add(uint64(3), uint8(3), uint8(2))
	f.Add(uint64(17), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, workers, mix uint8) {
		opts := []stressOptions{{replay: true}, {replay: true, flows: true}, {replay: true, waits: true}}[mix%3]
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		synctest.Test(t, func(t *testing.T) {
			runStress(t, seed, 1+int(workers%3), opts)
		})
	})
}
