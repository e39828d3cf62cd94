package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestRandomJoins: tasks compute trees of fork-join calls drawn from a
// seed (dynamic.Join, JoinAll and JoinEach, nested), whose functions also
// add tasks of the graph and wait for them (some with a priority, which
// turns claims and keeping off), start goroutines that join on their own
// (awaited, or left to outlive their task), yield, fail or panic; pools of
// one to four workers, and one run in six stopped as a chosen function
// starts. What it checks: the run returns; every function of a run that
// was not stopped ran exactly once (none twice in a stopped one); each
// root task ends with the tree's value, or with the error of its first
// failing function in argument order (a panic as a *graph.PanicError);
// the run's error counts the failed roots; the goroutines return.
//
// EVOLVE_JOIN_SEEDS (default 300) and EVOLVE_JOIN_FROM (default 1) set
// the seeds.
func TestRandomJoins(t *testing.T) {
	joinSeeds(t, "EVOLVE_JOIN", 300, 30, false, false)
}

// TestRandomJoinsGoexit is TestRandomJoinsWide with some functions that
// end their goroutine (runtime.Goexit) instead of returning: what it
// checks is that the run returns, that no function runs twice, that every
// root ends, and that the goroutines return (see exec/goexit.go).
//
// EVOLVE_JOINGOEXIT_SEEDS (default 100) and EVOLVE_JOINGOEXIT_FROM
// (default 1) set the seeds.
func TestRandomJoinsGoexit(t *testing.T) {
	joinSeeds(t, "EVOLVE_JOINGOEXIT", 100, 10, true, true)
}

// TestRandomJoinsWide is TestRandomJoins with wide calls: some JoinAll and
// JoinEach calls have 8 to 47 functions, so that workers split their
// ranges again and again while the caller takes back from the end.
//
// EVOLVE_JOINWIDE_SEEDS (default 100) and EVOLVE_JOINWIDE_FROM (default 1)
// set the seeds.
func TestRandomJoinsWide(t *testing.T) {
	joinSeeds(t, "EVOLVE_JOINWIDE", 100, 10, true, false)
}

// joinSeeds runs the seeds that env+"_FROM" and env+"_SEEDS" set (def
// of them from 1, short under -short) through joinSeed, and names the
// first that fails with the variables that replay it.
func joinSeeds(t *testing.T, env string, def, short int, wide, goexit bool) {
	seeds, from := envInt(t, env+"_SEEDS", def), envInt(t, env+"_FROM", 1)
	if testing.Short() {
		seeds = min(seeds, short)
	}
	for seed := from; seed < from+seeds; seed++ {
		if !joinSeed(t, uint64(seed), wide, goexit) {
			t.Fatalf("seed %d failed: replay with %s_FROM=%d %s_SEEDS=1", seed, env, seed, env)
		}
	}
}

// The kinds of a jPlan.
const (
	jLeaf    = iota // returns its id, fails, or panics
	jJoin           // dynamic.Join of its two kids
	jJoinAll        // dynamic.JoinAll of its kids
	jEach           // dynamic.JoinEach over its kids
	jTask           // adds a task computing its kid, and waits for it
	jGo             // starts a goroutine computing its kid, and waits for it (or not)
	jKinds
)

// jPlan is a node of a tree a root task computes: its value is its id
// plus its kids' values; its error is its first failing kid's, in order.
type jPlan struct {
	kind  int
	id    int
	kids  []*jPlan
	fail  int           // leaf: 0 returns its id, 1 returns jErr, 2 panics with jPanic, 3 calls runtime.Goexit
	yield bool          // leaf: yields the processor first
	sleep time.Duration // leaf: sleeps first, so that idle workers come for lent functions
	prio  int           // task: its priority
	leave bool          // goroutine: not awaited; its kid's value does not count
	// left: under a goroutine not awaited, which may run after the run
	// ended; such a leaf does not stop the run, which may be over.
	left bool
}

type jErr struct{ id int }

func (e jErr) Error() string { return fmt.Sprintf("leaf %d failed", e.id) }

type jPanic int

// errGoexited is what a goroutine of a jGo plan reports when a leaf ended
// it.
var errGoexited = errors.New("a leaf ended the goroutine")

// jGen draws plans.
type jGen struct {
	rng    *rand.Rand
	next   int
	leaves int
	ranked bool
	// wide: some JoinAll and JoinEach calls have 8 to 47 functions, whose
	// range workers split again and again (TestRandomJoinsWide). Off, the
	// generator draws what it drew before wide existed, so that the seeds
	// TestRandomJoinsFoundSeeds keeps draw the plans that found the bugs.
	wide bool
	// goexit: some leaves end their goroutine (runtime.Goexit) instead
	// of returning (TestRandomJoinsGoexit); off, nothing is drawn for it.
	goexit bool
}

