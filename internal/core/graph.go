package core

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/evolve-dag/evolve/internal/chaos"
)

// chunkBits sets the size of the chunks of the node index and of the
// edges (see table): 1,024 entries, so growing either never copies more
// than the first chunk, and a lookup is three loads.
const chunkBits = 10

// maxBlock is how many chunks a table allocates at once, at most: 8 of
// pointers are 64 KiB (see table.nextChunk).
const maxBlock = 8

// firstBlock is the length of a table's first chunk, which doubles until it
// is full size: a small graph (one built per request, say) then costs a
// few hundred bytes of index and edges, not the 16 KiB of full chunks.
const firstBlock = 16

// maxEdges is how many consumer links a graph can hold: an edge's number
// plus one must fit in 32 bits.
const maxEdges = math.MaxUint32 - 1

// Run is the executor's side of a graph that is running: the graph calls it
// when nodes join the run.
//
// An observed run (see Observed) tells its observers of what the graph
// reports to it, and an observer may add tasks to the graph, which takes
// the graph's lock: so the graph never calls Added or Ready of an observed
// run with its lock held. What it reports while it holds the lock waits
// until Unlock (see later), and Begin hands the nodes ready at the start
// to Queue, which must not tell anybody before Begin has returned.
type Run interface {
	// Activated is told that k more nodes must finish before the run ends.
	Activated(k int)
	// Queue is given, by Begin, a node in state Ready when the run begins.
	// Begin holds the graph's lock, and no worker runs yet.
	Queue(n *Node)
	// QueueSpan is Queue for each node with an id from up to to, not
	// included: all Ready, all of one priority, so that they start in the
	// order of their ids. The run reads them from the index (see At) as it
	// takes them: a run of a million independent tasks would otherwise
	// touch each record once more, and hold a queue entry for each, before
	// the first runs.
	QueueSpan(from, to int64)
	// Ready is given a node, already in state Ready, whose inputs are all
	// finished. Unless the run is observed, the graph's lock may be held.
	Ready(n *Node)
	// ReadyAll is Ready for several nodes at once: they are queued
	// together, so no worker sees some of them without the others. The
	// graph's lock is not held.
	ReadyAll(ns []*Node)
	// Releasing reports whether the run drops results nobody needs.
	Releasing() bool
	// Observed reports whether the run tells observers of its events.
	Observed() bool
	// Cancel cancels n, which is in the run.
	Cancel(n *Node) bool
	// Admit is asked by Spawn, before it adds n without the graph's lock
	// from inside a task whose function runs on h, how the run takes n:
	// out of its count (outOfCount), for h's worker to keep, or counted
	// now. ok is false, and nothing counted, if the run has ended or is
	// ending.
	Admit(n *Node, h *Host) (outOfCount, ok bool)
	// Leave undoes the count of an Admit whose node was not added.
	Leave()
	// Spawned is given a node Spawn added, from inside parent, whose
	// function runs on h, Ready, and counted or out of the run's count as
	// Admit said: the run queues it, or keeps it out of the count, or
	// counts it and queues it; if it cannot count n because it has ended
	// or is ending, it leaves n to its end (Stray). The graph's lock is
	// not held.
	Spawned(n *Node, h *Host, parent *Node)
	// Ending returns the error End will cancel the run's unfinished nodes
	// with, once the caller of End has decided to call it (it says so
	// before End looks at the nodes), and nil before.
	Ending() error
	// Added is told of a node added to the graph while it runs, after the
	// node joined the run and before it is given to Ready. Only observed
	// runs are told, and never with the graph's lock held.
	Added(n *Node)
}

// ErrRunning is returned when a graph is asked to run while it already runs.
var ErrRunning = errors.New("graph is already running")

// ErrBuilding is returned when a graph is asked to run while the one
// goroutine building it (see SetBuilding) has not finished.
var ErrBuilding = errors.New("graph is being built")

// Graph stores nodes and edges. Its methods are safe for concurrent use.
type Graph struct {
	mu sync.Mutex // guards every field below, and node structure (not node state)
	// nodes is the node index: a node's id is its place in it. edges are
	// the consumer links after each node's first (see Node.succ). Both are
	// appended under mu and read without it (see table).
	nodes table[*Node]
	edges table[edge]
	// names are the nodes' names, which a node holds by number (see
	// intern); recent are the last two stored, with their numbers.
	names  table[string]
	recent [2]recentName
	// lastName is the number, plus one, of the name Spawn stored last (or
	// the last interned when the run began): Spawn, which adds without the
	// lock, takes it when its task has that name. Zero: none.
	lastName atomic.Uint32
	// ranked is set once a node with a priority other than 0 is added:
	// until then, every ready node ranks by creation order alone.
	ranked atomic.Bool

	run   Run    // the active run, or nil
	epoch uint32 // the active (or last) run's number
	keys  map[string]*Node
	owner any // the public graph that wraps this one
	errs  []error
	order bool // an ordering edge was added, so cycles are possible

	// fresh are the nodes added since the last run ended, which Add
	// prepared for the next run (see ahead); guarded by mu. begun is the
	// epoch of the run begun last: a node prepared for a run that has not
	// begun reads as Idle (see Node.State).
	fresh ahead
	begun atomic.Uint32

	// building is set while one goroutine builds g and no other can reach
	// it (graph.Build): adds then skip the lock (see Building), and Begin
	// refuses to start a run, whose workers would reach it.
	building atomic.Bool

	// releasing is set while a run that releases results is active, so
	// that Hold costs one atomic load in every other run.
	releasing atomic.Bool
	// unkept are the nodes whose holders released them while a run was
	// active (see Unkeep), to release when it ends; guarded by mu.
	unkept []*Node

	// observed is set while an observed run is active (see Run). later
	// is what that run must be told of once the lock is released, in the
	// order it happened; guarded by mu and given to the run by Unlock. So
	// every holder of mu that may join nodes (Add, Hold, Adopt, Want's
	// callers) lets go with Unlock, never with mu.Unlock: a node made
	// ready and never told would never be queued.
	observed bool
	later    []later
}

// ahead records the nodes added while no run is active. Add prepares each
// for the next run at once, while its record is in the cache: its epoch
// is that run's, its state Waiting, or Ready when no input is unfinished,
// and its count of inputs without a result. A run of the whole graph then
// begins them without a pass over their records: it queues the roots and
// counts the rest, which is a third of a chain's run phase saved
// (docs/storage-design.md). Every other run, and a change that breaks the
// counts (an ordering edge, a result released), has them begun the usual
// way, which overwrites what Add wrote.
//
// Why the counts stay right until the run begins: with no run active,
// only a node's holder can change whether it has a result, by releasing
// it (see Unkeep), which drops the record; and a whole-graph run computes
// every input without a result, so each input Add counted will count its
// consumer down, and no other will.
type ahead struct {
	from  int64  // the first fresh node's id: every node added since is fresh
	live  int    // fresh nodes without a result (values have one)
	roots []span // the fresh nodes Add made Ready, as runs of ids of one priority
	// stamped: Add prepared nodes since the last run ended, fresh or no
	// longer (see forget): they carry the next run's epoch.
	stamped bool
}

// forget makes the fresh nodes old: the next run begins them the usual
// way. They still carry the next run's epoch.
func (a *ahead) forget(len int64) { *a = ahead{from: len, stamped: a.stamped} }

// span is the ids from up to to, not included, of nodes of priority prio.
type span struct {
	from, to uint32
	prio     int32
}

// root records that the node with id and priority prio is a root of the
// next run. A span holds one priority, so that its ids in order are the
// order its nodes start in (see Run's QueueSpan).
func (a *ahead) root(id, prio int32) {
	if k := len(a.roots); k > 0 && a.roots[k-1].to == uint32(id) && a.roots[k-1].prio == prio {
		a.roots[k-1].to++
		return
	}
	a.roots = append(a.roots, span{uint32(id), uint32(id) + 1, prio})
}

