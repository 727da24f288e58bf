package api

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Leases: leader election for pods (docs/leases.md).
//
// The reconciler keeps coordination.k8s.io-style Leases in its raft store
// and serves them at PathLease; the agent serves pods a credential-free
// endpoint (PathPodLease, on its bridge address, port DefaultLeasePort)
// that names the calling pod by its source address and asks the
// reconciler on its behalf. The types live here, in the leaf both sides
// import, because the agent is a client of the reconciler's lease API and
// must not import reconcile/.

// Paths of the lease API.
const (
	// PathLeases is served by the reconciler: GET ?namespace= → LeaseList.
	PathLeases = "/v1/leases"
	// PathLease is served by the reconciler: GET → Lease; PUT LeaseRequest
	// → Lease (acquired or renewed), 409 Conflict with the current lease
	// in the error's "lease" field when another holds it; DELETE removes
	// it. A ServeMux pattern; LeasePath builds the path.
	PathLease = "/v1/leases/{namespace}/{name}"
	// PathPodLease is served by the agent to pods, on the pod network:
	// GET → PodLease; PUT or POST [?duration=seconds] campaigns (acquires
	// or renews) and DELETE releases, both → PodLease, 200 when the caller
	// holds the lease afterwards and 409 when another pod does.
	PathPodLease = "/lease/{name}"
)

// DefaultLeasePort is the TCP port of the agent's pod-facing lease
// endpoint, on the node's bridge address (the nameserver of every pod's
// /etc/resolv.conf).
const DefaultLeasePort = 7702

// Lease bounds, in seconds: a longer lease survives a dead holder longer.
const (
	DefaultLeaseDurationSeconds = 15
	MaxLeaseDurationSeconds     = 3600
)

// LeaseAPIVersion and KindLease are what a Lease's apiVersion and kind say:
// the object is shaped like Kubernetes' coordination.k8s.io/v1 Lease.
const (
	LeaseAPIVersion = "coordination.k8s.io/v1"
	KindLease       = "Lease"
)

// Lease is one lease as the reconciler reports it.
type Lease struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   LeaseMetadata `json:"metadata"`
	Spec       LeaseSpec     `json:"spec"`
	// Status is Stevedore's: what the leader's clock says of the lease.
	Status LeaseStatus `json:"status"`
}

// LeaseMetadata names a lease. ResourceVersion is the raft index of its
// last change: a LeaseRequest may name it as a precondition.
type LeaseMetadata struct {
	Namespace       string `json:"namespace"`
	Name            string `json:"name"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// LeaseSpec has the fields and meaning of Kubernetes' LeaseSpec.
type LeaseSpec struct {
	// HolderIdentity is the holder's name: for a pod's campaign through
	// its agent, the pod's name (the lease is in the pod's namespace).
	// Empty after a release.
	HolderIdentity string `json:"holderIdentity,omitempty"`
	// LeaseDurationSeconds is how long after RenewTime the lease expires
	// unless renewed.
	LeaseDurationSeconds int32      `json:"leaseDurationSeconds,omitempty"`
	AcquireTime          *time.Time `json:"acquireTime,omitempty"`
	RenewTime            *time.Time `json:"renewTime,omitempty"`
	// LeaseTransitions counts the changes of holder.
	LeaseTransitions int32 `json:"leaseTransitions"`
}

// LeaseStatus is the lease as of the leader's clock.
type LeaseStatus struct {
	// Held is true when HolderIdentity is set and the lease has not
	// expired.
	Held bool `json:"held"`
	// ExpireTime is RenewTime + LeaseDurationSeconds (nil when released).
	ExpireTime *time.Time `json:"expireTime,omitempty"`
	// ObservedTime is the leader's clock when it answered.
	ObservedTime time.Time `json:"observedTime"`
}

// LeaseList is the answer of GET PathLeases.
type LeaseList struct {
	Leases []Lease `json:"leases"`
}

// LeaseRequest is the body of PUT PathLease.
type LeaseRequest struct {
	// HolderIdentity is who acquires, renews or releases. Required.
	HolderIdentity string `json:"holderIdentity"`
	// LeaseDurationSeconds zero means DefaultLeaseDurationSeconds; at
	// most MaxLeaseDurationSeconds.
	LeaseDurationSeconds int32 `json:"leaseDurationSeconds,omitempty"`
	// Release gives the lease up: only its holder may, and the lease is
	// then free at once (HolderIdentity empty).
	Release bool `json:"release,omitempty"`
	// ResourceVersion, when set, is a precondition: the request fails
	// with 409 if the lease changed since (Kubernetes' optimistic
	// concurrency). "0" means the lease must not exist yet.
	ResourceVersion string `json:"resourceVersion,omitempty"`
	// Node is set by an agent asking for one of its pods: the reconciler
	// then refuses the request (403) unless HolderIdentity names a pod of
	// the lease's namespace that it placed on that node, so that an agent
	// cannot be made to campaign for another node's pod.
	Node string `json:"node,omitempty"`
}

// PodLease is what the agent answers a pod: the lease and whether the
// calling pod holds it.
type PodLease struct {
	// Holding is true when the calling pod holds the lease.
	Holding bool `json:"holding"`
	// Holder is the pod that holds it ("" when nobody does).
	Holder string `json:"holder"`
	// Identity is the calling pod's own name, as the agent identified it.
	Identity string `json:"identity"`
	Lease    *Lease `json:"lease,omitempty"`
}

// LeasePath is the reconciler's path of one lease.
func LeasePath(namespace, name string) string {
	return PathLeases + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// dnsSubdomain is Kubernetes' rule for a Lease's name (a DNS-1123
// subdomain, at most 253 characters).
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// dnsLabel is Kubernetes' rule for a namespace (a DNS-1123 label, at most
// 63 characters).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// LeaseNameError says why namespace/name cannot name a lease, "" if it can.
func LeaseNameError(namespace, name string) string {
	switch {
	case len(namespace) > 63 || !dnsLabel.MatchString(namespace):
		return fmt.Sprintf("namespace %q: must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)", namespace)
	case len(name) > 253 || !dnsSubdomain.MatchString(name):
		return fmt.Sprintf("lease name %q: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)", name)
	}
	return ""
}

// PodHolderIdentity is the holder identity an agent gives a pod's
// campaign: "<pod name>_<pod UID>" (pod names have no "_").
func PodHolderIdentity(name, uid string) string { return name + "_" + uid }

// SplitPodHolderIdentity is PodHolderIdentity's inverse; uid is empty for
// an identity without "_".
func SplitPodHolderIdentity(holder string) (name, uid string) {
	name, uid, _ = strings.Cut(holder, "_")
	return name, uid
}
