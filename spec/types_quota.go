package spec

// Kinds that subdivide a namespace's resources.
const (
	KindResourceQuota = "ResourceQuota"
	KindLimitRange    = "LimitRange"
)

// ResourceQuota is a v1 ResourceQuota: the most a namespace's desired
// state may ask for, summed over every application's objects in it. It is
// checked at sync (package policy/quota): a revision that would take the
// namespace past a hard limit is refused, and the last good revision keeps
// running.
type ResourceQuota struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the quota's hard limits.
	Spec ResourceQuotaSpec `json:"spec,omitempty"`
}

// ResourceQuotaSpec is what a ResourceQuota limits.
type ResourceQuotaSpec struct {
	// Hard is the most the namespace may use, by quota resource name:
	// requests.cpu, requests.memory, limits.cpu, limits.memory (cpu and
	// memory mean their requests), requests.ephemeral-storage,
	// limits.ephemeral-storage, pods, services, services.nodeports,
	// services.loadbalancers, persistentvolumeclaims, requests.storage,
	// configmaps, secrets, replicationcontrollers, resourcequotas, and
	// count/<resource>[.<group>] (count/deployments.apps) for the kinds
	// Stevedore loads.
	Hard ResourceList `json:"hard,omitempty"`
}

// LimitRange is a v1 LimitRange: the defaults a namespace gives containers
// that set no requests or limits, and the smallest and largest a container,
// a pod or a claim may ask for. Defaults are applied when the revision is
// loaded (to the pod templates themselves, so that a reload reproduces
// them); a workload outside min, max or maxLimitRequestRatio is a load
// error.
type LimitRange struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the list of limits.
	Spec LimitRangeSpec `json:"spec,omitempty"`
}

// LimitRangeSpec is a LimitRange's limits.
type LimitRangeSpec struct {
	// Limits are the limits, each for one type of object.
	Limits []LimitRangeItem `json:"limits"`
}

// LimitRange item types.
const (
	LimitTypeContainer             = "Container"
	LimitTypePod                   = "Pod"
	LimitTypePersistentVolumeClaim = "PersistentVolumeClaim"
)

// LimitRangeItem is the limits of one type of object.
type LimitRangeItem struct {
	// Type is Container, Pod (the sum of its containers) or
	// PersistentVolumeClaim.
	Type string `json:"type"`
	// Max is the largest limit (a claim: request) allowed, by resource.
	Max ResourceList `json:"max,omitempty"`
	// Min is the smallest request allowed, by resource.
	Min ResourceList `json:"min,omitempty"`
	// Default is the limit a container without one gets (Container only).
	// Defaults to Max.
	Default ResourceList `json:"default,omitempty"`
	// DefaultRequest is the request a container without one gets
	// (Container only). Defaults to Default, then to Min.
	DefaultRequest ResourceList `json:"defaultRequest,omitempty"`
	// MaxLimitRequestRatio is the largest limit/request ratio allowed, by
	// resource.
	MaxLimitRequestRatio ResourceList `json:"maxLimitRequestRatio,omitempty"`
}

var (
	_ Object = (*ResourceQuota)(nil)
	_ Object = (*LimitRange)(nil)
)
