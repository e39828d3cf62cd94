package graph

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/evolve-dag/evolve/internal/core"
)

// Builder adds tasks to a graph. A *Graph is a Builder for tasks added from
// outside any task; inside a running task, dynamic.Scope(ctx) (or Within)
// gives one that records the running task as the creator of what it adds.
// Adding from inside a task looks exactly like adding before the run.
type Builder interface {
	// scope returns the graph to add to, the creator of what is added (nil
	// outside any task), and the batch holding back ready tasks, if any.
	scope() (*Graph, *core.Node, *core.Batch)
}

func (g *Graph) scope() (*Graph, *core.Node, *core.Batch) { return g, nil, nil }

// scope makes a task handle the Builder of the tasks it creates (see
// Within): a Ref is one pointer, so it makes an interface value without an
// allocation.
func (r Ref) scope() (*Graph, *core.Node, *core.Batch) {
	if r.n == nil {
		return nil, nil, nil
	}
	if cg := r.n.Graph(); cg != nil {
		return cg.Owner().(*Graph), r.n, nil
	}
	return nil, nil, nil
}

// returned is the Builder of a task whose function has returned: what is
// added through it fails to build with ErrTaskReturned (see Returned).
type returned struct{ task string }

func (returned) scope() (*Graph, *core.Node, *core.Batch) { return nil, nil, nil }

func (b returned) err() error { return fmt.Errorf("added by task %q: %w", b.task, ErrTaskReturned) }

// returnedOf returns the Builder that code holding the context of task
// after the task's function returned gets (dynamic.Scope, through
// internal/access). Tasks added with it fail to build with an error that
// names task and wraps ErrTaskReturned: they would otherwise be recorded
// as created by a task that is no longer running, or by another one.
func returnedOf(task *core.Node) Builder { return returned{task.Name()} }

// noGraph is the error of adding through b, which has no graph.
func noGraph(b Builder) error {
	if r, ok := b.(returned); ok {
		return r.err()
	}
	return ErrNilBuilder
}

// batch is the Builder that Batch gives its function.
type batch struct {
	g      *Graph
	parent *core.Node
	hold   *core.Batch
}

func (b *batch) scope() (*Graph, *core.Node, *core.Batch) { return b.g, b.parent, b.hold }

// Batch calls fn with a Builder that adds to b's graph, with b's creator,
// and makes everything fn adds reach a running graph as one step: tasks
// that are ready as soon as they are added are queued together when fn
// returns (or panics), so that no worker picks among them, or in their
// place, before the whole batch is there. It is how a client reacting to a
// result submits its reaction (Dask's client.map): one worker becoming free
// while the client is halfway through adding would otherwise take older,
// lower-priority work. Tasks that wait for inputs still in the run are not
// held back: they start when their inputs finish, as usual. Outside a run,
// Batch is the same as adding the tasks one by one. The Builder is meant
// for fn alone; tasks added with it after Batch returns are queued as usual.
// The tasks fn adds are queued only when it returns, so fn cannot wait for
// them: such a wait fails at once with ErrInBatch.
//
// Batch reports ErrNilBuilder or ErrNilFunc; mistakes in building single
// tasks are reported on those tasks, as always.
func Batch(b Builder, fn func(Builder)) error {
	var g *Graph
	var parent *core.Node
	if b != nil {
		g, parent, _ = b.scope()
	}
	switch {
	case g == nil:
		return &Error{Task: "batch", Err: noGraph(b)}
	case fn == nil:
		return &Error{Task: "batch", Err: ErrNilFunc}
	}
	x := &batch{g: g, parent: parent, hold: &core.Batch{}}
	defer g.c.Flush(x.hold)
	fn(x)
	return nil
}

// Within returns a Builder that adds tasks to parent's graph and records
// parent as their creator, so drawings of the evolved graph group them under
// it. Inside a running task, dynamic.Scope(ctx) is the usual way to get one.
// Tasks added through the zero handle's Builder fail with ErrNilBuilder.
func Within[H Handle](parent H) Builder { return parent.Ref() }

