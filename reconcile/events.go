package reconcile

import (
	"time"
)

// Event records something the core decided (on the wire:
// reconcile/api.Event).
type Event struct {
	Time    time.Time
	Object  string
	Reason  string
	Message string
	// Type is api.EventNormal or api.EventWarning; empty means Normal.
	Type string
	// Source is who recorded it: empty for the reconciler, the node's
	// name for an agent's event.
	Source string
	// Count and FirstTime are set by the daemon's event list, which folds
	// repeats (same object, UID, container, type, reason, message and
	// source) into one event: how many times it happened, and when first
	// (Time is the last).
	Count     int32
	FirstTime time.Time
	// UID is the incarnation of the pod the event is about and Container
	// the container's name, when the recorder knows them (an agent's
	// events): a pod re-created under the same name does not inherit its
	// predecessor's events, and repeats fold per container.
	UID       string
	Container string
}

// Event reasons.
const (
	// EventCreated: a pod got its first incarnation.
	EventCreated = "Created"
	// EventReplaced: a bare Pod's spec changed in Git; it got a new UID.
	EventReplaced = "Replaced"
	// EventDeleted: a pod was dropped (deleted from Git, scaled down, or an
	// old revision superseded).
	EventDeleted = "Deleted"
	// EventScheduled: a pod was placed on a node.
	EventScheduled = "Scheduled"
	// EventFailedScheduling: a pod fits on no node (its reason changed).
	EventFailedScheduling = "FailedScheduling"
	// EventNodeLost: a pod's node died; the pod got a new UID to be placed again.
	EventNodeLost = "NodeLost"
	// EventEvicted: a pod's node has a NoExecute taint the pod does not
	// tolerate (a drain, declared in Git or by the agent); the pod got a new
	// UID to be placed again.
	EventEvicted = "Evicted"
	// EventScalingReplicaSet: a plan changed the number of a revision's
	// pods, about the workload ("Scaled up revision abc123 to 3"), once
	// per plan and revision.
	EventScalingReplicaSet = "ScalingReplicaSet"
	// EventRolloutComplete: every replica of the new revision is
	// available and no old pod is left (from WorkloadEvents, when a
	// workload's progress turns Complete).
	EventRolloutComplete = "RolloutComplete"
	// EventDeadlineExceeded: a rollout made no progress within
	// progressDeadlineSeconds (from WorkloadEvents; a Warning).
	EventDeadlineExceeded = "ProgressDeadlineExceeded"
	// EventRecreated: a pod deleted through the API (ctl delete pod)
	// got a new UID.
	EventRecreated = "Recreated"
	// EventRolledBack: an automatic rollback (stevedore.dev/auto-rollback)
	// replaced Git's template with the last healthy one.
	EventRolledBack = "RolledBack"
)

// AutoRollbackAnnotation, "true" on a Deployment, rolls it back to its last
// healthy template without a commit when its progress deadline passes.
const AutoRollbackAnnotation = "stevedore.dev/auto-rollback"

// Pod reasons the core sets itself (agents report the others).
const (
	// ReasonUnschedulable: Pending because the pod fits on no node.
	ReasonUnschedulable = "Unschedulable"
	// ReasonNodeUnknown: placed on a node membership does not know (yet).
	ReasonNodeUnknown = "NodeUnknown"
	// ReasonNodeLost: placed on a dead node (only while Desired is nil,
	// otherwise the pod is re-created elsewhere).
	ReasonNodeLost = "NodeLost"
)
