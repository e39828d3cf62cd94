package temporal

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/evolve-dag/evolve/graph"
)

// Implementation notes: the scheduler core.
//
// core is the part of a Temporal run that decides: a pure, deterministic
// state machine with no clock, no goroutine and no I/O, so that the
// workflow replays it exactly. Events go in (add these tasks, this task
// finished, failed or emitted tasks); decisions come out (Next: start this
// task; Finished: these tasks ended, wake whoever waits for them). The
// workflow (workflow.go) owns the only core of a run and calls it from one
// coroutine at a time; nothing else touches it.
//
// It keeps the semantics of evolve's exec: each task counts its unfinished
// inputs and becomes ready when the count reaches zero; ready tasks start by
// priority, then in submission order (ID); a failure skips the tasks that
// need it with a *graph.SkipError naming where it started; a flow finishes
// when the task it returned finishes; once nothing runs and nothing is
// ready while tasks are outstanding, they wait for each other, and the
// newest flow on the cycle (a waiter, as an in-process flow is) fails with a
// *graph.DeadlockError, and the run goes on.

type state uint8

const (
	stWaiting state = iota // inputs unfinished
	stReady                // in the ready queue
	stRunning              // dispatched to a worker
	stJoining              // a flow that returned, waiting for its result task
	stDone
	stFailed
	stSkipped
)

var stateNames = [...]string{"waiting", "ready", "running", "joining", "done", "failed", "skipped"}

func (s state) String() string { return stateNames[s] }

func (s state) finished() bool { return s >= stDone }

type node struct {
	spec    TaskSpec
	state   state
	missing int     // unfinished inputs
	readers []int64 // tasks that read this one's result
	joiners []int64 // flows whose result this task gives
	join    int64   // for a joining flow: the task it waits for
	result  json.RawMessage
	err     error
	origin  string // for failed and skipped tasks: the task where the failure started
	rec     TaskRecord
}

type core struct {
	nodes       []*node
	ready       readyQueue
	outstanding int // tasks not finished
	running     int
	finished    []int64 // tasks that ended since the last Drain
}

// Len returns the number of tasks added so far.
func (c *core) Len() int { return len(c.nodes) }

// Add adds s (its ID is set here) and returns its ID. Its inputs must be
// tasks added before.
func (c *core) Add(s TaskSpec) (int64, error) {
	id := int64(len(c.nodes))
	for _, d := range s.Deps {
		if d < 0 || d >= id {
			return -1, fmt.Errorf("evolve/temporal: adding task %q: input #%d is no task of this run", s.Name, d)
		}
	}
	s.ID = id
	n := &node{spec: s, join: -1}
	n.rec = TaskRecord{ID: id, Name: s.Name, Deps: s.Deps, Creator: s.Creator, Priority: s.Priority}
	c.nodes = append(c.nodes, n)
	c.outstanding++
	var failed *node
	for _, d := range s.Deps {
		dn := c.nodes[d]
		switch {
		case dn.state == stDone:
		case dn.state.finished():
			if failed == nil {
				failed = dn
			}
		default:
			n.missing++
			dn.readers = append(dn.readers, id)
		}
	}
	switch {
	case failed != nil:
		c.skip(n, failed)
	case n.missing == 0:
		c.makeReady(n)
	}
	return id, nil
}

func (c *core) makeReady(n *node) {
	n.state = stReady
	heap.Push(&c.ready, n)
}

// Next pops the ready task to start: highest priority, then lowest ID.
func (c *core) Next() (*node, bool) {
	if c.ready.Len() == 0 {
		return nil, false
	}
	n := heap.Pop(&c.ready).(*node)
	n.state = stRunning
	c.running++
	return n, true
}

// ReadyLen is the number of ready tasks.
func (c *core) ReadyLen() int { return c.ready.Len() }

// Inputs returns the results n reads, in order.
func (c *core) Inputs(n *node) []json.RawMessage {
	ins := make([]json.RawMessage, len(n.spec.Deps))
	for i, d := range n.spec.Deps {
		ins[i] = c.nodes[d].result
	}
	return ins
}

// Node returns the task with the given ID, or nil.
func (c *core) Node(id int64) *node {
	if id < 0 || id >= int64(len(c.nodes)) {
		return nil
	}
	return c.nodes[id]
}

// Succeed records that the running task id returned result.
func (c *core) Succeed(id int64, result json.RawMessage) {
	n := c.nodes[id]
	c.running--
	c.done(n, result)
}

// Fail records that the running task id failed with err.
func (c *core) Fail(id int64, err error) {
	n := c.nodes[id]
	c.running--
	c.failNode(n, err, n.spec.Name)
}

// Emit records that the running flow id returned em: its tasks join the
// run, and the flow waits for em.Result. A malformed emission fails the
// flow.
func (c *core) Emit(id int64, em *Emission) {
	n := c.nodes[id]
	c.running--
	if em == nil {
		c.failNode(n, fmt.Errorf("evolve/temporal: flow %q returned no emission", n.spec.Name), n.spec.Name)
		return
	}
	tasks, target, err := em.resolve(n.spec.Name, id, int64(len(c.nodes)))
	if err != nil {
		c.failNode(n, err, n.spec.Name)
		return
	}
	for _, s := range tasks {
		c.Add(s) // cannot fail: resolve checked the deps
	}
	c.joinOn(n, target)
}