// Option sets something about a task other than its function and inputs.
// Options are plain values: passing them allocates nothing. The zero
// Option does nothing, so an option can be chosen at run time:
//
//	var o graph.Option
//	if urgent {
//		o = graph.Priority(9)
//	}
//
// A bad value (see each constructor) fails the task with an error that
// names the option call and wraps ErrInvalidOption. Of two options setting
// the same thing, the last wins.
type Option struct {
	kind optKind
	i    int64
	d    time.Duration
	s    string
}

type optKind uint8

const (
	optNone optKind = iota
	optPriority
	optRetries
	optTimeout
	optKeep
	optKey
	optPure
	optCancellable
	optJoin // Flow's own: its function's emitted tasks join it
)

// Priority sets the task's priority. Among ready tasks, higher priorities
// start first, and equal priorities start in creation order. The default is
// 0; negative priorities run after it. It must fit in 32 bits.
func Priority(p int) Option { return Option{kind: optPriority, i: int64(p)} }

// Retries runs a failed task again, up to n more times, waiting backoff
// before the first retry and twice as long before each next one. A panic
// is not retried, nor is a failure after the run was cancelled. A flow's
// next attempt joins only what it emits itself (see Flow). Neither n nor
// backoff may be negative.
func Retries(n int, backoff time.Duration) Option {
	return Option{kind: optRetries, i: int64(n), d: backoff}
}

// Timeout gives each attempt of the task a context that expires after d,
// which must be positive.
func Timeout(d time.Duration) Option { return Option{kind: optTimeout, d: d} }

// Keep keeps the task's result in runs that release results (runs for
// chosen targets), so it can be read afterwards. Task.Release undoes it.
func Keep() Option { return Option{kind: optKeep} }

// Key makes the task unique in its graph under key, which must not be
// empty: adding a task with a key that is already there returns the
// existing task instead, so it is computed once. Both must have the same
// result type.
func Key(key string) Option { return Option{kind: optKey, s: key} }

// Pure marks the task as depending only on its name and inputs: a second pure
// task with the same name and the same inputs is the first one again.
// Values captured by the function are not part of the key; use Key for them.
func Pure() Option { return Option{kind: optPure} }

// Cancellable gives the task a context of its own while it runs, so that
// Task.Cancel reaches a running task. It costs one context per run of the task.
func Cancellable() Option { return Option{kind: optCancellable} }

// settings is what the options of one task add up to.
type settings struct {
	prio int
	opts core.Options
	set  bool // opts differs from the zero value
	key  string
	pure bool
}

// invalid is the error of an option call given a bad value.
func invalid(call string, why string) error {
	return fmt.Errorf("%s: %w: %s", call, ErrInvalidOption, why)
}

func (s *settings) apply(opts []Option) error {
	for _, o := range opts {
		switch o.kind {
		case optNone:
		case optPriority:
			if o.i < math.MinInt32 || o.i > math.MaxInt32 {
				return invalid(fmt.Sprintf("Priority(%d)", o.i), fmt.Sprintf("out of range [%d, %d]", math.MinInt32, math.MaxInt32))
			}
			s.prio = int(o.i)
		case optRetries:
			if o.i < 0 || o.d < 0 {
				return invalid(fmt.Sprintf("Retries(%d, %v)", o.i, o.d), "neither may be negative")
			}
			s.opts.Retries, s.opts.Backoff, s.set = int(o.i), int64(o.d), true
		case optTimeout:
			if o.d <= 0 {
				return invalid(fmt.Sprintf("Timeout(%v)", o.d), "must be positive")
			}
			s.opts.Timeout, s.set = int64(o.d), true
		case optKeep:
			s.opts.Keep, s.set = true, true
		case optKey:
			if o.s == "" {
				return invalid(`Key("")`, "must not be empty")
			}
			s.key = o.s
		case optPure:
			s.pure = true
		case optCancellable:
			s.opts.Cancellable, s.set = true, true
		case optJoin:
			s.opts.Join, s.set = true, true
		default:
			return invalid(fmt.Sprintf("option %d", o.kind), "unknown (use the graph package's constructors)")
		}
	}
	return nil
}