// recentName is a name stored in a graph's names, and its number there
// plus one (zero: none).
type recentName struct {
	name string
	num  uint32
}

// intern returns the number, plus one, of an entry of g's names that
// holds name. A loop adds many tasks of one name, or of two in turn (a
// tree's leaves and sums): a name equal to one of the last two stored is
// not stored again, so that such a graph holds one string per name, not
// per task. Other names are stored as they come, without a map: a name
// made for each task (fmt.Sprintf) costs its entry and nothing more. The
// caller holds g's lock.
func (g *Graph) intern(name string) uint32 {
	for i := range g.recent { // by index: ranging over the array copies it
		// The same string value (a name literal in a loop) is equal by its
		// pointer, without comparing its bytes in a call.
		if r := &g.recent[i]; r.num != 0 && len(r.name) == len(name) &&
			(unsafe.StringData(r.name) == unsafe.StringData(name) || r.name == name) {
			return r.num
		}
	}
	var num uint32
	if g.names.shared() { // Spawn may reserve names meanwhile
		num = uint32(g.names.pushShared(name)) + 1
	} else {
		num = uint32(g.names.push(name)) + 1
	}
	g.recent[1], g.recent[0] = g.recent[0], recentName{name, num}
	return num
}

// later is a node added to the graph (added) or made ready while the lock
// was held, for an observed run to be told of after Unlock. A node added
// is held back from becoming ready until then by one more count in its
// pending (see join), so that the run hears of it before anything else
// about it; hold is the Batch it was added with, if any.
type later struct {
	n     *Node
	added bool
	hold  *Batch
}

// Lock and Unlock give callers that must change several things at once
// (a keyed lookup and an add) the graph's lock.
func (g *Graph) Lock() { g.mu.Lock() }

// Unlock releases the lock, and then tells an observed run of the nodes
// added and made ready while it was held (see Run).
func (g *Graph) Unlock() {
	if len(g.later) == 0 {
		g.mu.Unlock()
		return
	}
	later, run := g.later, g.run
	g.later = nil
	g.mu.Unlock()
	for _, l := range later {
		switch {
		case l.added:
			run.Added(l.n)
			if l.n.CountDown(Waiting, Ready) { // the count that join added
				if l.hold != nil && g.holdBack(l.n, l.hold) {
					continue
				}
				run.Ready(l.n)
			}
		case l.n.State() == Ready: // not cancelled, or run by a waiter, since
			run.Ready(l.n)
		}
	}
}

// SetOwner records the public value wrapping g, once.
func (g *Graph) SetOwner(o any) {
	if g.owner == nil {
		g.owner = o
	}
}

// SetBuilding says whether the goroutine calling it builds g alone: while
// it does, no other goroutine reaches g, so its adds need not take the
// lock (the caller decides, reading Building), and Begin fails with
// ErrBuilding. graph.Build sets it before anything else can reach g and
// clears it before it returns g.
func (g *Graph) SetBuilding(b bool) { g.building.Store(b) }

// Building reports whether one goroutine builds g alone (see SetBuilding).
func (g *Graph) Building() bool { return g.building.Load() }

// Owner is the value given to SetOwner.
func (g *Graph) Owner() any { return g.owner }

// Len is the number of nodes.
func (g *Graph) Len() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes.len()
}

// Node returns the node with the given id, or nil.
func (g *Graph) Node(id int64) *Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.node(id)
}

// At returns the node with the given id, which the caller knows is stored
// and published to it (a span given to QueueSpan), without the lock.
func (g *Graph) At(id int64) *Node { return loadNode(g.nodes.at(id)) }

func (g *Graph) node(id int64) *Node {
	if id < 0 || id >= g.nodes.len() {
		return nil
	}
	return loadNode(g.nodes.at(id)) // nil while a Spawn has yet to store it
}

// Nodes returns a snapshot of the nodes in creation order.
func (g *Graph) Nodes() []*Node {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*Node, 0, g.nodes.len())
	for p := range g.nodes.all {
		if n := loadNode(p); n != nil { // see node
			out = append(out, n)
		}
	}
	return out
}

// loadNode and storeNode read and write an entry of the node index that
// Spawn may write without the graph's lock while a reader holding it reads.
func loadNode(p **Node) *Node {
	return (*Node)(atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(p))))
}

func storeNode(p **Node, n *Node) {
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(p)), unsafe.Pointer(n))
}

// Spawn adds n, a task without inputs, options or key that parent adds
// while its function runs on h, to the run h names, without the graph's
// lock, and gives it to that run (Run.Spawned). It reports false, having
// changed nothing, when it cannot: n is a value, the run is observed or
// has ended, or no task has added a task the usual way yet (see
// table.settle); the caller then adds n the usual way. n must have been
// set up with Init; a flow's emitted tasks are refused (they join it).
//
// Why no lock is needed: the run admitted n, and while it is active it
// is g's run, with g's epoch, and nothing else Add reads under the lock
// changes. n's id is taken from the index atomically (table.reserve), so
// ids stay in creation order, and n is linked to nothing: no other node's
// words are written. The run counts n at once, which it does only while
// its count is not zero, so that it cannot end before n finishes; or, when
// the worker running n's creator may keep n, n reaches the run out of its
// count (outOfCount), and the run keeps it so while its creator runs,
// which the run counts, or counts it before anything else can take it
// (see Spawned). Until n is stored in the index and given to the run,
// nothing can reach it. A run that ends meanwhile (a stopped run, or, for
// n out of the count, one whose last counted task, n's creator for a
// goroutine that outlived it, finished after the run admitted n) finds n
// in the index, or n finds the run ending or not counting it, and n is
// cancelled with the run, as a task added under the lock as the run ends
// is (see late and Stray).
func (g *Graph) Spawn(h *Host, n *Node, name string, parent *Node) bool {
	r := h.Run
	switch {
	case n.State() == Done: // a value joins no run: see Add
		return false
	case parent != nil && joins(parent): // the lock orders what a flow emits
		return false
	case r.Observed():
		return false
	}
	out, ok := r.Admit(n, h)
	if !ok {
		return false
	}
	if chaos.On {
		chaos.Pause()
	}
	id, ok := g.nodes.reserve()
	if !ok {
		if !out {
			r.Leave()
		}
		return false
	}
	num := g.lastName.Load()
	if num == 0 || *g.names.at(int64(num - 1)) != name {
		num = g.spawnName(name)
	}
	p := reserved(g, &g.nodes, id)
	n.g = g
	n.name = num
	if parent != nil && parent.Graph() == g {
		n.up = uint32(parent.id) + 1
	}
	n.id = int32(id)
	g.rank(n)
	epoch := g.begun.Load()
	var flags uint32
	if out {
		flags = outOfCount
	}
	n.ahead(epoch, Ready, flags, 0)
	storeNode(p, n)
	if chaos.On {
		chaos.Pause()
	}
	// A goroutine that outlived its task may add while the run is stopped
	// and ending, after End looked at the index: End looks only after the
	// run says it is ending, and n is stored before the question, so End
	// finds n or n finds the run ending (see late). End looks only while
	// the run counts something, though: n out of the count is counted for
	// it, or cancelled if it has looked (Stray), where leaving n to an End
	// that found nothing counted left it Ready after the run
	// (TestRandomTaskGoroutines, seed 181064136).
	if err := r.Ending(); err != nil {
		if out {
			g.Stray(r, n, epoch)
		} else {
			g.late(r, n, epoch, err)
		}
		return true
	}
	r.Spawned(n, h, parent)
	return true
}

