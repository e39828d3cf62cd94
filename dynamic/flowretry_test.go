package dynamic_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestRandomFlowRetries runs seeded random graphs of flows that fail and
// are retried while what their failed attempts emitted still runs, or has
// failed, or has finished; whose last attempt returns a task it emitted,
// a task an earlier attempt emitted, or a task another flow emitted; and
// flows that emit a task and return it for others to take. Every flow
// must end with its last attempt's result, and the run must end. It
// covers what the stress mixes do not (their flows have no retries and
// return their own tasks): a Retry lets go of its own attempt's tasks
// and of nothing else (see core's joinsCreator).
//
// EVOLVE_FLOWRETRY_SEEDS sets how many seeds run (default 200), from
// EVOLVE_FLOWRETRY_FROM (default 0).
func TestRandomFlowRetries(t *testing.T) {
	seeds := stressEnv(t, "EVOLVE_FLOWRETRY_SEEDS", 200, 1)
	from := stressEnv(t, "EVOLVE_FLOWRETRY_FROM", 0, 0)
	for seed := uint64(from); seed < uint64(from+seeds); seed++ {
		for _, workers := range []int{1, 2, 4} {
			if t.Failed() {
				return
			}
			runFlowRetries(t, seed, workers)
		}
	}
}

func runFlowRetries(t *testing.T, seed uint64, workers int) {
	rng := rand.New(rand.NewPCG(seed, 0xf10))
	g := graph.New()
	// shared holds tasks that helper flows emitted, for retried flows to
	// return: value i+1000 each.
	var (
		mu     sync.Mutex
		shared []graph.Task[int]
		values []int
	)
	sleep := func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(200)) * time.Microsecond }
	helpers := 1 + rng.IntN(3)
	for i := range helpers {
		d := sleep(rng)
		graph.Flow(g, fmt.Sprintf("helper%d", i), func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
			e := graph.Add(b, "shared", func(context.Context) (int, error) {
				time.Sleep(d)
				return 1000 + i, nil
			})
			mu.Lock()
			shared, values = append(shared, e), append(values, 1000+i)
			mu.Unlock()
			return e, nil
		})
	}
	type retried struct {
		flow graph.Task[int]
		want atomic.Int64 // the last attempt's result, once it ran
	}
	flows := make([]*retried, 2+rng.IntN(4))
	for j := range flows {
		f := &retried{}
		flows[j] = f
		fails := 1 + rng.IntN(2)
		r := rand.New(rand.NewPCG(seed, uint64(j)))
		var attempt atomic.Int64
		var earlier []graph.Task[int] // guarded by the flow's attempts running one at a time
		f.flow = graph.Flow(g, fmt.Sprintf("retried%d", j), func(_ context.Context, b graph.Builder) (graph.Task[int], error) {
			a := int(attempt.Add(1))
			// Each attempt emits tasks: slow, failing or quick.
			for k := range 1 + r.IntN(3) {
				d, fail := sleep(r), r.IntN(4) == 0 && a <= fails
				v := 100*a + k
				earlier = append(earlier, graph.Add(b, "emitted", func(context.Context) (int, error) {
					time.Sleep(d)
					if fail {
						return 0, errors.New("emitted task fails")
					}
					return v, nil
				}))
			}
			if a <= fails {
				return graph.Task[int]{}, fmt.Errorf("attempt %d fails", a)
			}
			switch r.IntN(3) {
			case 0: // another flow's task, if one was emitted yet
				mu.Lock()
				defer mu.Unlock()
				if len(shared) > 0 {
					k := r.IntN(len(shared))
					f.want.Store(int64(values[k]))
					return shared[k], nil
				}
			case 1: // an earlier attempt's task, if it succeeds
				for _, e := range earlier[:len(earlier)-1] {
					if v, err := e.Result(); err == nil {
						f.want.Store(int64(v))
						return e, nil
					}
				}
			}
			f.want.Store(int64(7 * a))
			return graph.Add(b, "last", func(context.Context) (int, error) { return 7 * a, nil }), nil
		}, graph.Retries(fails, 0))
	}
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	err := exec.Run(ctx, g, exec.Workers(workers))
	if ctx.Err() != nil {
		t.Fatalf("seed %d, %d workers: the run did not end within %v: %v", seed, workers, liveness, err)
	}
	for j, f := range flows {
		v, ferr := f.flow.Result()
		if ferr != nil || int64(v) != f.want.Load() {
			t.Fatalf("seed %d, %d workers: flow %d = %d, %v; want %d (run: %v)", seed, workers, j, v, ferr, f.want.Load(), err)
		}
	}
}
