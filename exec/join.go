package exec

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// Jobs. A fork-join call of a running task (dynamic.Join) runs functions
// that are part of the task, not tasks of the graph: no handle to them
// escapes the call, so they need no node, no index entry, no name and no
// state a reader could look at later, and the call's one object is
// garbage once it returns. That is what makes a spawned function cost
// about what Taskflow's subflow task does, where a spawned graph task
// costs a node the graph keeps.
//
// The caller lends every function but the first to its worker's deque
// (worker.jobs) as one entry, runs the first itself, then takes the
// others back one by one from the end of the entry and runs them. A
// worker with a free slot and nothing queued takes the first half of the
// oldest entry of a listed deque (stealJobLocked), lends all of it but
// its first function on its own deque in turn, and runs them the same way
// on its slot (runLent), as part of the caller's task. The caller waits
// for the functions other workers took as any wait does: without its
// slot (park). Every function the call lends is run exactly once, by the
// caller or by one worker, because it leaves a deque under the deque's
// lock, and the call returns only once each has returned: a call is over
// before its task could be.
//
// The invariants that keep the run going:
//   - A job in a deque always has a worker coming while a slot is free:
//     whoever frees a slot or lends a job wakes one unless a worker
//     without a slot is about to look (wakeLocked), a worker about to
//     park looks first, even one about to leave as surplus (loop), and a
//     stall is not a stall while a job waits in a deque (stalledLocked).
//   - A worker running a job another worker lent counts it in the run
//     (runLent), so that the run cannot end while the job runs, even if
//     the caller was a goroutine of a task that has returned meanwhile;
//     the job's claims are then covered by the job, as a task's are by the
//     task (see kept.go).
//   - A caller parked for its jobs is never the wait a stall search
//     fails (see findCycle): it waits for functions, whose own waits are
//     parked beside it, with the caller's task as theirs, and are failed
//     instead.

// job is the functions lo to hi-1 of a fork-join call, in a deque: its
// owner, the worker whose deque holds it, runs them from the end, and a
// worker that takes it from the deque takes the first half and leaves the
// rest there, or all of it if it holds one function. So a call of n
// functions is one entry, not n, and each worker that comes for it takes
// half of what is left in one step.
type job struct {
	f      *core.Fork
	lo, hi int
}

// lend puts functions lo to hi-1 of f on w's deque, lists w for idle
// workers to look at, and wakes one if any is idle.
func (r *runner) lend(w *worker, f *core.Fork, lo, hi int) {
	w.jmu.Lock()
	w.jobs = append(w.jobs, job{f, lo, hi})
	w.jmu.Unlock()
	// A push followed by a look at the list flag and at the idle count;
	// an idle worker counts itself idle, then looks at the listed deques,
	// and a worker unlisting a deque clears the flag, then looks again:
	// of two such pairs, at least one side sees the other's write.
	if w.jlisted.Load() && r.idlers.Load() == 0 {
		return
	}
	r.mu.Lock()
	if !w.jlisted.Load() {
		w.jlisted.Store(true)
		r.jobbers = append(r.jobbers, w)
	}
	r.wakeLocked()
	r.mu.Unlock()
}

// takeLast takes the last function of the newest entry of f in w's
// deque, and reports false if w's deque holds none: the others were
// taken; and whether that was the entry's last function, so that a caller
// taking back what it lent once need not look again. Whoever runs a
// function counts it, the call's goroutine as its own and any other as
// returned to the call (runLent), so whose entry it came from does not
// matter.
func (w *worker) takeLast(f *core.Fork) (k int, ok, emptied bool) {
	w.jmu.Lock()
	for i := len(w.jobs) - 1; i >= w.jhead; i-- {
		if j := &w.jobs[i]; j.f == f {
			j.hi--
			k = j.hi
			if emptied = j.lo == j.hi; emptied {
				last := len(w.jobs) - 1
				copy(w.jobs[i:], w.jobs[i+1:])
				w.jobs[last] = job{}
				w.jobs = w.jobs[:last]
				w.trimJobs()
			}
			w.jmu.Unlock()
			return k, true, emptied
		}
	}
	w.jmu.Unlock()
	return 0, false, false
}

