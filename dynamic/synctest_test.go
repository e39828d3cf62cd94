package dynamic_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestWorkflowInSynctestBubble is the README's sample of testing a
// workflow in a testing/synctest bubble, kept here so that it runs. In a
// bubble, time.Sleep, timers and time.Now use a fake clock that jumps
// ahead whenever every goroutine in the bubble is blocked: the workflow's
// seconds of sleeps take microseconds of real time, and each task starts
// at the same exact instant of that clock in every run.
func TestWorkflowInSynctestBubble(t *testing.T) {
	run := func() map[string]time.Duration {
		starts := map[string]time.Duration{}
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			begin := time.Now()
			record := exec.ObserverFunc(func(e exec.Event) {
				if e.Kind == exec.EventStarted {
					mu.Lock()
					defer mu.Unlock()
					starts[e.Task.Name()] = e.Time.Sub(begin) // on the bubble's clock
				}
			})
			// Three files; parsing file i yields i+1 items, which its task
			// adds and gathers.
			g := graph.New()
			for i, parse := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
				graph.Add(g, fmt.Sprint("file", i), func(ctx context.Context) ([]int, error) {
					time.Sleep(parse) // no real time passes
					var items []graph.Task[int]
					for j := range i + 1 {
						items = append(items, graph.Add(dynamic.Scope(ctx), fmt.Sprintf("item%d.%d", i, j), func(context.Context) (int, error) {
							time.Sleep(time.Duration(100*i+10*j+7) * time.Millisecond)
							return j, nil
						}, graph.Priority(10)))
					}
					return dynamic.Gather(ctx, dynamic.Raise, items...)
				})
			}
			if err := exec.Run(t.Context(), g, exec.Workers(2), exec.Observe(record)); err != nil {
				t.Fatal(err)
			}
		})
		return starts
	}
	first, second := run(), run()
	if !maps.Equal(first, second) {
		t.Errorf("tasks started at other instants the second time:\n%v\n%v", first, second)
	}
	if got := first["item1.0"]; got != time.Second { // the instant file1's parse ended
		t.Errorf("item1.0 started at %v, want 1s", got)
	}
}

// TestREADMESynctestSample is the README's "Testing your workflows in fake
// time" sample, word for word, so that the README cannot drift from it.
func TestREADMESynctestSample(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := graph.New()
		parse := graph.Add(g, "parse", func(ctx context.Context) (int, error) {
			time.Sleep(3 * time.Second) // no real time passes
			return 42, nil
		})
		begin := time.Now()
		if err := exec.Run(t.Context(), g, exec.Workers(2)); err != nil {
			t.Fatal(err)
		}
		if v, _ := parse.Result(); v != 42 || time.Since(begin) != 3*time.Second {
			t.Errorf("got %d after %v", v, time.Since(begin))
		}
	})
}
