package reconcile

import "time"

// Claim phases, as Kubernetes names them.
const (
	ClaimPending = "Pending"
	ClaimBound   = "Bound"
	ClaimLost    = "Lost"
)

// Volume phases, as Kubernetes names them.
const (
	VolumeAvailable = "Available"
	VolumeBound     = "Bound"
	VolumeReleased  = "Released"
	VolumeFailed    = "Failed"
)

// ClaimView is a PersistentVolumeClaim and what became of it (on the
// wire: reconcile/api.Claim).
type ClaimView struct {
	Namespace string
	Name      string
	// Phase is Pending, Bound or Lost; Reason and Message say why a claim
	// is Pending (WaitForFirstConsumer, no class, no volume fits…).
	Phase   string
	Reason  string
	Message string
	// Volume is the bound PersistentVolume's name.
	Volume string
	// Requested is spec.resources.requests.storage in bytes; Capacity the
	// bound volume's.
	Requested    int64
	Capacity     int64
	AccessModes  []string
	StorageClass string
	// Node is where a node-local volume lives; empty for a network one.
	Node string
	// UsedBy are the pods ("namespace/name") that mount the claim.
	UsedBy []string
	// Owner is the StatefulSet whose volumeClaimTemplates made the claim
	// ("StatefulSet/ns/name"), empty for a claim declared in Git.
	Owner   string
	Created time.Time
}

// VolumeView is a PersistentVolume, declared in Git or provisioned (on the
// wire: reconcile/api.Volume).
type VolumeView struct {
	Name          string
	Phase         string
	Reason        string
	Message       string
	Capacity      int64
	AccessModes   []string
	ReclaimPolicy string
	StorageClass  string
	// Claim is the bound claim, "namespace/name".
	Claim string
	// Driver and Handle are the volume driver and its identifier.
	Driver string
	Handle string
	// Node is where a node-local volume lives.
	Node string
	// Dynamic is true for a provisioned volume (not declared in Git).
	Dynamic bool
	Created time.Time
}
