package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Query parameters of PathTopPods.
const (
	QuerySelector      = "selector" // a label selector, kubectl's -l syntax
	QueryAllNamespaces = "all"      // "1": every namespace
)

// ContainerMetrics is one container's use, as metrics.k8s.io's: CPU as a
// rate over the agent's last stats window, memory as the working set.
type ContainerMetrics struct {
	Name string `json:"name"`
	// CPUNanoCores is the average rate over the window (1e9 is a core).
	CPUNanoCores uint64 `json:"cpuNanoCores"`
	// MemoryBytes is the working set (usage minus inactive file pages).
	MemoryBytes uint64 `json:"memoryBytes"`
}

// PodMetrics is one pod's use, the sum of its containers'.
type PodMetrics struct {
	Namespace    string             `json:"namespace"`
	Name         string             `json:"name"`
	Node         string             `json:"node"`
	Timestamp    time.Time          `json:"timestamp"`
	Window       time.Duration      `json:"window"`
	CPUNanoCores uint64             `json:"cpuNanoCores"`
	MemoryBytes  uint64             `json:"memoryBytes"`
	Containers   []ContainerMetrics `json:"containers"`
}

// NodeProblem says why a node's figures are missing from an answer.
type NodeProblem struct {
	Node  string `json:"node"`
	Error string `json:"error"`
}

// PodMetricsList answers PathTopPods, sorted by namespace and name.
// Problems lists the nodes that did not answer in time (their pods are
// missing), instead of failing the whole answer.
type PodMetricsList struct {
	Items    []PodMetrics  `json:"items"`
	Problems []NodeProblem `json:"problems,omitempty"`
}

// NodeMetrics is one node's use beside what it offers: kubectl top node's
// CPU% and MEMORY% are of Allocatable.
type NodeMetrics struct {
	Name         string             `json:"name"`
	Timestamp    time.Time          `json:"timestamp,omitzero"`
	Window       time.Duration      `json:"window,omitempty"`
	CPUNanoCores uint64             `json:"cpuNanoCores"`
	MemoryBytes  uint64             `json:"memoryBytes"`
	Allocatable  agentapi.Resources `json:"allocatable"`
	// Error is set (and the figures zero) when the node's agent did not
	// answer: dead, partitioned or too slow.
	Error string `json:"error,omitempty"`
}

// NodeMetricsList answers PathTopNodes, sorted by name: every node of the
// node table, alive or not.
type NodeMetricsList struct {
	Items []NodeMetrics `json:"items"`
}

// NodePod is a pod placed on a node with what it asks for, a row of
// kubectl describe node's "Non-terminated Pods".
type NodePod struct {
	Namespace string             `json:"namespace"`
	Name      string             `json:"name"`
	Requests  agentapi.Resources `json:"requests"`
	Limits    agentapi.Resources `json:"limits"`
	Created   time.Time          `json:"created,omitzero"`
}

// NodeDescription answers PathNode: the node's table entry, its agent's
// own status (nil with StatusError when the agent did not answer), the
// pods placed there, their summed requests and limits, and the node's
// recent events.
type NodeDescription struct {
	Node        Node                 `json:"node"`
	Status      *agentapi.NodeStatus `json:"status,omitempty"`
	StatusError string               `json:"statusError,omitempty"`
	Pods        []NodePod            `json:"pods"`
	// Requests and Limits sum the pods'; kubectl prints them as a share
	// of the node's allocatable.
	Requests agentapi.Resources `json:"requests"`
	Limits   agentapi.Resources `json:"limits"`
	Events   []Event            `json:"events"`
}

// TopPods returns the pods' latest use in namespace ("" with all for every
// namespace) matching selector ("" for any).
func (c *Client) TopPods(ctx context.Context, namespace, selector string, all bool) (*PodMetricsList, error) {
	q := url.Values{}
	if namespace != "" {
		q.Set("namespace", namespace)
	}
	if selector != "" {
		q.Set(QuerySelector, selector)
	}
	if all {
		q.Set(QueryAllNamespaces, "1")
	}
	var l PodMetricsList
	return &l, c.do(ctx, http.MethodGet, PathTopPods, q, &l)
}

// TopNodes returns every node's latest use.
func (c *Client) TopNodes(ctx context.Context) (*NodeMetricsList, error) {
	var l NodeMetricsList
	return &l, c.do(ctx, http.MethodGet, PathTopNodes, nil, &l)
}

// DescribeNode returns what `ctl describe node` shows of name.
func (c *Client) DescribeNode(ctx context.Context, name string) (*NodeDescription, error) {
	var d NodeDescription
	return &d, c.do(ctx, http.MethodGet, NodePath(PathNode, name), nil, &d)
}
