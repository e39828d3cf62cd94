// Command evolving runs the seed workload (Dask's "Handle Evolving
// Workflows": ten files parsed, each yielding 1 to 10 items to process, so
// the graph grows while it runs) on Temporal and in-process, and prints what
// Temporal costs per task.
//
// It starts an embedded Temporal server (temporaltest: a real frontend on
// 127.0.0.1, in-memory SQLite, gone when the program ends) and workers of
// the seed registry: -workers in-process Temporal workers of one activity
// slot each, or, with -workers-proc N, N seedworker processes (built with
// go build, so run it from inside the temporal module) sharing the
// -workers slots. Then each growing variant of the seed (as_completed,
// goroutines, tasks_from_tasks) runs twice: in-process (temporal.RunLocal,
// an evolve graph run by exec with -workers slots) and on the server
// (temporal.RunTemporal). Every run's results are checked against the
// workload's expected count and checksum.
//
// For each variant and runner it prints the wall time (wall_s), the
// makespan of a zero-overhead greedy scheduler on the same sleeps and
// slots (greedy_s), the tasks the run recorded, the results and their
// checksum; for the Temporal rows also activities per second of wall time
// (acts_per_s) and the overhead per task against the in-process run of the
// same variant, (wall_temporal - wall_local) / tasks, in milliseconds
// (ovh_ms_task).
//
// Usage:
//
//	cd temporal && go run ./examples/evolving [-seed 1] [-scale 0.05] [-workers 6] [-workers-proc 0]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/evolve-dag/evolve/examples/evolving/workload"
	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// variant is one growing variant of the seed, with the priority its items
// get (for the greedy simulation).
type variant struct {
	prog     temporal.Program[workload.Workload, []float64]
	priority int
}

var variants = []variant{
	{seed.AsCompleted, 1},
	{seed.Goroutines, 10},
	{seed.TasksFromTasks, 10},
}

