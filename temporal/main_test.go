package temporal_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/evolve-dag/evolve/temporal"
	"github.com/evolve-dag/evolve/temporal/internal/seed"
)

// One real Temporal server (temporaltest: a real frontend on 127.0.0.1,
// in-memory SQLite) serves every test of the package: it takes about half
// a second to start and a second to stop. A worker of the seed registry in
// this process serves queue; the kill test starts workers of its own, in
// other processes, on a queue of its own.
var (
	server *temporaltest.TestServer
	tc     client.Client
)

const queue = "evolve-test"

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	server = temporaltest.NewServer()
	defer func() {
		// Stop logs through a nil *testing.T when the server's shutdown
		// reports an error: that must not fail a run whose tests passed.
		defer func() { _ = recover() }()
		server.Stop()
	}()
	tc = server.GetDefaultClient()
	var regErr error
	server.NewWorkerWithOptions(queue, func(r worker.Registry) {
		regErr = temporal.RegisterWorker(r, seed.Reg)
	}, worker.Options{
		MaxConcurrentActivityExecutionSize: 32,
		MaxConcurrentActivityTaskPollers:   8,
		MaxConcurrentWorkflowTaskPollers:   4,
		// The SDK fails a workflow task whose coroutine runs 1s without
		// yielding; with a server, a worker and other builds on two shared
		// cores, a step of the 20,000-task run's loop was starved that
		// long (once in three runs). See the package doc.
		DeadlockDetectionTimeout: 10 * time.Second,
	})
	if regErr != nil {
		fmt.Fprintln(os.Stderr, "registering the worker:", regErr)
		return 1
	}
	return m.Run()
}
