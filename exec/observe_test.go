package exec_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestObserveCountsEveryEvent runs a known graph and checks the exact
// number of events of each kind, per task: two tasks succeed, one fails,
// and two are skipped behind it (a skipped task becomes ready, and a
// worker skips it without starting it). Values are not in the run.
func TestObserveCountsEveryEvent(t *testing.T) {
	const workers = 2
	rec := &recorder{}
	g := graph.New()
	v := graph.Value(g, "value", 1)
	a := graph.Add1(g, "a", v, func(_ context.Context, x int) (int, error) { return x, nil })
	graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
	c := graph.Add(g, "c", func(context.Context) (int, error) { return 0, errBoom })
	d := graph.Add1(g, "d", c, func(_ context.Context, x int) (int, error) { return x, nil })
	graph.Add1(g, "e", d, func(_ context.Context, x int) (int, error) { return x, nil })
	if err := runGuarded(t, t.Context(), g, exec.Workers(workers), exec.Observe(rec)); !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v", err)
	}

	want := map[string][]exec.EventKind{
		"a": {exec.EventReady, exec.EventStarted, exec.EventFinished},
		"b": {exec.EventReady, exec.EventStarted, exec.EventFinished},
		"c": {exec.EventReady, exec.EventStarted, exec.EventFailed},
		"d": {exec.EventReady, exec.EventSkipped},
		"e": {exec.EventReady, exec.EventSkipped},
	}
	got := map[string][]exec.Event{}
	for _, e := range rec.all() {
		got[e.Task.Name()] = append(got[e.Task.Name()], e)
	}
	if len(got) != len(want) {
		t.Errorf("events for tasks %v, want exactly a..e", keys(got))
	}
	total := map[exec.EventKind]int{}
	for name, kinds := range want {
		evs := got[name]
		if fmt.Sprint(kindsOf(evs)) != fmt.Sprint(kinds) {
			t.Errorf("%s: events %v, want %v in this order", name, kindsOf(evs), kinds)
			continue
		}
		for i, e := range evs {
			total[e.Kind]++
			if e.Time.IsZero() {
				t.Errorf("%s: %v event has no time", name, e.Kind)
			}
			if i > 0 && e.Time.Before(evs[i-1].Time) {
				t.Errorf("%s: %v at %v is before %v at %v", name, e.Kind, e.Time, evs[i-1].Kind, evs[i-1].Time)
			}
			switch e.Kind {
			case exec.EventReady:
				if e.Worker != -1 {
					t.Errorf("%s: ready event has worker %d, want -1 (no worker yet)", name, e.Worker)
				}
			default:
				if e.Worker < 0 || e.Worker >= workers {
					t.Errorf("%s: %v event has worker %d, want in [0, %d)", name, e.Kind, e.Worker, workers)
				}
			}
			switch e.Kind {
			case exec.EventFailed, exec.EventSkipped:
				if !errors.Is(e.Err, errBoom) {
					t.Errorf("%s: %v event has error %v, want the failure", name, e.Kind, e.Err)
				}
			default:
				if e.Err != nil {
					t.Errorf("%s: %v event has error %v, want nil", name, e.Kind, e.Err)
				}
			}
		}
	}
	for k, n := range map[exec.EventKind]int{
		exec.EventReady: 5, exec.EventStarted: 3, exec.EventFinished: 2, exec.EventFailed: 1,
		exec.EventSkipped: 2, exec.EventCancelled: 0, exec.EventRetried: 0,
	} {
		if c := rec.count(k, ""); c != n {
			t.Errorf("%d %v events, want %d", c, k, n)
		}
		if total[k] != n {
			t.Errorf("%d %v events in per-task sequences, want %d", total[k], k, n)
		}
	}
	var se *graph.SkipError
	if !errors.As(d.Err(), &se) {
		t.Errorf("d: %v", d.Err())
	}
}

// TestObserveReportsCancelledTasks cancels runs while one task runs and
// its consumers wait: every task must get exactly one event ending its life
// (finished, failed, skipped or cancelled), and every task that ends
// cancelled an EventCancelled, so that observers see each life to its end.
// Whether the consumers end cancelled depends on scheduling, so it tries
// several rounds, and lets the run notice the cancel before a returns.
func TestObserveReportsCancelledTasks(t *testing.T) {
	for round := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		rec := &recorder{}
		g := graph.New()
		a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
			cancel()
			err := blockUntil(ctx, nil)
			time.Sleep(time.Millisecond) // give the run time to notice the cancel; not an assertion
			return 0, err
		})
		b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
		c := graph.Add1(g, "c", b, func(_ context.Context, x int) (int, error) { return x, nil })
		if err := runGuarded(t, ctx, g, exec.Workers(1), exec.Observe(rec)); !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: Run = %v", round, err)
		}
		cancel()
		for _, h := range []graph.Task[int]{a, b, c} {
			var terminal int
			for _, e := range rec.all() {
				if e.Task.Name() != h.Name() {
					continue
				}
				switch e.Kind {
				case exec.EventFinished, exec.EventFailed, exec.EventSkipped, exec.EventCancelled:
					terminal++
				}
			}
			if h.State() == graph.Cancelled && rec.count(exec.EventCancelled, h.Name()) != 1 {
				t.Errorf("round %d: %s ended cancelled but got %d cancelled events", round, h.Name(), rec.count(exec.EventCancelled, h.Name()))
			}
			if terminal != 1 {
				t.Errorf("round %d: %s (state %v): %d events ending its life, want exactly 1", round, h.Name(), h.State(), terminal)
			}
		}
		if t.Failed() {
			return
		}
	}
}

