// Command seedworker is a Temporal worker of the seed registry, for the
// tests and the example: it dials a server, serves a task queue, prints
// "READY" once it polls, "start ID NAME ATTEMPT" and "end ID NAME ATTEMPT"
// around every task, and stops on SIGTERM or SIGINT.
//
//	seedworker -addr 127.0.0.1:7233 -namespace default -queue evolve [-concurrency 3]
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seedworker:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "", "the Temporal frontend, host:port")
	ns := flag.String("namespace", "default", "the Temporal namespace")
	queue := flag.String("queue", "", "the task queue to serve")
	conc := flag.Int("concurrency", 3, "tasks this worker runs at once")
	quiet := flag.Bool("quiet", false, "do not print start and end lines")
	flag.Parse()
	if *addr == "" || *queue == "" {
		return fmt.Errorf("-addr and -queue are required")
	}
	if *conc < 1 {
		return fmt.Errorf("-concurrency %d: must be at least 1", *conc)
	}
	c, err := client.Dial(client.Options{HostPort: *addr, Namespace: *ns, Logger: log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		return err
	}
	defer c.Close()
	var mu sync.Mutex
	line := func(what string, s temporal.TaskSpec, attempt int) {
		if *quiet {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("%s %d %s %d\n", what, s.ID, s.Name, attempt)
	}
	w := worker.New(c, *queue, worker.Options{MaxConcurrentActivityExecutionSize: *conc, DeadlockDetectionTimeout: 10 * time.Second})
	err = temporal.RegisterWorker(w, seed.Reg, temporal.OnTask(
		func(s temporal.TaskSpec, a int) { line("start", s, a) },
		func(s temporal.TaskSpec, a int, _ error) { line("end", s, a) },
	))
	if err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return err
	}
	fmt.Println("READY")
	<-worker.InterruptCh()
	w.Stop()
	return nil
}
