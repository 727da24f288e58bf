package reconcile

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Readiness and availability, as Kubernetes defines them for a Deployment:
// a pod is ready when its Ready condition is True, and available once it
// has been ready for minReadySeconds. The workload views, the rollouts and
// the Services' endpoints (endpoints.go) all ask ready, so that a pod
// counts as ready in one place exactly when it receives traffic.

// ready reports whether st says the pod is ready: its Ready condition is
// True or, from an agent that reports no conditions (an older one), it is
// Running with at least one container and every container Ready. A pod
// being stopped (DeletionTimestamp) is not ready.
func ready(st *api.PodStatus) bool {
	if st == nil || st.DeletionTimestamp != nil {
		return false
	}
	if len(st.Conditions) > 0 {
		c := st.Condition(api.PodReady)
		return c != nil && c.Status == api.ConditionTrue
	}
	if st.Phase != api.PodRunning || len(st.Containers) == 0 {
		return false
	}
	for _, c := range st.Containers {
		if !c.Ready {
			return false
		}
	}
	return true
}

// readySince is when a ready pod became ready: its Ready condition's
// LastTransitionTime or, without conditions, the latest start of its
// containers (zero when none says).
func readySince(st *api.PodStatus) time.Time {
	if len(st.Conditions) > 0 {
		if c := st.Condition(api.PodReady); c != nil {
			return c.LastTransitionTime
		}
		return time.Time{}
	}
	var at time.Time
	for _, c := range st.Containers {
		if r := c.State.Running; r != nil && r.StartedAt.After(at) {
			at = r.StartedAt
		}
	}
	return at
}

// available is ready for at least minReady seconds (by readySince and
// Input.Now).
func (p *planner) available(st *api.PodStatus, minReady int32) bool {
	ok, _ := p.availability(st, minReady)
	return ok
}

// availability says whether st is available and, when it is ready but
// not yet for minReady seconds, the instant it will be.
func (p *planner) availability(st *api.PodStatus, minReady int32) (bool, time.Time) {
	if !ready(st) {
		return false, time.Time{}
	}
	if minReady <= 0 {
		return true, time.Time{}
	}
	at := readySince(st).Add(time.Duration(minReady) * time.Second)
	if at.After(p.in.Now) {
		return false, at
	}
	return true, time.Time{}
}

// availableSince is when an available pod became available: ready, plus
// minReady seconds.
func availableSince(st *api.PodStatus, minReady int32) time.Time {
	at := readySince(st)
	if minReady > 0 {
		at = at.Add(time.Duration(minReady) * time.Second)
	}
	return at
}
