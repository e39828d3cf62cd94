package viz

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

// Progress is an exec.Observer that draws a one-line progress bar for a
// long run: tasks ended of tasks seen, the rate, and the failures. The
// total grows as the graph does: it counts the tasks the run has reported
// (made ready or ended), so it runs ahead of the ended count only as far as
// the run has got. Use one Progress per run.
//
//	p := viz.NewProgress(os.Stderr)
//	defer p.Stop()
//	err := exec.Run(ctx, g, exec.Observe(p))
//
// It draws only on a terminal: when w is an *os.File that is not a
// character device, or is not an *os.File at all, it stays quiet (Observe
// returns at once and no goroutine starts) unless ForceProgress is given,
// so logs and CI output do not fill with carriage returns.
//
// Concurrency. Observe only counts, with atomics and a striped set of the
// task IDs seen; one goroutine, started by NewProgress when the bar is
// drawn, redraws it every interval, so a slow terminal never slows a
// worker. Stop ends that goroutine: call it once the run is over (a quiet
// Progress has no goroutine, and Stop on it does nothing). Events observed
// after Stop are counted but not drawn.
//
// Only NewProgress makes a Progress that draws: a nil or zero one is
// quiet, and its Stop does nothing.
type Progress struct {
	w      io.Writer // written only by the refresh goroutine, then by Stop after it ended
	every  time.Duration
	active bool
	start  time.Time

	ended, failed, skipped, cancelled atomic.Int64
	total                             atomic.Int64 // distinct tasks seen
	seen                              [nStripes]seenStripe

	stop     chan struct{} // closed by Stop
	finished chan struct{} // closed when the refresh goroutine returns
	once     sync.Once
}

// seenStripe is the set of IDs of one stripe (ID mod nStripes), as a
// bitset indexed by ID/nStripes; padded like the Recorder's stripes.
type seenStripe struct {
	mu   sync.Mutex
	bits []uint64 // guarded by mu
	_    [128 - 32]byte
}

// ProgressOption changes a Progress. The zero ProgressOption does nothing.
// A bad value makes NewProgress fail with an error that names the option
// call and wraps graph.ErrInvalidOption.
type ProgressOption struct {
	apply func(*Progress) error
}

// ForceProgress draws the bar whatever w is (a pipe, a file, a buffer).
func ForceProgress() ProgressOption {
	return ProgressOption{func(p *Progress) error { p.active = true; return nil }}
}

// ProgressEvery sets how often the bar is redrawn; the default is 200 ms,
// fast enough to look live and slow enough to cost nothing. A d that is not
// positive is a bad value.
func ProgressEvery(d time.Duration) ProgressOption {
	return ProgressOption{func(p *Progress) error {
		if d <= 0 {
			return invalid(fmt.Sprintf("ProgressEvery(%v)", d), "must be positive")
		}
		p.every = d
		return nil
	}}
}

// NewProgress returns a progress bar drawing on w; see Progress. With a nil
// w (or one holding a nil pointer) it stays quiet, even with ForceProgress.
// The error is a bad option's; then nothing is started.
func NewProgress(w io.Writer, opts ...ProgressOption) (*Progress, error) {
	p := &Progress{
		w:        w,
		every:    200 * time.Millisecond,
		active:   isTerminal(w),
		start:    time.Now(),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero ProgressOption
		}
		if err := o.apply(p); err != nil {
			return nil, err
		}
	}
	if isNil(w) {
		p.active = false // nothing to draw on
	}
	if !p.active {
		close(p.finished)
		return p, nil
	}
	go p.refresh()
	return p, nil
}

// isTerminal reports whether w is a character device, which is what a
// terminal is; no dependency needed for that much.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Observe counts e. It implements exec.Observer.
func (p *Progress) Observe(e exec.Event) {
	if p == nil || !p.active || e.Task == (graph.Ref{}) {
		return
	}
	if id := e.Task.ID(); id >= 0 && p.mark(id) {
		p.total.Add(1)
	}
	switch e.Kind {
	case exec.EventFinished:
		p.ended.Add(1)
	case exec.EventFailed:
		p.failed.Add(1)
		p.ended.Add(1)
	case exec.EventSkipped:
		p.skipped.Add(1)
		p.ended.Add(1)
	case exec.EventCancelled:
		p.cancelled.Add(1)
		p.ended.Add(1)
	}
}

// mark adds id to the set and reports whether it was new. A task is
// reported several times (ready, started, ended; a flow is ready twice), so
// the total counts IDs, not events.
func (p *Progress) mark(id int64) bool {
	s := &p.seen[id&(nStripes-1)]
	i := id / nStripes
	word, bit := int(i/64), uint64(1)<<(i%64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if word >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, word+1-len(s.bits))...)
	}
	if s.bits[word]&bit != 0 {
		return false
	}
	s.bits[word] |= bit
	return true
}

// Stop stops redrawing and draws the bar a last time, ending its line. It
// is safe to call more than once.
func (p *Progress) Stop() {
	if p == nil || p.stop == nil {
		return // not made by NewProgress: nothing draws
	}
	p.once.Do(func() {
		close(p.stop)
		<-p.finished
		if p.active {
			fmt.Fprintf(p.w, "\r%s\x1b[K\n", p.line(time.Since(p.start)))
		}
	})
}

// refresh redraws the bar until Stop.
func (p *Progress) refresh() {
	defer close(p.finished)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			// "\r" returns to the line's start; "\x1b[K" clears what a longer
			// previous line left.
			fmt.Fprintf(p.w, "\r%s\x1b[K", p.line(time.Since(p.start)))
		}
	}
}

// line is the bar as it stands after elapsed.
func (p *Progress) line(elapsed time.Duration) string {
	ended := p.ended.Load()
	total := p.total.Load() // after ended: a task is seen before it is counted as ended
	return progressLine(progressCounts{
		ended: ended, total: max(total, ended),
		failed: p.failed.Load(), skipped: p.skipped.Load(), cancelled: p.cancelled.Load(),
	}, elapsed)
}

type progressCounts struct {
	ended, total, failed, skipped, cancelled int64
}

// barWidth is the bar's width in characters; with the counts the line
// fits an 80-column terminal.
const barWidth = 24

// progressLine formats a bar; it is separate from Progress so that its
// output can be tested exactly.
func progressLine(c progressCounts, elapsed time.Duration) string {
	frac := 0.0
	if c.total > 0 {
		frac = float64(c.ended) / float64(c.total)
	}
	full := int(frac * barWidth)
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(strings.Repeat("#", full))
	b.WriteString(strings.Repeat("-", barWidth-full))
	fmt.Fprintf(&b, "] %d/%d %3.0f%%", c.ended, c.total, 100*frac)
	if s := elapsed.Seconds(); s > 0 {
		switch rate := float64(c.ended) / s; {
		case rate < 1:
			fmt.Fprintf(&b, " %.2f/s", rate)
		case rate < 10:
			fmt.Fprintf(&b, " %.1f/s", rate)
		default:
			fmt.Fprintf(&b, " %.0f/s", rate)
		}
	}
	for _, x := range []struct {
		k    int64
		word string
	}{{c.failed, "failed"}, {c.skipped, "skipped"}, {c.cancelled, "cancelled"}} {
		if x.k > 0 {
			fmt.Fprintf(&b, " %d %s", x.k, x.word)
		}
	}
	if elapsed < time.Minute {
		elapsed = elapsed.Round(100 * time.Millisecond)
	} else {
		elapsed = elapsed.Round(time.Second)
	}
	b.WriteString(" " + elapsed.String())
	return b.String()
}
