package viz

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emicklei/dot"
	"github.com/evolve-dag/evolve/graph"
)

// DefaultSummaryAbove is the task count above which DOT draws the summary
// view unless SummaryAbove says otherwise. A drawing of thousands of boxes
// is unreadable however it is laid out, and graphviz's layout time grows
// faster than the box count; 500 boxes in clusters lay out in about 0.05 s.
const DefaultSummaryAbove = 500

// Option changes what DOT (and WriteFiles) draws. The zero Option does
// nothing. Options are checked before anything is drawn: a bad value is
// an error that names the option call and wraps graph.ErrInvalidOption.
type Option struct {
	apply func(*config) error
}

type config struct {
	states       bool      // colour by state, with a legend
	rec          *Recorder // durations; nil for none
	summaryAbove int
	title        string
	now          func() time.Time // for tasks still running
}

// States draws the graph as it evolved in a run, or as it is now during
// one: each task is coloured by its state, a legend explains the colours,
// failed tasks show the first line of their error and, when rec is not nil,
// each task shows how long it ran, as rec recorded it.
func States(rec *Recorder) Option {
	return Option{func(c *config) error { c.states, c.rec = true, rec; return nil }}
}

// SummaryAbove draws the summary view when the graph has more than n tasks:
// tasks with the same name added by the same group of tasks are folded
// into one box showing their count and a tally of their states. 0 always
// summarises; math.MaxInt never does; a negative n is a bad value. The
// default is DefaultSummaryAbove.
func SummaryAbove(n int) Option {
	return Option{func(c *config) error {
		if n < 0 {
			return invalid(fmt.Sprintf("SummaryAbove(%d)", n), "must not be negative")
		}
		c.summaryAbove = n
		return nil
	}}
}

// Title labels the drawing.
func Title(s string) Option {
	return Option{func(c *config) error { c.title = s; return nil }}
}

// invalid is the error of an option call given a bad value.
func invalid(call, why string) error {
	return fmt.Errorf("viz: %s: %w: %s", call, graph.ErrInvalidOption, why)
}

// DOT draws g as a DOT graph: a box per task, labelled with its name (and
// its priority when not zero), and an arrow from each input to the task
// that reads it. Tasks added by a running task are drawn in a cluster with
// the task that added them, nested as deep as the growth went. With States
// it shows a run; graphs above a size are summarised (see SummaryAbove).
//
// DOT may be called while g runs: it draws each task as it is at that
// moment. A nil g draws as an empty graph. The result can be changed with
// emicklei/dot's API before it is written (String, Write) or rendered
// (Render, WriteFile). The error is a bad option's; then nothing is drawn.
func DOT(g *graph.Graph, opts ...Option) (*dot.Graph, error) {
	c := config{summaryAbove: DefaultSummaryAbove, now: time.Now}
	for _, o := range opts {
		if o.apply == nil {
			continue // the zero Option
		}
		if err := o.apply(&c); err != nil {
			return nil, err
		}
	}
	tasks := tasksOf(g)
	var d *drawing
	if len(tasks) > c.summaryAbove {
		d = summarise(tasks, &c)
	} else {
		d = detail(tasks, &c)
	}
	d.title = c.title
	return d.build(), nil
}

// tasksOf returns g's tasks in creation order. It reads them by ID, with
// Len and Node only, rather than with g.Tasks: in evolve's first commits
// g.Tasks and g.Nodes also visited the nil tail of the node index and
// panicked on it, and reading by ID is right whatever version is built.
func tasksOf(g *graph.Graph) []graph.Ref {
	if g == nil {
		return nil
	}
	n := int64(g.Len())
	out := make([]graph.Ref, 0, n)
	for id := range n {
		if r, ok := g.Node(id).(graph.Ref); ok {
			out = append(out, r)
		}
	}
	return out
}

// A drawing is what DOT draws, in terms independent of the view (detail or
// summary): boxes, the links between them, and which box's cluster each
// box belongs to.
type drawing struct {
	boxes  []box
	links  []link
	legend [nStates]bool // states to explain; none without States
	title  string
}

// box is one node: a task, or a group of tasks in a summary.
type box struct {
	key     string // orders the output: emicklei/dot sorts nodes by key
	label   string
	tooltip string
	fill    string // a colour, or a striped colour list; empty for none
	striped bool
	creator int    // the box whose cluster holds this one; -1 for none
	cluster string // the label of this box's cluster, if it has one
	kids    int    // boxes whose creator is this one
}

// link is an arrow between boxes.
type link struct {
	from, to int
	count    int  // tasks' edges folded into this one (summary)
	spawn    bool // from a creator to what it added, not data
}

