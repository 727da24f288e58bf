package spec

// KindServiceAccount is the kind of a ServiceAccount.
const KindServiceAccount = "ServiceAccount"

// ServiceAccount is a v1 ServiceAccount. Stevedore accepts it so that
// manifests carrying one per workload (as microservices-demo does) load
// unchanged, but it does nothing: no token is minted or mounted, and no
// API server exists for a pod to authenticate to. A pod's
// serviceAccountName is shown, not checked against these objects.
type ServiceAccount struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata.
	ObjectMeta `json:"metadata,omitempty"`
	// AutomountServiceAccountToken is accepted and ignored: Stevedore
	// mounts no service account token either way.
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`
}

var _ Object = (*ServiceAccount)(nil)
