package exec_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// flaky returns a task function that fails its first `failures` attempts
// and then returns 1, counting attempts.
func flaky(failures int32, attempts *atomic.Int32) func(context.Context) (int, error) {
	return func(context.Context) (int, error) {
		if attempts.Add(1) <= failures {
			return 0, errBoom
		}
		return 1, nil
	}
}

// TestRetriesUntilSuccess: a task failing twice succeeds with two retries,
// after three attempts and two retried events carrying the error.
func TestRetriesUntilSuccess(t *testing.T) {
	var attempts atomic.Int32
	rec := &recorder{}
	g := graph.New()
	h := graph.Add(g, "flaky", flaky(2, &attempts), graph.Retries(2, time.Millisecond))
	if err := runGuarded(t, t.Context(), g, exec.Observe(rec)); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if v, err := h.Result(); v != 1 || err != nil {
		t.Fatalf("Result = %v, %v", v, err)
	}
	if n := attempts.Load(); n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
	if n := rec.count(exec.EventRetried, "flaky"); n != 2 {
		t.Fatalf("%d retried events, want 2", n)
	}
	for _, e := range rec.all() {
		if e.Kind == exec.EventRetried && !errors.Is(e.Err, errBoom) {
			t.Fatalf("retried event with error %v, want the attempt's error", e.Err)
		}
	}
	if n := rec.count(exec.EventStarted, "flaky"); n != 1 {
		t.Fatalf("%d started events, want 1 (retries are not new starts)", n)
	}
}

// TestRetriesExhausted: with one retry, a task failing twice fails with
// its error after two attempts.
func TestRetriesExhausted(t *testing.T) {
	var attempts atomic.Int32
	rec := &recorder{}
	g := graph.New()
	h := graph.Add(g, "flaky", flaky(2, &attempts), graph.Retries(1, time.Millisecond))
	err := runGuarded(t, t.Context(), g, exec.Observe(rec))
	if !errors.Is(err, errBoom) || !errors.Is(h.Err(), errBoom) || h.State() != graph.Failed {
		t.Fatalf("Run = %v, task %v with %v; want failed with the error", err, h.State(), h.Err())
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
	if n := rec.count(exec.EventRetried, "flaky"); n != 1 {
		t.Fatalf("%d retried events, want 1", n)
	}
}

// TestPanicIsNotRetried: a panic fails the task at once, retries or not.
func TestPanicIsNotRetried(t *testing.T) {
	var attempts atomic.Int32
	g := graph.New()
	h := graph.Add(g, "p", func(context.Context) (int, error) { attempts.Add(1); panic("no") }, graph.Retries(3, 0))
	_ = runGuarded(t, t.Context(), g)
	var pe *graph.PanicError
	if !errors.As(h.Err(), &pe) || attempts.Load() != 1 {
		t.Fatalf("%d attempts, error %v; want 1 attempt and a *graph.PanicError", attempts.Load(), h.Err())
	}
}

// TestTimeoutExpiresTaskContext: a task blocking on its context under
// Timeout fails with context.DeadlineExceeded, and the run goes on.
func TestTimeoutExpiresTaskContext(t *testing.T) {
	g := graph.New()
	h := graph.Add(g, "slow", func(ctx context.Context) (int, error) { return 0, blockUntil(ctx, nil) }, graph.Timeout(5*time.Millisecond))
	other := graph.Add(g, "other", func(context.Context) (int, error) { return 2, nil })
	err := runGuarded(t, t.Context(), g)
	if !errors.Is(h.Err(), context.DeadlineExceeded) || h.State() != graph.Failed {
		t.Fatalf("slow: %v with %v; want failed with context.DeadlineExceeded", h.State(), h.Err())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run = %v, want it to reach context.DeadlineExceeded", err)
	}
	if v, err := other.Result(); v != 2 || err != nil {
		t.Fatalf("other: %v, %v", v, err)
	}
}

// TestTimeoutAppliesPerAttempt: each attempt gets a fresh timeout, so a
// task that times out once and then answers at once succeeds on retry.
func TestTimeoutAppliesPerAttempt(t *testing.T) {
	var attempts atomic.Int32
	g := graph.New()
	h := graph.Add(g, "t", func(ctx context.Context) (int, error) {
		if attempts.Add(1) == 1 {
			return 0, blockUntil(ctx, nil)
		}
		return 3, ctx.Err()
	}, graph.Timeout(5*time.Millisecond), graph.Retries(1, 0))
	if err := runGuarded(t, t.Context(), g); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if v, err := h.Result(); v != 3 || err != nil || attempts.Load() != 2 {
		t.Fatalf("Result = %v, %v after %d attempts; want 3 after 2", v, err, attempts.Load())
	}
}