func (c *core) joinOn(n *node, target int64) {
	if target == n.spec.ID {
		c.failNode(n, &graph.DeadlockError{Cycle: []string{n.spec.Name, n.spec.Name}}, n.spec.Name)
		return
	}
	t := c.nodes[target]
	switch {
	case t.state == stDone:
		c.done(n, t.result)
	case t.state.finished():
		c.failNode(n, &graph.SkipError{Task: n.spec.Name, Failed: t.origin, Err: rootErr(t)}, t.origin)
	default:
		n.state = stJoining
		n.join = target
		t.joiners = append(t.joiners, n.spec.ID)
	}
}

// rootErr is the error where a failure started: a skipped task's, or a
// flow's that failed because its result task did, is the one it wraps.
func rootErr(n *node) error {
	if se, ok := n.err.(*graph.SkipError); ok {
		return se.Err
	}
	return n.err
}

func (c *core) done(n *node, result json.RawMessage) {
	n.state = stDone
	n.result = result
	c.end(n)
	for _, r := range n.readers {
		rn := c.nodes[r]
		if rn.state != stWaiting {
			continue
		}
		rn.missing--
		if rn.missing == 0 {
			c.makeReady(rn)
		}
	}
	for _, j := range n.joiners {
		c.done(c.nodes[j], result)
	}
	n.readers, n.joiners = nil, nil
}

func (c *core) failNode(n *node, err error, origin string) {
	n.state = stFailed
	n.err = err
	n.origin = origin
	c.end(n)
	c.propagate(n)
}

// skip skips n, which waits for its inputs (a reader of a task that had
// not finished cannot be ready), because failed did not succeed.
func (c *core) skip(n *node, failed *node) {
	n.state = stSkipped
	n.origin = failed.origin
	n.err = &graph.SkipError{Task: n.spec.Name, Failed: failed.origin, Err: rootErr(failed)}
	c.end(n)
	c.propagate(n)
}

func (c *core) propagate(n *node) {
	for _, r := range n.readers {
		if rn := c.nodes[r]; !rn.state.finished() {
			c.skip(rn, n)
		}
	}
	for _, j := range n.joiners {
		jn := c.nodes[j]
		if jn.state.finished() {
			continue
		}
		// A flow whose task failed fails with a SkipError naming it, as
		// graph.Flow does.
		jn.state = stFailed
		jn.origin = n.origin
		jn.err = &graph.SkipError{Task: jn.spec.Name, Failed: n.origin, Err: rootErr(n)}
		c.end(jn)
		c.propagate(jn)
	}
	n.readers, n.joiners = nil, nil
}

func (c *core) end(n *node) {
	c.outstanding--
	c.finished = append(c.finished, n.spec.ID)
}

// Drain returns the tasks that ended since the last call.
func (c *core) Drain() []int64 {
	f := c.finished
	c.finished = nil
	return f
}

// Outstanding is the number of tasks not finished.
func (c *core) Outstanding() int { return c.outstanding }

// Running is the number of tasks started and not finished.
func (c *core) Running() int { return c.running }

// Stalled reports whether tasks are outstanding while none runs and none is
// ready: each of them waits for another, so a cycle exists.
func (c *core) Stalled() bool {
	return c.outstanding > 0 && c.running == 0 && c.ready.Len() == 0
}

// BreakCycle fails one task of a cycle among the outstanding tasks with a
// *graph.DeadlockError naming the cycle, and reports whether it found one.
// Call it only when Stalled: no task is ready, so none on the cycle is.
// It starts from the newest outstanding task and follows what each needs
// (its first unfinished input, or the task a flow joins) until a task
// repeats; the newest flow on the cycle fails (a flow waits in its body, as
// an in-process flow does), or the newest task if no flow is on it.
func (c *core) BreakCycle() bool {
	var start *node
	for i := len(c.nodes) - 1; i >= 0; i-- {
		if !c.nodes[i].state.finished() {
			start = c.nodes[i]
			break
		}
	}
	if start == nil {
		return false
	}
	seen := map[int64]int{}
	var path []*node
	for n := start; n != nil; n = c.needs(n) {
		if at, ok := seen[n.spec.ID]; ok {
			cycle := path[at:]
			victim := cycle[0]
			for _, m := range cycle {
				if (m.state == stJoining) != (victim.state == stJoining) {
					if m.state == stJoining {
						victim = m
					}
					continue
				}
				if m.spec.ID > victim.spec.ID {
					victim = m
				}
			}
			c.failNode(victim, &graph.DeadlockError{Cycle: cycleNames(cycle, victim)}, victim.spec.Name)
			return true
		}
		seen[n.spec.ID] = len(path)
		path = append(path, n)
	}
	return false
}

// needs returns the unfinished task n waits for, or nil.
func (c *core) needs(n *node) *node {
	if n.state == stJoining {
		return c.nodes[n.join]
	}
	for _, d := range n.spec.Deps {
		if dn := c.nodes[d]; !dn.state.finished() {
			return dn
		}
	}
	return nil
}

// cycleNames names the cycle starting and ending at victim, in the
// direction of waiting: each task waits for the next.
func cycleNames(cycle []*node, victim *node) []string {
	at := slices.Index(cycle, victim)
	names := make([]string, 0, len(cycle)+1)
	for i := range cycle {
		names = append(names, cycle[(at+i)%len(cycle)].spec.Name)
	}
	return append(names, victim.spec.Name)
}

// readyQueue is a heap of ready tasks: highest priority first, then lowest
// ID.
type readyQueue []*node

func (q readyQueue) Len() int { return len(q) }
func (q readyQueue) Less(i, j int) bool {
	if q[i].spec.Priority != q[j].spec.Priority {
		return q[i].spec.Priority > q[j].spec.Priority
	}
	return q[i].spec.ID < q[j].spec.ID
}
func (q readyQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *readyQueue) Push(x any)   { *q = append(*q, x.(*node)) }
func (q *readyQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return n
}
