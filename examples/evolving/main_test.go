package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/evolve-dag/evolve/examples/evolving/workload"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestVariantsAgree runs every variant at scale 0 (no sleeping) with -json
// and checks that each prints one line with the expected number of results
// and the same checksum: the four ways compute the same thing.
func TestVariantsAgree(t *testing.T) {
	for _, workers := range []string{"1", "6"} {
		var out bytes.Buffer
		if err := run([]string{"-scale", "0", "-json", "-workers", workers, "-seed", "7"}, &out); err != nil {
			t.Fatalf("workers=%s: %v", workers, err)
		}
		w, err := workload.Generate(7, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		largest := 0
		for _, f := range w.Files {
			largest = max(largest, len(f.Items))
		}
		var got []report
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			got = append(got, r)
		}
		if len(got) != len(variants) {
			t.Fatalf("workers=%s: %d lines, want %d", workers, len(got), len(variants))
		}
		for i, r := range got {
			if r.Variant != variants[i].name {
				t.Errorf("line %d is %q, want %q", i, r.Variant, variants[i].name)
			}
			if r.Results != got[0].Results || r.Checksum != got[0].Checksum || r.Results == 0 {
				t.Errorf("%s: %d results, checksum %s; sequential had %d, %s", r.Variant, r.Results, r.Checksum, got[0].Results, got[0].Checksum)
			}
			if want := (r.WallS - r.GreedyS) / float64(r.Tasks) * 1e6; r.Tasks == 0 || math.Abs(r.OverheadUS-want) > 1e-3 {
				t.Errorf("%s: overhead %v µs per task over %d tasks, want (wall - greedy) / tasks = %v", r.Variant, r.OverheadUS, r.Tasks, want)
			}
			if r.GreedyS < r.LowerBound {
				t.Errorf("%s: greedy %v below the lower bound %v", r.Variant, r.GreedyS, r.LowerBound)
			}
			// Every variant's own priority puts items first (on one worker
			// the order does not change the makespan).
			if r.ItemsFirstS != r.GreedyS || r.ParsesFirstS < r.LowerBound {
				t.Errorf("%s: items first %v, parses first %v; want greedy %v and at least the bound %v", r.Variant, r.ItemsFirstS, r.ParsesFirstS, r.GreedyS, r.LowerBound)
			}
			// A parse holds its file's items at once, so every run, measured
			// or modelled, holds the largest file at its peak, and never more
			// than every item.
			for what, peak := range map[string]int{"measured": r.PeakHeld, "items first": r.PeakHeldItemsFirst, "parses first": r.PeakHeldParsesFirst} {
				if peak < largest || peak > r.Results {
					t.Errorf("%s: %s peak of held items %d, want between the largest file's %d and all %d", r.Variant, what, peak, largest, r.Results)
				}
			}
		}
	}
}

// TestTextReportShowsOverhead checks that the table has the per-task
// overhead column, and that the sequential loop counts its calls as tasks.
func TestTextReportShowsOverhead(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-scale", "0", "-variant", "sequential", "-files", "2", "-seed", "3"}, &out); err != nil {
		t.Fatal(err)
	}
	w, err := workload.Generate(3, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := w.Expected()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "ovh_us") {
		t.Fatalf("want a summary, a header with ovh_us and one row:\n%s", out.String())
	}
	header, row := strings.Fields(lines[1]), strings.Fields(lines[2])
	col := slices.Index(header, "tasks")
	if col < 0 || len(row) != len(header) || row[col] != strconv.Itoa(2+n) {
		t.Errorf("want %d tasks (2 parses and %d items) under tasks:\n%s", 2+n, n, out.String())
	}
	// The loop holds one file's items at a time, as one worker processing
	// items first does; parsing first holds them all.
	largest := max(len(w.Files[0].Items), len(w.Files[1].Items))
	for name, want := range map[string]int{"held": largest, "held_greedy": largest, "held_parses1st": n} {
		col := slices.Index(header, name)
		if col < 0 || len(row) != len(header) || row[col] != strconv.Itoa(want) {
			t.Errorf("want %d under %s:\n%s", want, name, out.String())
		}
	}
}

// TestOutWritesEvolvedGraphs checks -out: DOT and a trace for the two
// drawn variants, the DOT grouping children under the task that added them.
func TestOutWritesEvolvedGraphs(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	if err := run([]string{"-scale", "0", "-variant", "tasks_from_tasks", "-out", dir}, &out); err != nil {
		t.Fatal(err)
	}
	dot, err := os.ReadFile(filepath.Join(dir, "tasks_from_tasks.dot"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dot), "cluster") || !strings.Contains(string(dot), "process_item") {
		t.Errorf("the DOT has no cluster of process_item tasks:\n%.500s", dot)
	}
	if _, err := os.Stat(filepath.Join(dir, "tasks_from_tasks.trace.json")); err != nil {
		t.Error(err)
	}
}

// TestBadFlags checks that bad input is an error, not a panic.
func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-workers", "0"},
		{"-variant", "nope", "-scale", "0"},
		{"-files", "0"},
		{"-scale", "-1"},
	} {
		if err := run(args, new(bytes.Buffer)); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
