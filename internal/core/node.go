// Package core holds the task node and graph storage shared by evolve's
// public packages: graph builds nodes, exec runs them, dynamic grows them.
//
// Implementation notes.
//
// A Node's identity, name, priority, creator and body never change after it
// is added. Its scheduling fields change while a run goes on:
//
//   - state is an atomic word written by the executor's workers: the
//     node's state, its flags and, in its upper half, its count of
//     unfinished inputs (see pendingOne), so that the input that finishes
//     last makes the node ready in the same atomic operation that counts
//     it down.
//   - Registering for a node's completion (linking a consumer, a Watch, a
//     Done channel) happens under the node's lock (a bit of the state
//     word, see lock), after announcing it in the state word.
//     A completion that sees no announcement and no ext switches to its
//     terminal state and counts down its consumers without the lock;
//     otherwise it does so under the lock, and then it marks the node
//     counted. A consumer joining the run waits for an input that has
//     finished to be counted before it links to it, so that it is counted
//     down by the input's completion or sees the input finished, never
//     both and never neither (see announce and Graph.join).
//   - epoch says which run the node takes part in; it is written while
//     every input's lock is held, and read by completions without it, so it
//     is atomic, as are the consumer lists.
//   - ext holds what few nodes need (options, failure, waiters) and is nil
//     for most, keeping the common node at 72 bytes.
package core

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// State is where a node is in its life.
type State uint32

// The states a node goes through. Idle is before any run wants it; Waiting,
// Ready, Running and Joining are the states inside a run; the rest are
// terminal for that run.
const (
	Idle      State = iota // built, not wanted by a run yet
	Waiting                // wanted, some input not finished
	Ready                  // in the ready queue
	Running                // its function is running
	Joining                // its function returned; it waits for the tasks it emitted
	Done                   // succeeded; the result is readable
	Failed                 // its function returned an error or panicked
	Skipped                // an input failed, so it never ran
	Cancelled              // the run or the task was cancelled before it finished
	Released               // succeeded, and the result was dropped to free memory
)