// Begun returns the number of the run begun last: its nodes carry it as
// their epoch while it is active (see Stray).
func (g *Graph) Begun() uint32 { return g.begun.Load() }

// Stray settles n, a node of r, the run numbered epoch, that r can no
// longer count although n has not finished: r's count reached zero, or r
// began to end, while n was out of the count (a node Spawn added, or one
// a worker kept; see Spawn). If r has not ended yet, n is counted in it
// as a task added under the lock would be, so that r's end, which looks
// for unfinished tasks only while r counts some, finds n and cancels it;
// otherwise n is cancelled as late cancels a task added as r ended, unless
// a later run has taken it in.
func (g *Graph) Stray(r Run, n *Node, epoch uint32) {
	g.mu.Lock()
	if g.run == r {
		if n.epoch.Load() == epoch && !n.State().Terminal() {
			r.Activated(1)
		}
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	g.late(r, n, epoch, r.Ending())
}

// late cancels n, which Spawn added to r as r was ending, with r's error,
// as End cancels what the run did not finish, unless End saw it: End has
// not run yet (it will), or n has been finished or taken into another run
// since. If no run is active, n may be newer than what End recorded for
// the next run to begin (see ahead): that run begins every node the usual
// way then, n among them.
func (g *Graph) late(r Run, n *Node, epoch uint32, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run == r || n.epoch.Load() != epoch || n.State().Terminal() {
		return
	}
	n.Finish(n.Graph(), Cancelled, err, nil)
	if g.run == nil && int64(n.id) >= g.fresh.from {
		g.fresh.forget(g.nodes.len())
	}
}

// spawnName stores name for Spawn and returns its number plus one: in an
// entry reserved without the lock, when it can (nothing reads the entry
// but through a node with its number, which is published after it).
func (g *Graph) spawnName(name string) uint32 {
	k, ok := g.names.reserve()
	if !ok {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.names.settle()
		return g.intern(name)
	}
	*reserved(g, &g.names, k) = name
	num := uint32(k) + 1
	g.lastName.Store(num)
	return num
}

// reserved returns where entry i, reserved in t, is stored, growing t
// under g's lock if the entry's chunk does not exist yet.
func reserved[T any](g *Graph, t *table[T], i int64) *T {
	if p := t.entry(i); p != nil {
		return p
	}
	g.mu.Lock()
	t.growTo(i)
	g.mu.Unlock()
	return t.entry(i)
}

// joins reports whether n joins what it adds (a flow).
func joins(n *Node) bool {
	o := n.Options()
	return o != nil && o.Join
}

// rank notes n's priority: see Ranked.
func (g *Graph) rank(n *Node) {
	if n.prio != 0 && !g.ranked.Load() {
		g.ranked.Store(true)
	}
}

// Ranked reports whether a node with a priority other than 0 was ever
// added to g.
func (g *Graph) Ranked() bool { return g.ranked.Load() }

// Succs returns a snapshot of n's consumers (a consumer that reads n twice
// is listed twice).
func (g *Graph) Succs(n *Node) []*Node {
	g.mu.Lock() // every link is made under g.mu
	defer g.mu.Unlock()
	var out []*Node
	for e := n.succ.Load(); e != 0; {
		x := g.edges.at(int64(e - 1))
		out = append(out, *g.nodes.at(int64(x.to)))
		e = x.next
	}
	if c := n.succ1.Load(); c != 0 {
		out = append(out, *g.nodes.at(int64(c - 1)))
	}
	slices.Reverse(out) // the list is built by prepending
	return out
}

// Keyed returns the node added under key, or nil. The caller holds the lock.
func (g *Graph) Keyed(key string) *Node { return g.keys[key] }

// Fail records a building mistake; Errs returns them all.
func (g *Graph) Fail(err error) {
	g.mu.Lock()
	g.errs = append(g.errs, err)
	g.mu.Unlock()
}

// FailLocked is Fail for a caller that holds the lock.
func (g *Graph) FailLocked(err error) { g.errs = append(g.errs, err) }

// Errs returns the building mistakes recorded so far.
func (g *Graph) Errs() []error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.errs)
}

// HasOrder reports whether ordering edges were added.
func (g *Graph) HasOrder() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.order
}

// Running reports whether a run is active.
func (g *Graph) Running() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.run != nil
}

// Add gives n an id, links it to its inputs and, when the graph is running,
// brings it into the run. n must have been set up with Init, and its inputs
// must belong to g; ins is what n's body's Inputs returns, which the caller
// has at hand (asking the body again costs an interface call per task). key,
// when not empty, registers n for Keyed. hold, when not nil, keeps n back if
// it is ready at once (see Batch). back, when not zero, says that n was
// cut from a slab whose header (see SlabHeader) is back bytes before it:
// parent is then nil. The caller holds the lock.
func (g *Graph) Add(n *Node, ins []*Node, name string, parent *Node, key string, hold *Batch, back uint32) {
	if back != 0 {
		n.up = back
	} else {
		n.g = g
	}
	g.rank(n)
	if g.run != nil && parent != nil && !joins(parent) {
		// Tasks add tasks in this run: let the next ones be added without
		// the lock (see Spawn), once per graph. (What a flow emits is
		// always added with it.)
		g.nodes.settle()
		g.names.settle()
	}
	n.name = g.intern(name)
	if parent != nil && back == 0 && parent.Graph() == g {
		n.up = uint32(parent.id) + 1
	}
	if g.nodes.shared() {
		n.id = int32(g.nodes.pushShared(n))
	} else {
		n.id = int32(g.nodes.push(n))
	}
	if key != "" {
		if g.keys == nil {
			g.keys = make(map[string]*Node)
		}
		g.keys[key] = n
	}
	if n.State() == Done { // a value: finished from the start
		return
	}
	if g.run == nil {
		// No run is active, so no completion reads consumer lists, and every
		// other reader (Succs) holds g.mu: the inputs' locks are not needed.
		// A node being added has no ordering inputs yet (see Order).
		var pending int32
		for _, d := range ins {
			g.link(d, n)
			if d.state.Load()&stateMask != uint64(Done) {
				pending++
			}
		}
		st := Waiting
		if pending == 0 {
			st = Ready
			g.fresh.root(n.id, n.prio)
		}
		n.ahead(g.epoch+1, st, preparedAhead, pending)
		g.fresh.live++
		g.fresh.stamped = true
		return
	}
	g.activateNew(n, ins, parent, hold)
}

// Batch keeps back the nodes that are ready when they join a run, until
// Flush queues them together. Its fields are guarded by the graph's lock.
type Batch struct {
	closed bool
	run    Run
	ready  []*Node
}

// Flush queues the nodes b kept back, all at once, and closes b: nodes
// added with it later are queued as usual.
func (g *Graph) Flush(b *Batch) {
	g.mu.Lock()
	b.closed = true
	ready, run := b.ready, b.run
	b.ready, b.run = nil, nil
	g.mu.Unlock()
	for _, n := range ready {
		n.state.And(^uint64(held))
	}
	if len(ready) > 0 {
		run.ReadyAll(ready)
	}
}

// Full returns an error saying why the graph cannot take a node with
// inputs inputs, or nil: it holds MaxNodes nodes already, or as many
// consumer links as it can. The caller holds the lock.
func (g *Graph) Full(inputs int) error {
	switch {
	case g.nodes.len() >= MaxNodes:
		return fmt.Errorf("the graph holds %d tasks, its most", g.nodes.len())
	case g.edges.len() > maxEdges-int64(inputs):
		return fmt.Errorf("the graph holds %d consumer links, its most", g.edges.len())
	}
	return nil
}

