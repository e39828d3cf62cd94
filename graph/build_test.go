package graph_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

func id(_ context.Context, x int) (int, error) { return x, nil }

// TestBuildingRunsNothing: building a graph calls no task function.
func TestBuildingRunsNothing(t *testing.T) {
	called := false
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { called = true; return 1, nil })
	b := graph.Add1(g, "b", a, func(_ context.Context, x int) (int, error) { called = true; return x, nil })
	if called {
		t.Fatal("building ran a task function")
	}
	for _, h := range []graph.Task[int]{a, b} {
		if h.State() != graph.Idle || h.Err() != nil {
			t.Fatalf("%s: %v, %v after building; want idle, nil", h.Name(), h.State(), h.Err())
		}
		if _, err := h.Result(); !errors.Is(err, graph.ErrNotDone) {
			t.Fatalf("%s: Result before a run = %v, want ErrNotDone", h.Name(), err)
		}
	}
	if g.Len() != 2 || g.Err() != nil {
		t.Fatalf("Len %d, Err %v; want 2, nil", g.Len(), g.Err())
	}
}

// TestBuildMistakesAreErrorsNotPanics builds tasks with each kind of
// mistake: each returns a failed task whose error names it and wraps the
// matching sentinel, the graph records it, and nothing panics.
func TestBuildMistakesAreErrorsNotPanics(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, "value", 1)
	other := graph.New()
	foreign := graph.Value(other, "value", 2)
	type built struct {
		name string
		task graph.Ref
		want error // nil: any error naming the task
	}
	var cases []built
	noPanic(t, "building", func() {
		cases = []built{
			{"nilfn0", graph.Add[int](g, "nilfn0", nil).Ref(), graph.ErrNilFunc},
			{"nilfn1", graph.Add1[int, int](g, "nilfn1", a, nil).Ref(), graph.ErrNilFunc},
			{"nilfn2", graph.Add2[int, int, int](g, "nilfn2", a, a, nil).Ref(), graph.ErrNilFunc},
			{"nilfn3", graph.Add3[int, int, int, int](g, "nilfn3", a, a, a, nil).Ref(), graph.ErrNilFunc},
			{"nilfnN", graph.AddN[int, int](g, "nilfnN", []graph.Task[int]{a}, nil).Ref(), graph.ErrNilFunc},
			{"nilfnFlow", graph.Flow[int](g, "nilfnFlow", nil).Ref(), graph.ErrNilFunc},
			{"nilin1", graph.Add1(g, "nilin1", graph.Task[int]{}, id).Ref(), graph.ErrNoTask},
			{"nilin2", graph.Add2(g, "nilin2", a, graph.Task[int]{}, func(context.Context, int, int) (int, error) { return 0, nil }).Ref(), graph.ErrNoTask},
			{"nilinN", graph.AddN(g, "nilinN", []graph.Task[int]{a, graph.Task[int]{}}, func(context.Context, []int) (int, error) { return 0, nil }).Ref(), graph.ErrNoTask},
			{"foreign", graph.Add1(g, "foreign", foreign, id).Ref(), graph.ErrOtherGraph},
			{"prioHigh", graph.Add1(g, "prioHigh", a, id, graph.Priority(math.MaxInt32+1)).Ref(), graph.ErrInvalidOption},
			{"prioLow", graph.Add1(g, "prioLow", a, id, graph.Priority(math.MinInt32-1)).Ref(), graph.ErrInvalidOption},
			{"retriesNeg", graph.Add1(g, "retriesNeg", a, id, graph.Retries(-1, 0)).Ref(), graph.ErrInvalidOption},
			{"backoffNeg", graph.Add1(g, "backoffNeg", a, id, graph.Retries(1, -time.Millisecond)).Ref(), graph.ErrInvalidOption},
			{"timeoutZero", graph.Add1(g, "timeoutZero", a, id, graph.Timeout(0)).Ref(), graph.ErrInvalidOption},
			{"timeoutNeg", graph.Add1(g, "timeoutNeg", a, id, graph.Timeout(-time.Second)).Ref(), graph.ErrInvalidOption},
			{"keyEmpty", graph.Add1(g, "keyEmpty", a, id, graph.Key("")).Ref(), graph.ErrInvalidOption},
		}
	})
	for _, c := range cases {
		err := c.task.Err()
		if err == nil || c.task.State() != graph.Failed {
			t.Errorf("%s: state %v, Err %v; want failed with an error", c.name, c.task.State(), err)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v does not wrap %v", c.name, err, c.want)
		}
		if !strings.Contains(err.Error(), `"`+c.name+`"`) {
			t.Errorf("%s: error %q does not name the task", c.name, err)
		}
		var ge *graph.Error
		if !errors.As(err, &ge) || ge.Task != c.name {
			t.Errorf("%s: error %v is not a *graph.Error for the task", c.name, err)
		}
		if gerr := g.Err(); !strings.Contains(gerr.Error(), `"`+c.name+`"`) {
			t.Errorf("%s: the graph's Err does not list the mistake", c.name)
		}
	}
	for _, sentinel := range []error{graph.ErrNilFunc, graph.ErrNoTask, graph.ErrOtherGraph} {
		if !errors.Is(g.Validate(), sentinel) {
			t.Errorf("Validate does not report %v", sentinel)
		}
	}
	if other.Err() != nil {
		t.Errorf("the other graph got an error: %v", other.Err())
	}
}

