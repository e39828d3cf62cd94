package exec

import (
	"context"
	"slices"
	"testing"

	"github.com/evolve-dag/evolve/graph"
	"github.com/evolve-dag/evolve/internal/core"
)

// TestChainStopsAtAClaimWhoseTaskReturned: a goroutine runs m on the
// stand-in sub2, inside n's claim (n awaits m), and n runs on the
// stand-in sub1 inside a's claim (a awaits n) on the worker w0. The
// goroutine is one n left behind (or that n's lent function started):
// once n returned, the goroutine that ran n moves on and sets sub1 up for
// its next claim, so a wait of m must not read sub1's claim any more, nor
// count sub1 or w0 among the workers its claims run on. Before the fix
// chainOf read every level under m's lock alone: a data race with that
// setup (TestRandomJoins seed 274016649 under -race), and a chain that
// named a's finished claim.
func TestChainStopsAtAClaimWhoseTaskReturned(t *testing.T) {
	g := graph.New()
	fn := func(context.Context) (int, error) { return 0, nil }
	ta, tn, tm := graph.Add(g, "a", fn), graph.Add(g, "n", fn), graph.Add(g, "m", fn)
	cg := graphCore(g)
	r := newRunner(context.Background(), cg, &config{workers: 1})
	if err := cg.Begin(r, nil); err != nil {
		t.Fatal(err)
	}
	a, n, m := refNode(ta.Ref()), refNode(tn.Ref()), refNode(tm.Ref())

	w0 := &worker{r: r}
	w0.ctx.Awaiter = w0
	sub1 := &worker{r: r, stand: true, outer: w0, claimer: a, awaits: []*core.Node{n}}
	sub1.ctx.Awaiter = sub1
	sub2 := &worker{r: r, stand: true, outer: sub1, claimer: n, awaits: []*core.Node{m}}
	sub2.ctx.Awaiter = sub2
	for _, on := range []struct {
		n *core.Node
		w *worker
	}{{a, w0}, {n, sub1}, {m, sub2}} {
		if !on.n.CAS(core.Ready, core.Running) {
			t.Fatalf("%s is %v, want ready", on.n.Name(), on.n.State())
		}
		on.n.SetHost(&on.w.ctx)
	}

	chain, ws := chainOf(sub2, m)
	wantChain := []claim{{n, []*core.Node{m}}, {a, []*core.Node{n}}}
	if !slices.EqualFunc(chain, wantChain, sameClaim) || !slices.Equal(ws, []*worker{sub2, sub1, w0}) {
		t.Fatalf("while every claim runs: chain %v, %d workers; want n's then a's claim, and sub2, sub1, w0", claimers(chain), len(ws))
	}

	// n returns; sub1 still names a's claim until the goroutine that ran n
	// clears it.
	if !n.CAS(core.Running, core.Done) {
		t.Fatalf("n is %v, want running", n.State())
	}
	chain, ws = chainOf(sub2, m)
	if !slices.EqualFunc(chain, wantChain[:1], sameClaim) || !slices.Equal(ws, []*worker{sub2}) {
		t.Errorf("after n returned: chain %v, %d workers; want n's claim alone, and sub2 alone", claimers(chain), len(ws))
	}

	// m returns too: a wait it began parks inside no claim.
	if !m.CAS(core.Running, core.Done) {
		t.Fatalf("m is %v, want running", m.State())
	}
	if chain, ws = chainOf(sub2, m); chain != nil || ws != nil {
		t.Errorf("after m returned: chain %v, %d workers; want none", claimers(chain), len(ws))
	}
}

func sameClaim(x, y claim) bool { return x.claimer == y.claimer && slices.Equal(x.awaits, y.awaits) }

// claimers names the claimers of a chain, for messages.
func claimers(chain []claim) []string {
	var out []string
	for _, c := range chain {
		out = append(out, c.claimer.Name())
	}
	return out
}