// Order makes after wait for before. It is refused while the graph runs,
// since after may be about to start. The caller holds the lock.
func (g *Graph) Order(before, after *Node) error {
	switch {
	case g.run != nil:
		return ErrRunning
	case after.IsValue():
		return errors.New("it is a value, which never waits")
	}
	if g.edges.len() >= maxEdges {
		return fmt.Errorf("the graph holds %d consumer links, its most", g.edges.len())
	}
	g.order = true
	e := after.extra()
	if e.rare == nil {
		e.rare = &extRare{}
	}
	e.rare.after = append(e.rare.after, before)
	g.link(before, after)
	return nil
}

// link adds to as a consumer of from. The caller holds g.mu, and also
// from's lock while a run is active. The lists are atomic because a
// completion may read them without that lock (see announce) while a
// consumer that finds from finished is linked for later runs. With no run
// active, no completion reads them, and the graph's lock publishes plain
// stores: an atomic one is a full exchange here, and a build links every
// input.
func (g *Graph) link(from, to *Node) {
	plain := g.run == nil
	if from.succ1.Load() == 0 {
		put(&from.succ1, uint32(to.id)+1, plain)
	} else {
		e := g.edges.push(edge{to: uint32(to.id), next: from.succ.Load()})
		put(&from.succ, uint32(e)+1, plain)
	}
	if !plain {
		from.state.Or(linked) // before the caller lets go of from's lock and withdraws: see linked
	}
}

// put stores v in *p, with a plain store when plain is set: then no other
// goroutine reads *p until a lock the caller holds has been let go.
func put(p *atomic.Uint32, v uint32, plain bool) {
	if plain {
		*(*uint32)(unsafe.Pointer(p)) = v
		return
	}
	p.Store(v)
}

// Begin starts a run of the nodes in want (all nodes when want is nil) and
// of every input they need that has no result. It returns ErrRunning if the
// graph already runs.
func (g *Graph) Begin(r Run, want []*Node) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.run != nil:
		return ErrRunning
	case g.building.Load():
		return ErrBuilding
	}
	g.run = r
	fresh := g.fresh
	g.fresh = ahead{from: math.MaxInt64} // none while the run is active (see End)
	if want != nil && fresh.stamped {
		// Nodes were prepared for the epoch after the last: skip it, so
		// that those this run does not need stay out of it (their inputs
		// do not count them down) and read as Idle.
		g.epoch++
	}
	g.epoch++
	g.begun.Store(g.epoch)
	if num := g.recent[0].num; num != 0 {
		g.lastName.Store(num)
	}
	g.observed = r.Observed()
	releasing := r.Releasing()
	g.releasing.Store(releasing)
	switch {
	case want == nil && !g.order:
		// The whole graph: every node without a result, in creation order,
		// straight from the index. The nodes added before the last run
		// ended are begun in one pass; the fresh ones are prepared already
		// (see ahead), so only their roots are queued, after every older
		// node, in creation order. The count is told after the nodes are
		// queued: no worker runs before Begin returns.
		k := fresh.live
		for p := range g.nodes.first(min(fresh.from, g.nodes.len())) {
			if n := loadNode(p); n != nil && n.State() != Done { // nil: see late
				g.begin(r, n, releasing, false)
				k++
			}
		}
		for _, sp := range fresh.roots {
			r.QueueSpan(int64(sp.from), int64(sp.to))
		}
		r.Activated(k)
	case want == nil:
		// An ordering edge may point back to a newer node, which a pass in
		// creation order would reach after its reader: a first pass
		// prepares every node of the run, so that the second finds such
		// inputs in it, unfinished. Both overwrite what Add prepared.
		for p := range g.nodes.all {
			if n := loadNode(p); n != nil && n.State() != Done {
				g.prepare(n, uint32(Waiting))
			}
		}
		k := 0
		for p := range g.nodes.all {
			if n := loadNode(p); n != nil && n.State() != Done {
				g.begin(r, n, releasing, true)
				k++
			}
		}
		r.Activated(k)
	default:
		set := g.needs(want, false)
		r.Activated(len(set))
		for _, n := range set {
			g.begin(r, n, releasing, false)
		}
	}
	if releasing {
		for _, n := range want {
			n.users.Add(1) // the caller asked for it: keep it
		}
	}
	return nil
}

// begin puts n in the run being started. Every input of n in the run must
// have been begun first, or prepared already (then prepared is set, and n
// was too): begin counts as unfinished only the inputs it finds in the
// run. Nothing else touches these nodes yet: no worker runs and the graph
// lock is held.
func (g *Graph) begin(r Run, n *Node, releasing, prepared bool) {
	pending, poison := g.countInputs(n, false, releasing)
	st := uint32(Waiting)
	if pending == 0 {
		st = uint32(Ready)
	}
	if poison {
		st |= poisoned
	}
	if prepared {
		n.store(st)
	} else {
		g.prepare(n, st)
	}
	n.SetPending(pending) // writes only if it changes: a million-task run begins a million nodes
	if pending == 0 {
		r.Queue(n)
	}
}

// countInputs returns how many of n's inputs are in the run and not
// finished (each will count n down when it finishes) and whether an input
// failed in the run (so n must be poisoned); it counts n as a reader of
// each input when the run releases results, and, with link, adds n to its
// inputs' consumers. Inputs neither in the run nor done must have been
// brought in first: one that is not is taken for failed. An input is not
// always older than n (see Order), so callers bring nodes in inputs first
// (see needs), not in creation order.
func (g *Graph) countInputs(n *Node, link, releasing bool) (pending int32, poison bool) {
	in, after := n.deps()
	for _, d := range in {
		pending, poison = g.countInput(n, d, link, releasing, pending, poison)
	}
	for _, d := range after {
		pending, poison = g.countInput(n, d, link, releasing, pending, poison)
	}
	return pending, poison
}

// countInput is countInputs for one input d of n.
func (g *Graph) countInput(n, d *Node, link, releasing bool, pending int32, poison bool) (int32, bool) {
	if link {
		g.link(d, n)
	}
	v := d.state.Load()
	switch s := State(v & stateMask); {
	case d.epoch.Load() == g.epoch && (!s.Terminal() || v&counted == 0):
		// Unfinished, or finished since join looked, by a completion that
		// saw join's announcement and counts n down once join lets go of
		// the lock.
		pending++
	case s == Done:
	default:
		poison = true
	}
	if releasing {
		d.users.Add(1)
	}
	return pending, poison
}

// prepare resets n for a run of its own, starting in state (and flags) st.
//
// The state is stored before the epoch. A node that Add prepared for a
// run that did not take it (a run for targets; see ahead) is Waiting or
// Ready under an epoch not the run's, which State reads as Idle. Were the
// epoch stored first, such a node would read, for a moment, as Ready in
// this run: a task awaiting it could claim and run it, and this store
// would then make it Waiting again, to be run a second time (found by
// seed 21500597 of TestRandomGrowingRuns, waits, under -race). The store
// clears the node's preparedAhead flag, so that from then on State reads
// it as it is, in the run or not yet.
func (g *Graph) prepare(n *Node, st uint32) {
	n.store(st)
	n.epoch.Store(g.epoch)
	if n.users.Load() != 0 {
		n.users.Store(0)
	}
	if n.xt() == nil {
		return // nothing else to reset, and nothing another goroutine reads without g.mu
	}
	n.lock()
	defer n.unlock()
	if o := n.xt().opts; o != nil && o.Keep {
		n.users.Store(1)
	}
	{
		n.xt().err = nil
		if r := n.xt().rare; r != nil {
			r.cause.Store(nil)
			r.joins = nil
		}
		if n.xt().done != nil {
			select {
			case <-n.xt().done:
				n.xt().done = nil
			default:
			}
		}
	}
}

