package runtime_test

import (
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/agent/runtime/runtimetest"
)

// TestSuite: the containerd runtime passes the behavioural suite the hollow
// runtime passes too (agent/runtime/hollow), on its own containerd, with
// pods of busybox sleeping (PID 1 ignores SIGTERM, so each removal costs
// the one-second grace).
func TestSuite(t *testing.T) {
	t.Parallel()
	runtimetest.Run(t, func(t *testing.T) runtimetest.Runtime {
		// No PodCIDR: the suite gives it with SetNetwork, as the leader does.
		e := newEnvWith(t, func(c *runtime.Config) { c.PodCIDR = "" })
		return e.rt
	},
		runtimetest.WithImage(busybox, "sleep", "3600"),
		runtimetest.WithPodCIDR(func(t *testing.T) string { return freeCIDR(t) }),
		runtimetest.WithTimeout(time.Minute))
}

var _ runtimetest.Runtime = (*runtime.Runtime)(nil)
