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
// workflow in a testing/synctest bubble, kept here so that it runs: in a
// bubble, time.Sleep and timers use a fake clock that jumps ahead whenever
// every goroutine in the bubble is blocked, so a workflow of long sleeps
// runs in microseconds of real time, and each task starts at the same
// instant of that clock every time. The test runs the workflow twice and
// checks that each task started at the same fake instant both times.
func TestWorkflowInSynctestBubble(t *testing.T) {
	run := func() (starts map[string]time.Duration, total int) {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			starts = map[string]time.Duration{}
			begin := time.Now()
			record := exec.ObserverFunc(func(e exec.Event) {
				if e.Kind == exec.EventStarted {
					mu.Lock()
					defer mu.Unlock()
					starts[e.Task.Name()] = e.Time.Sub(begin) // the bubble's time
				}
			})

			// Three files: parsing one takes a while and yields i+1 items,
			// which its task adds and gathers (tasks from tasks).
			g := graph.New()
			var files []*graph.Task[[]int]
			for i, parse := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
				files = append(files, graph.Go(g, fmt.Sprint("file", i), func(ctx context.Context) ([]int, error) {
					time.Sleep(parse) // fake: no real time passes
					scope := dynamic.Scope(ctx)
					var items []*graph.Task[int]
					for j := range i + 1 {
						items = append(items, graph.Go(scope, fmt.Sprintf("item%d.%d", i, j), func(context.Context) (int, error) {
							time.Sleep(time.Duration(100*i+10*j+7) * time.Millisecond)
							return 10*i + j, nil
						}, graph.Priority(10)))
					}
					return dynamic.Gather(ctx, items, dynamic.Raise)
				}))
			}
			if err := exec.Run(t.Context(), g, exec.Workers(2), exec.Observe(record)); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				xs, _ := f.Result()
				total += len(xs)
			}
		})
		return starts, total
	}

	first, n1 := run()
	second, n2 := run()
	if n1 != 6 || n2 != 6 {
		t.Errorf("got %d and %d results, want 6", n1, n2)
	}
	if len(first) != 9 || !maps.Equal(first, second) {
		t.Errorf("the tasks started at other instants the second time:\n%v\n%v", first, second)
	}
	// The fake clock is exact: file1's first item starts the instant
	// file1's parse ends.
	if got := first["item1.0"]; got != time.Second {
		t.Errorf("item1.0 started at %v, want 1s", got)
	}
}
