package reconcile

import (
	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// ServiceView is one Service as the view shows it: the object as committed,
// what the leader resolved it to (cluster IP, node ports, endpoints), and
// why the pods that are not endpoints are not.
type ServiceView struct {
	// Object is the Service as committed (defaulted); read-only.
	Object *spec.Service
	// Resolved is what every agent serves: the allocated cluster IP and
	// node ports, and the endpoints.
	Resolved api.Service
	// Excluded are the pods of the Service's namespace that match the
	// selector but are no endpoint, or that match it only in part, each
	// with the reason (Reason*), sorted by pod name.
	Excluded []EndpointExclusion
}

// EndpointExclusion says why a pod is not one of a Service's endpoints.
type EndpointExclusion struct {
	Pod  string
	Node string
	// Reason is one of the Exclusion* constants; Message the details,
	// e.g. `selector wants app=web, the pod has app=api`.
	Reason  string
	Message string
}

// Reasons a pod is not an endpoint.
const (
	ExclusionNotReady         = "NotReady"
	ExclusionNoIP             = "NoIP"
	ExclusionSelectorMismatch = "SelectorMismatch"
	ExclusionTerminating      = "Terminating"
)
