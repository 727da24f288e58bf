package reconcile

import (
	"fmt"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// A workload's progress is judged as Kubernetes' deployment controller
// does (progress.go), from what the plan sees rather than from a condition
// it would have to remember: the rollout last made progress at the newest
// of the creation of its newest new pod and the instant its newest
// available new pod became available (ready for minReadySeconds). The
// deadline is exceeded when more than progressDeadlineSeconds have passed
// since then and the rollout is not complete; a paused Deployment never
// exceeds it. That instant is a Wake, so the view turns exactly then.

// workloadViews returns the views of the workloads among keys (sorted by
// kind, namespace and name), given their pods.
func (p *planner) workloadViews(keys []spec.ObjectKey, byOwner map[string][]ownedPod) []WorkloadView {
	var out []WorkloadView
	for _, k := range keys {
		owner := k.String()
		w, ok := p.workloads[owner]
		if !ok {
			continue
		}
		p.wakeOwner = owner
		out = append(out, p.workloadView(k, &w, byOwner[owner]))
	}
	return out
}

func (p *planner) workloadView(k spec.ObjectKey, w *workload, pods []ownedPod) WorkloadView {
	v := WorkloadView{
		Kind:      k.Kind,
		Namespace: w.namespace,
		Name:      k.Name,
		Replicas:  int32(w.replicas),
		Selector:  w.selector,
	}
	deployment := k.Kind == spec.KindDeployment
	if deployment {
		v.Strategy = w.strategy
		v.MaxSurge, v.MaxUnavailable = int32(w.maxSurge), int32(w.maxUnavailable)
	}
	if w.template != nil {
		v.Revision = w.hash
		if w.heldFrom != "" {
			v.Revision = w.heldFrom
		}
		for _, c := range w.template.Spec.Containers {
			v.Containers = append(v.Containers, c.Name)
			v.Images = append(v.Images, c.Image)
		}
	}
	if w.override != nil {
		v.Override = fmt.Sprintf("rolled back to revision %s: %s", w.override.Hash, w.override.Reason)
	}
	var newPods, newAvailable int32
	var progressed time.Time
	var waiting *PodView
	for _, op := range pods {
		pv := op.view
		v.Current++
		// The view holds the report exactly when the pod's node is
		// alive: no need to look both up again.
		st := pv.Status
		if up(st) {
			v.Running++
		}
		if ready(st) {
			v.Ready++
		}
		// Any pod that becomes available changes the count.
		avail := p.availableWake(st, w.minReady)
		if avail {
			v.Available++
		}
		if op.rec.Hash == v.Revision {
			v.UpToDate++
		}
		if op.rec.Hash == w.hash {
			newPods++
			progressed = latest(progressed, op.rec.Created)
			if avail {
				newAvailable++
				progressed = latest(progressed, availableSince(st, w.minReady))
			} else if waiting == nil {
				waiting = pv
			}
		}
		if c := op.rec.Created; v.Created.IsZero() || c.Before(v.Created) {
			v.Created = c
		}
	}
	complete := newAvailable == v.Replicas && v.Current == v.Replicas
	if w.sts != nil {
		complete = stsView(&v, w, newAvailable)
	} else if w.daemon != nil && w.daemon.onDelete {
		// Old pods are replaced only when deleted: not a rollout to wait for.
		complete = v.Available == v.Replicas && v.Current == v.Replicas
	}
	exceeded := false
	if !complete && !w.paused && newPods > 0 && w.sts == nil {
		at := progressed.Add(w.deadline)
		if p.in.Now.After(at) {
			exceeded = true
		} else {
			p.wakeAt(at.Add(1))
		}
	}
	switch {
	case w.paused && w.heldFrom != "":
		v.Progress = ProgressPaused
		v.Message = fmt.Sprintf("paused: running revision %s, not the template's revision %s", w.hash, w.heldFrom)
	case exceeded:
		v.Progress = ProgressDeadlineExceeded
		v.Message = fmt.Sprintf("revision %s made no progress for %s", w.hash, w.deadline)
		if waiting != nil {
			v.Message += fmt.Sprintf("; pod %s: %s", waiting.Name, podProblem(waiting))
		}
	case complete:
		v.Progress = ProgressComplete
		v.Message = v.Override
	default:
		v.Progress = ProgressProgressing
		v.Message = fmt.Sprintf("%d of %d new pods available", newAvailable, v.Replicas)
		if w.sts != nil && v.Current > v.Replicas {
			// A scale-down under way: more pods than wanted.
			v.Message = fmt.Sprintf("%d pods for %d replicas", v.Current, v.Replicas)
		}
		if old := v.Current - v.UpToDate; old > 0 {
			v.Message += fmt.Sprintf(", %d old pods left", old)
		}
		if r := p.rolls[k.String()]; r != nil && r.waiting > 0 {
			v.Message += fmt.Sprintf(", waiting for %d old pods to stop", r.waiting)
		}
		if why := p.stsWaits[k.String()]; why != "" {
			v.Message += "; " + why
		}
		if waiting != nil {
			v.Message += fmt.Sprintf("; pod %s: %s", waiting.Name, podProblem(waiting))
		}
	}
	if deployment {
		v.Conditions = conditions(&v, w, complete, exceeded)
	}
	if w.daemon != nil {
		daemonView(&v, w, complete, exceeded)
	}
	return v
}

// conditions are a Deployment's Available and Progressing conditions as
// Kubernetes sets them (LastTransitionTime left zero: the core keeps no
// history).
func conditions(v *WorkloadView, w *workload, complete, exceeded bool) []api.Condition {
	avail := api.Condition{Type: WorkloadAvailable, Status: api.ConditionTrue,
		Reason: ReasonMinimumReplicasAvailable, Message: "Deployment has minimum availability."}
	if v.Available < v.Replicas-v.MaxUnavailable {
		avail.Status = api.ConditionFalse
		avail.Reason = ReasonMinimumReplicasUnavailable
		avail.Message = "Deployment does not have minimum availability."
	}
	prog := api.Condition{Type: WorkloadProgressing, Status: api.ConditionTrue}
	switch {
	case w.paused:
		prog.Status, prog.Reason, prog.Message = api.ConditionUnknown, ReasonDeploymentPaused, "Deployment is paused"
	case exceeded:
		prog.Status, prog.Reason = api.ConditionFalse, ReasonProgressDeadlineExceeded
		prog.Message = "revision " + w.hash + " has timed out progressing"
	case w.override != nil:
		prog.Reason, prog.Message = ReasonRolledBack, v.Override
	case complete:
		prog.Reason, prog.Message = ReasonNewReplicaSetAvailable, "revision "+w.hash+" has successfully progressed"
	default:
		prog.Reason, prog.Message = ReasonReplicaSetUpdated, "revision "+w.hash+" is progressing"
	}
	return []api.Condition{avail, prog}
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// WorkloadEvents returns the events of the workloads whose progress turned
// between two consecutive plans' views (prev, next): RolloutComplete when
// one becomes Complete, ProgressDeadlineExceeded (a Warning) when one
// exceeds its deadline. A plan cannot emit them itself: both turn with
// agents' reports and time, not with anything the plan remembers, and a
// plan planned again from its own memory must decide nothing new. The
// daemon, which keeps the last plan's views, calls it after every plan;
// workloads absent from prev (a new one, or the first plan of a term)
// have no transition.
func WorkloadEvents(prev, next []WorkloadView, now time.Time) []Event {
	if len(prev) == 0 || len(next) == 0 {
		return nil
	}
	before := make(map[spec.ObjectKey]*WorkloadView, len(prev))
	for i := range prev {
		w := &prev[i]
		before[spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}] = w
	}
	var out []Event
	for i := range next {
		w := &next[i]
		k := spec.ObjectKey{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name}
		old := before[k]
		if old == nil || old.Progress == w.Progress {
			continue
		}
		switch w.Progress {
		case ProgressComplete:
			out = append(out, Event{Time: now, Object: k.String(), Reason: EventRolloutComplete,
				Message: fmt.Sprintf("revision %s rolled out: %d of %d pods available", w.Revision, w.Available, w.Replicas)})
		case ProgressDeadlineExceeded:
			out = append(out, Event{Time: now, Object: k.String(), Reason: EventDeadlineExceeded, Type: api.EventWarning,
				Message: w.Message})
		}
	}
	return out
}