var stateNames = [...]string{"idle", "waiting", "ready", "running", "joining", "done", "failed", "skipped", "cancelled", "released"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Terminal reports whether s ends a node's part in a run.
func (s State) Terminal() bool { return s >= Done }

// Flags share the state word with the state, so that the executor reads
// them with the same atomic load and CAS keeps them.
const (
	// poisoned: an input failed, so the node is skipped instead of run when
	// its count reaches zero.
	poisoned = 1 << 8
	// joined: a Join node's function returned; when it is ready again it is
	// finished, not run.
	joined = 1 << 9
	// cancelled: Cancel reached the node while it ran; its result is
	// discarded.
	cancelReq = 1 << 10

	// outOfCount: the run's count of unfinished tasks does not include the
	// node. A task that a running task adds without the graph's lock, and
	// that the creator's worker keeps, is left out of the count until it
	// leaves that worker's entries by any way but a claim (see Graph.Spawn
	// and exec's kept.go): while it is out, something the run counts is
	// running (its creator, or the task whose claim runs the creator), so
	// the run cannot end. Set before the node is published; cleared only
	// while the node is Ready, by TakeIntoCount, or by the switch to a
	// terminal state.
	outOfCount = 1 << 7

	stateMask = 1<<7 - 1

	// lockBit is set while a goroutine holds the node's lock (see lock).
	lockBit = 1 << 11
	// held: the node is ready, but a Batch keeps it back until it ends.
	held = 1 << 12
	// counted: the node is finished and its completion has counted down
	// every consumer linked to it before. A consumer joining the run links
	// itself to a finished input only once it is set: before, the
	// completion may still count the new consumer down although the
	// consumer, seeing the input finished, does not wait for it (see
	// Graph.join). Nodes made finished without a completion (values,
	// tasks that could not be built) have it from the start.
	counted = 1 << 13
	// preparedAhead: Add prepared n, added while no run was active, for
	// the next run (see Graph's ahead); the next preparation, or a switch
	// to a terminal state, clears it. Until that run begins, and if a run
	// for targets leaves n out, State reads n as Idle.
	preparedAhead = 1 << 15
	// joinsCreator: n was emitted by its creator, a Join node running in
	// n's run, which waits for it: n's completion counts the creator down.
	// The completion drops the flag in the same word it switches to a
	// terminal state, so a Retry of the creator that clears the flag
	// first (see dropCreator) takes the count back, and one that finds n
	// terminal leaves it to the completion: never both, never neither.
	joinsCreator = 1 << 14

	// linked: a consumer was linked to n while a run was active, since
	// n was prepared for the run. A completion whose look before its
	// switch found n's consumers few and all in the run (or none), and
	// that finds this flag clear and nobody announced as it switches to
	// its terminal state, knows that nobody linked since: it marks n
	// counted in that same switch (see countedEarly), where it would
	// otherwise take one more atomic operation after its walk.
	linked = 1 << 16

	// Bits 17 to 31 count goroutines registering for n's completion
	// right now (a consumer being linked, a Watch, a Done channel): see
	// announce. They let a completion that sees none, and no ext, skip the
	// node's lock.
	announceOne  = 1 << 17
	announceMask = 1<<32 - announceOne

	// The upper 32 bits are the node's pending count as an int32: its
	// inputs (and emitted tasks, for joins) not finished, plus guards. In
	// the state's word, so that counting an input down and making the node
	// ready (or running, for a completion that claims it) are one
	// compare-and-swap, not an add and a compare-and-swap: a chain, a tree
	// and a wave count every edge down (see countDown).
	pendingOne  = 1 << 32
	pendingMask = ^uint64(pendingOne - 1)
)

// pendingOf returns the pending count held in the state word v.
func pendingOf(v uint64) int32 { return int32(v >> 32) }

// Kind tells the executor what to do when a node becomes ready.
type Kind uint8

const (
	// Task nodes run their body.
	Task Kind = iota
	// Waiter nodes are not in the graph: they stand for a goroutine blocked
	// until a set of nodes finished, and become ready when the last one does.
	Waiter
	// Notifier nodes are not in the graph either: a node that finishes calls
	// their function with itself, on the finishing goroutine.
	Notifier
)

// Body is the typed part of a node: graph implements it for each task shape.
type Body interface {
	// Run computes the node's result. It must call c.Consumed once for each
	// input right after reading the input's value, so the executor can
	// release results nobody needs any more.
	Run(ctx context.Context, c Consumer) error
	// Inputs lists the nodes whose results Run reads, in order. The slice
	// may be the body's own fields seen as a slice (see graph's shapes):
	// callers read it and never change it. One call lists them all, where
	// a count and a call per input cost the build and the run's start an
	// interface call per edge.
	Inputs() []*Node
	// Drop drops the result so the garbage collector can take it.
	Drop()
	// Handle returns the typed handle the user holds for this node.
	Handle() any
}

// Consumer is told when a running node has read an input.
type Consumer interface {
	Consumed(input *Node)
}

// Options are a task's optional settings; nil means all defaults.
type Options struct {
	Retries     int
	Backoff     int64 // nanoseconds before the first retry; doubles each retry
	Timeout     int64 // nanoseconds; 0 means none
	Keep        bool  // keep the result in runs that release results
	Cancellable bool  // give the task a context of its own so Cancel reaches it while it runs
	Join        bool  // the node finishes only when every task it emitted has finished
}

// ext holds the rare parts of a node. What only some kinds of node use is
// in rare, so that the common ext (a task that waits, fails, has options or
// a Done channel) fits in 96 bytes.
type ext struct {
	opts    *Options
	err     error   // why the node failed, was skipped or was cancelled
	waiters []*Node // Waiter nodes (and joining parents) to notify on completion
	done    chan struct{}
	cancel  context.CancelFunc // set while a cancellable node runs
	rare    *extRare           // set before the node is shared, or under the graph's lock (after)
}

// extRare is what only ordered, waiter, notifier and join nodes use.
type extRare struct {
	after  []*Node              // ordering inputs added with Graph.Order, read by no body
	wake   chan struct{}        // Waiter nodes: receives the slot handed back
	notify func(*Node)          // Notifier nodes: called with each watched node that finishes
	cause  atomic.Pointer[Node] // Join nodes: the first emitted task that failed
	joins  []*Node              // Join nodes: what they join in this run (see Joins); under the node's lock
	name   string               // a node in no graph: its name (see Name)
}

// withRare is the ext of waiter and notifier nodes, in one allocation.
type withRare struct {
	ext
	r extRare
}

// newExtRare returns an ext with its rare part, in one allocation.
func newExtRare() *ext {
	w := &withRare{}
	w.ext.rare = &w.r
	return &w.ext
}

// rare returns n's rare part, or nil.
func (n *Node) rare() *extRare {
	if x := n.xt(); x != nil {
		return x.rare
	}
	return nil
}

// Node is one task in a graph, or a Waiter outside it.
//
// Every byte counts: a run of a million tasks holds a million nodes, and
// building them costs page faults and garbage-collector marking in
// proportion to their size and their pointers. So the id is 32 bits (a
// graph holds at most MaxNodes), the kind is not stored (see Kind), the
// name is a number in the graph's names (see Graph.intern), the body is
// its type word (see Body), and the first consumer is held in the node, so
// that the common node with one consumer needs no edge. The host pointer
// is the one field that only a running task needs; it is what lets a
// task's context be the node itself, without allocating one per task (see
// Host).
type Node struct {
	name  uint32 // its name's number in g's names, plus one (see Graph.intern); 0: see Name
	id    int32
	state atomic.Uint64 // the state, its flags, and the pending count (see pendingOne)
	prio  int32
	users atomic.Int32  // consumers in this run that have not read the result, plus one if kept
	epoch atomic.Uint32 // the run the node takes part in (see Graph.epoch); atomic, as completions read it without locks
	// The creator and the consumers are in n's graph, so they are held by
	// number, plus one so that zero is none: a pointer is a word the
	// collector follows in every node, and most of these are set.
	//
	// up is the creator's id + 1 when g is set. A node cut from a slab
	// (see SlabHeader) has no creator and g nil: up is then how many bytes
	// before n its slab's header is, which holds the graph.
	up    uint32
	succ1 atomic.Uint32 // the first consumer's id + 1
	succ  atomic.Uint32 // the later consumers: the latest's edge number + 1
	// g is n's graph, unless n was cut from a slab (see up): nil until
	// n is added, and for a node that could not be.
	g *Graph
	// body is the type word of the node's Body, whose data word is the
	// node itself (see Init): holding only the type drops 8 bytes and a
	// pointer from every node to itself, which the collector would follow
	// on every cycle and a build would store through a write barrier. A
	// type word points to an itab, in the binary or in memory the runtime
	// allocates outside the heap, never freed or moved: a uintptr holds
	// it safely (the collector does not follow it in an interface either).
	body uintptr
	xp   atomic.Pointer[ext] // created at most once, by extra; read with xt
	host unsafe.Pointer      // *Host: where the function runs or last ran (see SetHost)
}

// MaxNodes is how many nodes a graph can hold.
const MaxNodes = math.MaxInt32

// Init sets what a node is before it is added. Graph.Add fills in the rest,
// its name too. body's data word must be n: the node is the first field of
// its body, so that a *Node and its body are the same address (see Body).
func (n *Node) Init(prio int, body Body) {
	n.prio = int32(prio)
	w := (*ifaceWords)(unsafe.Pointer(&body))
	if w.data != unsafe.Pointer(n) {
		panic("core: a node's body must begin with the node")
	}
	n.body = uintptr(w.tab)
}

// ifaceWords is the layout of a non-empty interface value: its itab and
// its data. sync/atomic.Value reads an empty interface the same way.
type ifaceWords struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// NewWaiter returns a Waiter node ordered like owner (its priority and
// creation order), used to queue the resumption of a blocked task.
func NewWaiter(owner *Node) *Node {
	w := &Node{}
	x := newExtRare()
	x.rare.wake = make(chan struct{}, 1)
	w.xp.Store(x)
	w.state.Store(uint64(Waiting))
	if owner != nil {
		w.name, w.id, w.prio, w.g = owner.name, owner.id, owner.prio, owner.Graph()
	}
	return w
}

// NewDetached returns a task node outside any graph with the given
// priority and id, for tests of what orders nodes.
func NewDetached(name string, prio int, id int64) *Node {
	n := &Node{prio: int32(prio), id: int32(id)}
	x := newExtRare()
	x.rare.name = name
	n.xp.Store(x)
	return n
}

// NewNotifier returns a Notifier node that calls fn with each node it
// watches when that node finishes. fn runs on the finishing goroutine with
// the node's lock held: it must be quick and must not touch other nodes.
func NewNotifier(fn func(*Node)) *Node {
	n := &Node{}
	x := newExtRare()
	x.rare.notify = fn
	n.xp.Store(x)
	return n
}

// ID is the node's index in its graph, which is also its creation order.
func (n *Node) ID() int64 { return int64(n.id) }

// Name is the name the node was built with: in its graph's names, or,
// for a node in no graph (see Reject, NewDetached), in its rare part. A
// waiter has its owner's.
func (n *Node) Name() string {
	if n.name != 0 {
		return *n.Graph().names.at(int64(n.name - 1))
	}
	if r := n.rare(); r != nil {
		return r.name
	}
	return ""
}

// Priority is the node's priority: higher runs first.
func (n *Node) Priority() int { return int(n.prio) }

// Graph is the graph the node belongs to; nil if it could not be added.
func (n *Node) Graph() *Graph {
	if g := n.g; g != nil || n.up == 0 {
		return g
	}
	return n.Header().g
}

// Header returns the header of the slab n was cut from (see SlabHeader),
// up bytes before n in the same array. Only a node cut from a slab may
// ask.
func (n *Node) Header() *Node { return (*Node)(unsafe.Add(unsafe.Pointer(n), -int(n.up))) }

// SlabHeader makes n, the first record of a slab of task records that
// the graph package allocates (see Graph.Add's back), the slab's header:
// the holder of the graph for every other record of the slab. It is no
// task and is never added. A build that stores the graph once per slab,
// and a number in each record, saves each record a pointer, which it
// would store through the collector's write barrier (BENCHMARKS.md,
// session 23).
func (g *Graph) SlabHeader(n *Node) { n.g = g }

// Parent is the task that was running when the node was added, or nil.
func (n *Node) Parent() *Node {
	if n.g == nil || n.up == 0 { // cut from a slab, so no task's
		return nil
	}
	return *n.g.nodes.at(int64(n.up - 1))
}

// Kind says whether n is a task, a waiter or a notifier. It is not stored:
// graph nodes have a body, and the others are told apart by the rare part
// of their ext, which is set before they are shared.
func (n *Node) Kind() Kind {
	if n.body != 0 {
		return Task
	}
	if r := n.rare(); r != nil {
		switch {
		case r.wake != nil:
			return Waiter
		case r.notify != nil:
			return Notifier
		}
	}
	return Task
}

// TaskOf reports whether n is a task of g: n.Graph() == g and n.Kind()
// == Task, since a task has a body and a waiter or a notifier none; small
// enough that the queue's push, which asks, stays inlined.
func (n *Node) TaskOf(g *Graph) bool { return n.body != 0 && n.Graph() == g }

// Running reports whether n.State() is Running. A node prepared ahead,
// which State may read as Idle, is never running, so its state word says
// without a look at its graph (see Graph): small enough to inline where
// State no longer is.
func (n *Node) Running() bool { return State(n.state.Load()&stateMask) == Running }

// IsValue reports whether n was made done when it was built (graph's
// Value): it has no function to compute it again, so its result is never
// released. Such a node never takes part in a run (every run finds it
// done), so its epoch stays zero, which no run has.
func (n *Node) IsValue() bool {
	// Its state word says: a node prepared ahead (see State) has an epoch.
	return n.epoch.Load() == 0 && State(n.state.Load()&stateMask) == Done
}

// Body is the node's typed part: the interface rebuilt from its type word
// and the node's own address (see Init), or nil for a node without one.
func (n *Node) Body() Body {
	var b Body
	if n.body != 0 {
		w := (*ifaceWords)(unsafe.Pointer(&b))
		// The type word is read as the pointer it was, not converted from
		// an integer: it points outside the heap (see Node.body).
		w.tab = *(*unsafe.Pointer)(unsafe.Pointer(&n.body))
		w.data = unsafe.Pointer(n)
	}
	return b
}

// State is the node's state now. A node added while no run was active is
// prepared for the next run as it is added (see Graph's ahead), and
// flagged so: Waiting or Ready for a run that has not begun, or that a
// run for targets left out, it is Idle. Any other preparation clears the
// flag (see Graph.prepare), so only such a node is ever read this way.
func (n *Node) State() State {
	v := n.state.Load()
	if v&preparedAhead != 0 && n.epoch.Load() != n.Graph().begun.Load() {
		return Idle
	}
	return State(v & stateMask)
}

// ahead prepares n, which no other goroutine has yet, for the run of
// epoch, as Graph.prepare would: in state s with flags, waiting for
// pending inputs, and counting its Keep option as a reader of its result
// (see Options.Keep; a run's start does not prepare n again, so this is
// where Keep is counted, or a later run for targets would release it).
// Plain stores: each atomic one is a full exchange here, and the graph's
// lock, which the caller holds, publishes them with the node.
func (n *Node) ahead(epoch uint32, s State, flags uint32, pending int32) {
	*(*uint32)(unsafe.Pointer(&n.epoch)) = epoch
	*(*uint64)(unsafe.Pointer(&n.state)) = uint64(s) | uint64(flags) | uint64(uint32(pending))<<32
	if x := n.xt(); x != nil && x.opts != nil && x.opts.Keep {
		*(*int32)(unsafe.Pointer(&n.users)) = 1
	}
}

// OutOfCount reports whether the run's count of unfinished tasks leaves n
// out (see outOfCount). It does not change while n runs, so a completion
// reads it to know whether the run counted n.
func (n *Node) OutOfCount() bool { return n.state.Load()&outOfCount != 0 }

// TakeIntoCount clears n's outOfCount flag if n is Ready with it, and
// reports whether it did: the caller, which counted n in the run before,
// keeps that count then, and undoes it otherwise (n was claimed, or
// cancelled, or counted by another goroutine, meanwhile). Of two racing
// for it, one wins.
func (n *Node) TakeIntoCount() bool {
	for {
		v := n.state.Load()
		if v&outOfCount == 0 || State(v&stateMask) != Ready {
			return false
		}
		if n.state.CompareAndSwap(v, v&^outOfCount) {
			return true
		}
	}
}

// Poisoned reports whether an input of n failed in this run.
func (n *Node) Poisoned() bool { return n.state.Load()&poisoned != 0 }

// SetState stores s, clearing the flags. Call it only before the node is
// added: it does not keep announcements.
func (n *Node) SetState(s State) {
	v := uint64(s)
	if s.Terminal() {
		v |= counted // no completion will count consumers down
	}
	n.state.Store(v)
}

// store sets the state and flags to v, keeping the announcement count,
// the lock and the pending count, and returns the word it replaced.
func (n *Node) store(v uint32) uint64 {
	for {
		old := n.state.Load()
		if n.state.CompareAndSwap(old, old&(pendingMask|announceMask|lockBit)|uint64(v)) {
			return old
		}
	}
}

// announce tells a completion of n that the caller is about to take n's
// lock to register for that completion (link a consumer, watch, make a
// Done channel); withdraw ends it. The caller registers only if, under the
// lock, n has not finished.
//
// Why this is enough for Finish's lock-free path: the announcement
// and the completion's switch to a terminal state are read-modify-writes of
// the same word, so one comes first. If the completion comes first, the
// registrant sees the terminal state and does not register; a consumer,
// which registers by linking itself into the completion's list, also waits
// until the completion has gone through that list (the counted flag), or
// the completion could still find it there. If the announcement comes
// first, the completion either sees it still counted, and takes the lock
// (waiting for the registrant), or sees it withdrawn, and then sees
// everything the registrant wrote before withdrawing.
func (n *Node) announce() { n.state.Add(announceOne) }

// lock takes the node's lock, a bit of the state word: a node is held by
// the million, and a sync.Mutex of its own would cost each 8 bytes (see
// Node). The lock guards registrations for the node's completion and its
// ext, and is held for a few field writes at a time, never across a wait,
// so a goroutine that finds it taken spins a little and then yields.
func (n *Node) lock() {
	for spins := 0; ; spins++ {
		v := n.state.Load()
		if v&lockBit == 0 && n.state.CompareAndSwap(v, v|lockBit) {
			return
		}
		if spins >= 16 {
			runtime.Gosched()
		}
	}
}

// Lock takes the node's lock, for readers of the result that Release
// drops under it (see graph's Task.Result).
func (n *Node) Lock() { n.lock() }

// WhileRunning calls fn with n's lock held, after announcing itself (see
// announce), if n is Running, and reports whether it did. With Announced,
// it lets a goroutine of n read what the goroutine running n's function
// changes once n left Running (exec's stand-ins): that goroutine changes
// it under n's lock if it sees an announcement after n left Running, and
// a goroutine that announced itself after that sees n out of Running.
func (n *Node) WhileRunning(fn func()) bool {
	n.announce()
	defer n.withdraw()
	n.lock()
	defer n.unlock()
	if n.State() != Running {
		return false
	}
	fn()
	return true
}

// Announced reports whether a goroutine is announced on n (see
// WhileRunning).
func (n *Node) Announced() bool { return n.state.Load()&announceMask != 0 }

// Unlock releases the lock taken with Lock.
func (n *Node) Unlock() { n.unlock() }

// unlock releases the lock taken with lock.
func (n *Node) unlock() { n.state.And(^uint64(lockBit)) }

// unlockAs releases the lock taken with lock and, in the same
// compare-and-swap, moves n from state from to state to if n is in from:
// CAS and unlock in one atomic operation.
func (n *Node) unlockAs(from, to State) {
	for {
		v := n.state.Load()
		nv := v &^ lockBit
		if State(v&stateMask) == from {
			nv = nv&^stateMask | uint64(to)
		}
		if n.state.CompareAndSwap(v, nv) {
			return
		}
	}
}

func (n *Node) withdraw() { n.state.Add(-announceOne & (1<<64 - 1)) } // adds -announceOne

// CAS moves n from old to new state, keeping the flags.
func (n *Node) CAS(old, new State) bool {
	for {
		v := n.state.Load()
		if State(v&stateMask) != old {
			return false
		}
		if n.state.CompareAndSwap(v, v&^stateMask|uint64(new)) {
			return true
		}
	}
}

// pending is the node's count of unfinished inputs.
func (n *Node) pending() int32 { return pendingOf(n.state.Load()) }

// SetPending sets the node's count of unfinished inputs to p.
func (n *Node) SetPending(p int32) {
	for {
		v := n.state.Load()
		if pendingOf(v) == p || n.state.CompareAndSwap(v, v&^pendingMask|uint64(uint32(p))<<32) {
			return
		}
	}
}

// AddPending adds d to the node's count of unfinished inputs.
func (n *Node) AddPending(d int32) { n.state.Add(uint64(int64(d) << 32)) }

// CountDown counts one unfinished input of n down and, if that was the
// last and n is in state from, moves n to state to, in the same
// compare-and-swap; it reports whether it did.
func (n *Node) CountDown(from, to State) bool { return n.countDownTo(from, from, to, 0) }

// countDownTo is CountDown that moves n to state to from either of two
// states (a joining flow's waiters count it down from Waiting or
// Joining), and sets flags in the same write.
func (n *Node) countDownTo(from, from2, to State, flags uint64) bool {
	for {
		v := n.state.Load()
		nv := (v - pendingOne) | flags
		s := State(v & stateMask)
		made := pendingOf(nv) == 0 && (s == from || s == from2)
		if made {
			nv = nv&^stateMask | uint64(to)
		}
		if n.state.CompareAndSwap(v, nv) {
			return made
		}
	}
}

// Users is the node's count of consumers that have not read its result.
func (n *Node) Users() *atomic.Int32 { return &n.users }

// Options returns the node's options, or nil.
func (n *Node) Options() *Options {
	if n.xt() == nil {
		return nil
	}
	return n.xt().opts
}

// SetOptions stores o; call it before the node is added.
func (n *Node) SetOptions(o *Options) {
	if o == nil {
		return
	}
	if o.Join && n.xp.Load() == nil {
		// A Join node needs its rare part (for cause, written by emitted
		// tasks' completions, and its joins): both in one allocation. No
		// other goroutine has n yet.
		n.xp.CompareAndSwap(nil, newExtRare())
	}
	x := n.extra()
	x.opts = o
	if o.Join && x.rare == nil {
		x.rare = &extRare{}
	}
}

func (n *Node) extra() *ext {
	if e := n.xp.Load(); e != nil {
		return e
	}
	n.xp.CompareAndSwap(nil, &ext{})
	return n.xp.Load()
}

// HasExt reports whether n has an ext: options, a failure, waiters or a
// Done channel.
func (n *Node) HasExt() bool { return n.xp.Load() != nil }

// xt returns n's ext, or nil. The pointer is atomic because ext is created
// lazily (a first waiter, a failure) while the executor reads options.
func (n *Node) xt() *ext {
	return n.xp.Load()
}

// Reject fails a node that could not be built, before it is shared: it
// stays in no graph, with its name and err (see Name).
func (n *Node) Reject(name string, err error) {
	x := newExtRare()
	if old := n.xt(); old != nil {
		x.opts = old.opts
	}
	x.rare.name = name
	x.err = err
	n.xp.Store(x)
	n.state.Store(uint64(Failed) | counted)
}

// Err is why the node did not succeed, or nil. Read it after the node
// reached a terminal state.
func (n *Node) Err() error {
	n.lock()
	defer n.unlock()
	return n.LockedErr()
}

// LockedErr is Err for a caller that holds n's lock (see Lock), to read
// the state and the error of one outcome together: a new run resets the
// error, so a state read before and an error read after may belong to
// different runs.
func (n *Node) LockedErr() error {
	if n.xt() == nil {
		return nil
	}
	return n.xt().err
}

// deps returns the nodes n must wait for: its body's inputs (in), and its
// ordering inputs (after, added with Graph.Order). Neither may be changed.
func (n *Node) deps() (in, after []*Node) {
	if b := n.Body(); b != nil {
		in = b.Inputs()
	}
	if r := n.rare(); r != nil {
		after = r.after
	}
	return in, after
}

// Deps returns the nodes n must wait for, in order: its body's inputs and
// then its ordering inputs. The slice is n's own when n has no ordering
// inputs: the caller must not change it.
func (n *Node) Deps() []*Node {
	in, after := n.deps()
	if len(after) == 0 {
		return in
	}
	return append(in[:len(in):len(in)], after...)
}

// After returns the nodes n was ordered after (see Graph.Order), which its
// body does not read. The caller must not change the slice.
func (n *Node) After() []*Node {
	_, after := n.deps()
	return after
}

// Held reports whether a Batch that has not ended keeps n back.
func (n *Node) Held() bool { return n.state.Load()&held != 0 }

// SetJoined marks a Join node whose function returned: when it becomes
// ready again it is finished, not run.
func (n *Node) SetJoined() { n.state.Or(joined) }

// Joined reports whether SetJoined was called in this run.
func (n *Node) Joined() bool { return n.state.Load()&joined != 0 }

// CancelRequested reports whether Cancel reached n while it ran.
func (n *Node) CancelRequested() bool { return n.state.Load()&cancelReq != 0 }

// Cause is the first emitted task of a Join node that failed, or nil.
func (n *Node) Cause() *Node {
	if r := n.rare(); r != nil {
		return r.cause.Load()
	}
	return nil
}

// Wake is the channel a Waiter's goroutine receives its slot on.
func (n *Node) Wake() chan struct{} { return n.rare().wake }

// Joins returns what a Join node waits for before it finishes, in this
// run: the tasks it emitted while it ran, and the task its function
// returned if it did not emit it. It is nil for other nodes.
func (n *Node) Joins() []*Node {
	r := n.rare()
	if r == nil {
		return nil
	}
	n.lock()
	defer n.unlock()
	return r.joins // appended to, never changed in place: the caller's view stays valid
}

// AddJoin records that n, a Join node, also waits for on (see Joins).
func (n *Node) AddJoin(on *Node) {
	n.lock()
	n.rare().joins = append(n.rare().joins, on)
	n.unlock()
}

// Retry starts a new attempt of n, a Join node whose function failed and
// is run again: n stops joining what the failed attempt emitted. Those
// tasks run on, but no longer hold n back, and their failures no longer
// fail it. It returns them, for the executor to let go of as it would
// when n finished (see Joins).
func (n *Node) Retry() []*Node {
	r := n.rare()
	n.lock()
	joins := r.joins
	r.joins = nil
	n.unlock()
	for _, e := range joins {
		if e.dropCreator(n) || e.Unwatch(n) {
			n.AddPending(-1)
		}
	}
	// Each of them has now either forgotten n or finished, and a failure
	// poisoned n then: n starts the next attempt clean. Nothing else
	// poisons a running node (its inputs have finished).
	n.state.And(^uint64(poisoned))
	r.cause.Store(nil)
	return joins
}

// dropCreator clears n's joinsCreator flag if creator emitted n and n has
// not finished, and reports whether it did: n's completion will then not
// count creator down (see joinsCreator). A flow also joins the task its
// function returned, which another flow may have emitted: that one's
// flag is not creator's to clear.
func (n *Node) dropCreator(creator *Node) bool {
	if n.g == nil || n.g != creator.Graph() || n.up != uint32(creator.id)+1 {
		return false
	}
	for {
		v := n.state.Load()
		if v&joinsCreator == 0 || State(v&stateMask).Terminal() {
			return false
		}
		if n.state.CompareAndSwap(v, v&^joinsCreator) {
			return true
		}
	}
}

// countDownCreator counts n's creator down if old, the state word n's
// completion replaced, says n joins it (see joinsCreator), and appends the
// creator to ready if that made it ready. A failed n poisons it and
// becomes its cause, as a waiter's failure does.
func (n *Node) countDownCreator(old uint64, fail bool, ready []*Node) []*Node {
	if old&joinsCreator == 0 {
		return ready
	}
	return n.countDownWaiter(n.Parent(), fail, ready)
}

// countDownWaiter counts w, a task waiting for n (a joining flow, a waiter),
// down now that n finished, and appends w to ready if that made it ready.
// With poison, n failed and w is a task that fails with it: w is poisoned,
// and n becomes its cause.
func (n *Node) countDownWaiter(w *Node, poison bool, ready []*Node) []*Node {
	var flags uint64
	if poison {
		flags = poisoned
		w.rare().cause.CompareAndSwap(nil, n) // a joining flow has its rare part (SetOptions)
	}
	if w.countDownTo(Waiting, Joining, Ready, flags) {
		ready = append(ready, w)
	}
	return ready
}

// Abort finishes n in state s with err while it is not running: waiting
// for its inputs, ready, or joining what it emitted. The consumers this
// makes ready are appended to ready (they are poisoned, to be skipped). It
// reports false, doing nothing, when n is in another state. The executor
// uses it to break a deadlock.
func (n *Node) Abort(s State, err error, ready []*Node) ([]*Node, bool) {
	for {
		switch st := n.State(); st {
		case Waiting, Ready, Joining:
			if ready, ok := n.finishFrom(st, s, err, ready); ok {
				return ready, true
			}
		default:
			return ready, false
		}
	}
}

// SetCancel stores the cancel function of a running node's own context.
func (n *Node) SetCancel(c context.CancelFunc) {
	n.lock()
	n.extra().cancel = c
	n.unlock()
}

// Done returns a channel closed when the node reaches a terminal state in
// the current or next run.
func (n *Node) Done() <-chan struct{} {
	n.announce()
	defer n.withdraw()
	n.lock()
	defer n.unlock()
	e := n.extra()
	if e.done == nil {
		e.done = make(chan struct{})
		if n.State().Terminal() {
			close(e.done)
		}
	}
	return e.done
}

// CtxKey is the type of the context keys the executor answers. A context
// that answers them checks a key's type first (one comparison) and only
// then its value: tasks that add tasks and wait look them up several times
// each, and comparing interface values costs a call.
type CtxKey int

// The context keys the executor answers.
const (
	CurrentKey  CtxKey = iota // the running node
	AwaiterKey                // how a running task waits
	ReturnedKey               // the node whose context this is, once its function returned
)

// Host is where the function of a running node runs: the context of its
// run and the Awaiter through which it waits. The executor keeps one per
// worker and points a node at it when the node's function starts, so that
// the context the function gets can be the node itself, seen as a context
// (see exec's taskCtx): converting a pointer allocates nothing, and a
// goroutine that keeps the context past its task holds that task, not the
// worker's next one.
//
// A node keeps the host of its last run after the function returned, so
// that a context kept past its task still reports its run's end.
type Host struct {
	Context context.Context
	Awaiter Awaiter
	Run     Run // the run the function runs in, for adding to it without the graph's lock (see Graph.Spawn)
}

// SetHost records where n's function is about to run. It is called only
// by the goroutine about to run n, and runs of n are ordered, so no two
// calls race. The first time n runs, no context of n exists yet (the
// executor makes one only to call the function), so nothing reads the
// field and a plain store will do; that saves an atomic exchange on every
// task of a graph that runs once (tree's run phase: 7 % in an A/B,
// BENCHMARKS.md, session 7). Later, a goroutine may still hold a context
// of an earlier run of n and read the field meanwhile: the store is atomic.
func (n *Node) SetHost(h *Host) {
	if n.host == nil {
		n.host = unsafe.Pointer(h)
		return
	}
	atomic.StorePointer(&n.host, unsafe.Pointer(h))
}

// Host returns where n's function runs, or last ran; nil if it never ran.
func (n *Node) Host() *Host { return (*Host)(atomic.LoadPointer(&n.host)) }

// Awaiter is how code running inside a task waits for other nodes without
// holding its worker slot.
type Awaiter interface {
	// Await returns when every node finished, or ctx is done.
	Await(ctx context.Context, nodes []*Node) error
	// Block returns when sig fires (or fired since the last Block), or ctx
	// is done. on lists the nodes whose completion fires sig, to report a
	// wait that could never end and to let other waits see this one.
	Block(ctx context.Context, sig *Signal, on []*Node) error
	// Join runs f's jobs, one on the calling goroutine and the others
	// where a worker is idle, and returns once every one has returned,
	// whatever ctx does: their errors are in f.Jobs.
	Join(ctx context.Context, f *Fork)
}

// Current returns the node whose function is running with ctx, or nil:
// also for the context of a task whose function returned (see Returned).
func Current(ctx context.Context) *Node {
	n, _ := ctx.Value(CurrentKey).(*Node)
	return n
}

// AwaiterOf returns the awaiter of the task running with ctx, or nil: also
// for the context of a task whose function returned (see Returned).
func AwaiterOf(ctx context.Context) Awaiter {
	a, _ := ctx.Value(AwaiterKey).(Awaiter)
	return a
}

// Returned returns the node whose context ctx is if the node's function
// has returned (a goroutine kept the context past its task), or nil. Such
// a context stands for no running task: adding or waiting with it is an
// error.
func Returned(ctx context.Context) *Node {
	n, _ := ctx.Value(ReturnedKey).(*Node)
	return n
}

// edge is one consumer in a node's successor list, by number: the
// consumer's id, and the next edge's number plus one (zero ends the list).
// Edges live in the graph's table, which holds no pointer, so the collector
// never scans them and adding one does not allocate on its own.
type edge struct {
	to   uint32
	next uint32
}
