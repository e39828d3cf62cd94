package graph

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/evolve-dag/evolve/internal/core"
	"github.com/evolve-dag/evolve/internal/pages"
)

// AddEach adds one task per element of items, each running fn with its
// element, and returns them in the order of items: Dask's client.map
// over values. Like Add, it runs nothing.
//
// The tasks share name, function and options. A client's call adds them
// with one hold of the graph's lock for many of them instead of one each,
// and they reach a running graph as one step, as with Batch: a worker that
// becomes free meanwhile sees all of them or none. A running task's call
// adds each as its Add would, without the graph's lock where it can, so
// that its workers start on them at once. Key and Pure, which make one
// task unique, are refused with ErrInvalidOption; so is a nil fn
// (ErrNilFunc). A mistake fails every returned task, as in Add.
func AddEach[A, T any](b Builder, name string, items []A, fn func(context.Context, A) (T, error), opts ...Option) []Task[T] {
	out := make([]Task[T], len(items))
	e, ok := beginEach[itemTask[A, T]](b, name, len(items), opts, fn == nil, "AddEach")
	if !ok {
		return rejectAll(e, out, func(i int, t *itemTask[A, T]) *record[T] {
			t.item, t.fn = items[i], fn
			return &t.record
		})
	}
	defer e.end()
	for i := range items {
		t := e.next()
		t.item, t.fn = items[i], fn
		e.add(&t.n, t, nil)
		out[i] = Task[T]{&t.record}
	}
	return out
}

// AddEach1 adds one task per task of in, each running fn with that task's
// result, and returns them in the order of in: client.map over futures,
// the fan-out that follows a fan-out. It is Add1 for each of in, added
// as AddEach adds; an input that is the zero Task, could not be built or
// belongs to another graph fails its own task only, as in Add1.
func AddEach1[A, T any](b Builder, name string, in []Task[A], fn func(context.Context, A) (T, error), opts ...Option) []Task[T] {
	out := make([]Task[T], len(in))
	e, ok := beginEach[task1[A, T]](b, name, len(in), opts, fn == nil, "AddEach1")
	if !ok {
		return rejectAll(e, out, func(i int, t *task1[A, T]) *record[T] {
			t.a, t.fn = in[i].r, fn
			return &t.record
		})
	}
	defer e.end()
	for i, x := range in {
		t := e.next()
		t.a, t.fn = x.r, fn
		e.add(&t.n, t, t.Inputs())
		out[i] = Task[T]{&t.record}
	}
	return out
}

// itemTask is AddEach's task: its function and its element.
type itemTask[A, T any] struct {
	record[T]
	item A
	fn   func(context.Context, A) (T, error)
}

func (b *itemTask[A, T]) Run(ctx context.Context, _ core.Consumer) (err error) {
	b.val, err = b.fn(ctx, b.item)
	return err
}
func (b *itemTask[A, T]) Inputs() []*core.Node { return nil }
func (b *itemTask[A, T]) Drop()                { drop(&b.val) }
func (b *itemTask[A, T]) Handle() any          { return &b.record }

// eachChunk is how many tasks AddEach adds per hold of the graph's lock:
// enough that the lock's cost per task is small, few enough that workers
// adding tasks of their own, and the run's observers, wait little.
const eachChunk = 1024

// each adds the tasks of one AddEach call: records of type B cut from
// arrays of its own. A client's are added under the graph's lock a chunk
// at a time and held back from a running graph until the end (see
// Batch); a running task's are added one by one, as its Add calls' are.
type each[B any] struct {
	g      *Graph
	parent *core.Node
	hold   *core.Batch
	own    bool // hold is this call's own, to flush at the end
	name   string
	s      settings
	opts   *core.Options // shared by the tasks, unless they keep their result (see add)
	err    error         // what fails every task, when not ok
	left   int           // records still to hand out
	buf    []B
	inLock int  // tasks added under the current hold of the lock
	spawn  bool // a running task adds: tasks without inputs go as Add's do (see spawns)
	owned  bool // the graph is Build's, which takes no lock (see place)
}

