package reconcile

import (
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// renewAgentEvicted: the pod's agent evicted it under node pressure (its
// report is Failed with reason Evicted). A workload's pod is then
// re-created under a new UID and scheduled again, as a ReplicaSet,
// StatefulSet or DaemonSet replaces a pod the kubelet evicted; the
// node's pressure taint keeps it off that node while the pressure lasts.
const renewAgentEvicted renewal = renewDeleted + 16

// agentEvicted says whether the current incarnation of rec was evicted by
// its node's agent and is a workload's pod to replace. A bare Pod stays
// Failed, as in Kubernetes; a Job's pod counts as a failure (job.go).
func (p *planner) agentEvicted(rec *PodRecord) bool {
	if rec.Owner == "" || strings.HasPrefix(rec.Owner, spec.KindJob+"/") {
		return false
	}
	st := p.observed[rec.UID]
	return st != nil && st.Phase == api.PodFailed && st.Reason == api.ReasonEvicted
}