// needs returns the nodes of want and every input they need that has no
// result yet, each after its inputs. With inRun, nodes already in the
// active run are left out, and so are their inputs, unless their result
// was released: one that failed, was skipped or was cancelled in this run
// does not run again in it (its readers are skipped), while a released one
// is computed again for its new reader.
//
// An input is older than its reader, so creation order puts inputs first,
// and it is the order the ready queue runs fastest in. An ordering edge
// (see Order) may point back to a newer node: in a graph that has one,
// the nodes come in the order a depth-first walk finishes them instead.
func (g *Graph) needs(want []*Node, inRun bool) []*Node {
	skip := func(n *Node) bool {
		return n.State() == Done || inRun && n.epoch.Load() == g.epoch && n.State() != Released
	}
	type frame struct {
		n    *Node
		deps []*Node // n's inputs (see Deps), listed once
		next int     // the index of the next input to visit
	}
	seen := make(map[*Node]bool, len(want))
	var set []*Node
	var stack []frame
	for _, n := range want {
		if seen[n] || skip(n) {
			continue
		}
		seen[n] = true
		stack = append(stack, frame{n: n, deps: n.Deps()})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(top.deps) {
				set = append(set, top.n) // after every input it needs
				stack = stack[:len(stack)-1]
				continue
			}
			d := top.deps[top.next]
			top.next++
			if !seen[d] && !skip(d) {
				seen[d] = true
				stack = append(stack, frame{n: d, deps: d.Deps()})
			}
		}
	}
	if !g.order {
		slices.SortFunc(set, func(a, b *Node) int { return cmp.Compare(a.id, b.id) })
	}
	return set
}

// activate brings an existing node, and what it needs, into the active run.
// The caller holds the lock.
func (g *Graph) activate(n *Node) {
	for _, m := range g.needs([]*Node{n}, true) {
		// A join before this one may have brought m into the run already:
		// one that found an input of its own released since needs looked
		// (a reader read it meanwhile) had it computed again, with what it
		// needs, m among them. Join m once: a second join would count it
		// twice in the run and forget the readers counted by the first
		// (the run never ended, and those readers read a dropped result).
		if s := m.State(); s == Done || m.epoch.Load() == g.epoch && s != Released {
			continue
		}
		g.join(m, false, nil, false)
	}
}

// activateNew links a node added during a run and brings it, and any input
// it needs that is not in the run, into the run. The caller holds the lock.
func (g *Graph) activateNew(n *Node, ins []*Node, parent *Node, hold *Batch) {
	for _, d := range ins { // a node being added has no ordering inputs yet
		if s := d.State(); s == Released || s != Done && d.epoch.Load() != g.epoch {
			g.activate(d) // recompute what was dropped, run what was not asked for
		}
	}
	joined := false
	if parent != nil && parent.epoch.Load() == g.epoch {
		if o := parent.Options(); o != nil && o.Join && parent.State() == Running {
			joined = true
			// The parent finishes only after n: count n into its pending, and
			// have n's completion count it down (join sets n's joinsCreator
			// flag). Counted before n joins the run, since n may finish as
			// soon as it has joined.
			parent.AddPending(1)
			parent.AddJoin(n) // for deadlock searches (see Needs)
		}
	}
	if g.observed {
		g.later = append(g.later, later{n: n, added: true, hold: hold})
	}
	g.join(n, true, hold, joined)
	if joined && g.run.Releasing() {
		// The flow may take n's result as its own when it joins: keep it
		// until then (the executor lets go when the flow finishes). No
		// reader of n can exist yet to release it first.
		n.users.Add(1)
	}
}

// join puts n in the active run while holding every input's lock, so that
// each input's completion either counts n down or finished before n looked.
// link adds the input edges too (for nodes new to the graph).
func (g *Graph) join(n *Node, link bool, hold *Batch, joinsParent bool) {
	// Counted before any input can see it: an input finishing right after
	// the locks are released may run n to completion before this returns.
	g.run.Activated(1)
	var small [4]*Node // most tasks have few inputs: lock them without allocating
	in, after := n.deps()
	locked := small[:0]
	if k := len(in) + len(after); k > len(small) {
		locked = make([]*Node, 0, k)
	}
	locked = append(append(locked, in...), after...)
	if len(locked) > 1 {
		// Lock in id order, each node once, so that two joins never deadlock.
		slices.SortFunc(locked, func(a, b *Node) int { return cmp.Compare(a.id, b.id) })
		locked = slices.Compact(locked)
	}
	for {
		for _, d := range locked {
			d.announce()
			d.lock()
		}
		// An input that has finished but whose completion has not yet
		// counted down its consumers (it may be doing so without the lock,
		// or waiting for it) might count n down too, although n, seeing it
		// finished, would not wait for it: let the completion end first.
		// An input whose result was released since the caller looked (its
		// last reader read it meanwhile) must be computed again.
		var busy, dropped *Node
		for _, d := range locked {
			v := d.state.Load()
			if s := State(v & stateMask); s == Released {
				dropped = d
				break
			} else if s.Terminal() && v&counted == 0 {
				busy = d
				break
			}
		}
		if busy == nil && dropped == nil {
			break
		}
		for _, d := range locked {
			d.unlock()
			d.withdraw()
		}
		if dropped != nil {
			g.activate(dropped)
			continue
		}
		for v := busy.state.Load(); State(v&stateMask).Terminal() && v&counted == 0; v = busy.state.Load() {
			runtime.Gosched()
		}
	}
	// Every input is now either unfinished, so that its completion, which
	// will see the announcement, counts n down under the lock after this,
	// or finished with its consumers counted: n counts the former only.
	//
	// n itself may have finished before (its result was released) with its
	// completion still counting its consumers down without the lock: let
	// it end first, or it would count down consumers that join to wait for
	// n's new computation.
	for v := n.state.Load(); State(v&stateMask).Terminal() && v&counted == 0; v = n.state.Load() {
		runtime.Gosched()
	}
	var ready bool
	if link && !joinsParent {
		ready = g.joinNew(n)
	} else {
		st := uint32(Waiting)
		if joinsParent {
			st |= joinsCreator // n cannot finish yet: its inputs are locked, and it is not ready
		}
		g.prepare(n, st)
		pending, poison := g.countInputs(n, link, g.releasing.Load()) // the run's Releasing, without an interface call
		if poison {
			n.state.Or(poisoned)
		}
		if link && g.observed {
			pending++ // a node new to an observed run: Unlock counts it down once the run has heard of it
		}
		n.SetPending(pending)
		ready = pending == 0 && n.CAS(Waiting, Ready)
	}
	for _, d := range locked {
		d.unlock()
		d.withdraw()
	}
	if ready {
		if hold != nil && !hold.closed {
			n.state.Or(held)
			hold.run = g.run
			hold.ready = append(hold.ready, n)
			return
		}
		if g.observed {
			g.later = append(g.later, later{n: n})
			return
		}
		g.run.Ready(n)
	}
}

// joinNew is join's part for n, a node being added, whose inputs join
// has locked: it prepares n for the run, links it to its inputs, and
// reports whether it is ready. No other goroutine can reach n yet: its
// inputs' completions find it only through the links made here, under
// the inputs' locks, which they must take first (join announced them),
// so the stores made before join lets the locks go reach them; a
// creator that joins it would list it before (see activateNew), so join
// does not come here for such a node. So n's words are written with plain
// stores, where prepare's atomic ones, the count's and the switch to
// Ready cost a spawned task four full exchanges here.
func (g *Graph) joinNew(n *Node) bool {
	pending, poison := g.countInputs(n, true, g.releasing.Load())
	if g.observed {
		pending++ // a node new to an observed run: Unlock counts it down once the run has heard of it
	}
	st := Waiting
	if pending == 0 {
		st = Ready
	}
	var flags uint32
	if poison {
		flags = poisoned
	}
	n.ahead(g.epoch, st, flags, pending)
	return pending == 0
}