// TestObserveSeesTaskCancel checks the event of a task cancelled with
// Task.Cancel before it started.
func TestObserveSeesTaskCancel(t *testing.T) {
	release := make(chan struct{})
	rec := &recorder{}
	g := graph.New()
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) { return 1, blockUntil(ctx, release) })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
	e, err := exec.Start(t.Context(), g, exec.Observe(rec))
	if err != nil {
		t.Fatal(err)
	}
	if !b.Cancel() {
		t.Fatal("Cancel on a waiting task reported false")
	}
	close(release)
	e.Close()
	// Not every task succeeded: the run says which was cancelled.
	if err := waitGuarded(t, e); !errors.Is(err, graph.ErrCancelled) {
		t.Fatalf("Run = %v; want an error that counts b cancelled", err)
	}
	if b.State() != graph.Cancelled || !errors.Is(b.Err(), graph.ErrCancelled) {
		t.Fatalf("b: %v, %v; want cancelled with ErrCancelled", b.State(), b.Err())
	}
	if n := rec.count(exec.EventCancelled, "b"); n != 1 {
		t.Fatalf("%d cancelled events for b, want 1", n)
	}
	if n := rec.count(exec.EventStarted, "b"); n != 0 {
		t.Fatalf("cancelled task b started")
	}
}

func kindsOf(evs []exec.Event) []exec.EventKind {
	out := make([]exec.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestObserveTerminalEventsSeeFinalState: an observer told that a task
// ended reads the task's final state, result and error from the event's
// handle. Tasks succeed, fail, are skipped behind a failure, and cancel
// themselves while running, on one and two workers, many rounds: the
// event must come only once the end is readable.
func TestObserveTerminalEventsSeeFinalState(t *testing.T) {
	wantState := map[exec.EventKind]graph.State{
		exec.EventFinished:  graph.Done,
		exec.EventFailed:    graph.Failed,
		exec.EventSkipped:   graph.Skipped,
		exec.EventCancelled: graph.Cancelled,
	}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			for round := range 50 {
				g := graph.New()
				want := map[string]int{}
				prev := graph.Value(g, "value", 0)
				for i := range 6 {
					name := fmt.Sprintf("ok%d", i)
					want[name] = i + 1
					prev = graph.Add1(g, name, prev, func(_ context.Context, x int) (int, error) { return x + 1, nil })
				}
				bad := graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errBoom })
				graph.Add1(g, "after", bad, func(_ context.Context, x int) (int, error) { return x, nil })
				var self graph.Task[int]
				self = graph.Add(g, "self", func(ctx context.Context) (int, error) {
					self.Cancel()
					<-ctx.Done()
					return 0, ctx.Err()
				}, graph.Cancellable())

				var mu sync.Mutex
				var wrong []string
				seen := map[exec.EventKind]int{}
				check := exec.ObserverFunc(func(e exec.Event) {
					st, terminal := wantState[e.Kind]
					if !terminal {
						return
					}
					task, _ := graph.As[int](e.Task)
					v, err := task.Result()
					var problem string
					switch {
					case task.State() != st:
						problem = fmt.Sprintf("state %v, want %v", task.State(), st)
					case e.Kind == exec.EventFinished && (err != nil || v != want[task.Name()]):
						problem = fmt.Sprintf("Result() = %v, %v; want %d", v, err, want[task.Name()])
					case e.Kind != exec.EventFinished && (task.Err() == nil || err == nil):
						problem = fmt.Sprintf("Err() = %v, Result() error = %v; want both set", task.Err(), err)
					}
					mu.Lock()
					seen[e.Kind]++
					if problem != "" {
						wrong = append(wrong, fmt.Sprintf("%v event of %s: %s", e.Kind, task.Name(), problem))
					}
					mu.Unlock()
				})
				err := runGuarded(t, t.Context(), g, exec.Workers(workers), exec.Observe(check))
				if !errors.Is(err, errBoom) {
					t.Fatalf("round %d: Run = %v, want the failure of bad", round, err)
				}
				mu.Lock()
				if len(wrong) > 0 {
					t.Fatalf("round %d: an observer read a task before its end was readable:\n%s", round, strings.Join(wrong, "\n"))
				}
				if seen[exec.EventFinished] != 6 || seen[exec.EventFailed] != 1 || seen[exec.EventSkipped] != 1 || seen[exec.EventCancelled] != 1 {
					t.Fatalf("round %d: terminal events %v, want 6 finished and one each of failed, skipped, cancelled", round, seen)
				}
				mu.Unlock()
			}
		})
	}
}

