package runtime

import (
	"fmt"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Condition reasons, as the kubelet's status generation names them.
const (
	reasonContainersNotReady = "ContainersNotReady"
	reasonPodCompleted       = "PodCompleted"
	reasonPodFailed          = "PodFailed"
)

// podConditions derives the pod's Initialized, Ready and ContainersReady
// conditions (without times) from its phase and container statuses, as the
// kubelet's GenerateContainersReadyCondition and GeneratePodReadyCondition
// do: ContainersReady is True when every container is Ready; Ready is the
// same (no readiness gates); both are False with PodCompleted or PodFailed
// once the pod has ended. Initialized is False until every init container
// has succeeded (initializedCondition).
func podConditions(phase string, inits, cs []api.ContainerStatus) []api.Condition {
	ready := api.Condition{Type: api.PodContainersReady, Status: api.ConditionTrue}
	switch phase {
	case api.PodSucceeded:
		ready = api.Condition{Type: api.PodContainersReady, Status: api.ConditionFalse, Reason: reasonPodCompleted}
	case api.PodFailed:
		ready = api.Condition{Type: api.PodContainersReady, Status: api.ConditionFalse, Reason: reasonPodFailed}
	default:
		var unready []string
		for i := range cs {
			if !cs[i].Ready {
				unready = append(unready, cs[i].Name)
			}
		}
		if len(unready) > 0 {
			ready.Status = api.ConditionFalse
			ready.Reason = reasonContainersNotReady
			ready.Message = fmt.Sprintf("containers with unready status: %v", unready)
		}
	}
	podReady := ready
	podReady.Type = api.PodReady
	return []api.Condition{
		initializedCondition(phase, inits),
		podReady,
		ready,
	}
}

// refreshConditionsLocked recomputes the pod's conditions after a change
// of its state, keeping each one's LastTransitionTime while its status
// stays the same; r.mu is held. w.conds is replaced, never changed in
// place: records and statuses share it.
func (w *podWorker) refreshConditionsLocked() {
	cs := make([]api.ContainerStatus, len(w.ctrs))
	for i, c := range w.ctrs {
		cs[i] = c.st
	}
	inits := w.initStatusesLocked()
	w.setConditionsLocked(podPhaseInit(w.restartPolicy(), inits, cs), inits, cs)
}

// setConditionsLocked is refreshConditionsLocked with the phase and
// container statuses at hand; r.mu is held.
func (w *podWorker) setConditionsLocked(phase string, inits, cs []api.ContainerStatus) {
	conds := podConditions(phase, inits, cs)
	changed := len(conds) != len(w.conds)
	now := time.Now().UTC()
	for i := range conds {
		old := findCondition(w.conds, conds[i].Type)
		switch {
		case old == nil || old.Status != conds[i].Status:
			conds[i].LastTransitionTime = now
			changed = true
		default:
			conds[i].LastTransitionTime = old.LastTransitionTime
			changed = changed || old.Reason != conds[i].Reason || old.Message != conds[i].Message
		}
	}
	if changed {
		w.conds = conds
	}
}

// conditionsLocked returns a copy of the pod's conditions for a status of
// that phase and containers; r.mu is held. They are brought up to date
// first: state set outside update (adoption) must not show conditions
// from the record.
func (w *podWorker) conditionsLocked(phase string, inits, cs []api.ContainerStatus) []api.Condition {
	w.setConditionsLocked(phase, inits, cs)
	return append([]api.Condition(nil), w.conds...)
}

func findCondition(conds []api.Condition, t string) *api.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
