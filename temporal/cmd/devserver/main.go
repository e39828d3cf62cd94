// Command devserver starts a Temporal server for local use (temporaltest's:
// a real frontend on 127.0.0.1, in-memory SQLite, nothing kept after it
// stops), prints its address and namespace, and runs until SIGINT or
// SIGTERM. The `temporal` command-line tool, which has a dev server too,
// cannot be installed from the Go module proxy.
//
//	go run ./cmd/devserver
//	ADDR=127.0.0.1:40123 NAMESPACE=temporaltest-123456
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.temporal.io/server/temporaltest"
)

func main() {
	ts := temporaltest.NewServer()
	fmt.Printf("ADDR=%s NAMESPACE=%s\n", ts.GetFrontendHostPort(), ts.GetDefaultNamespace())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	defer func() { _ = recover() }() // Stop logs through a nil *testing.T on a shutdown error
	ts.Stop()
}
