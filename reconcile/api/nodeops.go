package api

// Paths of the node operations the reconciler serves for ctl (issue 12),
// each answered by the leader from the pod's or node's agent.
const (
	// PathTopPods: GET ?namespace=&selector=&all=1 → PodMetricsList
	// (top.go), from every alive agent's latest stats sample.
	PathTopPods = "/v1/top/pods"
	// PathTopNodes: GET → NodeMetricsList (top.go).
	PathTopNodes = "/v1/top/nodes"
	// PathNode: GET → NodeDescription (top.go): the node's table entry,
	// its agent's NodeStatus (conditions, capacity, images), its pods and
	// recent events.
	PathNode = "/v1/nodes/{name}"
	// PathExec: POST ?namespace=&pod=&container=&command=…&stdin=1&tty=1,
	// upgraded to agent/api.ExecProtocol and spliced to the pod's agent
	// (exec.go).
	PathExec = "/v1/exec"
	// PathMetrics: GET → Prometheus text exposition of this reconciler
	// (served by every reconciler, not forwarded).
	PathMetrics = "/metrics"
)
