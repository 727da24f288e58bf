package spec

// This file holds the container health and lifecycle fields: probes
// (livenessProbe, readinessProbe, startupProbe) and hooks (postStart,
// preStop), with Kubernetes' names and meaning. The agent runs them; see
// docs/probes.md.

// Probe defaults, as Kubernetes applies them. They are applied by the agent
// when a field is zero, not written into the spec at load, so that writing
// a default does not change a pod template's hash.
const (
	DefaultProbePeriodSeconds    = 10
	DefaultProbeTimeoutSeconds   = 1
	DefaultProbeSuccessThreshold = 1
	DefaultProbeFailureThreshold = 3
	// DefaultTerminationMessagePath is where a container writes why it
	// ended, read by the agent after it exits.
	DefaultTerminationMessagePath = "/dev/termination-log"
)

// Termination message policies.
const (
	// TerminationMessageReadFile: the message is the file at
	// terminationMessagePath (at most 4096 bytes).
	TerminationMessageReadFile = "File"
	// TerminationMessageFallbackToLogsOnError: when the file is empty and
	// the container failed, the message is the tail of its log (at most
	// 2048 bytes or 80 lines).
	TerminationMessageFallbackToLogsOnError = "FallbackToLogsOnError"
)

// URI schemes of an HTTP probe or hook.
const (
	URISchemeHTTP  = "HTTP"
	URISchemeHTTPS = "HTTPS"
)

// Probe is a diagnostic the agent runs periodically against a container.
// Exactly one handler (exec, httpGet, tcpSocket or grpc) must be set.
type Probe struct {
	// ProbeHandler is the action that tells success from failure.
	ProbeHandler `json:",inline"`
	// InitialDelaySeconds is how long after the container starts the first
	// probe runs. Defaults to 0.
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// TimeoutSeconds is how long one probe may take before it counts as a
	// failure. Defaults to 1 (0 means the default).
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// PeriodSeconds is how often the probe runs. Defaults to 10; written,
	// at least 1 (an explicit 0 is refused).
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// SuccessThreshold is how many successes in a row count as success
	// after a failure. Defaults to 1 (0 means the default); must be 1 for
	// liveness and startup probes.
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
	// FailureThreshold is how many failures in a row count as failure:
	// the container is restarted (liveness, startup) or marked not ready
	// (readiness). Defaults to 3 (0 means the default).
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
	// TerminationGracePeriodSeconds, on a liveness or startup probe,
	// replaces the pod's terminationGracePeriodSeconds when this probe's
	// failure kills the container. Not allowed on a readiness probe.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ProbeHandler is the action of a probe: exactly one member is set.
type ProbeHandler struct {
	// Exec runs a command in the container; exit status 0 is success.
	Exec *ExecAction `json:"exec,omitempty"`
	// HTTPGet sends an HTTP GET to the pod; a status from 200 to 399 is
	// success.
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
	// TCPSocket opens a TCP connection to the pod; connecting is success.
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	// GRPC calls the gRPC health checking protocol (grpc.health.v1.Health
	// Check) on the pod; SERVING is success.
	GRPC *GRPCAction `json:"grpc,omitempty"`
}

// ExecAction runs a command in the container.
type ExecAction struct {
	// Command is the command line, run directly (not in a shell) in the
	// container's root filesystem and namespaces; to use a shell, run it
	// explicitly (["sh", "-c", "..."]). At least one element.
	Command []string `json:"command,omitempty"`
}

// HTTPGetAction is an HTTP GET against the pod.
type HTTPGetAction struct {
	// Path is the request path, starting with "/" (a query may follow).
	// Defaults to "/".
	Path string `json:"path,omitempty"`
	// Port is the port number (1-65535) or the name of one of this
	// container's ports (ports[].name), looked up in this container only,
	// as in Kubernetes. Required.
	Port IntOrString `json:"port"`
	// Host is the host to connect to. Defaults to the pod's IP.
	Host string `json:"host,omitempty"`
	// Scheme is HTTP or HTTPS (certificates are not verified). Defaults
	// to HTTP.
	Scheme string `json:"scheme,omitempty"`
	// HTTPHeaders are added to the request; a Host header sets the
	// request's host.
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is one header of an HTTP probe or hook.
type HTTPHeader struct {
	// Name is the header's field name.
	Name string `json:"name"`
	// Value is the header's field value.
	Value string `json:"value"`
}

// TCPSocketAction opens a TCP connection to the pod.
type TCPSocketAction struct {
	// Port is the port number (1-65535) or the name of one of this
	// container's ports (ports[].name), looked up in this container only,
	// as in Kubernetes. Required.
	Port IntOrString `json:"port"`
	// Host is the host to connect to. Defaults to the pod's IP.
	Host string `json:"host,omitempty"`
}

// GRPCAction calls the gRPC health checking protocol.
type GRPCAction struct {
	// Port is the gRPC server's port number: 1-65535 (not a name).
	Port int32 `json:"port"`
	// Service is the service name sent in the HealthCheckRequest. Defaults
	// to "" (the server's overall health).
	Service *string `json:"service,omitempty"`
}

// Lifecycle is the actions the agent runs when a container starts and
// before it is stopped.
type Lifecycle struct {
	// PostStart runs right after the container is started, beside its
	// entrypoint. The container is not Running until it finishes; if it
	// fails the container is killed and restarted per the restart policy.
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	// PreStop runs before the container is stopped (pod removed, liveness
	// failure), before SIGTERM, within the termination grace period.
	PreStop *LifecycleHandler `json:"preStop,omitempty"`
}

// LifecycleHandler is the action of a hook: exactly one member is set.
type LifecycleHandler struct {
	// Exec runs a command in the container; a non-zero exit is a failure.
	Exec *ExecAction `json:"exec,omitempty"`
	// HTTPGet sends an HTTP GET to the pod; a status outside 200-399 is a
	// failure.
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
	// Sleep waits before the container is stopped (or, in postStart,
	// before it counts as running).
	Sleep *SleepAction `json:"sleep,omitempty"`
}

// SleepAction waits a number of seconds.
type SleepAction struct {
	// Seconds is how long to wait: zero or more, and at most the pod's
	// terminationGracePeriodSeconds.
	Seconds int64 `json:"seconds"`
}
