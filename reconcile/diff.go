package reconcile

import "github.com/stevedore-dev/stevedore/spec"

// Change actions.
const (
	ActionCreated = "created"
	ActionChanged = "changed"
	ActionDeleted = "deleted"
)

// ObjectChange is what syncing would do to one object.
type ObjectChange struct {
	Key    spec.ObjectKey `json:"key"`
	Action string         `json:"action"`
	// Diff is a field-level diff (go-cmp) for a changed object.
	Diff string `json:"diff,omitempty"`
	// PodsStarted and PodsStopped name ("namespace/name") the pods a workload
	// change would start and stop.
	PodsStarted []string `json:"podsStarted,omitempty"`
	PodsStopped []string `json:"podsStopped,omitempty"`
}

// Diff returns what changes from applied to next, sorted by key. Either may
// be nil (nothing applied yet; everything deleted).
func Diff(applied, next *spec.Set) []ObjectChange {
	_, _ = applied, next
	return nil
}
