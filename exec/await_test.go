package exec_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/evolve-dag/evolve/dynamic"
	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// fib computes Fibonacci numbers by tasks that spawn two children and
// await them: nested fan-out as deep as n.
func fib(ctx context.Context, n int) (int, error) {
	if n < 2 {
		return n, nil
	}
	s := dynamic.Scope(ctx)
	x := graph.Add(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, n-1) })
	y := graph.Add(s, "fib", func(ctx context.Context) (int, error) { return fib(ctx, n-2) })
	if err := dynamic.WaitAll(ctx, x, y); err != nil {
		return 0, err
	}
	a, err1 := x.Result()
	b, err2 := y.Result()
	return a + b, errors.Join(err1, err2)
}

// TestAwaitNestedFanOutNeverDeadlocks runs fib(15), where every task waits
// for two children, in pools of one and two: waiting gives the slot back,
// so even one worker finishes.
func TestAwaitNestedFanOutNeverDeadlocks(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			g := graph.New()
			root := graph.Add(g, "fib", func(ctx context.Context) (int, error) { return fib(ctx, 15) })
			if err := runGuarded(t, t.Context(), g, exec.Workers(workers)); err != nil {
				t.Fatal(err)
			}
			if v, err := root.Result(); v != 610 || err != nil {
				t.Fatalf("fib(15) = %v, %v; want 610", v, err)
			}
			// fib(n) spawns 2*fib(n+1)-2 tasks: 1972 for n=15, plus the root.
			if n := g.Len(); n != 1973 {
				t.Fatalf("graph has %d tasks, want 1973", n)
			}
		})
	}
}

// TestAwaitOwnResultIsDeadlock: a task that waits for a task needing its
// own result gets a *graph.DeadlockError instead of hanging.
func TestAwaitOwnResultIsDeadlock(t *testing.T) {
	g := graph.New()
	var self graph.Task[int]
	self = graph.Add(g, "self", func(ctx context.Context) (int, error) {
		child := graph.Add1(dynamic.Scope(ctx), "child", self, func(_ context.Context, x int) (int, error) { return x, nil })
		_, err := child.Wait(ctx)
		return 0, err
	})
	_ = runGuarded(t, t.Context(), g, exec.Workers(1))
	var de *graph.DeadlockError
	if !errors.As(self.Err(), &de) {
		t.Fatalf("self: %v, want *graph.DeadlockError", self.Err())
	}
}

// TestCycleThroughAClaimIsFound: a parent runs the child it awaits on its
// own goroutine (a claim), so that the parent is blocked while no wait of
// its own is parked. Another task, other, waits for the parent, and the
// child waits for other: a cycle child -> other -> parent -> child. The
// stall search follows the claim and ends the newest parked wait on the
// cycle, the child's, whichever wait parked last.
func TestCycleThroughAClaimIsFound(t *testing.T) {
	for round := range 20 {
		g := graph.New()
		started, otherRuns := make(chan struct{}), make(chan struct{})
		var parent, other, child graph.Task[int]
		var otherErr, childErr error
		parent = graph.Add(g, "parent", func(ctx context.Context) (int, error) {
			if err := blockUntil(ctx, otherRuns); err != nil { // so that the child cannot claim it
				return 0, err
			}
			child = graph.Add(dynamic.Scope(ctx), "child", func(ctx context.Context) (int, error) {
				close(started)
				_, childErr = other.Wait(ctx)
				return 0, childErr
			})
			return child.Wait(ctx)
		})
		other = graph.Add(g, "other", func(ctx context.Context) (int, error) {
			close(otherRuns)
			if err := blockUntil(ctx, started); err != nil {
				return 0, err
			}
			_, otherErr = parent.Wait(ctx)
			return 0, otherErr
		})
		if err := runGuarded(t, t.Context(), g, exec.Workers(2)); err == nil {
			t.Fatal("run succeeded; want the deadlock reported")
		}
		want := []string{"child", "other", "parent", "child"}
		var de *graph.DeadlockError
		if !errors.As(childErr, &de) || !slices.Equal(de.Cycle, want) {
			t.Fatalf("round %d: child's wait: %v; want a *graph.DeadlockError with cycle %q", round, childErr, want)
		}
		// other's wait returns the parent's failure, which is the child's
		// error passed on: the same error, not a second report.
		if d, ok := otherErr.(*graph.DeadlockError); ok && d != de {
			t.Fatalf("round %d: other's wait was ended too (%v): one cycle, one error", round, otherErr)
		}
	}
}