// Value adds a task named name that is done from the start, with result
// v. Nothing could compute it again, so its result is never released: runs
// for targets keep it, and Task.Release leaves it.
func Value[T any](b Builder, name string, v T, opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *value[T]
	if at.slabbed() {
		t, h = cutRecord[value[T]](at)
		t.val = v
	} else {
		t = &value[T]{record[T]{val: v}}
	}
	t.n.SetState(core.Done)
	return add(b, at, &t.record, t, nil, name, opts, false, backOf(t, h))
}

// Add adds a task with no inputs that will run fn when the graph runs.
// Adding runs nothing: exec.Run (or a run the graph is in) runs it.
func Add[T any](b Builder, name string, fn func(context.Context) (T, error), opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *task0[T]
	if at.slabbed() {
		t, h = cutRecord[task0[T]](at)
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &task0[T]{fn: fn}
	}
	return add(b, at, &t.record, t, nil, name, opts, fn == nil, backOf(t, h))
}

// Add1 adds a task that will run fn with the result of in.
func Add1[A, T any](b Builder, name string, in Task[A], fn func(context.Context, A) (T, error), opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *task1[A, T]
	if at.slabbed() {
		t, h = cutRecord[task1[A, T]](at)
		t.a = in.r
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &task1[A, T]{a: in.r, fn: fn}
	}
	return add(b, at, &t.record, t, inputs(&t.a, 1), name, opts, fn == nil, backOf(t, h))
}

// Add2 adds a task that will run fn with the results of in1 and in2.
func Add2[A, B, T any](b Builder, name string, in1 Task[A], in2 Task[B], fn func(context.Context, A, B) (T, error), opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *task2[A, B, T]
	if at.slabbed() {
		t, h = cutRecord[task2[A, B, T]](at)
		t.a, t.b = in1.r, in2.r
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &task2[A, B, T]{a: in1.r, b: in2.r, fn: fn}
	}
	return add(b, at, &t.record, t, inputs(&t.a, 2), name, opts, fn == nil, backOf(t, h))
}

// Add3 adds a task that will run fn with the results of in1, in2 and in3.
func Add3[A, B, C, T any](b Builder, name string, in1 Task[A], in2 Task[B], in3 Task[C], fn func(context.Context, A, B, C) (T, error), opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *task3[A, B, C, T]
	if at.slabbed() {
		t, h = cutRecord[task3[A, B, C, T]](at)
		t.a, t.b, t.c = in1.r, in2.r, in3.r
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &task3[A, B, C, T]{a: in1.r, b: in2.r, c: in3.r, fn: fn}
	}
	return add(b, at, &t.record, t, inputs(&t.a, 3), name, opts, fn == nil, backOf(t, h))
}

// AddN adds a task that will run fn with the results of all of in, in
// order: a fan-in (gather) of any width. The slice is copied.
func AddN[A, T any](b Builder, name string, in []Task[A], fn func(context.Context, []A) (T, error), opts ...Option) Task[T] {
	recs := make([]*record[A], len(in))
	for i, x := range in {
		recs[i] = x.r
	}
	at := placeOf(b)
	var t, h *taskN[A, T]
	if at.slabbed() {
		t, h = cutRecord[taskN[A, T]](at)
		t.in = recs
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &taskN[A, T]{in: recs, fn: fn}
	}
	return add(b, at, &t.record, t, t.Inputs(), name, opts, fn == nil, backOf(t, h))
}

