package viz

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evolve-dag/evolve/graph"
)

// group is the tasks that one box of a summary stands for: same name,
// added by tasks of the same group (or from outside any task).
type group struct {
	name    string
	creator int // the creators' group; -1 for tasks added from outside
	count   int
	tally   [nStates]int
	pmin    int
	pmax    int
	durSum  time.Duration
	durN    int
	durMax  time.Duration
	names   []string // the first few distinct names, when not grouped by name
	more    bool     // names has been cut short
	err     string   // what the first failed or cancelled task says
	skipErr string   // what the first skipped task says, shown when no task failed
	roots   bool     // some task of the group has no inputs
}

// summarise folds tasks into groups. A task's group is its name and its
// creator's group, so the tasks that 1,000 "parse" tasks added, 100 each,
// named "item", make one box "item ×100000" in the cluster of the one box
// "parse ×1000"; nested growth folds the same way, level by level. The
// drawing's size depends on the number of task kinds, not of tasks: that
// is what keeps a 100k-task graph quick to lay out.
//
// Tasks with the same name under different kinds of creator stay apart,
// since they did different jobs. Names that embed an index ("file-17")
// defeat the folding: give tasks of one kind one name. Should that still
// leave more groups than the threshold, tasks fold by creator group alone,
// whatever their names, so that the drawing stays one graphviz can lay
// out.
func summarise(tasks []graph.Ref, c *config) *drawing {
	limit := max(c.summaryAbove, DefaultSummaryAbove)
	if groups, edges := fold(tasks, c, true); len(groups) <= limit {
		return groupDrawing(groups, edges, c)
	}
	groups, edges := fold(tasks, c, false)
	return groupDrawing(groups, edges, c)
}

// maxNames is how many names a group folded regardless of names lists.
const maxNames = 3

// fold groups tasks by creator group and, if byName, by name.
func fold(tasks []graph.Ref, c *config, byName bool) ([]group, map[[2]int]int) {
	type key struct {
		name    string
		creator int
	}
	var groups []group
	byKey := map[key]int{}
	// pos maps a task ID to its group. IDs are dense creation numbers, so a
	// slice serves; a creator always has a smaller ID than what it added.
	var maxID int64
	for _, t := range tasks {
		maxID = max(maxID, t.ID())
	}
	of := make([]int32, maxID+1)
	for i := range of {
		of[i] = -1
	}
	groupOf := func(r graph.Ref) int {
		if r == (graph.Ref{}) || r.ID() < 0 || r.ID() > maxID {
			return -1
		}
		return int(of[r.ID()])
	}
	edges := map[[2]int]int{}
	for _, t := range tasks {
		k := key{creator: groupOf(t.Creator())}
		if byName {
			k.name = t.Name()
		}
		gi, ok := byKey[k]
		if !ok {
			gi = len(groups)
			byKey[k] = gi
			groups = append(groups, group{name: k.name, creator: k.creator, pmin: t.Priority(), pmax: t.Priority()})
		}
		of[t.ID()] = int32(gi)
		gr := &groups[gi]
		if !byName && !gr.more && !slices.Contains(gr.names, t.Name()) {
			if len(gr.names) < maxNames {
				gr.names = append(gr.names, t.Name())
			} else {
				gr.more = true
			}
		}
		gr.count++
		gr.pmin, gr.pmax = min(gr.pmin, t.Priority()), max(gr.pmax, t.Priority())
		ins := uniqueInputs(t.Inputs())
		if len(ins) == 0 {
			gr.roots = true
		}
		for _, in := range ins {
			if from := groupOf(in); from >= 0 {
				edges[[2]int{from, gi}]++
			}
		}
		if c.states {
			s := t.State()
			gr.tally[s]++
			switch {
			case gr.err == "" && (s == graph.Failed || s == graph.Cancelled):
				if err := t.Err(); err != nil {
					gr.err = errLine(err)
				}
			case gr.skipErr == "" && s == graph.Skipped:
				if err := t.Err(); err != nil {
					gr.skipErr = errLine(err)
				}
			}
			if c.rec != nil {
				if sp, ok := c.rec.Span(t.ID()); ok && sp.Duration() > 0 {
					gr.durSum += sp.Duration()
					gr.durN++
					gr.durMax = max(gr.durMax, sp.Duration())
				}
			}
		}
	}
	return groups, edges
}

// groupDrawing turns groups into boxes and links.
func groupDrawing(groups []group, edges map[[2]int]int, c *config) *drawing {
	d := &drawing{boxes: make([]box, len(groups))}
	width := len(strconv.Itoa(len(groups)))
	for i := range groups {
		gr := &groups[i]
		b := &d.boxes[i]
		b.key = fmt.Sprintf("g%0*d", width, i)
		b.creator = gr.creator
		if gr.creator >= 0 {
			d.boxes[gr.creator].kids++
			d.boxes[gr.creator].cluster = "added by " + groups[gr.creator].title()
			if gr.roots {
				d.links = append(d.links, link{from: gr.creator, to: i, spawn: true})
			}
		}
		b.label = groupLabel(gr, c)
		b.tooltip = fmt.Sprintf("%d task(s): %s", gr.count, gr.title())
		if c.states {
			present := 0
			for s, k := range gr.tally {
				if k > 0 {
					present++
					d.legend[s] = true
					b.fill = fills[graph.State(s)]
				}
			}
			if present > 1 {
				b.fill, b.striped = stripes(&gr.tally), true
			}
		}
	}
	// Links in a fixed order (by source, then target), whatever the map's.
	pairs := slices.SortedFunc(maps.Keys(edges), func(a, b [2]int) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	for _, p := range pairs {
		d.links = append(d.links, link{from: p[0], to: p[1], count: edges[p]})
	}
	return d
}

// title names a group's tasks: their name, or the first few names.
func (gr *group) title() string {
	if gr.names == nil {
		return clean(gr.name)
	}
	s := strings.Join(gr.names, ", ")
	if gr.more {
		s += ", …"
	}
	return clean(s)
}

// groupLabel is a group's name and count, priorities, state tally,
// durations and first error.
func groupLabel(gr *group, c *config) string {
	lines := []string{gr.title()}
	switch {
	case gr.names != nil: // folded regardless of names
		lines = []string{strconv.Itoa(gr.count) + " tasks", gr.title()}
	case gr.count > 1:
		lines[0] += " ×" + strconv.Itoa(gr.count)
	}
	switch {
	case gr.pmin != gr.pmax:
		lines = append(lines, fmt.Sprintf("prio %d…%d", gr.pmin, gr.pmax))
	case gr.pmin != 0:
		lines = append(lines, "prio "+strconv.Itoa(gr.pmin))
	}
	if c.states {
		var tally []string
		for _, s := range allStates {
			if k := gr.tally[s]; k > 0 {
				tally = append(tally, s.String()+" "+strconv.Itoa(k))
			}
		}
		lines = append(lines, strings.Join(tally, " · "))
	}
	if gr.durN > 0 {
		mean := gr.durSum / time.Duration(gr.durN)
		if gr.durN == 1 {
			lines = append(lines, fmtDur(mean))
		} else {
			lines = append(lines, "mean "+fmtDur(mean)+" · max "+fmtDur(gr.durMax))
		}
	}
	if gr.err != "" {
		lines = append(lines, gr.err)
	} else if gr.skipErr != "" {
		lines = append(lines, gr.skipErr)
	}
	return strings.Join(lines, "\n")
}
