package reconcile

import (
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A plan depends on Input.Now in two places only: whether a pod that is up
// has been up for its workload's minReadySeconds (which decides how many
// old pods a template change keeps, and counts in the views), and whether
// a pod of the current template has been unavailable for longer than the
// progress deadline (which the views report). Everything else is driven by
// changes of the other inputs. Each place notes, through wakeAt, the instant
// at which its answer would change, and Output.Wake is the earliest of
// them, so that a daemon can sleep until then instead of planning on a
// timer. Only what changes the plan's outcome is noted: the order in which
// old pods are kept matters only in a plan that drops some, and such a plan
// is never a fixed point.

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

// availableWake is available, noting when a pod that is up, but not yet
// for minReady seconds, becomes available.
func (p *planner) availableWake(st *api.PodStatus, minReady int32) bool {
	ok, at := p.availability(st, minReady)
	if !ok && !at.IsZero() {
		p.wakeAt(at)
	}
	return ok
}
