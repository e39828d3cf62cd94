package exec_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/access"
	"github.com/evolve-dag/evolve/internal/core"
)

// A worker keeps a task its task adds, ready at once, instead of queuing
// it, while nothing else could run it (exec's kept.go), and a task adds
// such a task without the graph's lock (core's Graph.Spawn). These tests
// cover what that could break: a kept task must not wait behind tasks
// added after it, must not let an awaited task of a lower priority run
// first, must run in creation order on one worker, and a task added
// without the lock must be in the graph like any other.

// runLog records the order in which the tasks of a run ran.
type runLog struct {
	mu    sync.Mutex
	order []string
}

// task returns a task function that records name when it runs.
func (l *runLog) task(name string) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.order = append(l.order, name)
		return 0, nil
	}
}

// TestKeptTaskIsNotStarvedByLaterTasks: a task adds a child and blocks
// (outside any graph wait) until the child has run, while the other
// worker runs a chain of tasks each of which adds the next. The child was
// added before the links added after it, so a worker taking the next link
// from the queue takes the child first: the chain stops within a few
// links of the child's creation, long before the bound (without the
// worker's look at kept tasks, it would run on until the bound).
func TestKeptTaskIsNotStarvedByLaterTasks(t *testing.T) {
	const bound, safety = 1000, 10_000_000
	for range 20 {
		g := graph.New()
		childRan := make(chan struct{})
		var added atomic.Bool
		var after, links atomic.Int32
		var link func(ctx context.Context) (int, error)
		link = func(ctx context.Context) (int, error) {
			select {
			case <-childRan:
				return 0, nil
			default:
			}
			if added.Load() && after.Add(1) >= bound || links.Add(1) >= safety {
				return 0, nil
			}
			graph.Add(dynamic.Scope(ctx), "link", link)
			return 0, nil
		}
		graph.Add(g, "link", link)
		graph.Add(g, "parent", func(ctx context.Context) (int, error) {
			graph.Add(dynamic.Scope(ctx), "child", func(context.Context) (int, error) {
				close(childRan)
				return 0, nil
			})
			added.Store(true)
			return 0, blockUntil(ctx, childRan)
		})
		if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
			t.Fatal(err)
		}
		if n := after.Load(); n >= bound {
			t.Fatalf("the chain ran %d links after the child its parent added before them", n)
		}
	}
}

// TestAwaitedTaskWaitsForAKeptTaskThatOutranksIt: on one worker, a task
// adds a child at priority 0, which its worker keeps, then one at
// priority -1, and waits for the latter: the waiter may run an awaited
// task itself only when nothing ready outranks it, and the kept child
// does, so it runs first. (The task first adds and waits for a task of
// its own, so that the next ones are added without the graph's lock,
// which is when they can be kept.)
func TestAwaitedTaskWaitsForAKeptTaskThatOutranksIt(t *testing.T) {
	g := graph.New()
	var log runLog
	record := log.task
	graph.Add(g, "parent", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		if _, err := graph.Add(s, "first", record("first")).Wait(ctx); err != nil {
			return 0, err
		}
		graph.Add(s, "high", record("high"))
		low := graph.Add(s, "low", record("low"), graph.Priority(-1))
		return low.Wait(ctx)
	})
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"first", "high", "low"}; !slices.Equal(log.order, want) {
		t.Fatalf("run order %v, want %v", log.order, want)
	}
}

// TestTasksAddedByATaskRunInCreationOrder: on one worker, the tasks a
// task adds and does not wait for run in creation order after it, and
// after the tasks that were queued before them, whether their worker kept
// them or not.
func TestTasksAddedByATaskRunInCreationOrder(t *testing.T) {
	g := graph.New()
	var log runLog
	record := log.task
	graph.Add(g, "parent", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		for i := range 5 {
			graph.Add(s, fmt.Sprint("kid", i), record(fmt.Sprint("kid", i)))
		}
		return 0, nil
	})
	graph.Add(g, "before", record("before"))
	if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
		t.Fatal(err)
	}
	want := []string{"before", "kid0", "kid1", "kid2", "kid3", "kid4"}
	if !slices.Equal(log.order, want) {
		t.Fatalf("run order %v, want %v", log.order, want)
	}
}

