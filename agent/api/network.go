package api

// This file is the networking half of the node's desired set: what the
// leader tells every agent about the cluster's pod network, its Services and
// their endpoints. It travels inside the PodSet (level-triggered, fenced and
// generation-numbered like the pods), so an agent always applies a network
// that matches the pods it runs. The leader allocates every address in it
// (pod CIDRs, cluster IPs, node ports) and keeps the allocations in raft.

// Network is the cluster's network as one node must serve it.
type Network struct {
	// PodCIDR is this node's pod subnet, allocated by the leader out of
	// ClusterCIDR (a /24 by default) and kept for the node's life. The
	// bridge takes its first address, which is also where the node's DNS
	// server listens.
	PodCIDR string `json:"podCIDR"`
	// ClusterCIDR holds every node's pod CIDR: traffic from it to outside
	// it is masqueraded.
	ClusterCIDR string `json:"clusterCIDR"`
	// ServiceCIDR holds every Service's cluster IP.
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterDomain is the DNS suffix, "cluster.local" by default.
	ClusterDomain string `json:"clusterDomain"`
	// Nodes are the other nodes: where to route their pod CIDRs.
	Nodes []NodeRoute `json:"nodes,omitempty"`
	// Services are every Service of the cluster with its endpoints, sorted
	// by namespace and name. Every node gets all of them: any pod may call
	// any Service, and every node answers on every NodePort.
	Services []Service `json:"services,omitempty"`
}

// NodeRoute is how to reach another node's pods.
type NodeRoute struct {
	Name string `json:"name"`
	// IP is the node's address (the host of its gossip address): direct
	// routes go through it when the nodes share a network, and VXLAN
	// packets are sent to it when they do not.
	IP string `json:"ip"`
	// PodCIDR is the node's pod subnet.
	PodCIDR string `json:"podCIDR"`
}

// Service types and affinities, as in Kubernetes.
const (
	ServiceTypeClusterIP = "ClusterIP"
	ServiceTypeNodePort  = "NodePort"
	AffinityNone         = "None"
	AffinityClientIP     = "ClientIP"
	// ClusterIPNone marks a headless Service.
	ClusterIPNone = "None"
)

// Service is one v1 Service with its cluster IP and node ports resolved by
// the leader, and its endpoints.
type Service struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Type is ClusterIP or NodePort.
	Type string `json:"type"`
	// ClusterIP is the virtual IP, or "None" for a headless Service (no
	// proxying; DNS answers with the endpoints' IPs).
	ClusterIP string `json:"clusterIP"`
	// SessionAffinity is None or ClientIP; AffinityTimeoutSeconds is the
	// ClientIP stickiness (10800 by default, as in Kubernetes).
	SessionAffinity        string        `json:"sessionAffinity,omitempty"`
	AffinityTimeoutSeconds int32         `json:"affinityTimeoutSeconds,omitempty"`
	Ports                  []ServicePort `json:"ports,omitempty"`
	// Endpoints are the pods the selector matches that have an IP, Ready
	// or not, sorted by IP. Only Ready ones receive traffic.
	Endpoints []Endpoint `json:"endpoints,omitempty"`
	// PublishNotReadyAddresses makes DNS answer with not-Ready endpoints too.
	PublishNotReadyAddresses bool `json:"publishNotReadyAddresses,omitempty"`
}

// ServicePort is one port of a Service.
type ServicePort struct {
	// Name is unique in the Service; it may be empty when there is one port.
	Name string `json:"name,omitempty"`
	// Protocol is TCP or UDP.
	Protocol string `json:"protocol"`
	// Port is the port on the cluster IP.
	Port int32 `json:"port"`
	// NodePort is the port on every node's addresses (NodePort Services),
	// zero otherwise.
	NodePort int32 `json:"nodePort,omitempty"`
}

// Endpoint is one pod behind a Service.
type Endpoint struct {
	IP string `json:"ip"`
	// Node runs the pod; Pod is its name (in the Service's namespace).
	Node string `json:"node"`
	Pod  string `json:"pod"`
	// Hostname is set when the pod's spec.hostname is set and its
	// spec.subdomain names this (headless) Service: DNS then answers
	// <hostname>.<service>.<namespace>.svc.<domain>.
	Hostname string `json:"hostname,omitempty"`
	Ready    bool   `json:"ready"`
	// Ports are the resolved target ports, index for index with the
	// Service's Ports; 0 means the pod has no container port of that
	// name, so it is no endpoint for that port (as in Kubernetes).
	Ports []int32 `json:"ports"`
}
