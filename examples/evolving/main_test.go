package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
			if r.GreedyS < r.LowerBound {
				t.Errorf("%s: greedy %v below the lower bound %v", r.Variant, r.GreedyS, r.LowerBound)
			}
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
