package api

import (
	"context"
	"net/url"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// Fields are declared in alphabetical order of their JSON names, the order
// kubectl prints them in, so that `ctl get svc -o json` reads the same.
//
// Unlike the reconciler's other lists, Services and Endpoints travel in
// Kubernetes' own v1 shapes (field names and meanings of k8s.io/api/core/v1):
// they are objects people already script against (`kubectl get svc -o
// json | jq '.items[].spec.clusterIP'`), and there is nothing Stevedore
// adds to them that a Kubernetes shape cannot hold. What Kubernetes has no
// field for (why a pod is not an endpoint) is in ServiceDescription.

// Paths of Services and Endpoints.
const (
	// PathServices: GET ?namespace= → ServiceList; ?watch=1 → a stream of
	// WatchEvents of Services.
	PathServices = "/v1/services"
	// PathService: GET → ServiceDescription (ServicePath builds it).
	PathService = "/v1/services/{namespace}/{name}"
	// PathEndpoints: GET ?namespace= → EndpointsList; ?watch=1 → a stream
	// of WatchEvents of Endpoints.
	PathEndpoints = "/v1/endpoints"
	// PathEndpointsOf: GET → Endpoints (EndpointsPath builds it).
	PathEndpointsOf = "/v1/endpoints/{namespace}/{name}"
)

// Kinds of the lists and objects of this file.
const (
	KindService       = "Service"
	KindServiceList   = "ServiceList"
	KindEndpoints     = "Endpoints"
	KindEndpointsList = "EndpointsList"
)

// ServicePath is the path of one Service's description.
func ServicePath(namespace, name string) string {
	return PathServices + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// EndpointsPath is the path of one Service's Endpoints.
func EndpointsPath(namespace, name string) string {
	return PathEndpoints + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// ObjectMeta is metav1.ObjectMeta's subset Stevedore knows. A Service has
// no creation time the reconciler could vouch for (Git says when a file
// changed, not when the object was first applied), so
// CreationTimestamp is left out until it does.
type ObjectMeta struct {
	Annotations       map[string]string `json:"annotations,omitempty"`
	CreationTimestamp *time.Time        `json:"creationTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
}

// Service is a v1 Service as committed, with what the leader resolved:
// spec.clusterIP (allocated when the manifest left it empty) and every
// port's nodePort (NodePort Services).
type Service struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   ObjectMeta    `json:"metadata"`
	Spec       ServiceSpec   `json:"spec"`
	Status     ServiceStatus `json:"status"`
}

// ServiceSpec is v1.ServiceSpec's subset Stevedore supports.
type ServiceSpec struct {
	// ClusterIP is the allocated virtual IP, or "None" (headless); empty
	// only while the leader has not allocated one yet.
	ClusterIP  string   `json:"clusterIP,omitempty"`
	ClusterIPs []string `json:"clusterIPs,omitempty"`
	// IPFamilies is ["IPv4"] and IPFamilyPolicy "SingleStack": Stevedore is
	// IPv4 only (Kubernetes fills both in the same way).
	IPFamilies               []string                    `json:"ipFamilies,omitempty"`
	IPFamilyPolicy           string                      `json:"ipFamilyPolicy,omitempty"`
	Ports                    []ServicePort               `json:"ports,omitempty"`
	PublishNotReadyAddresses bool                        `json:"publishNotReadyAddresses,omitempty"`
	Selector                 map[string]string           `json:"selector,omitempty"`
	SessionAffinity          string                      `json:"sessionAffinity"`
	SessionAffinityConfig    *spec.SessionAffinityConfig `json:"sessionAffinityConfig,omitempty"`
	// Type is ClusterIP or NodePort.
	Type string `json:"type"`
}

// ServicePort is v1.ServicePort: targetPort as committed (defaulted to
// port), nodePort as allocated.
type ServicePort struct {
	AppProtocol string           `json:"appProtocol,omitempty"`
	Name        string           `json:"name,omitempty"`
	NodePort    int32            `json:"nodePort,omitempty"`
	Port        int32            `json:"port"`
	Protocol    string           `json:"protocol"`
	TargetPort  spec.IntOrString `json:"targetPort"`
}

// ServiceStatus is v1.ServiceStatus: always an empty loadBalancer, as
// Kubernetes shows for a ClusterIP or NodePort Service.
type ServiceStatus struct {
	LoadBalancer LoadBalancerStatus `json:"loadBalancer"`
}

// LoadBalancerStatus is v1.LoadBalancerStatus; Stevedore has no load
// balancer Services, so it is always empty.
type LoadBalancerStatus struct{}

// ListMeta is metav1.ListMeta; Stevedore has no resource versions.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion"`
}

// ServiceList is the answer to GET /v1/services: a v1 ServiceList sorted by
// namespace and name.
type ServiceList struct {
	APIVersion string    `json:"apiVersion"`
	Items      []Service `json:"items"`
	Kind       string    `json:"kind"`
	Metadata   ListMeta  `json:"metadata"`
}

// Endpoints is a v1 Endpoints: the pods behind a Service, grouped into
// subsets of addresses that serve the same ports, as Kubernetes' endpoints
// controller packs them (RepackSubsets).
type Endpoints struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Metadata   ObjectMeta       `json:"metadata"`
	Subsets    []EndpointSubset `json:"subsets,omitempty"`
}

// EndpointSubset is v1.EndpointSubset. Addresses are the Ready pods (every
// pod when the Service publishes not-ready addresses), NotReadyAddresses
// the others, both sorted by IP; Ports follow the Service's port order.
// Subsets are sorted by their ports.
type EndpointSubset struct {
	Addresses         []EndpointAddress `json:"addresses,omitempty"`
	NotReadyAddresses []EndpointAddress `json:"notReadyAddresses,omitempty"`
	Ports             []EndpointPort    `json:"ports,omitempty"`
}

// EndpointAddress is v1.EndpointAddress.
type EndpointAddress struct {
	Hostname  string           `json:"hostname,omitempty"`
	IP        string           `json:"ip"`
	NodeName  string           `json:"nodeName,omitempty"`
	TargetRef *ObjectReference `json:"targetRef,omitempty"`
}

// ObjectReference is v1.ObjectReference's subset an endpoint needs.
type ObjectReference struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// EndpointPort is v1.EndpointPort: the Service port's name and protocol,
// and the pod's resolved target port.
type EndpointPort struct {
	AppProtocol string `json:"appProtocol,omitempty"`
	Name        string `json:"name,omitempty"`
	Port        int32  `json:"port"`
	Protocol    string `json:"protocol"`
}

// EndpointsList is the answer to GET /v1/endpoints: a v1 EndpointsList
// sorted by namespace and name, one Endpoints per Service.
type EndpointsList struct {
	APIVersion string      `json:"apiVersion"`
	Items      []Endpoints `json:"items"`
	Kind       string      `json:"kind"`
	Metadata   ListMeta    `json:"metadata"`
}

// ServiceDescription is the answer to GET /v1/services/{namespace}/{name}:
// the Service, its Endpoints, and what Kubernetes does not say: which pods
// are not endpoints, and why.
type ServiceDescription struct {
	Service   Service   `json:"service"`
	Endpoints Endpoints `json:"endpoints"`
	// Excluded are the pods of the Service's namespace that match its
	// selector (or part of it) and are no endpoint, sorted by pod name.
	Excluded []EndpointExclusion `json:"excluded,omitempty"`
	// MatchingPods counts the pods the whole selector matches (endpoints
	// or not); zero with a selector means that no pod matches it.
	MatchingPods int `json:"matchingPods"`
}

// EndpointExclusion says why a pod is not one of a Service's endpoints.
type EndpointExclusion struct {
	Pod  string `json:"pod"`
	Node string `json:"node,omitempty"`
	// Reason is one of the Exclusion constants.
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// Reasons a pod is not an endpoint (reconcile's Exclusion* constants).
const (
	ExclusionNotReady         = "NotReady"
	ExclusionNoIP             = "NoIP"
	ExclusionSelectorMismatch = "SelectorMismatch"
	ExclusionTerminating      = "Terminating"
)

// Services returns the Services of namespace ("" for all).
func (c *Client) Services(ctx context.Context, namespace string) ([]Service, error) {
	var l ServiceList
	err := c.do(ctx, "GET", PathServices, nsQuery(namespace), &l)
	return l.Items, err
}

// DescribeService returns one Service with its endpoints and the pods that
// are not; an unknown Service is an error matching ErrNotFound.
func (c *Client) DescribeService(ctx context.Context, namespace, name string) (*ServiceDescription, error) {
	var d ServiceDescription
	if err := c.do(ctx, "GET", ServicePath(namespace, name), nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Endpoints returns the Endpoints of every Service of namespace ("" for
// all).
func (c *Client) Endpoints(ctx context.Context, namespace string) ([]Endpoints, error) {
	var l EndpointsList
	err := c.do(ctx, "GET", PathEndpoints, nsQuery(namespace), &l)
	return l.Items, err
}

// EndpointsOf returns one Service's Endpoints.
func (c *Client) EndpointsOf(ctx context.Context, namespace, name string) (*Endpoints, error) {
	var e Endpoints
	if err := c.do(ctx, "GET", EndpointsPath(namespace, name), nil, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
