package dynamic_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestAddedTasksKeepPriorityOrder: with one worker, a task adds children
// at high, middle and low priority while older work waits in the queue.
// The high ones run before the older work of lower priority, equal
// priorities run in creation order (older first), so the run order is
// exactly: parent, the high children in creation order, the middle one,
// the older queued tasks, then the low children.
func TestAddedTasksKeepPriorityOrder(t *testing.T) {
	g := graph.New()
	var started log
	nop := func(context.Context) (int, error) { return 0, nil }
	for i := range 3 {
		graph.Add(g, fmt.Sprint("L", i), nop)
	}
	graph.Add(g, "P", func(ctx context.Context) (int, error) {
		s := dynamic.Scope(ctx)
		for i := range 3 {
			graph.Add(s, fmt.Sprint("E", i), nop) // same priority as L: after them
			graph.Add(s, fmt.Sprint("H", i), nop, graph.Priority(5))
		}
		graph.Add(s, "M", nop, graph.Priority(1))
		graph.Add(s, "N", nop, graph.Priority(-1))
		return 0, nil
	}, graph.Priority(1))
	if err := run(t, g, exec.Workers(1), exec.Observe(started.observer(exec.EventStarted))); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := prefixed("started ", "P", "H0", "H1", "H2", "M", "L0", "L1", "L2", "E0", "E1", "E2", "N")
	if got := started.all(); !slices.Equal(got, want) {
		t.Errorf("run order:\n got %q\nwant %q", got, want)
	}
}

func prefixed(p string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}

// TestWaitingParentYieldsToHigherPriority: with one worker, a task adds a
// child at a priority below the queued work and waits for it. The wait
// gives the slot back; the queued work, which outranks the child, runs
// first; then the child; then the parent goes on. Children at a priority
// above the queue run before it, at once.
func TestWaitingParentYieldsToHigherPriority(t *testing.T) {
	cases := []struct {
		name      string
		childPrio int
		want      []string
	}{
		{"child below the queue", -1, []string{"P", "L0", "L1", "L2", "C", "P resumed"}},
		{"child above the queue", 3, []string{"P", "C", "P resumed", "L0", "L1", "L2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph.New()
			var order log
			for i := range 3 {
				graph.Add(g, fmt.Sprint("L", i), func(context.Context) (int, error) { order.add(fmt.Sprint("L", i)); return 0, nil })
			}
			graph.Add(g, "P", func(ctx context.Context) (int, error) {
				order.add("P")
				child := graph.Add(dynamic.Scope(ctx), "C", func(context.Context) (int, error) { order.add("C"); return 1, nil }, graph.Priority(c.childPrio))
				v, err := child.Wait(ctx)
				order.add("P resumed")
				return v, err
			}, graph.Priority(2))
			if err := run(t, g, exec.Workers(1)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := order.all(); !slices.Equal(got, c.want) {
				t.Errorf("order %q; want %q", got, c.want)
			}
		})
	}
}

// TestResumedWaiterQueuesAtItsPriority: with one worker, parents at
// distinct priorities each add a child at a higher priority and wait for
// it; when the child finishes, its parent resumes before any queued task
// of lower priority starts: the run order is exactly by priority, for
// every way of waiting (Gather, AsCompleted and WaitFirst block without
// running the child themselves; Task.Wait runs it on the parent's slot).
func TestResumedWaiterQueuesAtItsPriority(t *testing.T) {
	firstOf := func(ctx context.Context, kids []graph.Task[int]) ([]int, error) {
		_, err := dynamic.WaitFirst(ctx, kids[0])
		return nil, err
	}
	ways := append(slices.Clone(waits), struct {
		name string
		wait waitFunc
	}{"WaitFirst", firstOf})
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			for round := range 5 {
				g := graph.New()
				var order log
				var want []string
				for p := 8; p >= 1; p-- {
					name := fmt.Sprint("P", p)
					want = append(want, name, name+".kid", name+" resumed")
				}
				want = append(want, "low")
				for p := 1; p <= 8; p++ { // created lowest first: priority, not creation, orders them
					name := fmt.Sprint("P", p)
					graph.Add(g, name, func(ctx context.Context) (int, error) {
						order.add(name)
						kid := graph.Add(dynamic.Scope(ctx), name+".kid", func(context.Context) (int, error) {
							order.add(name + ".kid")
							return 0, nil
						}, graph.Priority(10))
						_, err := w.wait(ctx, []graph.Task[int]{kid})
						order.add(name + " resumed")
						return 0, err
					}, graph.Priority(p))
				}
				graph.Add(g, "low", func(context.Context) (int, error) { order.add("low"); return 0, nil })
				if err := run(t, g, exec.Workers(1)); err != nil {
					t.Fatalf("Run: %v", err)
				}
				if got := order.all(); !slices.Equal(got, want) {
					t.Fatalf("round %d: order\n got %q\nwant %q", round, got, want)
				}
			}
		})
	}
}

// TestClientAddedTasksKeepPriorityOrder: tasks a client adds to a running
// graph (one worker, held busy while they are added) run by priority, then
// creation order, with the tasks added by a running task interleaved by the
// same rule.
func TestClientAddedTasksKeepPriorityOrder(t *testing.T) {
	g := graph.New()
	var started log
	release := make(chan struct{})
	entered := make(chan struct{})
	graph.Add(g, "busy", func(ctx context.Context) (int, error) {
		close(entered)
		if err := block(ctx, release); err != nil {
			return 0, err
		}
		s := dynamic.Scope(ctx)
		graph.Add(s, "t2", nop, graph.Priority(2))
		graph.Add(s, "t0", nop)
		return 0, nil
	}, graph.Priority(100))
	e := start(t, g, exec.Workers(1), exec.Observe(started.observer(exec.EventStarted)))
	awaitClosed(t, entered, "busy to start")
	for i, p := range []int{0, 3, 2, 0, 3, -1} {
		graph.Add(g, fmt.Sprintf("c%d/%d", i, p), nop, graph.Priority(p))
	}
	close(release)
	if err := finish(t, e); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := prefixed("started ", "busy", "c1/3", "c4/3", "c2/2", "t2", "c0/0", "c3/0", "t0", "c5/-1")
	if got := started.all(); !slices.Equal(got, want) {
		t.Errorf("run order:\n got %q\nwant %q", got, want)
	}
}

func nop(context.Context) (int, error) { return 0, nil }
