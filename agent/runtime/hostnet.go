package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Host-network pods (spec.hostNetwork) have no sandbox of their own: no
// network namespace, no veth, no IP from the node's pod CIDR. Their
// containers join the network namespace this agent runs in, which is the
// node's (in the test harness each agent runs in a namespace of its own,
// its node's "host"), and their IP is the node's address (Config.HostIP),
// as the kubelet reports a host-network pod's IP.

// hostNetnsPath is the network namespace host-network containers join:
// this process's. It is named through /proc so that containerd, which may
// run in another namespace (several agents share one containerd in tests),
// finds this one; a container keeps the namespace alive on its own once
// started, and containers started by the next agent process use that
// process's path.
func hostNetnsPath() string {
	return filepath.Join("/proc", strconv.Itoa(os.Getpid()), "ns", "net")
}

// netnsPath is the network namespace w's containers join.
func (w *podWorker) netnsPath() string {
	if w.hostNetwork() {
		return hostNetnsPath()
	}
	return netnsPath(w.id)
}

// hostNetwork reports whether w's pod uses the node's network.
func (w *podWorker) hostNetwork() bool { return w.pod.Spec.HostNetwork }

// needsNetConf reports whether the pod waits for the node's pod network
// before it starts: every pod with its own network, and a host-network pod
// only when it asks for the cluster DNS (ClusterFirstWithHostNet), whose
// address is the bridge's. Other host-network pods start at once, as the
// kubelet starts them while the network is not ready: the self-hosted
// reconciler, which configures that network, is one of them.
func (w *podWorker) needsNetConf() bool {
	ps := &w.pod.Spec
	return !ps.HostNetwork || ps.EffectiveDNSPolicy() == spec.DNSClusterFirst
}

// setupHostSandbox writes a host-network pod's files: /etc/hosts is the
// node's own (as the kubelet mounts the host's for such pods), resolv.conf
// follows the pod's DNS policy, and its IP is the node's address.
func (w *podWorker) setupHostSandbox() error {
	w.r.netMu.RLock()
	nc := w.r.netConf
	w.r.netMu.RUnlock()
	ip := w.r.cfg.HostIP
	if ip == "" {
		return fmt.Errorf("failed to set up host-network pod: the agent has no host IP (agent --advertise-api or --api with an IP)")
	}
	hosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		hosts = []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	ps := w.pod.Spec
	var dnsServer, domain string
	if nc != nil {
		dnsServer, domain = nc.gateway.String(), nc.domain
	}
	files := map[string]string{
		"hosts":       string(hosts),
		"hostname":    w.hostname() + "\n",
		"resolv.conf": podResolvConf(ps, w.pod.Namespace, dnsServer, domain, hostResolvConf()).String(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(w.dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("failed to write pod %s: %w", name, err)
		}
	}
	w.update(func() { w.ip, w.reason, w.message = ip, "", "" })
	return nil
}

// hostNetPredecessorLocked returns the pod of p's owner that is stopping
// on this node, which the host-network pod p must wait for, or nil; r.mu
// is held.
//
// Two pods of one workload on one node, the new one on the host's
// network, share the node's ports (a predecessor on the host's network
// too) and usually what they keep on it (the self-hosted reconciler's
// data dir and raft identity, whichever network the predecessor used: a
// DaemonSet moved onto the host's network is replaced in one set as
// well): they must not overlap. The leader replaces
// such a DaemonSet's pod in one pod set (the new pod in it, the old one
// gone, reconcile/daemonset_rollout.go), because the pod it replaces may be
// the leader itself, which could not push a second set; the agent makes
// the replacement a sequence, as the kubelet replaces a static pod: the
// new pod starts once the old one has stopped and been cleaned up. The
// agent keeps its set on disk, so it completes the replacement even when
// the process that sent it is the one stopped.
func (r *Runtime) hostNetPredecessorLocked(p api.Pod) *podWorker {
	if !p.Spec.HostNetwork || p.Owner == "" {
		return nil
	}
	var prev *podWorker
	for _, w := range r.pods {
		if w.pod.UID != p.UID && w.pod.Owner == p.Owner && w.stopping() {
			select {
			case <-w.done:
				continue // already gone
			default:
			}
			if prev == nil || w.startTime.After(*prev.startTime) {
				prev = w
			}
		}
	}
	return prev
}
