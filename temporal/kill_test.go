package temporal_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// buildWorker builds internal/seedworker once per test binary.
var buildWorker = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "evolve-seedworker")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "seedworker")
	out, err := exec.Command("go", "build", "-o", bin, "./internal/seedworker").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./internal/seedworker: %v\n%s", err, out)
	}
	return bin, nil
})

// workerProc is a seedworker process and what it printed.
type workerProc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	open  map[string]bool // "ID/attempt" started and not ended
	lines chan string     // start lines, for the test to wait on
	done  chan struct{}   // closed when its stdout is drained
}

func startWorker(t *testing.T, bin, q string) *workerProc {
	t.Helper()
	cmd := exec.Command(bin, "-addr", server.GetFrontendHostPort(), "-namespace", server.GetDefaultNamespace(), "-queue", q, "-concurrency", "3")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &workerProc{cmd: cmd, open: map[string]bool{}, lines: make(chan string, 1024), done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	go p.read(out, ready)
	select {
	case <-ready:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not start within a minute")
	}
	return p
}

func (p *workerProc) read(r io.Reader, ready chan struct{}) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "READY":
			close(ready)
		case len(f) == 4:
			key := f[1] + "/" + f[3]
			p.mu.Lock()
			p.open[key] = f[0] == "start"
			p.mu.Unlock()
			if f[0] == "start" {
				select {
				case p.lines <- sc.Text():
				default:
				}
			}
		}
	}
}

// TestWorkerKilled runs the seed's tasks_from_tasks on two worker
// processes, kills one with SIGKILL while it runs tasks, and checks that
// the run completes with all 68 results and the in-process checksum, and
// that every task the dead worker was running ran again.
func TestWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two worker processes")
	}
	bin, err := buildWorker()
	if err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("evolve-kill-%d", time.Now().UnixNano())
	victim := startWorker(t, bin, q)
	startWorker(t, bin, q)

	w, err := workload.Generate(1, 10, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	wantN, wantSum := w.Expected()
	if wantN != 68 {
		t.Fatalf("the seed workload has %d items, want 68", wantN)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	type result struct {
		out []float64
		rep *temporal.Report
		err error
	}
	res := make(chan result, 1)
	go func() {
		out, rep, err := temporal.RunTemporal(ctx, tc, seed.TasksFromTasks, w, temporal.TaskQueue(q), temporal.LostWorker(2*time.Second, 3))
		res <- result{out, rep, err}
	}()

	// Kill the victim while it runs a task, once the run is well under way.
	var lost []string
	for started := 0; ; {
		select {
		case <-victim.lines:
			started++
		case <-time.After(time.Minute):
			t.Fatal("the victim started no task for a minute")
		}
		if started < 8 {
			continue
		}
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		break
	}
	<-victim.done
	victim.mu.Lock()
	for key, open := range victim.open {
		if open {
			lost = append(lost, key)
		}
	}
	victim.mu.Unlock()

	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.out) != wantN || workload.Checksum(r.out) != wantSum {
		t.Fatalf("%d results with checksum %016x, want %d with %016x", len(r.out), workload.Checksum(r.out), wantN, wantSum)
	}
	if len(lost) == 0 {
		t.Fatal("the victim ran no task when it was killed")
	}
	for _, key := range lost {
		var id, attempt int64
		fmt.Sscanf(key, "%d/%d", &id, &attempt)
		if rec := r.rep.Tasks[id]; rec.Attempts <= int(attempt) || rec.State != "done" {
			t.Errorf("task #%d (%s), lost at attempt %d: %d attempts, %s", id, rec.Name, attempt, rec.Attempts, rec.State)
		}
	}
	t.Logf("all %d results, checksum %016x; killed during %d tasks; %d of %d tasks ran more than once", len(r.out), workload.Checksum(r.out), len(lost), r.rep.Rerun, len(r.rep.Tasks))
}
