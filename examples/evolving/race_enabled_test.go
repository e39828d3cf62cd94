//go:build race

package main

// raceEnabled tells tests that the race detector is on. It perturbs
// goroutine scheduling on purpose, so that client goroutines and workers
// do not take turns the same way twice (see TestSeedInSynctestBubble).
const raceEnabled = true
