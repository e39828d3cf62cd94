package viz

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/evolve-dag/evolve/graph"
)

// allStates lists every state in the order legends and tallies use: the
// order of a task's life.
var allStates = []graph.State{
	graph.Idle, graph.Waiting, graph.Ready, graph.Running, graph.Joining,
	graph.Done, graph.Released, graph.Failed, graph.Skipped, graph.Cancelled,
}

// fills are the fill colours of the states: greys for tasks that did not
// run, yellows while they wait, blues while they run, greens when they
// succeeded, red when they failed. Pale tones keep black labels readable.
var fills = map[graph.State]string{
	graph.Idle:      "#ffffff",
	graph.Waiting:   "#fff3bf",
	graph.Ready:     "#ffd43b",
	graph.Running:   "#74c0fc",
	graph.Joining:   "#a5d8ff",
	graph.Done:      "#8ce99a",
	graph.Released:  "#d3f9d8",
	graph.Failed:    "#ff8787",
	graph.Skipped:   "#dee2e6",
	graph.Cancelled: "#adb5bd",
}

// legendName is the word a legend uses for a state. Idle reads as
// "pending" because before a run every task is idle, and "idle" would
// suggest a worker with nothing to do.
func legendName(s graph.State) string {
	if s == graph.Idle {
		return "pending"
	}
	return s.String()
}

// maxErrLen bounds the error text shown in a node, in runes: enough to
// recognise the error, short enough not to widen the layout. The whole
// first line is in the tooltip.
const maxErrLen = 60

// firstLine returns the first line of s, cleaned for a label and cut to n
// runes with an ellipsis.
func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	s = clean(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// errLine is what a box says about a task's error: the first line of it,
// or, for a task skipped because an input failed, which input (the whole
// message repeats the input's error, already shown in the input's box).
func errLine(err error) string {
	var se *graph.SkipError
	if errors.As(err, &se) {
		return firstLine(fmt.Sprintf("input %q failed", se.Failed), maxErrLen)
	}
	return firstLine(err.Error(), maxErrLen)
}

// clean replaces control characters, which DOT cannot spell in a quoted
// string (Go's %q quoting, used by emicklei/dot, would write escapes DOT
// does not know), with spaces.
func clean(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// fmtDur formats d with three significant digits (1.23s, 45.6ms, 789µs),
// which is as precise as a glance at a drawing can use.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Microsecond:
		return d.String()
	}
	r := time.Duration(1)
	for x := d; x >= 1000; x /= 10 {
		r *= 10
	}
	return d.Round(r).String()
}

// stripes returns a fillcolor list for graphviz's striped style showing the
// share of each state in tally. Every state present gets at least a sliver
// (minShare), so a single failure among thousands still shows.
func stripes(tally *[nStates]int) string {
	const minShare = 0.04
	total := 0
	for _, k := range tally {
		total += k
	}
	var shares []float64
	var colours []string
	sum := 0.0
	for _, s := range allStates {
		if k := tally[s]; k > 0 {
			f := max(float64(k)/float64(total), minShare)
			shares = append(shares, f)
			colours = append(colours, fills[s])
			sum += f
		}
	}
	parts := make([]string, len(shares))
	for i, f := range shares {
		// Scaled to 0.999 in all: graphviz warns when shares exceed 1
		// after its own rounding.
		parts[i] = fmt.Sprintf("%s;%.3f", colours[i], f*0.999/sum)
	}
	return strings.Join(parts, ":")
}

// nStates is the number of task states; State values are 0 to nStates-1.
const nStates = 10