// Flow adds a task whose function emits a subgraph through the Builder it is
// given and returns the task whose result becomes the flow's. The function
// returns without waiting; the flow finishes, and its consumers start, only
// when every task it emitted has finished (Taskflow's subflow join). If an
// emitted task fails, the flow fails with a *SkipError naming it.
//
// The returned task need not be one the function emitted: the flow reads
// it as a new reader would, so a task the run was not asked for joins the
// run, and a result a run for targets released is computed again. A
// function that returns the flow itself, the zero Task with a nil error,
// or a task of another graph fails the flow with an error saying so (a
// *DeadlockError naming the cycle flow -> flow, ErrNoTask, ErrOtherGraph).
//
// With Retries, each attempt of the function joins only what it emits:
// when an attempt fails, the flow stops joining that attempt's tasks, and
// the next attempt starts a fresh join. Those tasks are not cancelled:
// they run to their end, and a failure among them fails the run (see
// exec.Run) but not the flow, unless a later attempt returns one of them,
// which it then joins again.
func Flow[T any](b Builder, name string, fn func(context.Context, Builder) (Task[T], error), opts ...Option) Task[T] {
	at := placeOf(b)
	var t, h *flow[T]
	if at.slabbed() {
		t, h = cutRecord[flow[T]](at)
		if h == nil || !sharesFunc(&h.fn, fn) {
			t.fn = fn
		}
	} else {
		t = &flow[T]{fn: fn}
	}
	opts = append(opts[:len(opts):len(opts)], Option{kind: optJoin})
	return add(b, at, &t.record, t, nil, name, opts, fn == nil, backOf(t, h))
}

// Order makes after wait for before, although after does not read before's
// result. It is the only way to close a cycle, so Validate and every run
// check for cycles once it has been used. It fails with an error wrapping
// ErrRunning while the graph runs, and with ErrNoTask or ErrOtherGraph
// unless both tasks are in the same graph.
func Order[A, B Handle](before A, after B) error {
	b, a := before.Ref().n, after.Ref().n
	for _, n := range [2]*core.Node{b, a} {
		switch {
		case n == nil:
			return fmt.Errorf("graph: Order: %w", errNilTask)
		case n.Graph() == nil:
			return &Error{Task: n.Name(), Err: fmt.Errorf("Order: it could not be built: %w", n.Err())}
		}
	}
	if a.Graph() != b.Graph() {
		return &Error{Task: a.Name(), Err: fmt.Errorf("Order after %q: %w", b.Name(), ErrOtherGraph)}
	}
	if a == b {
		return &CycleError{Cycle: []string{a.Name(), a.Name()}}
	}
	cg := a.Graph()
	cg.Lock()
	defer cg.Unlock()
	if err := cg.Order(b, a); err != nil {
		if errors.Is(err, core.ErrRunning) {
			err = ErrRunning
		}
		return &Error{Task: a.Name(), Err: err}
	}
	return nil
}

// place is where a Builder adds tasks: the graph (nil if none), the task
// recorded as their creator, and the batch holding them back. owned is
// set when the goroutine adding is the only one that can reach the graph
// (see Build): then adding takes no lock.
type place struct {
	g      *Graph
	parent *core.Node
	hold   *core.Batch
	owned  bool
}

// placeOf returns where b adds tasks, read once per task added: both the
// record's slab and add need it.
func placeOf(b Builder) place {
	if b == nil {
		return place{}
	}
	g, parent, hold := b.scope()
	return place{g, parent, hold, g != nil && g.c.Building()}
}

// slabbed reports whether a task added here has its record cut from its
// graph's slabs: when the graph is known and no running task adds it.
// Cutting it takes the graph's lock, unless the place is owned (see
// cutRecord), and add lets it go. Tasks that running tasks add (a
// spawn, a flow's subgraph) are allocated each on its own, by a
// composite literal in the constructor: workers add them at once, and a
// record that the function allocating it fills in needs no write barrier
// for those first stores, where one cut from a slab does. While the
// collector marks, which in a growing graph is much of the time, that
// difference made fib on two workers 15-35 % slower (BENCHMARKS.md,
// session 7).
func (at place) slabbed() bool { return at.g != nil && at.parent == nil }