// TestOptionBoundsAreAccepted: the extreme valid values build fine.
func TestOptionBoundsAreAccepted(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, "value", 1)
	hi := graph.Add1(g, "hi", a, id, graph.Priority(math.MaxInt32))
	lo := graph.Add1(g, "lo", a, id, graph.Priority(math.MinInt32), graph.Retries(0, 0), graph.Timeout(time.Nanosecond))
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if hi.Priority() != math.MaxInt32 || lo.Priority() != math.MinInt32 {
		t.Fatalf("priorities %d, %d", hi.Priority(), lo.Priority())
	}
}

// TestNilBuilder: a nil Builder, and Within(nil), give failed tasks with
// ErrNilBuilder instead of a panic.
func TestNilBuilder(t *testing.T) {
	var h, w graph.Task[int]
	noPanic(t, "building with a nil builder", func() {
		h = graph.Add(nil, "orphan", func(context.Context) (int, error) { return 1, nil })
		w = graph.Add(graph.Within(graph.Ref{}), "within", func(context.Context) (int, error) { return 1, nil })
	})
	for _, x := range []graph.Task[int]{h, w} {
		if !errors.Is(x.Err(), graph.ErrNilBuilder) || !strings.Contains(x.Err().Error(), x.Name()) {
			t.Errorf("%s: Err() = %v, want ErrNilBuilder naming the task", x.Name(), x.Err())
		}
		if x.Graph() != nil {
			t.Errorf("%s belongs to a graph", x.Name())
		}
	}
}

// TestInputThatFailedToBuild: a task reading a task of the same graph that
// could not be built fails with an error naming that input, and does not
// claim the input belongs to another graph.
func TestInputThatFailedToBuild(t *testing.T) {
	g := graph.New()
	broken := graph.Add[int](g, "broken", nil)
	c := graph.Add1(g, "consumer", broken, id)
	err := c.Err()
	if err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("consumer: %v, want an error naming its input", err)
	}
	if errors.Is(err, graph.ErrOtherGraph) {
		t.Errorf("consumer: %v; the input is of this graph, it failed to build", err)
	}
}

// TestKeyReturnsExistingTask: a second task under the same key is the first
// one; a key taken by another result type is an error.
func TestKeyReturnsExistingTask(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil }, graph.Key("k"))
	b := graph.Add(g, "b", func(context.Context) (int, error) { return 2, nil }, graph.Key("k"))
	if a != b || g.Len() != 1 {
		t.Fatalf("same key gave two tasks (%p, %p), Len %d", a, b, g.Len())
	}
	s := graph.Add(g, "s", func(context.Context) (string, error) { return "", nil }, graph.Key("k"))
	if s.Err() == nil || g.Err() == nil {
		t.Fatal("a key taken by a task of another result type gave no error")
	}
}