// TestTasksAddedWithoutTheLockAreInTheGraph: a task whose goroutines add
// thousands of children at once, some sharing a name and some with names
// of their own, across several chunks of the graph's index: each child
// runs, has its own id, in the order Add returned on each goroutine, and
// the graph lists every one in id order, finds each by id, names each,
// and records the task as its creator.
func TestTasksAddedWithoutTheLockAreInTheGraph(t *testing.T) {
	const goroutines, each = 4, 1500
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			var kids [goroutines][]graph.Task[int]
			root := graph.Add(g, "root", func(ctx context.Context) (int, error) {
				s := dynamic.Scope(ctx)
				var wg sync.WaitGroup
				for k := range goroutines {
					wg.Go(func() {
						for i := range each {
							name := "kid"
							if i%3 == 0 {
								name = fmt.Sprintf("kid-%d-%d", k, i)
							}
							kids[k] = append(kids[k], graph.Add(s, name, func(context.Context) (int, error) { return k*each + i, nil }))
						}
					})
				}
				wg.Wait()
				return 0, nil // the run runs them after
			})
			if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if n := g.Len(); n != 1+goroutines*each {
				t.Fatalf("the graph holds %d tasks, want %d", n, 1+goroutines*each)
			}
			var ids []int64
			for r := range g.Tasks() {
				ids = append(ids, r.ID())
			}
			if len(ids) != 1+goroutines*each || !slices.IsSorted(ids) {
				t.Fatalf("Tasks listed %d tasks (sorted by id: %v), want %d in id order", len(ids), slices.IsSorted(ids), 1+goroutines*each)
			}
			seen := map[int64]bool{}
			for k, ks := range kids {
				for i, h := range ks {
					if v, err := h.Result(); v != k*each+i || err != nil {
						t.Fatalf("kid %d of goroutine %d: %v, %v", i, k, v, err)
					}
					if i > 0 && h.ID() <= ks[i-1].ID() {
						t.Fatalf("goroutine %d: kid %d has id %d, after its previous one's %d", k, i, h.ID(), ks[i-1].ID())
					}
					if seen[h.ID()] {
						t.Fatalf("id %d given twice", h.ID())
					}
					seen[h.ID()] = true
					if n := g.Node(h.ID()); n == nil || n.ID() != h.ID() {
						t.Fatalf("Node(%d) = %v", h.ID(), n)
					}
					want := "kid"
					if i%3 == 0 {
						want = fmt.Sprintf("kid-%d-%d", k, i)
					}
					if h.Name() != want {
						t.Fatalf("kid %d of goroutine %d is named %q, want %q", i, k, h.Name(), want)
					}
					if c := h.Creator(); c.ID() != root.ID() {
						t.Fatalf("kid %d of goroutine %d: creator %v, want root", i, k, c)
					}
				}
			}
		})
	}
}

// TestTasksAddedAsTheRunEndsEndWithIt: a goroutine that outlived its task
// adds tasks through the task's handle, without the graph's lock, while
// the run is stopped and ends: each such task is cancelled with the run,
// or, added after it ended, waits idle for the next run; none is left
// ready in a run that is over. The next run runs them all.
func TestTasksAddedAsTheRunEndsEndWithIt(t *testing.T) {
	for round := range 20 {
		g := graph.New()
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		var late []graph.Task[int]
		stop := make(chan struct{})
		helped := make(chan struct{})
		var first atomic.Bool // the first run, which the goroutine adds to
		first.Store(true)
		var self graph.Task[int]
		self = graph.Add(g, "starter", func(ctx context.Context) (int, error) {
			if !first.Load() {
				return 0, nil
			}
			// Tasks added by this task first, so that later ones are added
			// without the lock.
			if err := dynamic.WaitAll(ctx, graph.Add(dynamic.Scope(ctx), "warm", func(context.Context) (int, error) { return 0, nil })); err != nil {
				return 0, err
			}
			go func() {
				defer close(helped)
				b := graph.Within(self)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					h := graph.Add(b, "late", func(context.Context) (int, error) { return 1, nil })
					mu.Lock()
					late = append(late, h)
					n := len(late)
					mu.Unlock()
					if n == 50 {
						cancel()
					}
				}
			}()
			return 0, nil
		})
		graph.Add(g, "blocker", func(ctx context.Context) (int, error) {
			if !first.Load() {
				return 0, nil
			}
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if err := runGuarded(t, ctx, g, exec.Workers(2)); err == nil {
			t.Fatalf("round %d: a cancelled run reported success", round)
		}
		// Let the goroutine add a little while longer, after the end.
		for {
			mu.Lock()
			n := len(late)
			mu.Unlock()
			if n >= 200 {
				break
			}
			runtime.Gosched()
		}
		close(stop)
		<-helped
		first.Store(false)
		for _, h := range late {
			if s := h.State(); s != graph.Idle && !s.Terminal() {
				t.Fatalf("round %d: task %d added as the run ended is %v after it", round, h.ID(), s)
			}
		}
		if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
			t.Fatalf("round %d: the next run: %v", round, err)
		}
		for _, h := range late {
			if v, err := h.Result(); v != 1 || err != nil {
				t.Fatalf("round %d: task %d after the next run: %v, %v", round, h.ID(), v, err)
			}
		}
	}
}