// build writes the drawing with emicklei/dot.
//
// A box that added others gets a cluster holding itself and what it added;
// boxes are in creation order, so a creator's cluster exists before its
// kids are placed, and a kid that added tasks in turn nests its own
// cluster inside.
func (d *drawing) build() *dot.Graph {
	root := dot.NewGraph(dot.Directed)
	root.Attr("fontname", "Helvetica")
	root.Attr("nodesep", "0.25")
	root.Attr("ranksep", "0.4")
	if d.title != "" {
		root.Attr("label", d.title)
		root.Attr("labelloc", "t")
	}
	holder := make([]*dot.Graph, len(d.boxes)) // the cluster a box heads, if any
	nodes := make([]dot.Node, len(d.boxes))
	for i := range d.boxes {
		b := &d.boxes[i]
		in := root
		if b.creator >= 0 && holder[b.creator] != nil {
			in = holder[b.creator]
		}
		if b.kids > 0 {
			sub := in.Subgraph(b.key, dot.ClusterOption{})
			sub.Attr("label", b.cluster)
			sub.Attr("style", "dashed,rounded")
			sub.Attr("color", "#868e96")
			sub.Attr("fontcolor", "#495057")
			sub.Attr("fontsize", "10")
			sub.Attr("fontname", "Helvetica")
			holder[i] = sub
			in = sub
		}
		n := in.Node(b.key).Label(b.label).Box()
		n.Attr("fontname", "Helvetica")
		n.Attr("fontsize", "11")
		switch {
		case b.striped:
			n.Attr("style", "striped")
			n.Attr("fillcolor", b.fill)
		case b.fill != "":
			n.Attr("style", "rounded,filled")
			n.Attr("fillcolor", b.fill)
		default:
			n.Attr("style", "rounded")
		}
		if b.tooltip != "" {
			n.Attr("tooltip", b.tooltip)
		}
		nodes[i] = n
	}
	for _, l := range d.links {
		e := root.Edge(nodes[l.from], nodes[l.to])
		if l.count > 1 {
			e.Attr("label", "×"+strconv.Itoa(l.count))
			e.Attr("fontsize", "9")
		}
		if l.spawn {
			e.Attr("style", "dashed")
			e.Attr("color", "#868e96")
			e.Attr("arrowhead", "empty")
		}
	}
	d.addLegend(root)
	return root
}

// addLegend explains the colours of the states present.
func (d *drawing) addLegend(root *dot.Graph) {
	var present []graph.State
	for _, s := range allStates {
		if d.legend[s] {
			present = append(present, s)
		}
	}
	if len(present) == 0 {
		return
	}
	leg := root.Subgraph("~legend", dot.ClusterOption{}) // "~" sorts after every box key
	leg.Attr("label", "state")
	leg.Attr("fontsize", "10")
	leg.Attr("fontname", "Helvetica")
	leg.Attr("style", "rounded")
	leg.Attr("color", "#ced4da")
	keys := make([]dot.Node, len(present))
	for i, s := range present {
		n := leg.Node("~legend-" + strconv.Itoa(i)).Label(legendName(s)).Box()
		n.Attr("style", "rounded,filled")
		n.Attr("fillcolor", fills[s])
		n.Attr("fontname", "Helvetica")
		n.Attr("fontsize", "9")
		n.Attr("height", "0.2")
		keys[i] = n
	}
	// One row, in life order: same rank, chained by invisible edges.
	leg.AddToSameRank("legend", keys...)
	for i := 1; i < len(keys); i++ {
		leg.Edge(keys[i-1], keys[i]).Attr("style", "invis")
	}
}

// detail draws every task as its own box.
func detail(tasks []graph.Ref, c *config) *drawing {
	d := &drawing{boxes: make([]box, len(tasks))}
	width := len(strconv.Itoa(len(tasks))) // zero-padded keys sort in creation order
	index := make(map[int64]int, len(tasks))
	for i, t := range tasks {
		index[t.ID()] = i
	}
	for i, t := range tasks {
		b := &d.boxes[i]
		b.key = fmt.Sprintf("t%0*d", width, i)
		b.creator = -1
		if cr := t.Creator(); cr != (graph.Ref{}) {
			if j, ok := index[cr.ID()]; ok {
				b.creator = j
				d.boxes[j].kids++
				d.boxes[j].cluster = "added by " + clean(cr.Name())
			}
		}
		b.label, b.tooltip, b.fill = taskLabel(t, c)
		if c.states {
			d.legend[t.State()] = true
		}
		ins := uniqueInputs(t.Inputs()) // Inputs returns a fresh slice: ours to reuse
		for _, in := range ins {
			if j, ok := index[in.ID()]; ok {
				d.links = append(d.links, link{from: j, to: i, count: 1})
			}
		}
		if len(ins) == 0 && b.creator >= 0 {
			d.links = append(d.links, link{from: b.creator, to: i, count: 1, spawn: true})
		}
	}
	return d
}

// uniqueInputs returns ins without repeats, in order: a task that reads
// the same input twice gets one arrow.
func uniqueInputs(ins []graph.Ref) []graph.Ref {
	if len(ins) < 2 {
		return ins
	}
	seen := make(map[int64]struct{}, len(ins))
	out := ins[:0]
	for _, in := range ins {
		if _, ok := seen[in.ID()]; !ok {
			seen[in.ID()] = struct{}{}
			out = append(out, in)
		}
	}
	return out
}

// taskLabel returns the label, tooltip and fill colour of one task.
func taskLabel(t graph.Ref, c *config) (label, tooltip, fill string) {
	var sb strings.Builder
	sb.WriteString(clean(t.Name()))
	var facts []string
	if c.states {
		s := t.State()
		facts = append(facts, s.String())
		if c.rec != nil {
			if sp, ok := c.rec.Span(t.ID()); ok {
				switch {
				case sp.Duration() > 0:
					facts = append(facts, fmtDur(sp.Duration()))
				case !sp.Start.IsZero() && sp.End.IsZero():
					facts = append(facts, "for "+fmtDur(c.now().Sub(sp.Start)))
				}
			}
		}
		fill = fills[s]
	}
	if p := t.Priority(); p != 0 {
		facts = append(facts, "prio "+strconv.Itoa(p))
	}
	if len(facts) > 0 {
		sb.WriteString("\n")
		sb.WriteString(strings.Join(facts, " · "))
	}
	tooltip = fmt.Sprintf("#%d %s", t.ID(), clean(t.Name()))
	if c.states {
		if err := t.Err(); err != nil {
			sb.WriteString("\n")
			sb.WriteString(errLine(err))
			tooltip += ": " + firstLine(err.Error(), 500)
		}
	}
	return sb.String(), tooltip, fill
}