// TestPureDeduplicatesByNameAndInputs: pure tasks with the same name and
// inputs are one task; other inputs or names make new tasks.
func TestPureDeduplicatesByNameAndInputs(t *testing.T) {
	g := graph.New()
	x, y := graph.Value(g, "value", 1), graph.Value(g, "value", 2)
	p1 := graph.Add1(g, "inc", x, id, graph.Pure())
	p2 := graph.Add1(g, "inc", x, id, graph.Pure())
	p3 := graph.Add1(g, "inc", y, id, graph.Pure())
	p4 := graph.Add1(g, "dec", x, id, graph.Pure())
	if p1 != p2 {
		t.Fatal("two pure tasks with the same name and input are different tasks")
	}
	if p1 == p3 || p1 == p4 {
		t.Fatal("pure tasks with another input or name were merged")
	}
}

// TestOrderRejectsBadArguments: Order with a zero handle, a foreign task or a value
// as the waiting task returns an error and changes nothing.
func TestOrderRejectsBadArguments(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	v := graph.Value(g, "value", 1)
	foreign := graph.Add(graph.New(), "foreign", func(context.Context) (int, error) { return 1, nil })
	noPanic(t, "Order", func() {
		if err := graph.Order(graph.Ref{}, a); !errors.Is(err, graph.ErrNoTask) {
			t.Errorf("Order(zero, a) = %v, want ErrNoTask", err)
		}
		if err := graph.Order(a, graph.Task[int]{}); !errors.Is(err, graph.ErrNoTask) {
			t.Errorf("Order(a, zero) = %v, want ErrNoTask", err)
		}
		if err := graph.Order(a, foreign); !errors.Is(err, graph.ErrOtherGraph) || !strings.Contains(err.Error(), "foreign") {
			t.Errorf("Order(a, foreign) = %v, want ErrOtherGraph naming foreign", err)
		}
		if err := graph.Order(a, v); err == nil {
			t.Error("Order(a, value): a value never waits, want an error")
		}
	})
	if len(a.Inputs()) != 0 {
		t.Errorf("a has inputs %v after refused Orders", a.Inputs())
	}
}

// TestOrderRefusedWhileRunning: Order fails with ErrRunning during a run.
func TestOrderRefusedWhileRunning(t *testing.T) {
	release := make(chan struct{})
	g := graph.New()
	a := graph.Add(g, "a", func(ctx context.Context) (int, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return 1, nil
	})
	b := graph.Add(g, "b", func(context.Context) (int, error) { return 2, nil })
	e, err := exec.Start(t.Context(), g)
	if err != nil {
		t.Fatal(err)
	}
	oerr := graph.Order(a, b)
	close(release)
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(oerr, graph.ErrRunning) {
		t.Fatalf("Order during a run = %v, want ErrRunning", oerr)
	}
}

// TestInputsAndCreator: a handle lists its inputs, duplicates included, and
// its ordering inputs; tasks built outside any task have no creator.
func TestInputsAndCreator(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, "value", 1)
	b := graph.Add(g, "b", func(context.Context) (int, error) { return 2, nil })
	c := graph.Add2(g, "c", a, a, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	if err := graph.Order(b, c); err != nil {
		t.Fatal(err)
	}
	in := c.Inputs()
	if len(in) != 3 || in[0] != a.Ref() || in[1] != a.Ref() || in[2] != b.Ref() {
		t.Fatalf("c.Inputs() = %v, want [a a b]", in)
	}
	if c.Creator() != (graph.Ref{}) || c.Graph() != g {
		t.Fatalf("creator %v, graph %p; want nil, %p", c.Creator(), c.Graph(), g)
	}
}

// TestTasksListsEveryTaskInCreationOrder: Tasks yields every task once, in
// creation order.
func TestTasksListsEveryTaskInCreationOrder(t *testing.T) {
	g := graph.New()
	var want []string
	for _, name := range []string{"x", "y", "z"} {
		graph.Add(g, name, func(context.Context) (int, error) { return 0, nil })
		want = append(want, name)
	}
	var got []string
	noPanic(t, "Tasks", func() {
		for r := range g.Tasks() {
			got = append(got, r.Name())
		}
	})
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Tasks() = %v, want %v", got, want)
	}
}
