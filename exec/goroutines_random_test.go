package exec_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestRandomTaskGoroutines: tasks add children without the graph's lock
// (kept by their worker, out of the run's count: exec's kept.go) and
// start goroutines that wait for some of them, running them on the task's
// slot when they can, or cancel one; the task may cancel one itself as it
// adds them, and it waits for none, some
// or all of them and returns, so that a goroutine of a task may still
// wait, or run a child, after the task returned. Children add children of
// their own and wait for them, as fib does. What it checks: the run
// returns; when it does, every task is finished; a child ends cancelled
// only if a Cancel said so, and with its value otherwise; the run reports
// exactly the cancelled ones; each goroutine's wait returns nil, or
// graph.ErrTaskReturned if it began after its task returned, or the run's
// context's error once the run ended.
//
// EVOLVE_GOROUTINES_SEEDS (default 200) and EVOLVE_GOROUTINES_FROM
// (default 1) set the seeds.
func TestRandomTaskGoroutines(t *testing.T) {
	seeds, from := envInt(t, "EVOLVE_GOROUTINES_SEEDS", 200), envInt(t, "EVOLVE_GOROUTINES_FROM", 1)
	if testing.Short() {
		seeds = min(seeds, 30)
	}
	for seed := from; seed < from+seeds; seed++ {
		if !goroutinesSeed(t, uint64(seed)) {
			t.Fatalf("seed %d failed: replay with EVOLVE_GOROUTINES_FROM=%d EVOLVE_GOROUTINES_SEEDS=1", seed, seed)
		}
	}
}

// grKid is a child of TestRandomTaskGoroutines: what it returns unless
// cancelled, and whether a Cancel said it would be.
type grKid struct {
	h         graph.Task[int]
	want      int
	cancelled atomic.Bool
}

// grHelper is a goroutine a task starts: the children it waits for, and
// the one it cancels first (-1: none).
type grHelper struct {
	wait   []int
	cancel int
}

func goroutinesSeed(t *testing.T, seed uint64) bool {
	return t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, 0))
		workers := 1 + rng.IntN(3)
		g := graph.New()
		var (
			helpers sync.WaitGroup
			mu      sync.Mutex
			kids    []*grKid
			waitErr []error
		)
		for r := range 1 + rng.IntN(3) {
			// The task's choices, drawn before the run, so that the seed
			// fixes the workload.
			nk := 1 + rng.IntN(6)
			grand := make([]int, nk)
			for i := range grand {
				grand[i] = rng.IntN(3)
			}
			plans := make([]grHelper, rng.IntN(4))
			for i := range plans {
				plans[i] = grHelper{wait: rng.Perm(nk)[:rng.IntN(nk+1)], cancel: -1}
				if rng.IntN(4) == 0 {
					plans[i].cancel = rng.IntN(nk)
				}
			}
			own := rng.Perm(nk)[:[]int{0, rng.IntN(nk + 1), nk}[rng.IntN(3)]]
			selfCancel := -1 // a child the task cancels as soon as it added it
			if rng.IntN(4) == 0 {
				selfCancel = rng.IntN(nk)
			}
			graph.Add(g, "task", func(ctx context.Context) (int, error) {
				if err := warm(ctx); err != nil {
					return 0, err
				}
				s := dynamic.Scope(ctx)
				ks := make([]*grKid, nk)
				for i := range ks {
					k := &grKid{want: 1000*r + 10*i + grand[i]*(grand[i]-1)/2}
					k.h = graph.Add(s, "kid", func(ctx context.Context) (int, error) {
						gs := make([]graph.Task[int], grand[i])
						for j := range gs {
							gs[j] = graph.Add(dynamic.Scope(ctx), "grandkid", func(context.Context) (int, error) { return j, nil })
						}
						if err := dynamic.WaitAll(ctx, gs...); err != nil {
							return 0, err
						}
						sum := 1000*r + 10*i
						for _, h := range gs {
							v, err := h.Result()
							if err != nil {
								return 0, err
							}
							sum += v
						}
						return sum, nil
					})
					ks[i] = k
					if i == selfCancel && k.h.Cancel() {
						k.cancelled.Store(true)
					}
				}
				mu.Lock()
				kids = append(kids, ks...)
				mu.Unlock()
				for _, p := range plans {
					helpers.Go(func() {
						if p.cancel >= 0 && ks[p.cancel].h.Cancel() {
							ks[p.cancel].cancelled.Store(true)
						}
						hs := make([]graph.Task[int], len(p.wait))
						for i, k := range p.wait {
							hs[i] = ks[k].h
						}
						// Begun after the task returned, the wait fails; begun
						// or going on after the run ended, it returns the
						// run's context's error.
						err := dynamic.WaitAll(ctx, hs...)
						if err != nil && !errors.Is(err, graph.ErrTaskReturned) && !errors.Is(err, context.Canceled) {
							mu.Lock()
							waitErr = append(waitErr, err)
							mu.Unlock()
						}
					})
				}
				hs := make([]graph.Task[int], len(own))
				for i, k := range own {
					hs[i] = ks[k].h
				}
				return 0, dynamic.WaitAll(ctx, hs...)
			})
		}
		err := runGuarded(t, t.Context(), g, exec.Workers(workers))
		// When Run returns, every task of the run has finished, whatever
		// the goroutines still do.
		mu.Lock()
		for i, k := range kids {
			if s := k.h.State(); !s.Terminal() {
				t.Errorf("workers %d: kid %d is %v when Run returned", workers, i, s)
			}
		}
		mu.Unlock()
		done := make(chan struct{})
		go func() { helpers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(liveness):
			t.Fatalf("workers %d: the tasks' goroutines did not return within %v", workers, liveness)
		}
		for _, err := range waitErr {
			t.Errorf("workers %d: a goroutine's wait: %v", workers, err)
		}
		cancelled := 0
		for i, k := range kids {
			v, kerr := k.h.Result()
			switch {
			case k.cancelled.Load():
				cancelled++
				if !errors.Is(kerr, graph.ErrCancelled) {
					t.Errorf("workers %d: kid %d, cancelled: %v, %v", workers, i, v, kerr)
				}
			case kerr != nil || v != k.want:
				t.Errorf("workers %d: kid %d: %v, %v; want %d", workers, i, v, kerr, k.want)
			}
		}
		var ee *exec.Error
		switch {
		case cancelled == 0 && err != nil:
			t.Errorf("workers %d: Run = %v; want nil", workers, err)
		case cancelled > 0 && (!errors.As(err, &ee) || ee.Cancelled != cancelled || ee.Failed != 0 || ee.Skipped != 0):
			t.Errorf("workers %d: Run = %v; want an *exec.Error with %d cancelled", workers, err, cancelled)
		}
	})
}
