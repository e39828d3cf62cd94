package dynamic_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// TestUntilWaitsForTheRunsEnd: with Until, an as-completed loop whose
// producers add tasks over time, from two goroutines, yields every task
// exactly once and ends only when the run has ended; without it, the loop
// would end at the first moment nothing is pending.
func TestUntilWaitsForTheRunsEnd(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(2))
	ctx, cancel := context.WithTimeout(t.Context(), liveness)
	defer cancel()

	var c dynamic.Completed[graph.Task[int]]
	c.Until(e)
	const producers, each = 2, 20
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				v := p*each + i
				c.Add(graph.Add(g, "t", func(context.Context) (int, error) { return v, nil }))
				time.Sleep(100 * time.Microsecond) // gaps in which nothing is pending
			}
		})
	}
	go func() { wg.Wait(); e.Close() }()

	seen := map[int]int{}
	for task, err := range c.All(ctx) {
		if err != nil {
			t.Fatalf("All: %v", err)
		}
		v, err := task.Result()
		if err != nil {
			t.Fatalf("Result: %v", err)
		}
		seen[v]++
	}
	select {
	case <-e.Done():
	default:
		t.Error("the loop ended before the run did")
	}
	if len(seen) != producers*each {
		t.Errorf("yielded %d distinct tasks; want %d", len(seen), producers*each)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("task %d yielded %d times; want once", v, n)
		}
	}
}

// TestUntilEndedRun: after Until with a run that has ended, the loop yields
// what was added and ends; Until(nil) makes Next fail, naming the call.
func TestUntilEndedRun(t *testing.T) {
	g := graph.New()
	a := graph.Add(g, "a", func(context.Context) (int, error) { return 1, nil })
	e := start(t, g)
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
	c := dynamic.AsCompleted(a)
	c.Until(e)
	n := 0
	for _, err := range c.All(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("yielded %d tasks; want 1", n)
	}

	var nilUntil dynamic.Completed[graph.Ref]
	nilUntil.Until(nil)
	if _, ok, err := nilUntil.Next(t.Context()); ok || err == nil {
		t.Errorf("Next after Until(nil) = %v, %v; want an error", ok, err)
	}
}

// TestUntilInsideTheRunDeadlocks: inside a task of the run, a Next that
// would wait for the run's end returns a *graph.DeadlockError at once (the
// run cannot end while the task waits); one with tasks pending waits for
// them as usual, giving the slot back.
func TestUntilInsideTheRunDeadlocks(t *testing.T) {
	g := graph.New()
	e := start(t, g, exec.Workers(1))
	var got []error
	var yielded int
	waiter := graph.Add(g, "waiter", func(ctx context.Context) (int, error) {
		var c dynamic.Completed[graph.Task[int]]
		c.Until(e)
		c.Add(graph.Add(dynamic.Scope(ctx), "kid", func(context.Context) (int, error) { return 1, nil }))
		for _, err := range c.All(ctx) {
			if err != nil {
				got = append(got, err)
				break
			}
			yielded++
		}
		return 0, nil
	})
	e.Close()
	if err := finish(t, e); err != nil {
		t.Fatal(err)
	}
	if waiter.Err() != nil {
		t.Fatal(waiter.Err())
	}
	var de *graph.DeadlockError
	if yielded != 1 || len(got) != 1 || !errors.As(got[0], &de) || de.Cycle[0] != "waiter" {
		t.Errorf("inside the run: yielded %d, errors %v; want 1 and a *DeadlockError naming waiter", yielded, got)
	}
}
