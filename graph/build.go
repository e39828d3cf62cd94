package graph

import (
	"context"
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

type within struct {
	g      *Graph
	parent *core.Node
}

func (w within) scope() (*Graph, *core.Node, *core.Batch) { return w.g, w.parent, nil }

// returned is the Builder of a task whose function has returned: what is
// added through it fails to build with ErrTaskReturned (see Returned).
type returned struct{ task string }

func (returned) scope() (*Graph, *core.Node, *core.Batch) { return nil, nil, nil }

func (b returned) err() error { return fmt.Errorf("added by task %q: %w", b.task, ErrTaskReturned) }

// Returned is for evolve's own packages: it returns the Builder that code
// holding the context of task after the task's function returned gets
// (dynamic.Scope). Tasks added with it fail to build with an error that
// names task and wraps ErrTaskReturned: they would otherwise be recorded
// as created by a task that is no longer running, or by another one.
func Returned(_ core.Key, task *core.Node) Builder { return returned{task.Name()} }

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
func Within(parent Ref) Builder {
	if b, ok := parent.(Builder); ok {
		return b // this module's handles are their own scopes: no allocation
	}
	return within{}
}

// scope makes a task handle the Builder of the tasks it creates (see Within).
func (t *Task[T]) scope() (*Graph, *core.Node, *core.Batch) {
	if t == nil {
		return nil, nil, nil
	}
	if cg := t.n.Graph(); cg != nil {
		return cg.Owner().(*Graph), &t.n, nil
	}
	return nil, nil, nil
}

// Option sets something about a task other than its function and inputs.
// Options are plain values: passing them allocates nothing.
type Option struct {
	kind optKind
	i    int64
	d    time.Duration
	s    string
}

type optKind uint8

const (
	optPriority optKind = iota + 1
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
// next attempt joins only what it emits itself (see Flow).
func Retries(n int, backoff time.Duration) Option {
	return Option{kind: optRetries, i: int64(n), d: backoff}
}

// Timeout gives each attempt of the task a context that expires after d.
func Timeout(d time.Duration) Option { return Option{kind: optTimeout, d: d} }

// Keep keeps the task's result in runs that release results (runs for
// chosen targets), so it can be read afterwards. Task.Release undoes it.
func Keep() Option { return Option{kind: optKeep} }

// Key makes the task unique in its graph under key: adding a task with a key
// that is already there returns the existing task instead, so it is
// computed once. Both must have the same result type.
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

func (s *settings) apply(opts []Option) error {
	for _, o := range opts {
		switch o.kind {
		case optPriority:
			if o.i < math.MinInt32 || o.i > math.MaxInt32 {
				return fmt.Errorf("priority %d is out of range [%d, %d]", o.i, math.MinInt32, math.MaxInt32)
			}
			s.prio = int(o.i)
		case optRetries:
			if o.i < 0 || o.d < 0 {
				return fmt.Errorf("retries %d with backoff %v: both must be >= 0", o.i, o.d)
			}
			s.opts.Retries, s.opts.Backoff, s.set = int(o.i), int64(o.d), true
		case optTimeout:
			if o.d <= 0 {
				return fmt.Errorf("timeout %v must be > 0", o.d)
			}
			s.opts.Timeout, s.set = int64(o.d), true
		case optKeep:
			s.opts.Keep, s.set = true, true
		case optKey:
			if o.s == "" {
				return fmt.Errorf("key is empty")
			}
			s.key = o.s
		case optPure:
			s.pure = true
		case optCancellable:
			s.opts.Cancellable, s.set = true, true
		case optJoin:
			s.opts.Join, s.set = true, true
		default:
			return fmt.Errorf("option %d is unknown (use the graph package's constructors)", o.kind)
		}
	}
	return nil
}

// Value adds a task that is done from the start, with result v. Nothing
// could compute it again, so its result is never released: runs for
// targets keep it, and Task.Release leaves it.
func Value[T any](b Builder, v T, opts ...Option) *Task[T] {
	t := &value[T]{}
	t.val = v
	t.n.SetState(core.Done)
	return add(b, &t.Task, t, "value", opts, false)
}

// Go adds a task with no inputs that runs fn.
func Go[T any](b Builder, name string, fn func(context.Context) (T, error), opts ...Option) *Task[T] {
	t := &task0[T]{fn: fn}
	return add(b, &t.Task, t, name, opts, fn == nil)
}

// Go1 adds a task that runs fn with the result of a.
func Go1[A, T any](b Builder, name string, a *Task[A], fn func(context.Context, A) (T, error), opts ...Option) *Task[T] {
	t := &task1[A, T]{a: a, fn: fn}
	return add(b, &t.Task, t, name, opts, fn == nil, a == nil)
}

// Go2 adds a task that runs fn with the results of a and b.
func Go2[A, B, T any](bl Builder, name string, a *Task[A], b *Task[B], fn func(context.Context, A, B) (T, error), opts ...Option) *Task[T] {
	t := &task2[A, B, T]{a: a, b: b, fn: fn}
	return add(bl, &t.Task, t, name, opts, fn == nil, a == nil, b == nil)
}

// Go3 adds a task that runs fn with the results of a, b and c.
func Go3[A, B, C, T any](bl Builder, name string, a *Task[A], b *Task[B], c *Task[C], fn func(context.Context, A, B, C) (T, error), opts ...Option) *Task[T] {
	t := &task3[A, B, C, T]{a: a, b: b, c: c, fn: fn}
	return add(bl, &t.Task, t, name, opts, fn == nil, a == nil, b == nil, c == nil)
}

// GoN adds a task that runs fn with the results of all of in, in order: a
// fan-in (gather) of any width. The slice is copied.
func GoN[A, T any](b Builder, name string, in []*Task[A], fn func(context.Context, []A) (T, error), opts ...Option) *Task[T] {
	t := &taskN[A, T]{in: append([]*Task[A](nil), in...), fn: fn}
	nils := make([]bool, len(in))
	for i, x := range in {
		nils[i] = x == nil
	}
	return add(b, &t.Task, t, name, opts, fn == nil, nils...)
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
// function that returns the flow itself, nil with a nil error, or a task
// of another graph fails the flow with an error saying so (a
// *DeadlockError naming the cycle flow -> flow, ErrNilInput,
// ErrOtherGraph).
//
// With Retries, each attempt of the function joins only what it emits:
// when an attempt fails, the flow stops joining that attempt's tasks, and
// the next attempt starts a fresh join. Those tasks are not cancelled:
// they run to their end, and a failure among them fails the run (see
// exec.Run) but not the flow, unless a later attempt returns one of them,
// which it then joins again.
func Flow[T any](b Builder, name string, fn func(context.Context, Builder) (*Task[T], error), opts ...Option) *Task[T] {
	t := &flow[T]{fn: fn}
	opts = append(opts[:len(opts):len(opts)], Option{kind: optJoin})
	return add(b, &t.Task, t, name, opts, fn == nil)
}

// add checks and adds a task built by one of the constructors. noFn tells
// whether the function is nil, and nilIn, for each input in order, whether
// it was nil.
func add[T any](b Builder, t *Task[T], body core.Body, name string, opts []Option, noFn bool, nilIn ...bool) *Task[T] {
	var g *Graph
	var parent *core.Node
	var hold *core.Batch
	if b != nil {
		g, parent, hold = b.scope()
	}
	var s settings
	err := s.apply(opts)
	switch {
	case g == nil:
		err = noGraph(b)
	case noFn:
		err = ErrNilFunc
	}
	for i := 0; err == nil && i < len(nilIn); i++ {
		if nilIn[i] {
			err = fmt.Errorf("input %d: %w", i, ErrNilInput)
		} else if in := body.Input(i); in.Graph() == nil && in.Err() == nil {
			err = fmt.Errorf("input %d (%q) is in no graph (a zero Task?): %w", i, in.Name(), ErrOtherGraph)
		} else if in.Graph() == nil {
			err = fmt.Errorf("input %d (%q) could not be built: %w", i, in.Name(), in.Err())
		} else if in.Graph() != &g.c {
			err = fmt.Errorf("input %d (%q): %w", i, in.Name(), ErrOtherGraph)
		}
	}
	t.n.Init(name, s.prio, body)
	if err != nil {
		err = &Error{Task: name, Err: err}
		t.n.Fail(err)
		if g != nil {
			g.c.Fail(err)
		}
		return t
	}
	if s.set {
		o := s.opts
		t.n.SetOptions(&o)
	}
	g.c.Lock()
	defer g.c.Unlock()
	g.c.SetOwner(g)
	if g.c.Full() {
		err := &Error{Task: name, Err: fmt.Errorf("the graph holds %d tasks, its most", core.MaxNodes)}
		t.n.Fail(err)
		g.c.FailLocked(err)
		return t
	}
	key := s.key
	if key == "" && s.pure {
		key = pureKey(name, body)
	}
	if key != "" {
		if old := g.c.Keyed(key); old != nil {
			if h, ok := old.Body().Handle().(*Task[T]); ok {
				g.c.Want(old) // asked for again while the graph runs: run it
				return h
			}
			err := &Error{Task: name, Err: fmt.Errorf("key %q is taken by task %q of another result type", key, old.Name())}
			t.n.Fail(err)
			g.c.FailLocked(err)
			return t
		}
	}
	g.c.Add(&t.n, parent, key, hold)
	return t
}

// pureKey names a pure task by its name and its inputs' ids.
func pureKey(name string, body core.Body) string {
	var sb strings.Builder
	sb.WriteString("pure\x00")
	sb.WriteString(name)
	for i, k := 0, body.NumInputs(); i < k; i++ {
		sb.WriteByte(0)
		sb.WriteString(strconv.FormatInt(body.Input(i).ID(), 10))
	}
	return sb.String()
}
