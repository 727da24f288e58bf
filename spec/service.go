package spec

// KindService is a v1 Service.
const KindService = "Service"

// Service is the supported subset of Kubernetes' v1 Service: a stable virtual
// IP (or, headless, a DNS name) in front of the pods its selector matches.
type Service struct {
	TypeMeta `json:",inline"`
	// ObjectMeta is the object's metadata: name, namespace, labels and
	// annotations.
	ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired behaviour of the Service.
	Spec ServiceSpec `json:"spec"`
}

// ServiceSpec is the supported subset of Kubernetes' v1 ServiceSpec.
type ServiceSpec struct {
	// Type is ClusterIP (a virtual IP reachable inside the cluster) or
	// NodePort (that, plus a port on every node's addresses). Defaults to
	// ClusterIP.
	Type string `json:"type,omitempty"`
	// Selector picks the pods that receive the Service's traffic, by
	// label equality. A Service with no selector has no endpoints.
	Selector map[string]string `json:"selector,omitempty"`
	// Ports are the ports the Service exposes, at least one unless the
	// Service is headless.
	Ports []ServicePort `json:"ports,omitempty"`
	// ClusterIP is the virtual IP: empty to have one allocated from the
	// service CIDR (kept for the Service's life), an address in the service
	// CIDR that no other Service holds, or "None" for a headless Service
	// (DNS answers with the pods' IPs; nothing is proxied).
	ClusterIP string `json:"clusterIP,omitempty"`
	// ClusterIPs, when set, must hold ClusterIP alone: Stevedore is IPv4
	// only.
	ClusterIPs []string `json:"clusterIPs,omitempty"`
	// SessionAffinity is None or ClientIP (a client keeps reaching the same
	// pod). Defaults to None.
	SessionAffinity string `json:"sessionAffinity,omitempty"`
	// SessionAffinityConfig holds the ClientIP stickiness timeout.
	SessionAffinityConfig *SessionAffinityConfig `json:"sessionAffinityConfig,omitempty"`
	// PublishNotReadyAddresses makes DNS answer with the addresses of pods
	// that are not Ready too.
	PublishNotReadyAddresses bool `json:"publishNotReadyAddresses,omitempty"`
}

// ServicePort is one port of a Service.
type ServicePort struct {
	// Name is the port's name, unique in the Service: a DNS-1123 label.
	// Required when the Service has more than one port; it names the SRV
	// record _<name>._<protocol>.<service>.<namespace>.svc.<domain>.
	Name string `json:"name,omitempty"`
	// Protocol is TCP or UDP. Defaults to TCP.
	Protocol string `json:"protocol,omitempty"`
	// AppProtocol is informational (for example "http"): a label key such
	// as "http" or "kubernetes.io/h2c".
	AppProtocol string `json:"appProtocol,omitempty"`
	// Port is the port on the cluster IP, 1-65535.
	Port int32 `json:"port"`
	// TargetPort is the pods' port: a number, or the name of a container
	// port. Defaults to Port.
	TargetPort IntOrString `json:"targetPort,omitempty"`
	// NodePort is the port on every node (NodePort Services), in the
	// cluster's node-port range (30000-32767 unless the reconciler is
	// configured otherwise) and no other Service's: empty to have one
	// allocated, kept for the Service's life.
	NodePort int32 `json:"nodePort,omitempty"`
}

// SessionAffinityConfig holds the session affinity settings.
type SessionAffinityConfig struct {
	// ClientIP holds the ClientIP affinity settings.
	ClientIP *ClientIPConfig `json:"clientIP,omitempty"`
}

// ClientIPConfig holds the ClientIP affinity settings.
type ClientIPConfig struct {
	// TimeoutSeconds is how long a client sticks to its pod after its last
	// packet, 1-86400. Defaults to 10800 (3 hours).
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}