// TestValueAddedByATaskIsDone: a value a running task adds, without the
// graph's lock like other tasks without inputs, is done from the start
// with its value; it is not run.
func TestValueAddedByATaskIsDone(t *testing.T) {
	g := graph.New()
	var vals []graph.Task[int]
	graph.Add(g, "parent", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		for i := range 3 { // the first is added with the lock, the others without
			v := graph.Value(s, "value", 10+i)
			if st := v.State(); st != graph.Done {
				return 0, fmt.Errorf("value %d is %v as it is added", i, st)
			}
			vals = append(vals, v)
		}
		return 0, dynamic.WaitAll(ctx, vals...)
	})
	if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if x, err := v.Result(); x != 10+i || err != nil {
			t.Errorf("value %d: %v, %v; want %d", i, x, err, 10+i)
		}
	}
}

// TestWaitRunsWhatItAwaitsBestFirst: on one worker, a task waiting for
// children of several priorities, given in no particular order, runs them
// on its own slot best first (higher priority, then creation order), as
// the queue would, whatever the order it was given.
func TestWaitRunsWhatItAwaitsBestFirst(t *testing.T) {
	prios := []int{0, 2, 1, 2, 0, 1}
	for _, reversed := range []bool{false, true} {
		g := graph.New()
		var mu sync.Mutex
		var order []int
		graph.Add(g, "parent", func(ctx context.Context) (int, error) {
			s := dynamic.Scope(ctx)
			var kids []graph.Task[int]
			for i, p := range prios {
				kids = append(kids, graph.Add(s, fmt.Sprint("kid", i), func(context.Context) (int, error) {
					mu.Lock()
					defer mu.Unlock()
					order = append(order, i)
					return i, nil
				}, graph.Priority(p)))
			}
			if reversed {
				slices.Reverse(kids)
			}
			return 0, dynamic.WaitAll(ctx, kids...)
		})
		if err := runGuarded(t, t.Context(), g, exec.Workers(1)); err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 3, 2, 5, 0, 4}; !slices.Equal(order, want) {
			t.Errorf("reversed=%v: run order %v, want %v", reversed, order, want)
		}
	}
}

// The run's count leaves out a task that a running task adds while its
// creator's worker keeps it, or while a claim runs it (exec's kept.go).
// The tests below take each way such a task can outlive what covers it.

// warm adds a task from the task running with ctx, and waits for it: a
// graph's first task added by a task is added with the graph's lock, the
// later ones without it, kept by the worker (core's Graph.Spawn).
func warm(ctx context.Context) error {
	return dynamic.WaitAll(ctx, graph.Add(dynamic.Scope(ctx), "warm", func(context.Context) (int, error) { return 0, nil }))
}

// TestClaimOutlivingItsTaskKeepsTheRunOpen: a goroutine of a task waits
// for a child the task added and runs it on the task's slot (a claim),
// and the task returns while the child runs there. The task's count no
// longer covers the child then, so the claim keeps the run open until
// the child returns: the run must not end before.
func TestClaimOutlivingItsTaskKeepsTheRunOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		started, release := make(chan struct{}), make(chan struct{})
		var child graph.Task[int]
		helper := make(chan error, 1)
		parent := graph.Add(g, "parent", func(ctx context.Context) (int, error) {
			if err := warm(ctx); err != nil {
				return 0, err
			}
			child = graph.Add(dynamic.Scope(ctx), "child", func(context.Context) (int, error) {
				close(started)
				<-release
				return 7, nil
			})
			go func() { helper <- dynamic.WaitAll(ctx, child) }()
			<-started // the helper claimed the child: it runs on this task's slot
			return 1, nil
		})
		ran := make(chan error, 1)
		go func() { ran <- exec.Run(context.Background(), g, exec.Workers(1)) }()
		<-parent.Done()
		synctest.Wait() // all that can happen before the child returns has
		select {
		case err := <-ran:
			close(release) // so that the bubble's goroutines end
			<-helper
			t.Fatalf("the run ended (%v) while the child still ran on its creator's slot", err)
		default:
		}
		close(release)
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		if err := <-helper; err != nil {
			t.Fatalf("the helper's wait: %v", err)
		}
		if v, err := child.Result(); v != 7 || err != nil {
			t.Fatalf("child: %v, %v; want 7", v, err)
		}
	})
}

