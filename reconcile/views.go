package reconcile

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// up is true when st reports the pod Running with every container running:
// a crash-looping container keeps a Kubernetes pod Running but is not up.
func up(st *api.PodStatus) bool {
	if st == nil || st.Phase != api.PodRunning {
		return false
	}
	for _, c := range st.Containers {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// ready is up with every container ready.
func ready(st *api.PodStatus) bool {
	if !up(st) {
		return false
	}
	for _, c := range st.Containers {
		if !c.Ready {
			return false
		}
	}
	return true
}

// available is up for at least minReady seconds (by the containers' start
// times and Input.Now).
func (p *planner) available(st *api.PodStatus, minReady int32) bool {
	ok, _ := p.availability(st, minReady)
	return ok
}

// output assembles the pod sets and views from the planned memory.
func (p *planner) output() Output {
	out := Output{
		PodSets: map[string][]api.Pod{},
		Pods:    make([]PodView, 0, len(p.mem)),
		Events:  p.events,
	}
	out.Changed, out.Deleted = p.delta()
	out.MemoryChanged = len(out.Changed) > 0 || len(out.Deleted) > 0 || p.in.Memory.Pods == nil
	if out.MemoryChanged {
		out.Memory.Pods = make(map[string]PodRecord, len(p.mem))
	} else {
		// Nothing to remember anew: hand back the input's map rather than
		// an equal copy (neither is ever written to).
		out.Memory = p.in.Memory
	}
	perNode := map[string]int{}
	for _, rec := range p.mem {
		perNode[rec.Node]++
	}
	for _, n := range p.in.Nodes {
		if n.Alive {
			out.PodSets[n.Info.Name] = make([]api.Pod, 0, perNode[n.Info.Name])
		}
	}
	byOwner := map[string][]ownedPod{}
	for _, key := range p.keys {
		rec := p.mem[key]
		if rec == nil {
			continue
		}
		if out.MemoryChanged {
			out.Memory.Pods[key] = *rec
		}
		// out.Pods has room for every record, so these pointers stay valid.
		out.Pods = append(out.Pods, p.view(rec))
		if rec.Owner != "" {
			byOwner[rec.Owner] = append(byOwner[rec.Owner], ownedPod{&out.Pods[len(out.Pods)-1], rec})
		}
		if set, ok := out.PodSets[rec.Node]; ok && rec.Node != "" {
			out.PodSets[rec.Node] = append(set, podOf(rec))
		}
	}
	if p.in.Desired != nil {
		out.Workloads = p.workloadViews(p.in.Desired.Keys(), byOwner)
	}
	out.Wake = p.wake
	return out
}

// view merges a record with its node's report.
func (p *planner) view(rec *PodRecord) PodView {
	v := PodView{
		UID:       rec.UID,
		Namespace: rec.Namespace,
		Name:      rec.Name,
		Owner:     rec.Owner,
		Labels:    rec.Labels,
		Node:      rec.Node,
		Phase:     api.PodPending,
		Spec:      rec.Spec,
		Created:   rec.Created,
	}
	alive, known := p.alive[rec.Node]
	st := p.observed[rec.UID]
	switch {
	case rec.Node == "":
		v.Reason = ReasonUnschedulable
		v.Message = rec.Unschedulable
	case !known && p.unknownStillPlaced(rec.Node):
		v.Phase = api.PodUnknown
		v.Reason = ReasonNodeUnknown
		v.Message = fmt.Sprintf("node %s is not known to membership", rec.Node)
	case !alive:
		v.Phase = api.PodUnknown
		v.Reason = ReasonNodeLost
		v.Message = fmt.Sprintf("node %s is not alive", rec.Node)
	case st == nil:
		v.Reason = api.ReasonContainerCreating
	default:
		v.Status = st
		v.Phase = st.Phase
		v.Reason, v.Message = st.Reason, st.Message
		v.PodIP = st.PodIP
		if v.Reason == "" {
			v.Reason, v.Message = containerReason(st)
		}
	}
	return v
}

// containerReason picks the first container's waiting or termination reason,
// as kubectl's STATUS column does when the pod itself gives none.
func containerReason(st *api.PodStatus) (string, string) {
	for _, c := range st.Containers {
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			return w.Reason, w.Message
		}
	}
	for _, c := range st.Containers {
		if t := c.State.Terminated; t != nil && t.Reason != "" {
			return t.Reason, t.Message
		}
	}
	return "", ""
}

// podProblem says in a few words why a pod is not available.
func podProblem(v *PodView) string {
	s := v.Phase
	if v.Reason != "" {
		s += " " + v.Reason
	}
	if v.Message != "" {
		s += " (" + v.Message + ")"
	}
	return s
}

// ownedPod is a workload's pod as both the view and the record.
type ownedPod struct {
	view *PodView
	rec  *PodRecord
}

// workloadViews returns the views of the workloads among keys (sorted by
// kind, namespace and name), given their pods.
func (p *planner) workloadViews(keys []spec.ObjectKey, byOwner map[string][]ownedPod) []WorkloadView {
	var out []WorkloadView
	for _, k := range keys {
		w, ok := p.workloads[k.String()]
		if !ok {
			continue
		}
		p.wakeOwner = k.String()
		v := WorkloadView{
			Kind:      k.Kind,
			Namespace: w.namespace,
			Name:      k.Name,
			Replicas:  int32(w.replicas),
			Selector:  w.selector,
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
		var newAvailable int32
		var stuck, waiting *PodView
		// A paused workload that runs an older revision shows Paused,
		// however long its pods wait.
		held := w.paused && w.heldFrom != ""
		for _, op := range byOwner[k.String()] {
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
				over := p.in.Now.Sub(op.rec.Created) > w.deadline
				if !avail && !over && stuck == nil && !held {
					// The first pod past its deadline is the one the
					// view names: this one, once its deadline passes.
					p.wakeAt(op.rec.Created.Add(w.deadline + 1))
				}
				switch {
				case avail:
					newAvailable++
				case stuck == nil && over:
					stuck = pv
				case waiting == nil:
					waiting = pv
				}
			}
			if c := op.rec.Created; v.Created.IsZero() || c.Before(v.Created) {
				v.Created = c
			}
		}
		switch {
		case held:
			v.Progress = ProgressPaused
			v.Message = fmt.Sprintf("paused: running revision %s, not the template's revision %s", w.hash, w.heldFrom)
		case stuck != nil:
			v.Progress = ProgressDeadlineExceeded
			v.Message = fmt.Sprintf("pod %s not available after %s: %s", stuck.Name, w.deadline, podProblem(stuck))
		case newAvailable == v.Replicas && v.Current == v.Replicas:
			v.Progress = ProgressComplete
		default:
			v.Progress = ProgressProgressing
			v.Message = fmt.Sprintf("%d of %d new pods available", newAvailable, v.Replicas)
			if old := v.Current - v.UpToDate; old > 0 {
				v.Message += fmt.Sprintf(", %d old pods left", old)
			}
			if waiting != nil {
				v.Message += fmt.Sprintf("; pod %s: %s", waiting.Name, podProblem(waiting))
			}
		}
		out = append(out, v)
	}
	return out
}