// holdBack keeps n, ready, back for hold if hold has not ended, and
// reports whether it did.
func (g *Graph) holdBack(n *Node, hold *Batch) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if hold.closed || g.run == nil {
		return false
	}
	n.state.Or(held)
	hold.run = g.run
	hold.ready = append(hold.ready, n)
	return true
}

// FindCycle looks for a cycle of needs among the unfinished nodes of the
// active run that can be reached from roots, and returns it, each node
// needing the next and the last needing the first, or nil. A node needs
// its inputs; a flow that runs or joins needs what it joins (see Joins);
// and a node needs what more appends to the list it is given (the
// executor's records of what a blocked task waits for). A node that is
// ready is not followed: it can go on by itself.
//
// It is the one cycle search of a running graph. The executor calls it
// when no task can run (see exec's runner); the result is a snapshot,
// which the caller checks is still current before acting on it.
func (g *Graph) FindCycle(roots []*Node, more func(n *Node, out []*Node) []*Node) []*Node {
	g.mu.Lock()
	epoch := g.epoch
	g.mu.Unlock()
	open := func(n *Node) bool {
		s := n.State()
		return n.epoch.Load() == epoch && !s.Terminal() && s != Ready && s != Idle
	}
	needs := func(n *Node) []*Node {
		out := append([]*Node(nil), n.Deps()...) // more appends to it
		if s := n.State(); s == Running || s == Joining {
			out = append(out, n.Joins()...)
		}
		return more(n, out)
	}
	const (
		unseen = iota
		onPath
		done
	)
	mark := make(map[*Node]int)
	for _, root := range roots {
		if mark[root] != unseen || !open(root) {
			continue
		}
		// Depth first, with the path kept explicitly: graphs that grow
		// by nesting can be deep enough to overflow a recursive walk.
		path := []*Node{root}
		next := [][]*Node{needs(root)}
		mark[root] = onPath
		for len(path) > 0 {
			top := len(path) - 1
			if len(next[top]) == 0 {
				mark[path[top]] = done
				path, next = path[:top], next[:top]
				continue
			}
			y := next[top][0]
			next[top] = next[top][1:]
			switch mark[y] {
			case onPath:
				i := len(path) - 1
				for path[i] != y {
					i--
				}
				return slices.Clone(path[i:])
			case unseen:
				if !open(y) {
					mark[y] = done
					continue
				}
				mark[y] = onPath
				path, next = append(path, y), append(next, needs(y))
			}
		}
	}
	return nil
}

// End closes the active run. If unfinished reports that nodes of the run
// did not finish (the run stopped early, or nodes joined it after its
// last worker left), they are marked cancelled with err, and their
// waiters are woken; then, with the lock released (cancelled may add
// nodes), they are passed to cancelled, if it is not nil. unfinished is
// asked under the graph's lock, which every node joining the run holds: a
// node added concurrently either is counted then or finds the run closed.
func (g *Graph) End(unfinished func() bool, err error, cancelled func(*Node)) {
	g.mu.Lock()
	g.releasing.Store(false)
	// Results released by their holders while the run went on: nothing
	// reads them now.
	for _, n := range g.unkept {
		n.users.Store(0)
		n.Release()
	}
	g.unkept = nil
	g.observed = false
	var ended []*Node
	if unfinished() {
		for p := range g.nodes.all {
			if n := loadNode(p); n != nil && n.epoch.Load() == g.epoch && !n.State().Terminal() { // nil: see late
				n.Finish(n.Graph(), Cancelled, err, nil)
				if cancelled != nil {
					ended = append(ended, n)
				}
			}
		}
	}
	g.run = nil
	g.fresh = ahead{from: g.nodes.len()}
	g.mu.Unlock()
	for _, n := range ended {
		cancelled(n)
	}
}

// RunOf returns the active run if n takes part in it, or nil.
func (g *Graph) RunOf(n *Node) Run {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run == nil || n.epoch.Load() != g.epoch {
		return nil
	}
	return g.run
}

// Cancel cancels n (see Node.Cancel) if it is in r, the active run, and
// reports NotCancelled otherwise. The check and the cancellation are made
// under the graph's lock, which a run's start holds: a caller that found
// r through RunOf may get here after r ended and another run took n in,
// and n must not then be finished on r's behalf (r would count it, the
// run n is in never would, and that run would never end).
func (g *Graph) Cancel(r Run, n *Node, err error) ([]*Node, CancelOutcome) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run != r || n.epoch.Load() != g.epoch {
		return nil, NotCancelled
	}
	return n.Cancel(err, nil)
}

// Hold keeps n's result for a reader that is none of its consumers (a wait
// that returns it), in an active run that releases results and that n is
// in: until Unhold, the reads of its consumers do not release it. A result
// released already is computed again, as for a new consumer. It returns
// the run's epoch for Unhold, and ok false when there is nothing to hold:
// no such run, or n is not in it. outside reports that n is in no run at
// all (it never ran, and the active one does not want it): decided here,
// under the graph's lock, so that a reader does not wait for a node that
// joins the run a moment later without being held.
func (g *Graph) Hold(n *Node) (epoch uint32, ok, outside bool) {
	if !g.releasing.Load() {
		return 0, false, false
	}
	g.mu.Lock()
	defer g.Unlock() // activate may have made nodes ready
	if g.run == nil {
		return 0, false, false
	}
	if n.epoch.Load() != g.epoch {
		return 0, false, n.State() == Idle
	}
	for {
		n.lock()
		if n.State() != Released {
			// Release checks users under this lock, so once it is counted
			// the result stays.
			n.users.Add(1)
			n.unlock()
			return g.epoch, true, false
		}
		n.unlock()
		g.activate(n)
	}
}

// Unhold ends a Hold made in the run of epoch. The result is not released
// then, even if no consumer is left to read it: like the result of a task
// no consumer reads, it stays until the caller releases it (Task.Release)
// or the next run that needs n computes it again.
func (g *Graph) Unhold(n *Node, epoch uint32) {
	g.mu.Lock()
	if g.run != nil && g.epoch == epoch && n.epoch.Load() == epoch {
		n.users.Add(-1)
	}
	g.mu.Unlock()
}

// Adopt brings n into the active run, if it is neither in it nor has a
// result, for a reader that is none of its consumers and reads it when it
// finishes (a flow that returns it); in a run that releases results, it
// counts that reader among n's users, until the reader lets go as a
// consumer does (exec's Consumed). A result released already is computed
// again, as for a new consumer.
func (g *Graph) Adopt(n *Node) {
	g.mu.Lock()
	defer g.Unlock() // Want may have made nodes ready: an observed run hears of them then
	if g.run == nil {
		return
	}
	for {
		g.Want(n)
		if !g.run.Releasing() {
			return
		}
		n.lock()
		if n.State() != Released {
			// Release checks users under this lock, so once it is counted
			// the result stays.
			n.users.Add(1)
			n.unlock()
			return
		}
		n.unlock() // released since Want looked: compute it again
	}
}

// Want brings n, an existing node, into the active run if there is one and
// n neither is in it nor has a result. The caller holds the lock.
func (g *Graph) Want(n *Node) {
	if g.run == nil {
		return
	}
	if s := n.State(); s == Released || s != Done && n.epoch.Load() != g.epoch {
		g.activate(n)
	}
}