const queue = "evolve-example"

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evolving:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("evolving", flag.ContinueOnError)
	seedN := fs.Int64("seed", 1, "seed of the workload's random sleeps and values")
	scale := fs.Float64("scale", 0.05, "multiplies every sleep")
	workers := fs.Int("workers", 6, "activity slots in all (in-process: the pool's size)")
	procs := fs.Int("workers-proc", 0, "run the Temporal workers as this many seedworker processes sharing the slots (0: in this process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("-workers %d: must be at least 1", *workers)
	}
	if *procs < 0 || *procs > *workers {
		return fmt.Errorf("-workers-proc %d: must be between 0 and -workers (%d)", *procs, *workers)
	}
	w, err := workload.Generate(*seedN, 10, *scale)
	if err != nil {
		return err
	}
	wantN, wantSum := w.Expected()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ts := temporaltest.NewServer()
	defer func() {
		defer func() { _ = recover() }() // Stop logs through a nil *testing.T on a shutdown error
		ts.Stop()
	}()
	where := "in this process"
	if *procs == 0 {
		for i := range *workers {
			var regErr error
			ts.NewWorkerWithOptions(queue, func(r worker.Registry) {
				regErr = temporal.RegisterWorker(r, seed.Reg, temporal.WorkerName(fmt.Sprintf("w%d", i)))
			}, worker.Options{MaxConcurrentActivityExecutionSize: 1, DeadlockDetectionTimeout: 10 * time.Second})
			if regErr != nil {
				return regErr
			}
		}
	} else {
		stopAll, err := startProcs(ctx, ts, *procs, *workers)
		defer stopAll()
		if err != nil {
			return err
		}
		where = fmt.Sprintf("in %d processes", *procs)
	}

	fmt.Fprintf(out, "%d files, %d items, %.2fs of work, %d worker slots (Temporal workers %s), seed %d, scale %g\n",
		len(w.Files), wantN, w.TotalWork().Seconds(), *workers, where, *seedN, *scale)
	fmt.Fprintf(out, "%-17s %-9s %8s %8s %6s %7s %-16s %10s %11s\n",
		"variant", "runner", "wall_s", "greedy_s", "tasks", "results", "checksum", "acts_per_s", "ovh_ms_task")
	c := ts.GetDefaultClient()
	for _, v := range variants {
		greedy, err := w.Greedy(*workers, v.priority)
		if err != nil {
			return err
		}
		check := func(runner string, res []float64, err error) error {
			if err != nil {
				return fmt.Errorf("%s %s: %w", v.prog.Name(), runner, err)
			}
			if sum := workload.Checksum(res); len(res) != wantN || sum != wantSum {
				return fmt.Errorf("%s %s: %d results with checksum %016x, want %d with %016x", v.prog.Name(), runner, len(res), sum, wantN, wantSum)
			}
			return nil
		}
		name := strings.TrimPrefix(v.prog.Name(), "seed.")

		start := time.Now()
		lres, lrep, err := temporal.RunLocal(ctx, seed.Reg, v.prog, w, temporal.Workers(*workers))
		lwall := time.Since(start)
		if err := check("in-process", lres, err); err != nil {
			return err
		}
		fmt.Fprintf(out, "%-17s %-9s %8.3f %8.3f %6d %7d %016x %10s %11s\n",
			name, "local", lwall.Seconds(), greedy.Seconds(), len(lrep.Tasks), len(lres), workload.Checksum(lres), "-", "-")

		start = time.Now()
		tres, trep, err := temporal.RunTemporal(ctx, c, v.prog, w, temporal.TaskQueue(queue),
			temporal.WorkflowID(fmt.Sprintf("example-%s-%d", name, time.Now().UnixNano())))
		twall := time.Since(start)
		if err := check("temporal", tres, err); err != nil {
			return err
		}
		tasks := len(trep.Tasks)
		fmt.Fprintf(out, "%-17s %-9s %8.3f %8.3f %6d %7d %016x %10.1f %11.2f\n",
			name, "temporal", twall.Seconds(), greedy.Seconds(), tasks, len(tres), workload.Checksum(tres),
			float64(trep.Activities)/twall.Seconds(), (twall-lwall).Seconds()/float64(max(tasks, 1))*1e3)
	}
	return nil
}

// startProcs builds internal/seedworker and starts procs of it on queue,
// sharing slots activity slots, and waits until each polls. stop ends them.
func startProcs(ctx context.Context, ts *temporaltest.TestServer, procs, slots int) (stop func(), err error) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	dir, err := os.MkdirTemp("", "evolve-seedworker")
	if err != nil {
		return stop, err
	}
	defer os.RemoveAll(dir) // the running processes keep their open binary
	bin := filepath.Join(dir, "seedworker")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/evolve-dag/evolve/temporal/internal/seedworker").CombinedOutput(); err != nil {
		return stop, fmt.Errorf("go build internal/seedworker (run from inside the temporal module): %v\n%s", err, b)
	}
	for i := range procs {
		conc := slots / procs
		if i < slots%procs {
			conc++
		}
		cmd := exec.Command(bin, "-addr", ts.GetFrontendHostPort(), "-namespace", ts.GetDefaultNamespace(),
			"-queue", queue, "-concurrency", fmt.Sprint(conc), "-quiet")
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return stop, err
		}
		if err := cmd.Start(); err != nil {
			return stop, err
		}
		cmds = append(cmds, cmd)
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			ok := false
			for sc.Scan() {
				if !ok && sc.Text() == "READY" {
					ok = true
					ready <- true
				}
			}
			if !ok {
				ready <- false
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				return stop, errors.New("a seedworker process ended before it was ready")
			}
		case <-time.After(time.Minute):
			return stop, errors.New("a seedworker process was not ready within a minute")
		case <-ctx.Done():
			return stop, ctx.Err()
		}
	}
	return stop, nil
}