// TestCancelledKeptTaskLeavesTheRunOpen: a task adds a child, cancels it
// while its worker keeps it (on one worker; on two, the other may have
// taken it), adds another and returns without waiting.
// The cancel counts the child into the run before it finishes it, so the
// run's count still covers the task, and the second child, queued when
// the task returns, runs in the run instead of being cancelled as added
// after its end.
func TestCancelledKeptTaskLeavesTheRunOpen(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			for round := range 20 {
				g := graph.New()
				var cancelled, later graph.Task[int]
				graph.Add(g, "parent", func(ctx context.Context) (int, error) {
					if err := warm(ctx); err != nil {
						return 0, err
					}
					s := dynamic.Scope(ctx)
					// On two workers the other may take the child and start
					// it first: it waits until the Cancel, which then reaches
					// it running, and its result is discarded.
					release := make(chan struct{})
					cancelled = graph.Add(s, "cancelled", func(context.Context) (int, error) {
						<-release
						return 1, nil
					})
					ok := cancelled.Cancel()
					close(release)
					if !ok {
						return 0, errors.New("the kept child could not be cancelled")
					}
					later = graph.Add(s, "later", func(context.Context) (int, error) { return 5, nil })
					return 0, nil
				})
				err := runGuarded(t, t.Context(), g, exec.Workers(workers))
				var ee *exec.Error
				if !errors.As(err, &ee) || ee.Cancelled != 1 || ee.Failed != 0 || ee.Skipped != 0 {
					t.Fatalf("round %d: Run = %v; want an *exec.Error with the one cancelled child", round, err)
				}
				if !errors.Is(cancelled.Err(), graph.ErrCancelled) {
					t.Fatalf("round %d: the cancelled child: %v", round, cancelled.Err())
				}
				if v, err := later.Result(); v != 5 || err != nil {
					t.Fatalf("round %d: the child added after: %v, %v; want 5", round, v, err)
				}
			}
		})
	}
}

// TestWaitBegunAsItsTaskReturnedFails: a goroutine of a task found the
// task's awaiter through its context while the task ran (as graph's waits
// do, first thing), and the task returned before the wait began. The wait
// has no task then: it fails with graph.ErrTaskReturned at once, as a
// wait begun after the return does. It used to park as a wait of no task,
// and the next stall search crashed the program on it (a nil task);
// TestRandomTaskGoroutines found it under the race detector.
func TestWaitBegunAsItsTaskReturnedFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		release := make(chan struct{})
		blocker := graph.Add(g, "blocker", func(context.Context) (int, error) {
			<-release
			return 0, nil
		})
		var taskCtx context.Context
		var awaiter core.Awaiter
		task := graph.Add(g, "task", func(ctx context.Context) (int, error) {
			taskCtx, awaiter = ctx, core.AwaiterOf(ctx)
			return 0, nil
		})
		ran := make(chan error, 1)
		go func() { ran <- exec.Run(context.Background(), g, exec.Workers(2)) }()
		<-task.Done()
		if awaiter == nil {
			close(release)
			<-ran
			t.Fatal("a running task's context has no awaiter")
		}
		waited := make(chan error, 1)
		go func() {
			waited <- awaiter.Await(taskCtx, []*core.Node{access.RefNode.(func(graph.Ref) *core.Node)(blocker.Ref())})
		}()
		synctest.Wait()
		var err error
		select {
		case err = <-waited:
		default:
		}
		close(release)
		if runErr := <-ran; runErr != nil {
			t.Fatal(runErr)
		}
		if err == nil {
			err = <-waited
			t.Fatalf("the wait of a task that had returned blocked, and then returned %v; want an error at once", err)
		}
		if !errors.Is(err, graph.ErrTaskReturned) {
			t.Fatalf("the wait of a task that had returned: %v; want graph.ErrTaskReturned", err)
		}
	})
}