// TestObserverAddsTasks: an observer may add tasks to the graph it
// observes, whatever the event and wherever it happens (a client adding
// a task, a task adding one, the run's start, a completion, the run's
// end); the tasks it adds while the run goes on join the run and finish.
// Events told while the graph's lock was held made this deadlock.
func TestObserverAddsTasks(t *testing.T) {
	noop := func(context.Context) (int, error) { return 1, nil }
	cases := []struct {
		name string
		kind exec.EventKind
		task string // the task whose event adds a task
		// build fills g and runs it, and returns the run's error.
		build func(t *testing.T, g *graph.Graph, obs exec.Option) error
		late  bool // the event comes after the run: the added task does not run
	}{
		{name: "created by a client", kind: exec.EventCreated, task: "a", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			e, err := exec.Start(t.Context(), g, obs)
			if err != nil {
				t.Fatal(err)
			}
			added := make(chan struct{})
			go func() {
				graph.Add(g, "a", noop)
				close(added)
			}()
			awaitClosed(t, added, "a client adding a task")
			e.Close()
			return waitGuarded(t, e)
		}},
		{name: "created by a task", kind: exec.EventCreated, task: "child", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			var parent graph.Task[int]
			parent = graph.Add(g, "parent", func(ctx context.Context) (int, error) {
				return graph.Add(graph.Within(parent), "child", noop).Wait(ctx)
			})
			return runGuarded(t, t.Context(), g, obs)
		}},
		{name: "ready at the start", kind: exec.EventReady, task: "a", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			graph.Add(g, "a", noop)
			return runGuarded(t, t.Context(), g, obs, exec.Workers(1))
		}},
		{name: "ready when added", kind: exec.EventReady, task: "child", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			var parent graph.Task[int]
			parent = graph.Add(g, "parent", func(ctx context.Context) (int, error) {
				return graph.Add(graph.Within(parent), "child", noop).Wait(ctx)
			})
			return runGuarded(t, t.Context(), g, obs)
		}},
		{name: "started", kind: exec.EventStarted, task: "a", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			graph.Add(g, "a", noop)
			return runGuarded(t, t.Context(), g, obs, exec.Workers(1))
		}},
		{name: "finished", kind: exec.EventFinished, task: "a", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			graph.Add(g, "a", noop)
			return runGuarded(t, t.Context(), g, obs, exec.Workers(1))
		}},
		{name: "failed", kind: exec.EventFailed, task: "a", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			graph.Add(g, "a", func(context.Context) (int, error) { return 0, errBoom })
			if err := runGuarded(t, t.Context(), g, obs, exec.Workers(1)); !errors.Is(err, errBoom) {
				return fmt.Errorf("Run = %v, want the failure of a", err)
			}
			return nil
		}},
		{name: "cancelled by a client", kind: exec.EventCancelled, task: "b", build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			release := make(chan struct{})
			a := graph.Add(g, "a", func(ctx context.Context) (int, error) { return 1, blockUntil(ctx, release) })
			b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
			e, err := exec.Start(t.Context(), g, obs)
			if err != nil {
				t.Fatal(err)
			}
			cancelled := make(chan struct{})
			go func() {
				b.Cancel()
				close(cancelled)
			}()
			awaitClosed(t, cancelled, "cancelling b")
			close(release)
			e.Close()
			// b was cancelled on purpose: the run says so, and only that.
			err = waitGuarded(t, e)
			var ee *exec.Error
			if errors.As(err, &ee) && ee.Cancelled == 1 && ee.Failed == 0 && ee.Skipped == 0 {
				return nil
			}
			return fmt.Errorf("Wait = %v, want an *exec.Error with b cancelled", err)
		}},
		{name: "cancelled at the end", kind: exec.EventCancelled, task: "b", late: true, build: func(t *testing.T, g *graph.Graph, obs exec.Option) error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
				cancel()
				return 0, blockUntil(ctx, nil)
			})
			graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { return x, nil })
			if err := runGuarded(t, ctx, g, obs, exec.Workers(1)); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("Run = %v, want context.Canceled", err)
			}
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph.New()
			var once sync.Once
			var mu sync.Mutex
			var added graph.Task[int]
			obs := exec.Observe(exec.ObserverFunc(func(e exec.Event) {
				if e.Kind != c.kind || e.Task.Name() != c.task {
					return
				}
				once.Do(func() {
					x := graph.Add(g, "added", func(context.Context) (int, error) { return 7, nil })
					mu.Lock()
					added = x
					mu.Unlock()
				})
			}))
			if err := c.build(t, g, obs); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case added.Ref() == (graph.Ref{}):
				t.Fatalf("no %v event of %s", c.kind, c.task)
			case added.Err() != nil:
				t.Fatalf("the added task could not be built: %v", added.Err())
			case c.late && added.State() != graph.Idle:
				t.Fatalf("a task added after the run is %v, want idle", added.State())
			case !c.late:
				if v, err := added.Result(); err != nil || v != 7 {
					t.Fatalf("the added task = %v, %v; want it run in the run, with 7", v, err)
				}
			}
		})
	}
}

