package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunsEveryVariantBothWays runs the example as a user would, at a
// small scale on its embedded server with in-process workers: run checks
// every result against the workload's count and checksum and fails
// otherwise, so passing means each growing variant computed the seed's
// results both in-process and on Temporal. The output must have a row per
// variant and runner, with the same checksum in every row.
func TestRunsEveryVariantBothWays(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Temporal server: not in -short")
	}
	var out bytes.Buffer
	if err := run([]string{"-scale", "0.002", "-workers", "3"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2+2*len(variants) {
		t.Fatalf("got %d lines, want a header of 2 and a row per variant and runner (%d):\n%s", len(lines), 2*len(variants), out.String())
	}
	sums := map[string]bool{}
	for i, v := range []string{"as_completed", "goroutines", "tasks_from_tasks"} {
		for j, runner := range []string{"local", "temporal"} {
			f := strings.Fields(lines[2+2*i+j])
			if len(f) != 9 || f[0] != v || f[1] != runner {
				t.Fatalf("row %d = %q, want variant %s, runner %s and 9 columns", 2*i+j, lines[2+2*i+j], v, runner)
			}
			sums[f[6]] = true
		}
	}
	if len(sums) != 1 {
		t.Errorf("checksums differ between rows: %v\n%s", sums, out.String())
	}
}

// TestRejectsBadFlags: bad flag values are errors that name the flag,
// reported before a server starts or anything is printed.
func TestRejectsBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"-workers", "0"}, "-workers"},
		{[]string{"-workers", "2", "-workers-proc", "3"}, "-workers-proc"},
		{[]string{"-workers-proc", "-1"}, "-workers-proc"},
		{[]string{"-scale", "fast"}, "-scale"},
	} {
		var out bytes.Buffer
		err := run(c.args, &out)
		switch {
		case err == nil:
			t.Errorf("run(%q) = nil, want an error", c.args)
		case !strings.Contains(err.Error(), c.flag):
			t.Errorf("run(%q) = %v: does not name %s", c.args, err, c.flag)
		}
		if out.Len() != 0 {
			t.Errorf("run(%q) printed %q before failing: want nothing", c.args, out.String())
		}
	}
}
