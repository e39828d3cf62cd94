package viz

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

func TestSummaryGolden(t *testing.T) {
	g := runEvolving(t)
	golden(t, "summary.dot.golden", []byte(mustDOT(g, States(syntheticRecorder(g)), SummaryAbove(0)).String()))
}

func TestSummaryPlanGolden(t *testing.T) {
	g := buildEvolving() // before the run: no growth yet, no states
	golden(t, "summary-plan.dot.golden", []byte(mustDOT(g, SummaryAbove(0)).String()))
}

// TestSummaryTally checks that a group with tasks in several states shows
// the count of each and is drawn striped, with a sliver for the rare state.
func TestSummaryTally(t *testing.T) {
	g := graph.New()
	var work []graph.Task[int]
	for i := range 50 {
		work = append(work, graph.Add(g, "work", func(context.Context) (int, error) {
			if i%25 == 0 {
				return 0, errors.New("bad input")
			}
			return i, nil
		}, graph.Priority(i%3)))
	}
	graph.AddN(g, "gather", work, func(_ context.Context, xs []int) (int, error) { return len(xs), nil })
	if err := exec.Run(context.Background(), g, exec.Workers(3)); err == nil {
		t.Fatal("the run did not fail")
	}
	out := mustDOT(g, States(nil), SummaryAbove(0)).String()
	// The stripes: done and failed in life order, shares within graphviz's
	// bound of 1, and the 2 failures in 50 still visible.
	_, after, _ := strings.Cut(out, `fillcolor="#8ce99a;`)
	var done, failed float64
	if _, err := fmt.Sscanf(after, "%f:#ff8787;%f\"", &done, &failed); err != nil {
		t.Fatalf("no done/failed stripes (%v):\n%s", err, out)
	}
	if done+failed > 1 || failed < 0.03 || done < 0.9 {
		t.Errorf("stripes done %.3f, failed %.3f: want a sum of at most 1 and a visible failed share", done, failed)
	}
	for _, want := range []string{
		`label="work ×50\nprio 0…2\ndone 48 · failed 2\nbad input"`,
		`style="striped"`,
		`label="gather\nskipped 1\ninput \"work\" failed"`,
		`label="×50"`, // the fan-in's 50 edges folded into one
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %s:\n%s", want, out)
		}
	}
}

func TestSummaryGrown(t *testing.T) {
	var rec Recorder
	g := grow(t, 20, 50, &rec)
	out := mustDOT(g, States(&rec)).String() // 1,020 tasks: above the default threshold
	for _, want := range []string{
		`label="parent ×20\ndone 20\nmean `,
		`label="child ×1000\ndone 999 · failed 1\nmean `,
		`label="added by parent"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %s:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "tooltip="); n != 2 { // legend keys have no tooltip
		t.Errorf("summary has %d boxes, want 2:\n%s", n, out)
	}
}

// TestSummaryUniqueNames checks the fallback for graphs whose names do not
// repeat: folding by name would leave a box per task, so tasks fold by
// creator group alone.
func TestSummaryUniqueNames(t *testing.T) {
	g := graph.New()
	n := DefaultSummaryAbove + 100
	for i := range n {
		graph.Add(g, fmt.Sprintf("file-%d", i), func(context.Context) (int, error) { return i, nil })
	}
	out := mustDOT(g).String()
	want := fmt.Sprintf(`label="%d tasks\nfile-0, file-1, file-2, …"`, n)
	if !strings.Contains(out, want) || strings.Count(out, "tooltip=") != 1 {
		t.Errorf("%d uniquely named tasks are not folded into one box labelled %s:\n%.2000s", n, want, out)
	}
	// Below the default, SummaryAbove(0) keeps the names.
	small := graph.New()
	for i := range 3 {
		graph.Add(small, fmt.Sprintf("file-%d", i), func(context.Context) (int, error) { return i, nil })
	}
	if out := mustDOT(small, SummaryAbove(0)).String(); strings.Count(out, "tooltip=") != 3 {
		t.Errorf("3 uniquely named tasks were folded:\n%s", out)
	}
}
