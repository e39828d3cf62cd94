package exec

import (
	"context"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// keptChild is a run begun by hand, without workers, whose one task,
// parent, runs on w, and has added child, which w keeps out of the run's
// count, as a worker running parent would have.
type keptChild struct {
	r      *runner
	w      *worker
	parent *core.Node
	child  graph.Task[int]
}

func newKeptChild(t *testing.T) keptChild {
	t.Helper()
	g := graph.New()
	parent := graph.Add(g, "parent", func(context.Context) (int, error) { return 0, nil })
	cg := graphCore(g)
	r := newRunner(context.Background(), cg, &config{workers: 1})
	r.outstanding.Store(1) // the Close hold, as Start takes it
	if err := cg.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	r.epoch = cg.Begun()
	r.stopAfter = func() bool { return true }
	w := &worker{r: r}
	w.ctx.Awaiter, w.ctx.Run, w.ctx.Context = w, r, r.ctx
	p := refNode(parent.Ref())
	if !p.CAS(core.Ready, core.Running) {
		t.Fatalf("parent is %v, want ready", p.State())
	}
	p.SetHost(&w.ctx)
	r.holders, r.live = 1, 1 // the parent's slot
	// The first task added from a running task is added the usual way
	// (core's table.settle), under the graph's lock; the second is not.
	graph.Add(graph.Within(parent), "first", func(context.Context) (int, error) { return 1, nil })
	child := graph.Add(graph.Within(parent), "child", func(context.Context) (int, error) { return 1, nil })
	c := refNode(child.Ref())
	if !c.OutOfCount() || w.kept[0].Load() != c && w.kept[1].Load() != c {
		t.Fatalf("the child is not kept out of the count (out of count %v)", c.OutOfCount())
	}
	return keptChild{r: r, w: w, parent: p, child: child}
}

// TestKeptTaskTheRunCannotCountIsCancelledAtItsEnd: a task that a running
// task added is kept out of the run's count by its worker; the run's
// count then reaches zero before the run is marked finished (the moment
// in which a goroutine of the task, which kept it as the task returned,
// has not yet taken it back), and a worker queueing what is kept takes
// it and cannot count it. The run's end must cancel it: it looks for
// unfinished tasks only while the run counts some.
func TestKeptTaskTheRunCannotCountIsCancelledAtItsEnd(t *testing.T) {
	k := newKeptChild(t)
	r := k.r
	// The count reaches zero (the parent and the Close hold settled) and
	// the run is not marked finished yet; a worker looks at what w kept.
	r.outstanding.Store(0) // the first child's count too: it is not the point here
	r.mu.Lock()
	r.takeKeptLocked(k.w)
	r.finishLocked()
	r.unlock() // as a worker lets go of r.mu (see stray)
	r.wait()
	if s := k.child.State(); !s.Terminal() {
		t.Errorf("the child is %v after the run, want it cancelled", s)
	}
}

// TestKeptTaskTakenAfterTheRunsEndIsCancelled: a goroutine of a task that
// is no worker's (one the task started) takes what the task's worker kept
// under r.mu, as it begins a wait, after the run ended: the task returned,
// the run's count reached zero and its end looked for unfinished tasks
// (none counted), while another goroutine of the task had just kept a
// task it added and had not yet taken it back. The run cannot count the
// task, and its end will not look again: the task must be cancelled, not
// counted for an end that has passed, which would leave it Ready after
// the run (found by reading, session 16).
func TestKeptTaskTakenAfterTheRunsEndIsCancelled(t *testing.T) {
	k := newKeptChild(t)
	r := k.r
	// The run ends: its count reached zero, and its end found nothing
	// counted to cancel.
	r.outstanding.Store(0)
	r.mu.Lock()
	r.finishLocked()
	r.mu.Unlock()
	r.wait()
	// A goroutine the parent started begins a wait through w.
	r.secede(k.w, &parked{self: k.parent, wt: core.NewWaiter(k.parent)})
	if s := k.child.State(); !s.Terminal() {
		t.Errorf("the child is %v after the run, want it cancelled", s)
	}
}
