package workload

import (
	"context"
	"sync/atomic"
)

// Held counts items held in a run: parsed and not yet processed, as
// [Schedule.PeakHeld] counts them in a model. [Parse] and [Process] count
// in the Held that their context carries (see [WithHeld]), so every way of
// running the workload is measured alike without changing how it builds
// or schedules its tasks. The zero value is ready to use; a Held is safe
// for concurrent use.
//
// Counting costs two atomic operations per call, plus a compare-and-swap
// when a parse raises the peak: nothing waits, so measuring does not
// change which task runs when.
type Held struct {
	now  atomic.Int64
	peak atomic.Int64
}

// Peak returns the largest number of items held at once so far.
func (h *Held) Peak() int { return int(h.peak.Load()) }

// Now returns the number of items held now.
func (h *Held) Now() int { return int(h.now.Load()) }

// parsed counts n more items held, after a parse returned them.
func (h *Held) parsed(n int) {
	// The counter's values form one sequence (each Add returns the value it
	// made), so the largest of them is the peak, whatever the interleaving.
	v := h.now.Add(int64(n))
	for {
		p := h.peak.Load()
		if v <= p || h.peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// processed counts one item fewer held, after its process call.
func (h *Held) processed() { h.now.Add(-1) }

// heldKey is the context key of the Held that Parse and Process count in.
type heldKey struct{}

// WithHeld returns a copy of ctx in which Parse and Process count in h.
// Contexts derived from it (the contexts an executor gives the tasks of a
// run started with it) count there too.
func WithHeld(ctx context.Context, h *Held) context.Context {
	return context.WithValue(ctx, heldKey{}, h)
}

// heldIn returns the Held ctx carries, or nil.
func heldIn(ctx context.Context) *Held {
	h, _ := ctx.Value(heldKey{}).(*Held)
	return h
}
