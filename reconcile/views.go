package reconcile

import (
	"fmt"

	"github.com/stevedore-dev/stevedore/agent/api"
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
	// Reports that match a record; when some do not, they are pods
	// stopping (terminatingViews).
	matched := 0
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
		v := &out.Pods[len(out.Pods)-1]
		// v.Status is the report of rec.UID, if any.
		if st := v.Status; st != nil && st.Name == rec.Name && st.Namespace == rec.Namespace {
			matched++
		}
		if rec.Owner != "" {
			byOwner[rec.Owner] = append(byOwner[rec.Owner], ownedPod{v, rec})
		}
		if set, ok := out.PodSets[rec.Node]; ok && rec.Node != "" {
			out.PodSets[rec.Node] = append(set, podOf(rec))
		}
	}
	if matched < len(p.observed) {
		if terms := p.terminatingViews(); len(terms) > 0 {
			// byOwner keeps pointing into the records' views: equal.
			out.Pods = spliceViews(out.Pods, nil, terms)
		}
	}
	if p.in.Desired != nil {
		out.Workloads = p.workloadViews(p.in.Desired.Keys(), byOwner)
	}
	p.storageOutput(&out, nil)
	p.batchOutput(&out)
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
	case st == nil && rec.Finished != "":
		// A Job's pod whose node no longer reports it: its outcome.
		v.Phase = rec.Finished
	case st == nil:
		v.Reason = api.ReasonContainerCreating
	default:
		// A copy: a view the incremental Planner keeps across plans would
		// otherwise hold its node's whole report array, and one array per
		// report that changed another pod of the node.
		c := *st
		v.Status = &c
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
