package reconcile

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A plan depends on Input.Now in two places only: whether a ready pod has
// been ready for its workload's minReadySeconds (which decides the steps
// of a rollout, and counts in the views), and whether a rollout has made
// no progress for longer than its progress deadline (which the views
// report; see progress.go). Everything else is driven by changes of the
// other inputs. Each place notes, through wakeAt, the instant at which its
// answer would change, and Output.Wake is the earliest of them, so that a
// daemon can sleep until then instead of planning on a timer. Only what
// changes the plan's outcome is noted, and only for pods the output keeps:
// every kept pod's availability shows in its workload's view, so the
// rollout decisions (rollout.go) note nothing themselves, and a pod they
// drop must not wake the plan (the fixed point, without it, would not).

// wakeAt notes that the plan's outcome changes at t, if t is after Now.
func (p *planner) wakeAt(t time.Time) {
	if !t.After(p.in.Now) {
		return
	}
	if p.wake.IsZero() || t.Before(p.wake) {
		p.wake = t
	}
	if p.wakes != nil {
		if w, ok := p.wakes[p.wakeOwner]; !ok || t.Before(w) {
			p.wakes[p.wakeOwner] = t
		}
	}
}

// availableWake is available, noting when a pod that is ready, but not yet
// for minReady seconds, becomes available.
func (p *planner) availableWake(st *api.PodStatus, minReady int32) bool {
	ok, at := p.availability(st, minReady)
	if !ok && !at.IsZero() {
		p.wakeAt(at)
	}
	return ok
}
