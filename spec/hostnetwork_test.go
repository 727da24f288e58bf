package spec

import (
	"strings"
	"testing"
)

const privilegedNS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  annotations: {stevedore.dev/allow-privileged: \"true\"}\n"

func loadHostNet(t *testing.T, podSpec string, ns bool) (*Set, error) {
	t.Helper()
	files := map[string][]byte{"x.yaml": []byte(podHead + podSpec)}
	if ns {
		files["ns.yaml"] = []byte(privilegedNS)
	}
	return Load(files)
}

// TestHostNetworkLoads: hostNetwork is accepted in a namespace that allows
// privileged pods, keeps the ports as written (the host port is derived,
// not stored), and a host-network pod's DNS default is the node's
// resolvers (Default) while ClusterFirstWithHostNet means ClusterFirst.
func TestHostNetworkLoads(t *testing.T) {
	set, err := loadHostNet(t, "  hostNetwork: true\n  containers: [{name: c, image: busybox, ports: [{containerPort: 7070}, {containerPort: 7946, hostPort: 7946}]}]\n", true)
	if err != nil {
		t.Fatal(err)
	}
	p := set.OfKind(KindPod)[0].(*Pod)
	if !p.Spec.HostNetwork {
		t.Fatal("hostNetwork not kept")
	}
	if hp := p.Spec.HostPortOf(p.Spec.Containers[0].Ports[0]); hp != 7070 || p.Spec.Containers[0].Ports[0].HostPort != 0 {
		t.Errorf("host port of containerPort 7070 = %d (stored %d), want 7070 (stored 0)", hp, p.Spec.Containers[0].Ports[0].HostPort)
	}
	if got := p.Spec.EffectiveDNSPolicy(); got != DNSDefault {
		t.Errorf("host-network pod's default DNS policy = %s, want Default", got)
	}
	set, err = loadHostNet(t, "  hostNetwork: true\n  dnsPolicy: ClusterFirstWithHostNet\n  containers: [{name: c, image: busybox}]\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if p := set.OfKind(KindPod)[0].(*Pod); p.Spec.EffectiveDNSPolicy() != DNSClusterFirst || p.Spec.DNSPolicy != DNSClusterFirstWithHostNet {
		t.Errorf("ClusterFirstWithHostNet: stored %q, effective %q", p.Spec.DNSPolicy, p.Spec.EffectiveDNSPolicy())
	}
	// Written as Kubernetes' default, it is no host network at all, and
	// does not change a template's hash.
	plain := TemplateHash(&mustLoad(t, deployHead+"      containers: [{name: c, image: busybox}]\n").OfKind(KindDeployment)[0].(*Deployment).Spec.Template)
	if h := TemplateHash(&mustLoad(t, deployHead+"      hostNetwork: false\n      containers: [{name: c, image: busybox}]\n").OfKind(KindDeployment)[0].(*Deployment).Spec.Template); h != plain {
		t.Errorf("hostNetwork: false hashes %s, want %s", h, plain)
	}
}

func TestHostNetworkRules(t *testing.T) {
	cases := []struct {
		name, spec string
		ns         bool
		field, msg string
	}{
		{"hostPort differs", "  hostNetwork: true\n  containers: [{name: c, image: busybox, ports: [{containerPort: 80, hostPort: 8080}]}]\n", true,
			"spec.containers[0].ports[0].hostPort", "must match `containerPort` when `hostNetwork` is true"},
		{"init container hostPort differs", "  hostNetwork: true\n  initContainers: [{name: i, image: busybox, ports: [{containerPort: 80, hostPort: 81}]}]\n  containers: [{name: c, image: busybox}]\n", true,
			"spec.initContainers[0].ports[0].hostPort", "must match `containerPort`"},
		{"net sysctl", "  hostNetwork: true\n  securityContext: {sysctls: [{name: net.ipv4.ip_local_port_range, value: \"1024 65535\"}]}\n  containers: [{name: c, image: busybox}]\n", true,
			"spec.securityContext.sysctls[0].name", "may not be specified when `hostNetwork` is true"},
		{"namespace without consent", "  hostNetwork: true\n  containers: [{name: c, image: busybox}]\n", false,
			"spec.hostNetwork", "hostNetwork is not allowed in namespace \"default\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadHostNet(t, tc.spec, tc.ns)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			list, ok := err.(ErrorList)
			if !ok || len(list) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			if list[0].Field != tc.field || !strings.Contains(list[0].Error(), tc.msg) {
				t.Errorf("error on %s: %v; want on %s containing %q", list[0].Field, list[0], tc.field, tc.msg)
			}
		})
	}
}