// takeOldest takes the first half of the oldest entry of w's deque, or
// all of it if it holds one function: the oldest is the one nearest the
// root of a recursion, the most work.
func (w *worker) takeOldest() (job, bool) {
	w.jmu.Lock()
	var j job
	ok := w.jhead < len(w.jobs)
	if ok {
		e := &w.jobs[w.jhead]
		j = *e
		if n := e.hi - e.lo; n > 1 {
			j.hi = e.lo + n/2
			e.lo = j.hi
		} else {
			*e = job{}
			w.jhead++
			w.trimJobs()
		}
	}
	w.jmu.Unlock()
	return j, ok
}

// runOwn runs function first of f with ctx, then, if more were lent after
// it, what is left of them in w's deque, from the end, and adds one to
// *ran as each returns (so that, if one ends the goroutine, *ran counts
// those that returned). Join runs the same loop written out.
func (w *worker) runOwn(ctx context.Context, f *core.Fork, first int, more bool, ran *int) {
	runJob(ctx, f, first, nil)
	*ran++
	for more {
		k, ok, emptied := w.takeLast(f)
		if !ok {
			return
		}
		runJob(ctx, f, k, nil)
		*ran++
		more = !emptied
	}
}

// failLeft fails, unrun, what is left of f in w's deque, as the goroutine
// that was to run it ends (see goexit.go), and returns how many.
func (w *worker) failLeft(f *core.Fork) int {
	n := 0
	for {
		k, ok, _ := w.takeLast(f)
		if !ok {
			return n
		}
		f.Body.Fail(k, goexitErr(f.Self))
		n++
	}
}

// trimJobs resets an empty deque to its start. The caller holds w.jmu.
func (w *worker) trimJobs() {
	if w.jhead == len(w.jobs) {
		w.jobs, w.jhead = w.jobs[:0], 0
	}
}

// hasJobs reports whether w's deque holds a job.
func (w *worker) hasJobs() bool {
	w.jmu.Lock()
	has := w.jhead < len(w.jobs)
	w.jmu.Unlock()
	return has
}

// jobsPendingLocked reports whether a listed deque holds a job. The
// caller holds r.mu.
func (r *runner) jobsPendingLocked() bool {
	for _, w := range r.jobbers {
		if w.hasJobs() {
			return true
		}
	}
	return false
}

// stealJobLocked takes the oldest job of the first listed deque that
// holds one, for a worker with a free slot and nothing queued, and
// unlists the deques it finds empty (see lend for the order of the
// looks). The caller holds r.mu.
func (r *runner) stealJobLocked() (job, bool) {
	for len(r.jobbers) > 0 {
		w := r.jobbers[0]
		if j, ok := w.takeOldest(); ok {
			return j, true
		}
		w.jlisted.Store(false)
		if j, ok := w.takeOldest(); ok {
			w.jlisted.Store(true)
			return j, true
		}
		last := len(r.jobbers) - 1
		copy(r.jobbers, r.jobbers[1:])
		r.jobbers[last] = nil
		r.jobbers = r.jobbers[:last]
	}
	return job{}, false
}

// runLent runs j, which w took from another worker's deque, on w's slot,
// as part of the task whose call lent it, and wakes the caller if it was
// the last of the call's jobs it waits for.
func (r *runner) runLent(w *worker, j job) {
	f := j.f
	if !r.join() {
		// The run is ending: it was stopped, or the caller is a goroutine
		// of a task that returned and the run finished since.
		err := f.Ctx.Err()
		if err == nil {
			err = &graph.Error{Task: f.Self.Name(), Err: graph.ErrTaskReturned}
		}
		for k := j.lo; k < j.hi; k++ {
			f.Body.Fail(k, err)
		}
		r.returned(f, j.hi-j.lo)
		return
	}
	c := &jobCtx{parent: f.Ctx, self: f.Self, w: w}
	ran, ended := 0, false
	defer func() {
		if !ended {
			// A function ended this goroutine (see goexit.go): it failed
			// (runJob), and what is left of w's part fails unrun.
			ran += 1 + w.failLeft(f)
		}
		c.done.Store(true)
		if w.keeps() {
			r.publishKept(w)
		}
		if w.slot.Load()&claimed != 0 {
			r.holdOpen(w) // a goroutine the job left holds a claim (see complete)
		}
		w.settled++
		r.returned(f, ran)
	}()
	// The functions after the first are w's to lend in turn: w runs them
	// from the end, and reports what it ran; a worker that takes some
	// from w reports its own.
	more := j.hi-j.lo > 1
	if more {
		r.lend(w, f, j.lo+1, j.hi)
	}
	w.runOwn(c, f, j.lo, more, &ran)
	ended = true
}

