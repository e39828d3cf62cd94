package dynamic_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: waits
// that a run's end or a cancelled context released must leave nothing
// behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
