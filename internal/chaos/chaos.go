// Package chaos widens the windows between the steps of the engine's
// concurrent protocols, in test binaries built with the evolvechaos tag,
// so that the random runs meet the interleavings that real runs meet
// once in millions of seeds. A protocol step that another goroutine may
// interleave with calls
//
//	if chaos.On {
//		chaos.Pause()
//	}
//
// which the compiler removes from every other build: On is a constant.
//
// The pauses are not seeded, so a failure they bring about replays only
// as often as it happens; their use is to find a window, which a test of
// its own then pins (see RELIABILITY.md).
package chaos