// Finish moves n to the terminal state s (keeping err as the reason when s is
// not Done), counts down every consumer in the run, and appends to ready the
// consumers and waiters that this made ready. A failed n poisons its
// consumers so that they are skipped.
//
// A failure's state and its error are written under n's lock, in one
// critical section: a reader that sees a failed state and then asks Err
// (which takes the lock) finds the error, never nil. See finishFrom for a
// switch that depends on the state n is in.
//
// Finish refuses to move n to Done, changing nothing, once a Cancel has
// reached n while it ran, and reports false then: the caller finishes it
// as cancelled instead. The request and the switch are compare-and-swaps
// of the same word, so a Cancel that reports n running is never followed
// by a result kept (see Cancel).
//
// g is n's graph, which the caller knows (a run's worker: its run's),
// where a node cut from a slab would find it through its slab's header
// (see Graph), one more load on the way from a completion to its
// consumers.
func (n *Node) Finish(g *Graph, s State, err error, ready []*Node) ([]*Node, bool) {
	ready, _, ok := n.finish(g, s, err, ready, false)
	return ready, ok
}

// FinishInline is Finish for a worker that runs, next, the task n's
// completion makes ready, when only one is: if the completion takes the
// lock-free path (see Finish), n has one consumer and joins no creator,
// and counting that consumer down makes it ready, the consumer is moved
// from Waiting straight to Running, in the same compare-and-swap, and
// returned instead of being appended to ready. The caller must then run
// it, as if it had taken it from the queue. Along a chain, that is one
// atomic operation of the five a task costs the run (BENCHMARKS.md,
// session 11).
func (n *Node) FinishInline(g *Graph, s State, err error, ready []*Node) ([]*Node, *Node, bool) {
	return n.finish(g, s, err, ready, true)
}

// finish is Finish, and with claim, FinishInline, for n of g.
func (n *Node) finish(g *Graph, s State, err error, ready []*Node, claim bool) ([]*Node, *Node, bool) {
	var old uint64
	var ok bool
	if err == nil && n.xt() == nil {
		// The common case: nothing to record, and, unless a registration is
		// under way (see announce), nobody to tell but the consumers and
		// the creator it joins.
		//
		// The completion looks at n's consumers before its switch: if
		// there are none, or a few linked before the run and all in it
		// (see consumersIn), and none linked itself during the run (see
		// linked), n is marked counted in the switch itself, and the
		// consumers the look found are counted down after it, from the
		// heads it read. Else the lists are read after the switch, and n
		// is marked counted once they are counted down.
		var s2, epoch uint32
		s1 := n.succ1.Load()
		in := s1 == 0 // no consumer yet: the first is linked as succ1
		if !in {
			s2, epoch = n.succ.Load(), n.epoch.Load()
			in = countedEarly(n.state.Load()) && consumersIn(g, s1, s2, epoch)
		}
		if chaos.On {
			chaos.Pause() // a consumer may link itself here
		}
		if old, ok = n.storeEnd(s, in); !ok {
			return ready, nil, false
		}
		early := in && countedEarly(old)
		free := old&announceMask == 0 && n.xt() == nil
		fail := s != Done
		var next *Node
		switch {
		case early && free && claim && s1 != 0 && s2 == 0 && old&joinsCreator == 0:
			next = claimDown(*g.nodes.at(int64(s1 - 1)), epoch, fail)
		case early:
			if s1 != 0 {
				ready = countDownListed(g, s1, s2, epoch, fail, ready)
			}
			ready = n.countDownCreator(old, fail, ready)
		case !free: // the lock's path below counts them
		case claim && old&joinsCreator == 0 && n.succ.Load() == 0 && n.succ1.Load() != 0:
			next = claimDown(*g.nodes.at(int64(n.succ1.Load() - 1)), n.epoch.Load(), fail)
		default:
			ready = n.countDownConsumers(g, fail, ready)
			ready = n.countDownCreator(old, fail, ready)
		}
		if free {
			if !early {
				n.state.Or(counted)
			}
			return ready, next, true
		}
		n.lock()
		if !early {
			ready = n.countDownCreator(old, fail, ready)
		}
		return n.finishLocked(g, fail, ready, !early), nil, true
	} else {
		n.lock()
		if old, ok = n.storeEnd(s, false); !ok {
			n.unlock()
			return ready, nil, false
		}
		if err != nil {
			// Under the lock taken before the switch: a reader that saw
			// the failed state takes it to read the error.
			n.extra().err = err
		}
	}
	ready = n.countDownCreator(old, s != Done, ready)
	return n.finishLocked(g, s != Done, ready, true), nil, true
}

// storeEnd is store for a completion's switch to the terminal state s,
// which it refuses, changing nothing, for Done once a Cancel reached n
// (cancelReq), and always once n is finished: the end of a stopped run
// cancels what has not finished, also a task whose function still runs
// on a goroutine that outlived the run's workers (a claim of a task's
// goroutine), and the function's return must not undo that end. It keeps
// the pending count, which no completion of n reads.
//
// With in (the completion's look before the switch found n's consumers
// few and all in the run, or none: see consumersIn), it also marks n
// counted if countedEarly says so of the word it replaces.
func (n *Node) storeEnd(s State, in bool) (uint64, bool) {
	for {
		old := n.state.Load()
		if s == Done && old&cancelReq != 0 || State(old&stateMask).Terminal() {
			return old, false
		}
		v := old&(pendingMask|announceMask|lockBit) | uint64(s)
		if in && countedEarly(old) {
			v |= counted
		}
		if n.state.CompareAndSwap(old, v) {
			return old, true
		}
	}
}

// countedEarly reports whether a completion whose look found its node's
// consumers few and all in the run (or none) may mark the node counted
// as it replaces old by its terminal state: nobody is registering
// (announced), and no consumer linked itself since the run prepared the
// node (linked). A
// consumer links itself under the node's lock, announced, and flags the
// link before it withdraws: so a switch that sees neither comes after
// every link made before it ended, which the completion's look saw, or
// before any that begins later, which sees the node finished and counted
// and does not wait for it (see Graph.join).
func countedEarly(old uint64) bool { return old&(announceMask|linked) == 0 }

// claimDown is countDown for a consumer that the counting goroutine runs
// next if it becomes ready: it is moved to Running, and returned.
func claimDown(c *Node, epoch uint32, fail bool) *Node {
	if c.epoch.Load() != epoch {
		return nil
	}
	var flags uint64
	if fail {
		flags = poisoned
	}
	if c.countDownTo(Waiting, Waiting, Running, flags) {
		return c
	}
	return nil
}

// finishFrom finishes n as Finish does, but only if n is in state from,
// and reports whether it was. The check and the switch are one
// compare-and-swap made under n's lock, with err stored in the same
// critical section: a node that was never running (cancelled, or failed
// to break a deadlock) shows its failed state only together with its
// error. Switching first and finishing after, as this used to, let a
// reader see the node cancelled, find no error, and read its zero result
// as a success.
func (n *Node) finishFrom(from, s State, err error, ready []*Node) ([]*Node, bool) {
	n.lock()
	for {
		v := n.state.Load()
		if State(v&stateMask) != from {
			n.unlock()
			return ready, false
		}
		if n.state.CompareAndSwap(v, v&(pendingMask|announceMask|lockBit)|uint64(s)) {
			ready = n.countDownCreator(v, s != Done, ready)
			break
		}
	}
	if err != nil {
		n.extra().err = err
	}
	return n.finishLocked(n.Graph(), s != Done, ready, true), true
}

// finishLocked is the end of a completion, made with n's lock held: it
// counts n's consumers down, tells its waiters, closes its Done channel,
// and releases the lock. g is n's graph.
//
// With consumers false, the consumers are not counted down: the switch
// marked n counted already, having found none (see storeEnd), and one
// that links itself since is not n's to count.
func (n *Node) finishLocked(g *Graph, fail bool, ready []*Node, consumers bool) []*Node {
	if consumers {
		ready = n.countDownConsumers(g, fail, ready)
	}
	if x := n.xt(); x != nil {
		for _, w := range x.waiters {
			kind := w.Kind()
			if kind == Notifier {
				w.rare().notify(n)
				continue
			}
			ready = n.countDownWaiter(w, fail && kind == Task, ready)
		}
		x.waiters = nil
		x.cancel = nil
		if x.rare != nil {
			x.rare.joins = nil // read by stall searches only while the node runs or joins
		}
		if x.done != nil {
			select {
			case <-x.done:
			default:
				close(x.done)
			}
		}
	}
	n.state.Or(counted)
	n.unlock()
	return ready
}

