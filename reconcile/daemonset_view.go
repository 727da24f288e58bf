package reconcile

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// daemonView fills what a DaemonSet's view has beyond the common fields:
// its strategy and bounds (resolved against its nodes), its template's
// node selector, and Available and Progressing conditions worded for a
// DaemonSet (Kubernetes leaves a DaemonSet's conditions empty; these say
// the same as kubectl rollout status would).
func daemonView(v *WorkloadView, w *workload, complete, exceeded bool) {
	v.Strategy = w.strategy
	v.MaxSurge, v.MaxUnavailable = int32(w.maxSurge), int32(w.maxUnavailable)
	if w.template != nil {
		v.NodeSelector = w.template.Spec.NodeSelector
	}
	avail := api.Condition{Type: WorkloadAvailable, Status: api.ConditionTrue,
		Reason: ReasonMinimumReplicasAvailable, Message: "DaemonSet has minimum availability."}
	if v.Available < v.Replicas-v.MaxUnavailable {
		avail.Status = api.ConditionFalse
		avail.Reason = ReasonMinimumReplicasUnavailable
		avail.Message = "DaemonSet does not have minimum availability."
	}
	prog := api.Condition{Type: WorkloadProgressing, Status: api.ConditionTrue}
	switch {
	case exceeded:
		prog.Status, prog.Reason = api.ConditionFalse, ReasonProgressDeadlineExceeded
		prog.Message = "revision " + w.hash + " has timed out progressing"
	case complete:
		prog.Reason = ReasonNewReplicaSetAvailable
		prog.Message = fmt.Sprintf("revision %s is available on %d of %d nodes", w.hash, v.Available, v.Replicas)
	default:
		prog.Reason = ReasonReplicaSetUpdated
		prog.Message = fmt.Sprintf("revision %s is progressing: %d of %d nodes updated", w.hash, v.UpToDate, v.Replicas)
	}
	v.Conditions = []api.Condition{avail, prog}
}
