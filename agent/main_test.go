package agent

import (
	"os"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/runtime"
)

// TestMain lets the shim run this test binary as a container's log driver
// (the runtime re-invokes its own executable; see runtime.RunLogDriverIfRequested).
func TestMain(m *testing.M) {
	runtime.RunLogDriverIfRequested()
	os.Exit(m.Run())
}
