package runtime

// Internals the external integration tests (package runtime_test, which
// imports devenv, which imports runtime) need to inspect.
var (
	PodID     = podID
	NetnsPath = netnsPath
)

const CNINetworkName = cniNetworkName

// ConfigForTest returns the validated config (defaults filled).
func (r *Runtime) ConfigForTest() Config { return r.cfg }