// TestObserverPanicIsReported: an observer that panics neither crashes
// the process nor blames a task: the run goes on and every task
// finishes, the observer is not called again, the other observers see
// every event, and the run's error is an *exec.ObserverError with the
// observer's index, the panic value and the stack, joined with the
// tasks' failures if any.
func TestObserverPanicIsReported(t *testing.T) {
	for _, c := range []struct {
		name    string
		workers int
		kind    exec.EventKind // the event the observer panics on
		fail    bool           // a task fails too
	}{
		{"ready/workers=1", 1, exec.EventReady, false},
		{"started/workers=1", 1, exec.EventStarted, false},
		{"finished/workers=1", 1, exec.EventFinished, true},
		{"created/workers=1", 1, exec.EventCreated, false},
		{"started/workers=2", 2, exec.EventStarted, true},
		{"created/workers=2", 2, exec.EventCreated, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := graph.New()
			var tasks []graph.Task[int]
			for i := range 8 {
				var parent graph.Task[int]
				parent = graph.Add(g, fmt.Sprintf("t%d", i), func(ctx context.Context) (int, error) {
					// Each task adds a child and waits for it, so that
					// the events of tasks added while the run goes on are
					// told inside a task's function.
					return graph.Add(graph.Within(parent), "child", func(context.Context) (int, error) { return i, nil }).Wait(ctx)
				})
				tasks = append(tasks, parent)
			}
			if c.fail {
				graph.Add(g, "bad", func(context.Context) (int, error) { return 0, errBoom })
			}
			var calls, after, panics atomic.Int64
			var broken atomic.Bool
			bad := exec.ObserverFunc(func(e exec.Event) {
				calls.Add(1)
				if broken.Load() {
					after.Add(1)
				}
				if e.Kind == c.kind {
					broken.Store(true)
					panics.Add(1)
					panic("observer bug")
				}
			})
			good := &recorder{}
			err := runGuarded(t, t.Context(), g, exec.Workers(c.workers), exec.Observe(good, bad))
			var oe *exec.ObserverError
			if !errors.As(err, &oe) {
				t.Fatalf("Run = %v, want an *exec.ObserverError", err)
			}
			if oe.Index != 1 || oe.Value != "observer bug" || !strings.Contains(string(oe.Stack), "TestObserverPanicIsReported") {
				t.Errorf("ObserverError{Index: %d, Value: %v}, stack:\n%s\nwant index 1, the panic value, the observer's stack", oe.Index, oe.Value, oe.Stack)
			}
			if n := strings.Count(err.Error(), "panicked"); n != 1 {
				t.Errorf("Run = %v: %d reports of the panic, want one", err, n)
			}
			var ee *exec.Error
			if errors.As(err, &ee) != c.fail || c.fail && !errors.Is(err, errBoom) {
				t.Errorf("Run = %v: want the task failures reported exactly when a task failed (%v)", err, c.fail)
			}
			for _, task := range tasks {
				if v, err := task.Result(); err != nil {
					t.Errorf("%s = %v, %v: a panicking observer must not fail a task", task.Name(), v, err)
				}
			}
			if c.workers == 1 && after.Load() != 0 {
				t.Errorf("the observer was called %d times after it panicked, want none", after.Load())
			}
			if p := panics.Load(); p > int64(c.workers) {
				t.Errorf("the observer panicked %d times, want at most once per goroutine telling events (%d)", p, c.workers)
			}
			want := 16 // 8 parents and their children
			if c.fail {
				want++
			}
			if got := good.count(exec.EventFinished, "") + good.count(exec.EventFailed, ""); got != want {
				t.Errorf("the other observer saw %d tasks end, want %d", got, want)
			}
		})
	}
}
