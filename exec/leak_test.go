package exec_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: no
// goroutine of a run may outlive the run.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