// returned tells f that k of its functions returned on other workers than
// its caller's, and wakes the caller if they were the last it waits for.
func (r *runner) returned(f *core.Fork, k int) {
	if f.Return(k) {
		close(f.Done)
		if wt := f.Waiter; wt != nil && wt.CAS(core.Waiting, core.Ready) {
			r.Ready(wt)
		}
	}
}

// runJob runs function i of f with ctx, unless ctx is done, turning a
// panic into a *graph.PanicError of f's task, as attempt does. caller is
// the worker of f's calling goroutine when runJob runs there, or nil: if
// the function ends that goroutine (see goexit.go), what the call has
// left in caller's deque fails unrun, since nobody is left to run it.
func runJob(ctx context.Context, f *core.Fork, i int, caller *worker) {
	if err := ctx.Err(); err != nil {
		f.Body.Fail(i, err)
		return
	}
	returned := false
	defer func() {
		if v := recover(); v != nil {
			f.Body.Fail(i, &graph.PanicError{Task: f.Self.Name(), Value: v, Stack: debug.Stack()})
		} else if !returned {
			f.Body.Fail(i, goexitErr(f.Self))
			if caller != nil {
				caller.failLeft(f)
			}
		}
	}()
	f.Body.RunJob(ctx, i)
	returned = true
}

// Join implements core.Awaiter: see the notes on jobs above.
func (w *worker) Join(ctx context.Context, f *core.Fork) {
	self := core.Current(ctx)
	if self == nil {
		err := returnedErr(ctx)
		for i := range f.N {
			f.Body.Fail(i, err)
		}
		return
	}
	f.Self = self
	switch f.N {
	case 0:
		return
	case 1:
		runJob(ctx, f, 0, nil)
		return
	}
	r := w.r
	r.lend(w, f, 1, f.N)
	// runOwn's loop, written out: on the path of every call, its call and
	// its count through a pointer cost fib 4 % (bench/ab.sh, 12 rounds).
	runJob(ctx, f, 0, w)
	lent := f.N - 1
	for more := true; more; {
		k, ok, emptied := w.takeLast(f)
		if !ok {
			break
		}
		runJob(ctx, f, k, w)
		lent--
		more = !emptied
	}
	if lent == 0 {
		return
	}
	f.Done = make(chan struct{})
	// A goroutine of self other than its function may call, and self may
	// have returned since: such a goroutine holds no slot of the run, and
	// w runs other tasks now, so it waits as is.
	parks := self.State() == core.Running
	if parks {
		f.Waiter = core.NewWaiter(self)
	}
	if !f.Lend(lent) {
		return // they have all returned
	}
	if parks {
		// The run's context, not ctx: the call returns only once its jobs
		// have, and they see ctx's end themselves. Once the run stops,
		// nobody hands slots over any more, and the jobs' end is waited
		// for as is.
		p := &parked{self: self, wt: f.Waiter, any: true, join: true, job: jobOf(ctx)}
		p.chain, p.ws = chainOf(w, self)
		r.park(r.ctx, w, p, func() {})
	}
	<-f.Done
}

// jobCtx is the context of a job that a worker runs for a call on another
// worker: it answers as the call's context does, but for the Awaiter,
// which is the worker running the job (a wait in the job gives that
// worker's slot back), and, once the job returned, like a returned task's
// context (see taskCtx).
type jobCtx struct {
	parent context.Context
	self   *core.Node
	w      *worker
	done   atomic.Bool
}

func (c *jobCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *jobCtx) Done() <-chan struct{}       { return c.parent.Done() }
func (c *jobCtx) Err() error                  { return c.parent.Err() }

// jobKey finds the jobCtx a context was made from (see jobOf).
type jobKey struct{}

// jobOf returns the lent function's context ctx was made from, or nil.
func jobOf(ctx context.Context) *jobCtx {
	c, _ := ctx.Value(jobKey{}).(*jobCtx)
	return c
}

func (c *jobCtx) Value(key any) any {
	if _, ok := key.(jobKey); ok {
		return c
	}
	if k, ok := key.(core.CtxKey); ok {
		running := !c.done.Load() && c.self.State() == core.Running
		switch {
		case k == core.CurrentKey && running:
			return c.self
		case k == core.AwaiterKey && running:
			return c.w
		case k == core.ReturnedKey && !running:
			return c.self
		}
		return nil
	}
	return c.parent.Value(key)
}

// String names the task, for messages that print a context.
func (c *jobCtx) String() string { return "exec.jobCtx(" + c.self.Name() + ")" }