func (g *jGen) plan(depth int, left bool) *jPlan {
	p := &jPlan{id: g.next, left: left}
	g.next++
	if depth == 0 || g.leaves > 80 && !g.wide || g.leaves > 300 || g.rng.IntN(4) == 0 {
		p.kind = jLeaf
		g.leaves++
		switch g.rng.IntN(20) {
		case 0:
			p.fail = 1
		case 1:
			p.fail = 2
		}
		if g.goexit && g.rng.IntN(15) == 0 {
			p.fail = 3
		}
		p.yield = g.rng.IntN(3) == 0
		if g.rng.IntN(10) == 0 {
			p.sleep = time.Duration(1+g.rng.IntN(50)) * time.Microsecond
		}
		return p
	}
	p.kind = 1 + g.rng.IntN(jKinds-1)
	n := 1
	switch p.kind {
	case jJoin:
		n = 2
	case jJoinAll, jEach:
		n = g.rng.IntN(6)
		if g.wide && g.rng.IntN(3) == 0 {
			n = 8 + g.rng.IntN(40)
		}
	case jTask:
		if g.ranked && g.rng.IntN(2) == 0 {
			p.prio = 1 + g.rng.IntN(3)
		}
	case jGo:
		p.leave = g.rng.IntN(4) == 0
	}
	for range n {
		p.kids = append(p.kids, g.plan(depth-1, left || p.kind == jGo && p.leave))
	}
	return p
}

// want returns p's value and the plan of its first failing leaf, or nil.
func (p *jPlan) want() (int, *jPlan) {
	if p.kind == jLeaf {
		if p.fail != 0 {
			return 0, p
		}
		return p.id, nil
	}
	sum := p.id
	for _, k := range p.kids {
		v, bad := k.want()
		if p.kind == jGo && p.leave {
			continue
		}
		if bad != nil {
			return 0, bad
		}
		sum += v
	}
	return sum, nil
}

// jRun is what one seed's run shares.
type jRun struct {
	ran     []atomic.Int32 // by plan id
	started atomic.Int32
	stopAt  int32
	stop    context.CancelFunc
	left    sync.WaitGroup // goroutines left to outlive their task
}

func (r *jRun) eval(ctx context.Context, p *jPlan) (int, error) {
	switch p.kind {
	case jLeaf:
		r.ran[p.id].Add(1)
		if !p.left && r.started.Add(1)-1 == r.stopAt {
			r.stop()
		}
		if p.yield {
			runtime.Gosched()
		}
		if p.sleep > 0 {
			time.Sleep(p.sleep)
		}
		switch p.fail {
		case 1:
			return 0, jErr{p.id}
		case 2:
			panic(jPanic(p.id))
		case 3:
			runtime.Goexit()
		}
		return p.id, nil
	case jJoin:
		a, b, err := dynamic.Join(ctx, r.fn(p.kids[0]), r.fn(p.kids[1]))
		return p.id + a + b, err
	case jJoinAll:
		fns := make([]func(context.Context) (int, error), len(p.kids))
		for i, k := range p.kids {
			fns[i] = r.fn(k)
		}
		out, err := dynamic.JoinAll(ctx, fns...)
		return p.id + sum(out), err
	case jEach:
		out, err := dynamic.JoinEach(ctx, p.kids, r.eval)
		return p.id + sum(out), err
	case jTask:
		var opts []graph.Option
		if p.prio != 0 {
			opts = append(opts, graph.Priority(p.prio))
		}
		h := graph.Add(dynamic.Scope(ctx), "sub", r.fn(p.kids[0]), opts...)
		v, err := h.Wait(ctx)
		return p.id + v, err
	case jGo:
		if p.leave {
			// It may join before or after its task returned; its outcome
			// is not the task's.
			r.left.Go(func() {
				defer func() { _ = recover() }() // a leaf's panic, outside any task
				_, _ = r.eval(ctx, p.kids[0])
			})
			return p.id, nil
		}
		type out struct {
			v   int
			err error
		}
		ch := make(chan out, 1)
		go func() {
			o := out{err: errGoexited} // unless it returns or panics
			defer func() {
				if v := recover(); v != nil {
					o = out{err: &graph.PanicError{Value: v}}
				}
				ch <- o
			}()
			v, err := r.eval(ctx, p.kids[0])
			o = out{v, err}
		}()
		o := <-ch
		return p.id + o.v, o.err
	}
	panic("unknown kind")
}

func (r *jRun) fn(p *jPlan) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) { return r.eval(ctx, p) }
}

func sum(vs []int) int {
	s := 0
	for _, v := range vs {
		s += v
	}
	return s
}

