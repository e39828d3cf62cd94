//go:build evolvechaos

package chaos

import (
	"math/rand/v2"
	"runtime"
)

// On reports whether this build pauses at the engine's protocol steps.
const On = true

// Pause, one call in eight, lets the other goroutines run, and one in
// sixty-four keeps yielding for up to a thousand turns: long enough, with
// other goroutines runnable, for a run to end or a task to finish and its
// worker to move on in between. It never sleeps, so a synctest bubble's
// fake clock does not move for it and a test in a bubble sees the instants
// it would see without the pauses.
func Pause() {
	switch r := rand.Uint32(); {
	case r%64 == 0:
		for range r >> 6 % 1000 {
			runtime.Gosched()
		}
	case r%8 == 1:
		runtime.Gosched()
	}
}
