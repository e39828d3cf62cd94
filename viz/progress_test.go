package viz

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProgressLineGolden(t *testing.T) {
	var out strings.Builder
	for _, c := range []struct {
		counts  progressCounts
		elapsed time.Duration
	}{
		{progressCounts{}, 0},
		{progressCounts{ended: 1, total: 3}, 400 * time.Millisecond},
		{progressCounts{ended: 500, total: 1000, failed: 2, skipped: 5}, 2 * time.Second},
		{progressCounts{ended: 99_000, total: 100_000, cancelled: 7}, 90*time.Second + 400*time.Millisecond},
		{progressCounts{ended: 7, total: 7}, 3 * time.Minute},
	} {
		fmt.Fprintln(&out, progressLine(c.counts, c.elapsed))
	}
	golden(t, "progress.golden", []byte(out.String()))
}

// TestProgressQuiet checks that a bar on a writer that is not a terminal
// writes nothing and starts no goroutine: the first bar is never stopped,
// and goleak (TestMain) would report a refresh goroutine left running.
func TestProgressQuiet(t *testing.T) {
	var buf bytes.Buffer
	p := mustProgress(&buf)
	grow(t, 3, 10, p)
	if buf.Len() != 0 || p.total.Load() != 0 {
		t.Errorf("a quiet bar wrote %q and counted %d tasks", buf.String(), p.total.Load())
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p = mustProgress(f)
	defer p.Stop()
	if p.active {
		t.Error("a bar on a regular file is drawn")
	}
}

func TestProgressForced(t *testing.T) {
	var buf bytes.Buffer
	p := mustProgress(&buf, ForceProgress(), ProgressEvery(time.Millisecond))
	g := grow(t, 20, 50, p)
	time.Sleep(5 * time.Millisecond) // let a few refreshes happen
	p.Stop()
	p.Stop() // idempotent
	out := buf.String()
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the final line is not ended: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	last := strings.TrimSuffix(lines[len(lines)-1], "\x1b[K")
	// Every task ran and was counted once, however many events it had.
	want := fmt.Sprintf("] %d/%d 100%% ", g.Len(), g.Len())
	if !strings.Contains(last, want) || !strings.Contains(last, " 1 failed ") {
		t.Errorf("last line %q lacks %q and the failure", last, want)
	}
	if len(lines) < 3 { // "", at least one refresh, the final line
		t.Errorf("the bar was drawn %d times", len(lines)-1)
	}
}