func joinSeed(t *testing.T, seed uint64, wide, goexit bool) bool {
	return t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, 1))
		workers := 1 + rng.IntN(4)
		gen := &jGen{rng: rng, ranked: rng.IntN(4) == 0, wide: wide, goexit: goexit}
		roots := make([]*jPlan, 1+rng.IntN(3))
		for i := range roots {
			roots[i] = gen.plan(1+rng.IntN(5), false)
		}
		ctx, stop := context.WithCancel(t.Context())
		defer stop()
		run := &jRun{ran: make([]atomic.Int32, gen.next), stopAt: -1, stop: stop}
		if rng.IntN(6) == 0 {
			run.stopAt = int32(rng.IntN(gen.leaves + 1))
		}
		g := graph.New()
		hs := make([]graph.Task[int], len(roots))
		for i, p := range roots {
			hs[i] = graph.Add(g, fmt.Sprint("root", i), run.fn(p))
		}
		err := runGuarded(t, ctx, g, exec.Workers(workers))
		// A leaf that ends its goroutine ends the functions and tasks on
		// it too: then only the run's return, single runs and the roots'
		// ends are checked, as for a stopped run.
		stopped := ctx.Err() != nil
		lax := stopped || slices.ContainsFunc(leaves(roots), func(l *jPlan) bool { return l.fail == 3 })
		done := make(chan struct{})
		go func() { run.left.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(liveness):
			t.Fatalf("workers %d: goroutines left by tasks did not return within %v", workers, liveness)
		}
		leftFails := false
		for _, l := range leaves(roots) {
			left := leftOnly(roots, l.id)
			if n := run.ran[l.id].Load(); n > 1 || !lax && n == 0 && !left {
				t.Errorf("workers %d: function %d ran %d times", workers, l.id, n)
			}
			leftFails = leftFails || left && l.fail != 0
		}
		failed := 0
		for i, p := range roots {
			v, herr := hs[i].Result()
			want, bad := p.want()
			s := hs[i].State()
			if s == graph.Failed {
				failed++
			}
			if lax {
				if s != graph.Done && s != graph.Failed && s != graph.Cancelled {
					t.Errorf("workers %d: root %d of a stopped run is %v", workers, i, s)
				}
				continue
			}
			switch {
			case bad == nil:
				if s != graph.Done || v != want || herr != nil {
					t.Errorf("workers %d: root %d is %v: %d, %v; want %d", workers, i, s, v, herr, want)
				}
			case bad.fail == 1:
				var je jErr
				if s != graph.Failed || !errors.As(herr, &je) || je.id != bad.id {
					t.Errorf("workers %d: root %d is %v: %v; want leaf %d's error", workers, i, s, herr, bad.id)
				}
			default:
				var pe *graph.PanicError
				if s != graph.Failed || !errors.As(herr, &pe) || pe.Value != jPanic(bad.id) {
					t.Errorf("workers %d: root %d is %v: %v; want leaf %d's panic", workers, i, s, herr, bad.id)
				}
			}
		}
		var ee *exec.Error
		switch {
		case stopped:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("workers %d: Run of a stopped run = %v", workers, err)
			}
		case lax: // it returned: that is what a goroutine's end must not stop
		case failed == 0 && err != nil && !leftFails:
			t.Errorf("workers %d: Run = %v; want nil", workers, err)
		case failed > 0 && (!errors.As(err, &ee) || ee.Failed < failed):
			// Tasks that joined functions add count too (a jTask whose
			// tree fails fails as well).
			t.Errorf("workers %d: Run = %v; want an *exec.Error with at least %d failed", workers, err, failed)
		}
	})
}

// leftOnly reports whether plan id is only reached through a goroutine
// left to outlive its task: such a goroutine may begin after its task
// returned, and then runs nothing.
func leftOnly(roots []*jPlan, id int) bool {
	var walk func(p *jPlan, left bool) (found, viaLeft bool)
	walk = func(p *jPlan, left bool) (bool, bool) {
		if p.id == id {
			return true, left
		}
		for _, k := range p.kids {
			if f, l := walk(k, left || p.kind == jGo && p.leave); f {
				return true, l
			}
		}
		return false, false
	}
	for _, r := range roots {
		if f, l := walk(r, false); f {
			return l
		}
	}
	return false
}

// leaves returns the leaves of the plans.
func leaves(roots []*jPlan) []*jPlan {
	var out []*jPlan
	var walk func(p *jPlan)
	walk = func(p *jPlan) {
		if p.kind == jLeaf {
			out = append(out, p)
		}
		for _, k := range p.kids {
			walk(k)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// TestRandomJoinsFoundSeeds replays the seeds of TestRandomJoins that
// found bugs, many times each: their plans are fixed, their timing is not.
//   - 131013200: a goroutine that a task run as a claim left behind read
//     the claim's chain of the task's stand-in as the task returned and
//     the stand-in was readied for the next claim (a data race, under
//     -race in batches of 200).
//   - 131058703: such a goroutine, waiting with Task.Wait as the task
//     returned, claimed the stand-in's slot after it was given to another
//     claim, and ran a task on it (a data race, under -race in batches
//     of 300).
//   - 131036921: the test's own bug: a goroutine left to outlive its task
//     stopped the run after it ended.
func TestRandomJoinsFoundSeeds(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 10
	}
	for _, seed := range []uint64{131013200, 131058703, 131036921} {
		for range n {
			if !joinSeed(t, seed, false, false) {
				t.Fatalf("seed %d failed", seed)
			}
		}
	}
}
