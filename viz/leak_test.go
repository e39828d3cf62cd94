package viz

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// Progress must stop its refresh goroutine, and no run may leave one.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
