package viz

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/exec"
	"github.com/evolve-dag/evolve/graph"
)

func TestDOTPlanGolden(t *testing.T) {
	g := graph.New()
	a := graph.Value(g, "value", 2)
	b := graph.Add1(g, "double", a, func(_ context.Context, x int) (int, error) { return 2 * x, nil }, graph.Priority(3))
	c := graph.Add2(g, "sum", a, b, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	graph.Add2(g, "twice", c, c, func(_ context.Context, x, y int) (int, error) { return x + y, nil })
	graph.Add(g, `odd "name"`+"\twith\x00controls", func(context.Context) (int, error) { return 0, nil })
	golden(t, "plan.dot.golden", []byte(mustDOT(g, Title("plan")).String()))
}

func TestDOTStatesGolden(t *testing.T) {
	g := runEvolving(t)
	golden(t, "states.dot.golden", []byte(mustDOT(g, States(syntheticRecorder(g))).String()))
}

func TestDOTStatesContent(t *testing.T) {
	g := runEvolving(t)
	var rec Recorder
	out := mustDOT(g, States(&rec)).String() // an empty recorder: states, no durations
	for _, want := range []string{
		`label="bad\nfailed\ndisk full"`,                // the first line of the error only
		`label="report\nskipped\ninput \"bad\" failed"`, // which input failed
		`label="added by load"`,
		`label="added by item"`, // nested growth: a cluster inside load's
		`label="failed"`,        // the legend
	} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `label="pending"`) {
		t.Errorf("the legend explains a state no task is in:\n%s", out)
	}
	if n := strings.Count(out, "subgraph cluster_"); n != 2+2+1 { // 2 loads, 2 items that added, legend
		t.Errorf("%d clusters, want 5:\n%s", n, out)
	}
}

// TestDOTNesting checks that each cluster sits inside its creator's.
func TestDOTNesting(t *testing.T) {
	g := runEvolving(t)
	d := mustDOT(g)
	// Walk the DOT text: depth of "subgraph" blocks at each detail node.
	depth := 0
	var detailDepths []int
	for _, line := range strings.Split(d.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "subgraph"):
			depth++
		case line == "}":
			depth--
		case strings.Contains(line, `label="detail"`):
			detailDepths = append(detailDepths, depth)
		}
	}
	if len(detailDepths) != 2 || detailDepths[0] != 2 || detailDepths[1] != 2 {
		t.Errorf("detail tasks at cluster depths %v, want [2 2] (inside item's cluster inside load's)", detailDepths)
	}
}

func TestDOTDuringRun(t *testing.T) {
	g := graph.New()
	started := make(chan struct{})
	release := make(chan struct{})
	graph.Add(g, "blocker", func(context.Context) (int, error) {
		close(started)
		<-release
		return 0, nil
	})
	var rec Recorder
	e, err := exec.Start(context.Background(), g, exec.Workers(1), exec.Observe(&rec))
	if err != nil {
		t.Fatal(err)
	}
	<-started
	out := mustDOT(g, States(&rec)).String()
	close(release)
	e.Close()
	if err := e.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `label="blocker\nrunning · for `) || !strings.Contains(out, `label="running"`) {
		t.Errorf("a running task is not drawn as running:\n%s", out)
	}
}

func TestSummaryChosenAboveThreshold(t *testing.T) {
	g := graph.New()
	for range 20 {
		graph.Add(g, "leaf", func(context.Context) (int, error) { return 0, nil })
	}
	if out := mustDOT(g, SummaryAbove(19)).String(); !strings.Contains(out, `label="leaf ×20"`) {
		t.Errorf("20 tasks above a threshold of 19 are not summarised:\n%s", out)
	}
	if out := mustDOT(g, SummaryAbove(20)).String(); strings.Contains(out, "×") || strings.Count(out, `label="leaf"`) != 20 {
		t.Errorf("20 tasks at a threshold of 20 are not drawn one by one:\n%s", out)
	}
	if out := mustDOT(g, SummaryAbove(math.MaxInt)).String(); strings.Contains(out, "×") {
		t.Errorf("SummaryAbove(MaxInt) summarised:\n%s", out)
	}
	big := graph.New()
	for range DefaultSummaryAbove + 1 {
		graph.Add(big, "leaf", func(context.Context) (int, error) { return 0, nil })
	}
	if out := mustDOT(big).String(); !strings.Contains(out, "leaf ×501") {
		t.Errorf("the default threshold did not summarise %d tasks", DefaultSummaryAbove+1)
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "0s",
		999:                       "999ns",
		1234:                      "1.23µs",
		1_500_000:                 "1.5ms",
		123_456_789:               "123ms",
		61*time.Second + 4e8:      "1m1.4s",
		2*time.Hour + time.Second: "2h0m0s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%d) = %q, want %q", d, got, want)
		}
	}
}

// TestDOTCancelled draws tasks cancelled while they waited: they are drawn
// cancelled, with a legend entry.
func TestDOTCancelled(t *testing.T) {
	g := graph.New()
	var later []graph.Task[int]
	first := graph.Add(g, "first", func(context.Context) (int, error) {
		for _, l := range later {
			l.Cancel()
		}
		return 0, nil
	})
	for range 3 {
		later = append(later, graph.Add1(g, "later", first, func(_ context.Context, x int) (int, error) { return x, nil }))
	}
	var rec Recorder
	err := exec.Run(context.Background(), g, exec.Workers(1), exec.Observe(&rec))
	if ee := (*exec.Error)(nil); !errors.As(err, &ee) || ee.Cancelled != 3 {
		t.Fatalf("Run = %v, want an *exec.Error counting the 3 tasks cancelled", err)
	}
	out := mustDOT(g, States(&rec)).String()
	if n := strings.Count(out, `label="later\ncancelled\n`); n != 3 {
		t.Errorf("%d tasks drawn cancelled, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, `label="cancelled"`) {
		t.Errorf("no legend entry for cancelled:\n%s", out)
	}
	if s, _ := rec.Span(later[0].ID()); s.State != graph.Cancelled || !s.Start.IsZero() {
		t.Errorf("recorded %+v for a task cancelled while waiting", s)
	}
}