// beginEach checks what every task of an AddEach call shares, and reports
// whether the tasks can be added; otherwise e.err says why.
func beginEach[B any](b Builder, name string, k int, opts []Option, noFn bool, call string) (*each[B], bool) {
	at := placeOf(b)
	e := &each[B]{g: at.g, parent: at.parent, hold: at.hold, name: name, left: k, owned: at.owned}
	err := e.s.apply(opts)
	switch {
	case at.g == nil:
		err = noGraph(b)
	case err != nil:
	case noFn:
		err = ErrNilFunc
	case e.s.key != "":
		err = invalid(fmt.Sprintf("Key(%q)", e.s.key), call+" adds many tasks, and a key names one")
	case e.s.pure:
		err = invalid("Pure()", call+" adds many tasks, which Pure would make one")
	}
	if err != nil {
		e.err = &Error{Task: name, Err: err}
		if at.g != nil {
			at.g.c.Fail(e.err)
		}
		return e, false
	}
	if e.s.set && !e.s.opts.Keep {
		// Read only (Unkeep clears Keep, which these do not have): one
		// copy for all of them.
		o := e.s.opts
		e.opts = &o
	}
	switch {
	case at.parent != nil && at.hold == nil && !e.s.set:
		// A running task's tasks without inputs are added as its Add
		// calls add them: without the graph's lock where Spawn can.
		e.spawn = true
	case e.hold == nil && k > 0:
		e.hold, e.own = &core.Batch{}, true
	}
	return e, true
}

// rejectAll fails every task of a call that cannot add them, with e.err,
// as Add fails a task it cannot add: each is a record of its own, with
// its function, inputs and error. set fills in record i.
func rejectAll[B any, T any](e *each[B], out []Task[T], set func(i int, t *B) *record[T]) []Task[T] {
	for i := range out {
		t := e.next()
		r := set(i, t)
		r.n.Init(e.s.prio, any(t).(core.Body))
		r.n.Reject(e.name, e.err)
		out[i] = Task[T]{r}
	}
	return out
}

// next returns a zero record for the next task, cut from an array of
// records allocated for this call: one allocation for many tasks, sized
// to what is left, up to a slab's size.
func (e *each[B]) next() *B {
	if len(e.buf) == 0 {
		var zero B
		n := max(1, min(e.left, slabBytes/max(1, int(unsafe.Sizeof(zero)))))
		e.buf = make([]B, n)
		pages.Touch(e.buf)
	}
	t := &e.buf[0]
	e.buf = e.buf[1:]
	e.left--
	return t
}

// add adds n, whose body is body and whose inputs are ins, as add does
// for one task, with the graph's lock held for a chunk of tasks at a time.
func (e *each[B]) add(n *core.Node, body core.Body, ins []*core.Node) {
	g := &e.g.c
	n.Init(e.s.prio, body)
	err := inputsErr(e.g, ins)
	switch {
	case e.opts != nil:
		n.SetOptions(e.opts)
	case e.s.set:
		o := e.s.opts // Keep: a copy each, since Unkeep clears it
		n.SetOptions(&o)
	}
	if e.spawn && err == nil && len(ins) == 0 && spawns(e.g, e.parent, n, e.name) {
		return
	}
	if e.inLock == 0 {
		if !e.owned {
			g.Lock()
		}
		g.SetOwner(e.g)
	}
	e.inLock++
	if err == nil {
		err = g.Full(len(ins))
	}
	if err != nil {
		rejectLocked(e.g, n, e.name, err)
	} else {
		g.Add(n, ins, e.name, e.parent, "", e.hold, 0)
	}
	if e.inLock == eachChunk || e.spawn {
		// A spawning task lets go at once: Spawn may take the lock to
		// grow the index.
		e.letGo()
	}
}

// letGo ends the current hold of the graph's lock, which a graph that
// Build owns never took.
func (e *each[B]) letGo() {
	e.inLock = 0
	if !e.owned {
		e.g.c.Unlock()
	}
}

// end lets go of the graph's lock, if held, and queues the tasks held back.
func (e *each[B]) end() {
	if e.inLock > 0 {
		e.letGo()
	}
	if e.own {
		e.g.c.Flush(e.hold)
	}
}
