// Package naming is the reconciler's plug-in point for external naming and
// discovery: whenever the cluster's set of Services and endpoints changes,
// the leader hands the whole set (a Snapshot) to every configured Hook, so
// that an external DNS server, a service registry or a load balancer can
// follow the cluster without polling it.
//
// Two hooks come built in: Webhook POSTs the Snapshot as JSON to a URL
// (signed with HMAC-SHA256 when a secret is set) and Exec runs a command
// with the JSON on its standard input. Anything else implements Hook.
//
// Delivery is level-triggered and at-least-once: every Snapshot is the
// whole set (never a delta), a hook may see the same set twice (after a
// leader change, or a retry whose first attempt did in fact arrive), and a
// set superseded before it was delivered is skipped. Receivers therefore
// replace their state with each Snapshot, idempotently.
package naming

import (
	"context"
	"errors"
	"sort"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Hook receives the cluster's Services and endpoints whenever they change.
//
// Threading: a Notifier calls each hook from one goroutine of its own,
// never concurrently with itself, with snapshots in the order they were
// published (those superseded while the hook was busy are skipped, so it
// always gets the latest next). Hooks run independently: a slow hook never
// delays another. The Snapshot is shared between hooks and must not be
// modified.
//
// ctx is cancelled when the leader's term ends (plain cancellation), or
// with the cause ErrSuperseded when a newer snapshot is waiting for this
// hook. A hook may finish the attempt it has in flight when superseded
// (its own timeout bounds it), but should not start another: the newer
// snapshot follows at once. The error is logged by the Notifier; nothing
// else is done with it (retrying is the hook's business, until ctx ends).
type Hook interface {
	Notify(ctx context.Context, s *Snapshot) error
}

// ErrSuperseded is the cause of a Notify context cancelled because a newer
// snapshot is waiting.
var ErrSuperseded = errors.New("superseded by a newer snapshot")

// Snapshot is every Service of the cluster with its endpoints: what a hook
// receives, and the JSON document the built-in hooks send (documented in
// docs/networking-services.md, "Discovery hooks").
type Snapshot struct {
	// Revision is the applied config revision (a Git commit) the set was
	// computed from, when known. It is informational: a Snapshot whose
	// Services did not change is not sent again for a new revision.
	Revision string `json:"revision,omitempty"`
	// Services are sorted by namespace and name.
	Services []Service `json:"services"`
}

// Service is one Service and its endpoints.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is ClusterIP or NodePort.
	Type string `json:"type"`
	// ClusterIP is the virtual IP, "None" for a headless Service (clients
	// reach the endpoints' IPs directly).
	ClusterIP string `json:"clusterIP"`
	Ports     []Port `json:"ports"`
	// Endpoints are the pods behind the Service, Ready or not, sorted by
	// IP. Only Ready ones receive the virtual IP's traffic.
	Endpoints []Endpoint `json:"endpoints"`
}

// Port is one port of a Service.
type Port struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	// NodePort is the port on every node's addresses (NodePort Services).
	NodePort int32 `json:"nodePort,omitempty"`
}

// Endpoint is one pod behind a Service.
type Endpoint struct {
	IP   string `json:"ip"`
	Node string `json:"node"`
	Pod  string `json:"pod"`
	// Hostname is the pod's DNS hostname under a headless Service, if any.
	Hostname string `json:"hostname,omitempty"`
	Ready    bool   `json:"ready"`
	// Ports are the pod's target ports, index for index with the
	// Service's Ports; 0 where the pod has no such port.
	Ports []int32 `json:"ports"`
}

// FromServices builds the Snapshot of the Services every agent serves
// (what the leader puts in the nodes' sets), sorted by namespace and name.
// It copies what it keeps: the Snapshot shares nothing with services.
func FromServices(revision string, services []agentapi.Service) *Snapshot {
	s := &Snapshot{Revision: revision, Services: make([]Service, 0, len(services))}
	for _, in := range services {
		out := Service{Namespace: in.Namespace, Name: in.Name, Type: in.Type, ClusterIP: in.ClusterIP,
			Ports: make([]Port, len(in.Ports)), Endpoints: make([]Endpoint, len(in.Endpoints))}
		for i, p := range in.Ports {
			out.Ports[i] = Port{Name: p.Name, Protocol: p.Protocol, Port: p.Port, NodePort: p.NodePort}
		}
		for i, e := range in.Endpoints {
			out.Endpoints[i] = Endpoint{IP: e.IP, Node: e.Node, Pod: e.Pod, Hostname: e.Hostname, Ready: e.Ready,
				Ports: append([]int32{}, e.Ports...)}
		}
		sort.SliceStable(out.Endpoints, func(i, j int) bool { return out.Endpoints[i].IP < out.Endpoints[j].IP })
		s.Services = append(s.Services, out)
	}
	sort.SliceStable(s.Services, func(i, j int) bool {
		a, b := &s.Services[i], &s.Services[j]
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	return s
}