// add checks and adds a task built by one of the constructors. ins is what
// body's Inputs returns, which the constructor knows without asking (an
// interface call per task); an input given as the zero Task is a nil node
// among them. noFn tells whether the function is nil. back is how far the
// header of the slab t was cut from is, 0 if t was not (see backOf).
func add[T any](b Builder, at place, t *record[T], body core.Body, ins []*core.Node, name string, opts []Option, noFn bool, back uint32) Task[T] {
	g, parent, hold := at.g, at.parent, at.hold
	if at.slabbed() && !at.owned {
		defer g.c.Unlock() // taken by cutRecord
	}
	var s settings
	err := s.apply(opts)
	switch {
	case g == nil:
		err = noGraph(b)
	case noFn:
		err = ErrNilFunc
	}
	if err == nil {
		err = inputsErr(g, ins)
	}
	t.n.Init(s.prio, body)
	if err != nil {
		err = &Error{Task: name, Err: err}
		t.n.Reject(name, err)
		switch {
		case at.slabbed():
			g.c.FailLocked(err)
		case g != nil:
			g.c.Fail(err)
		}
		return Task[T]{t}
	}
	if parent != nil && hold == nil && len(ins) == 0 && !s.set && s.key == "" && !s.pure && spawns(g, parent, &t.n, name) {
		return Task[T]{t}
	}
	switch {
	case s.set && s.opts == joinOnly:
		t.n.SetOptions(&joinOnly) // every flow without options: read only, so shared
	case s.set:
		o := s.opts
		t.n.SetOptions(&o)
	}
	if !at.slabbed() { // on behalf of a task: locked even when owned (see slabbed)
		g.c.Lock()
		defer g.c.Unlock()
	}
	g.c.SetOwner(g)
	if err := g.c.Full(len(ins)); err != nil {
		rejectLocked(g, &t.n, name, err)
		return Task[T]{t}
	}
	key := s.key
	if key == "" && s.pure {
		key = pureKey(name, body)
	}
	if key != "" {
		if old := g.c.Keyed(key); old != nil {
			if h, ok := old.Body().Handle().(*record[T]); ok {
				g.c.Want(old) // asked for again while the graph runs: run it
				return Task[T]{h}
			}
			rejectLocked(g, &t.n, name, fmt.Errorf("key %q is taken by task %q of another result type", key, old.Name()))
			return Task[T]{t}
		}
	}
	g.c.Add(&t.n, ins, name, parent, key, hold, back)
	return Task[T]{t}
}

// rejectLocked fails n, a task named name that g cannot take, with err,
// and records the failure on g, as a building mistake. The caller holds
// g's lock.
func rejectLocked(g *Graph, n *core.Node, name string, err error) {
	err = &Error{Task: name, Err: err}
	n.Reject(name, err)
	g.c.FailLocked(err)
}

// inputsErr says why ins cannot be a task's inputs in g, or returns nil:
// one is nil (a zero Task), could not be built, or is in another graph.
func inputsErr(g *Graph, ins []*core.Node) error {
	for i, in := range ins {
		switch {
		case in == nil:
			return fmt.Errorf("input %d: %w", i, ErrNoTask)
		case in.Graph() == nil:
			return fmt.Errorf("input %d (%q) could not be built: %w", i, in.Name(), in.Err())
		case in.Graph() != &g.c:
			return fmt.Errorf("input %d (%q): %w", i, in.Name(), ErrOtherGraph)
		}
	}
	return nil
}

// spawns adds n, a task without inputs, options or key that parent adds,
// to the run parent runs in without the graph's lock, if it can (see
// core.Graph.Spawn): tasks spawning children (fib) then do not queue on
// the lock, one behind the other, on every worker.
func spawns(g *Graph, parent, n *core.Node, name string) bool {
	h := parent.Host()
	return h != nil && h.Run != nil && g.c.Spawn(h, n, name, parent)
}

// joinOnly is the options of a flow given no option, shared by every such
// flow: the engine only reads a task's options, but for Unkeep clearing
// Keep, which this one does not have.
var joinOnly = core.Options{Join: true}

// pureKey names a pure task by its name and its inputs' ids.
func pureKey(name string, body core.Body) string {
	var sb strings.Builder
	sb.WriteString("pure\x00")
	sb.WriteString(name)
	for _, in := range body.Inputs() {
		sb.WriteByte(0)
		sb.WriteString(strconv.FormatInt(in.ID(), 10))
	}
	return sb.String()
}
