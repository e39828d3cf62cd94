//go:build !evolvechaos

package chaos

// On reports whether this build pauses at the engine's protocol steps.
const On = false

// Pause does nothing in this build.
func Pause() {}
