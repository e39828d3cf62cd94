//go:build race

package dynamic_test

// raceEnabled tells tests that the race detector is on. It perturbs
// goroutine scheduling on purpose, so that runs do not replay exactly
// under it (see TestReplayableRuns).
const raceEnabled = true
