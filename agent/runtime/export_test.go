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

// AttachForTest makes a pod's sandbox network (netns, attachment, IP)
// with no containers, as a pod start does; DetachForTest removes it. For
// the per-pod network benchmark.
func (r *Runtime) AttachForTest(uid string) (string, error) {
	r.netMu.RLock()
	defer r.netMu.RUnlock()
	br, err := ensureBridgeFast(r.cfg.BridgeName, r.netConf)
	if err != nil {
		return "", err
	}
	return r.net.setup(r.ctx, podID(uid), podMeta{UID: uid, Namespace: "default", Name: uid}, r.netConf, br)
}

func (r *Runtime) DetachForTest(uid string) error {
	return r.net.teardownPod(r.ctx, podID(uid), podMeta{UID: uid, Namespace: "default", Name: uid})
}
