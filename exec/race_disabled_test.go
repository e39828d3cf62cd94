//go:build !race

package exec_test

// raceEnabled tells tests that the race detector is on, which makes large
// allocations about twenty times slower.
const raceEnabled = false
