package proxy

import (
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func TestConfigDefaultsAndValidation(t *testing.T) {
	if c := DefaultConfig(); c.Table != DefaultTable || c.Logger == nil {
		t.Errorf("DefaultConfig() = %+v, want table %q and a logger", c, DefaultTable)
	}
	for _, c := range []Config{
		{ClusterCIDR: "10.244.0.0"},
		{ClusterCIDR: "fd00::/64"},
		{PodCIDR: "bogus"},
		{Bridge: "a-bridge-name-too-long"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) succeeded, want a validation error", c)
		}
	}
}

func TestPlanSkipsAndFilters(t *testing.T) {
	long := strings.Repeat("n", 63)
	svcs := []api.Service{
		{Namespace: "a", Name: "sctp", ClusterIP: "10.96.0.1", Ports: []api.ServicePort{{Protocol: "SCTP", Port: 1}}},
		{Namespace: "a", Name: "v6", ClusterIP: "fd00::1", Ports: []api.ServicePort{{Protocol: "TCP", Port: 1}}},
		{Namespace: "a", Name: "headless", ClusterIP: api.ClusterIPNone, Ports: []api.ServicePort{{Protocol: "TCP", Port: 1}}},
		{Namespace: long, Name: long, ClusterIP: "10.96.0.2", Ports: []api.ServicePort{{Name: long, Protocol: "TCP", Port: 1}},
			Endpoints: []api.Endpoint{
				{IP: "10.244.0.2", Ready: true, Ports: []int32{80}},
				{IP: "10.244.0.2", Ready: true, Ports: []int32{80}}, // duplicate
				{IP: "10.244.0.3", Ready: false, Ports: []int32{80}},
				{IP: "10.244.0.4", Ready: true, Ports: []int32{0}}, // no such container port
				{IP: "10.244.0.5", Ready: true},                    // no ports at all
			}},
	}
	// Conflicts: the same cluster IP port, the same node port, the same
	// port name twice.
	ep := []api.Endpoint{{IP: "10.244.0.9", Ready: true, Ports: []int32{80, 81}}}
	svcs = append(svcs,
		api.Service{Namespace: "b", Name: "one", Type: api.ServiceTypeNodePort, ClusterIP: "10.96.0.3",
			Ports: []api.ServicePort{{Protocol: "TCP", Port: 80, NodePort: 30001}}, Endpoints: ep},
		api.Service{Namespace: "b", Name: "two", ClusterIP: "10.96.0.3",
			Ports: []api.ServicePort{{Protocol: "TCP", Port: 80}}, Endpoints: ep},
		api.Service{Namespace: "b", Name: "three", Type: api.ServiceTypeNodePort, ClusterIP: "10.96.0.4",
			Ports: []api.ServicePort{{Protocol: "TCP", Port: 80, NodePort: 30001}}, Endpoints: ep},
		api.Service{Namespace: "b", Name: "four", ClusterIP: "10.96.0.5",
			Ports: []api.ServicePort{{Name: "x", Protocol: "TCP", Port: 80}, {Name: "x", Protocol: "TCP", Port: 81}}, Endpoints: ep},
	)
	pl, skipped := buildPlan(DefaultConfig(), svcs)
	if len(skipped) != 5 {
		t.Errorf("skipped %q, want the SCTP and IPv6 Services, b/two, b/three and b/four's second port", skipped)
	}
	var eps int
	for _, c := range pl.chains {
		if len(c.name) > 200 {
			t.Errorf("chain name %q is %d bytes", c.name, len(c.name))
		}
		if strings.HasPrefix(c.name, "ep-") {
			eps++
		}
	}
	if eps != 3 {
		t.Errorf("%d endpoint chains, want 3 (a/n…'s one Ready endpoint with a port, b/one's, b/four's first port's)", eps)
	}
	if n := len(pl.maps[mapServiceIPs]); n != 3 {
		t.Errorf("%d service-ips elements, want 3", n)
	}
}

// TestPlanLeavesReservedNodePortsAlone: a NodePort on the agent's own API
// or gossip port would capture the node's traffic; it is left out, while
// the cluster IP and the Service's other ports are served.
func TestPlanLeavesReservedNodePortsAlone(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReservedNodePorts = []int32{7701, 7947}
	ep := []api.Endpoint{{IP: "10.244.0.9", Ready: true, Ports: []int32{80, 53}}}
	svcs := []api.Service{{Namespace: "a", Name: "grabby", Type: api.ServiceTypeNodePort, ClusterIP: "10.96.0.3",
		Ports: []api.ServicePort{{Name: "web", Protocol: "TCP", Port: 80, NodePort: 7701},
			{Name: "dns", Protocol: "UDP", Port: 53, NodePort: 30053}}, Endpoints: ep}}
	pl, skipped := buildPlan(cfg, svcs)
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "(reserved)") {
		t.Fatalf("skipped %q, want the node port 7701 as reserved", skipped)
	}
	if n := len(pl.maps[mapServiceNodePorts]); n != 1 {
		t.Errorf("%d node ports mapped, want only 30053/UDP", n)
	}
	if n := len(pl.maps[mapServiceIPs]); n != 2 {
		t.Errorf("%d cluster IP ports mapped, want both", n)
	}
	// Without the reservation the same Service takes both.
	pl, skipped = buildPlan(DefaultConfig(), svcs)
	if len(skipped) != 0 || len(pl.maps[mapServiceNodePorts]) != 2 {
		t.Errorf("without reservations: skipped %q, %d node ports", skipped, len(pl.maps[mapServiceNodePorts]))
	}
}
