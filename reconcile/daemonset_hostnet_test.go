package reconcile

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestDaemonSetHostNetworkReplacesInOneSet: a host-network DaemonSet's
// rolling update drops a node's old pod and creates its new pod in the
// same plan (the agent sequences them), even while the old pod is still
// reported running, and with its containerPort taken by that old pod: a
// self-hosted reconciler that replaces its own pod, as the only leader,
// pushes one set that holds its successor. Without hostNetwork the new pod
// waits for the old one to stop (TestDaemonSetRollingUpdate).
func TestDaemonSetHostNetworkReplacesInOneSet(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil})
	ds := withDaemon(daemonSetObj("reconciler", "img:1"), func(s *spec.DaemonSetSpec) {
		s.Template.Spec.HostNetwork = true
		s.Template.Spec.Containers[0].Ports = []spec.ContainerPort{{ContainerPort: 7070, Protocol: spec.ProtocolTCP}}
	})
	h.desired = setOf(ds)
	h.mustPlan(t)
	h.mustObserve(t, map[string]string{})
	h.mustPlan(t)
	h.linger = true

	v2 := withDaemon(ds, func(s *spec.DaemonSetSpec) { s.Template.Spec.Containers[0].Image = "img:2" })
	h.desired = setOf(v2)
	out := h.mustPlan(t)
	created, deleted := eventsWith(out, EventCreated), eventsWith(out, EventDeleted)
	if len(created) != 1 || len(deleted) != 1 {
		t.Fatalf("one plan: created %q, deleted %q; want the new pod created and the old one dropped together", created, deleted)
	}
	hash := spec.TemplateHash(&v2.Spec.Template)
	var newNode string
	for _, p := range out.Pods {
		if p.Owner == "DaemonSet/default/reconciler" && !p.Terminating() && strings.Contains(p.Name, hash) {
			newNode = p.Node
		}
	}
	if newNode != "n1" {
		t.Fatalf("new pod placed on %q, want n1 at once (its port is the old pod's, which leaves in the same set)", newNode)
	}
	set := out.PodSets["n1"]
	var names []string
	for _, p := range set {
		names = append(names, p.Name)
	}
	if len(set) != 1 || !strings.Contains(set[0].Name, hash) {
		t.Fatalf("n1's set holds %q, want only the new pod", names)
	}
	hasTol := false
	for _, tol := range set[0].Spec.Tolerations {
		hasTol = hasTol || tol.Key == "node.kubernetes.io/network-unavailable"
	}
	if !hasTol {
		t.Error("a host-network DaemonSet pod does not tolerate network-unavailable, as Kubernetes adds")
	}
}

// TestDaemonSetHostNetworkSkipsOldAgents: a host-network DaemonSet runs no
// pod on a node whose agent speaks only protocol 1 (v0.15, which would
// refuse the node's whole pod set for the unknown field), and a plain one
// still does.
func TestDaemonSetHostNetworkSkipsOldAgents(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil, "n2": nil})
	h.nodes["n1"].Info.Protocol.Max = 1
	h.nodes["n2"].Info.Protocol.Max = 2
	hostNet := withDaemon(daemonSetObj("hostnet", "img:1"), func(s *spec.DaemonSetSpec) { s.Template.Spec.HostNetwork = true })
	h.desired = setOf(hostNet, daemonSetObj("plain", "img:1"))
	out := h.mustPlan(t)
	on := map[string][]string{}
	for node, set := range out.PodSets {
		for _, p := range set {
			on[node] = append(on[node], p.Owner)
		}
	}
	if strings.Contains(strings.Join(on["n1"], ","), "hostnet") || !strings.Contains(strings.Join(on["n1"], ","), "DaemonSet/default/plain") {
		t.Errorf("n1 (protocol 1) runs %q: want the plain DaemonSet's pod only", on["n1"])
	}
	if len(on["n2"]) != 2 {
		t.Errorf("n2 (protocol 2) runs %q: want both", on["n2"])
	}
}

// TestDaemonSetHostNetworkKeptOnRolledBackAgent: a host-network DaemonSet
// pod already running on a node whose agent is rolled back to protocol 1
// stays (no new one would be placed there): a rollback of the agent must
// not stop, say, the self-hosted reconciler.
func TestDaemonSetHostNetworkKeptOnRolledBackAgent(t *testing.T) {
	h := dsHarness(t, map[string]map[string]string{"n1": nil})
	h.nodes["n1"].Info.Protocol.Max = 2
	h.desired = setOf(withDaemon(daemonSetObj("hostnet", "img:1"), func(s *spec.DaemonSetSpec) { s.Template.Spec.HostNetwork = true }))
	h.mustPlan(t)
	h.mustObserve(t, map[string]string{})
	if out := h.mustPlan(t); len(out.PodSets["n1"]) != 1 {
		t.Fatalf("n1 runs %d pods, want the DaemonSet's", len(out.PodSets["n1"]))
	}
	h.nodes["n1"].Info.Protocol.Max = 1
	out := h.mustPlan(t)
	if len(out.PodSets["n1"]) != 1 || len(eventsWith(out, EventDeleted)) != 0 {
		t.Errorf("after the agent's rollback n1 runs %d pods, deleted %q: want its pod kept", len(out.PodSets["n1"]), eventsWith(out, EventDeleted))
	}
}