// countDownConsumers counts n, finished, down in each of its consumers in
// its run, and appends those this made ready to ready. g is n's graph.
func (n *Node) countDownConsumers(g *Graph, fail bool, ready []*Node) []*Node {
	if c := n.succ1.Load(); c != 0 {
		return countDownListed(g, c, n.succ.Load(), n.epoch.Load(), fail, ready)
	}
	return ready
}

// countDownListed is countDownConsumers, for a node of g, for the lists
// whose heads are s1 (the first consumer's id + 1) and s2 (the latest
// edge's number + 1), as read before: consumers linked since are not
// counted down. Edges never change once made, so the walk from s2 sees
// exactly the links made before it was read.
func countDownListed(g *Graph, s1, s2, epoch uint32, fail bool, ready []*Node) []*Node {
	if s1 == 0 {
		return ready
	}
	ready = countDown(*g.nodes.at(int64(s1 - 1)), epoch, fail, ready)
	for e := s2; e != 0; {
		x := g.edges.at(int64(e - 1))
		ready = countDown(*g.nodes.at(int64(x.to)), epoch, fail, ready)
		e = x.next
	}
	return ready
}

// maxEarly is the most consumers a completion looks at before its switch
// (see consumersIn): a wider fan-out is walked once, after it, and pays
// the counted flag's own write, a small part of its walk.
const maxEarly = 4

// consumersIn reports whether the consumers, in g, listed from s1 and s2
// (see countDownListed) are all in the run of epoch, and at most maxEarly:
// then none of them can join the run while the completion counts them
// down, and n may be marked counted before (see countedEarly). A consumer
// that is not in the run may join it meanwhile, to read a result a run
// for targets released and has computed again: the completion must not
// count it down for the new computation, and only a counted flag set
// after the walk makes it wait (see Release).
//
// The caller read n's state word after s1 and s2 and found countedEarly
// true of it: a consumer linking itself during the run announces itself
// before it links and flags the link before it withdraws, so every
// consumer listed was linked before the run began, and its epoch was
// written before it too, or since with an atomic store (a join's
// prepare). A consumer that links itself during the run writes its epoch
// with a plain store (joinNew) after its link: it must not be read here.
func consumersIn(g *Graph, s1, s2, epoch uint32) bool {
	if s1 == 0 {
		return true
	}
	if (*g.nodes.at(int64(s1 - 1))).epoch.Load() != epoch {
		return false
	}
	k := 1
	for e := s2; e != 0; k++ {
		x := g.edges.at(int64(e - 1))
		if k == maxEarly || (*g.nodes.at(int64(x.to))).epoch.Load() != epoch {
			return false
		}
		e = x.next
	}
	return true
}

// countDown counts one finished input of c, a consumer of a node of run
// epoch that failed or not, and appends c to ready if that made it ready.
func countDown(c *Node, epoch uint32, fail bool, ready []*Node) []*Node {
	if c.epoch.Load() != epoch {
		return ready
	}
	var flags uint64
	if fail {
		flags = poisoned
	}
	if c.countDownTo(Waiting, Waiting, Ready, flags) {
		ready = append(ready, c)
	}
	return ready
}

// Watch makes w (a Waiter, a Notifier, or a joining task) a waiter on n:
// it is counted down (or, for a Notifier, called) when n finishes. It
// reports false, doing nothing, when n has already finished.
func (n *Node) Watch(w *Node) bool {
	n.announce()
	defer n.withdraw()
	n.lock()
	defer n.unlock()
	if n.State().Terminal() {
		return false
	}
	if w.Kind() != Notifier {
		w.AddPending(1)
	}
	e := n.extra()
	e.waiters = append(e.waiters, w)
	return true
}

// Unwatch removes w from n's waiters, reporting whether it was there.
func (n *Node) Unwatch(w *Node) bool {
	n.lock()
	defer n.unlock()
	if n.xt() == nil {
		return false
	}
	i := slices.Index(n.xt().waiters, w)
	if i < 0 {
		return false
	}
	n.xt().waiters = slices.Delete(n.xt().waiters, i, i+1)
	return true
}

// Unkeep undoes the Keep option and releases the result if no consumer in
// the run still has to read it. Outside a run, nothing reads it any more.
// During a run, readers that the run counted may still have to, and their
// counts cannot be told apart from those that earlier runs left (targets
// kept, readers that never ran): the result is dropped now if nothing
// counts it, and otherwise when the run ends.
func (n *Node) Unkeep() {
	n.lock()
	if o := n.Options(); o != nil && o.Keep {
		o.Keep = false
		n.users.Add(-1)
	}
	n.unlock()
	g := n.Graph()
	if g == nil {
		return // never built, so never run
	}
	// Under the graph's lock, so that no run begins (and counts n for a
	// reader) between the reset and the release.
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.run != nil {
		g.unkept = append(g.unkept, n)
	} else {
		n.users.Store(0)
		if n.Release() {
			// A fresh consumer may have counted n as having a result: the
			// next run begins every node the usual way (see ahead).
			g.fresh.forget(g.nodes.len())
		}
		return
	}
	n.Release()
}

// Release drops n's result when no consumer in the run still has to read
// it. It reports whether it did. A value is never dropped: nothing could
// compute it again.
func (n *Node) Release() bool {
	n.lock()
	if n.users.Load() > 0 || n.State() != Done || n.body == 0 || n.IsValue() {
		n.unlock()
		return false
	}
	// Drop first: once the state says Released, a new reader may have
	// the node computed again at once (Graph.activateNew reads the state
	// without this lock), and a drop after that would wipe the new result.
	n.Body().Drop()
	// Keep the counted flag as it is: a completion without the lock may
	// still be counting down the consumers (a reader that it made ready
	// read the result and released it meanwhile). A new reader waits for
	// the flag before it has the node computed again (see join): else the
	// old completion could count it down for the new computation.
	// The switch lets go of the lock in the same write: a chain releases
	// every task's result, and each atomic operation is a full exchange.
	n.unlockAs(Done, Released)
	return true
}

// CancelOutcome says what Cancel did.
type CancelOutcome int

// What Cancel did.
const (
	NotCancelled  CancelOutcome = iota // n had finished, or is not in a run
	CancelledNow                       // n had not started: it is finished as cancelled
	CancelRunning                      // n runs: its context was cancelled and its result will be discarded
)

// Cancel cancels n. A node not started yet is finished as cancelled with
// err, and the consumers that this made ready are appended to ready (they
// are poisoned, to be skipped). A running node has its own context
// cancelled, if it has one, and is marked so that its result is discarded.
func (n *Node) Cancel(err error, ready []*Node) ([]*Node, CancelOutcome) {
	for {
		switch st := n.State(); st {
		case Waiting, Ready:
			if ready, ok := n.finishFrom(st, Cancelled, err, ready); ok {
				return ready, CancelledNow
			}
		case Running, Joining:
			// Requested only while n runs or joins, in one step with the
			// check: a completion that stored Done first makes the request
			// fail and Cancel report n finished, and one that comes after
			// sees the request and refuses Done (see Finish).
			if v := n.state.Load(); State(v&stateMask) != st || !n.state.CompareAndSwap(v, v|cancelReq) {
				continue
			}
			n.lock()
			if n.xt() != nil && n.xt().cancel != nil {
				n.xt().cancel()
			}
			n.unlock()
			return ready, CancelRunning
		default:
			return ready, NotCancelled
		}
	}
}
