package reconcile

import (
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// ReasonTerminating is the reason of a pod that is stopping: its agent
// still reports it, but the core no longer has it (Output.Pods lists it
// until the agent stops reporting it, as kubectl shows STATUS
// Terminating).
const ReasonTerminating = "Terminating"

// Terminating reports whether v is a pod that is stopping: a report from
// an alive node of an incarnation no record has (a pod dropped from its
// node's set: deleted, scaled down, superseded, replaced, evicted). Such a
// view has the report's phase, IP and owner but no labels nor spec; it is
// no workload's pod, no Service's endpoint, and never in a pod set.
func (v *PodView) Terminating() bool { return v.Reason == ReasonTerminating }

// terminatingView is the view of a report no record has.
func terminatingView(st *api.PodStatus, node string) PodView {
	v := PodView{
		UID:       st.UID,
		Namespace: st.Namespace,
		Name:      st.Name,
		Owner:     st.Owner,
		Node:      node,
		Phase:     st.Phase,
		Reason:    ReasonTerminating,
		PodIP:     st.PodIP,
		Status:    st,
	}
	if v.Phase == "" {
		v.Phase = api.PodUnknown
	}
	if st.StartTime != nil {
		v.Created = *st.StartTime
	}
	return v
}

// stray says whether a report is of an incarnation no record has (under
// its namespace and name) in mem.
func stray(st *api.PodStatus, rec *PodRecord) bool {
	return rec == nil || rec.UID != st.UID
}

// terminatingViews returns the views of the reports from alive nodes that
// no record of the planned memory has, sorted (compareViews).
func (p *planner) terminatingViews() []PodView {
	var out []PodView
	for _, node := range sortedKeys(p.in.Observed) {
		if !p.alive[node] {
			continue
		}
		sts := p.in.Observed[node]
		for i := range sts {
			st := &sts[i]
			if p.observed[st.UID] != st || !stray(st, p.mem[st.Namespace+"/"+st.Name]) {
				continue
			}
			out = append(out, terminatingView(st, node))
		}
	}
	slices.SortFunc(out, func(a, b PodView) int { return compareViews(&a, &b) })
	return out
}

// compareViews is the order of Output.Pods: by namespace and name, a
// terminating incarnation before the current one, then by UID.
func compareViews(a, b *PodView) int {
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if at, bt := a.Terminating(), b.Terminating(); at != bt {
		if at {
			return -1
		}
		return 1
	}
	return strings.Compare(a.UID, b.UID)
}

// spliceViews returns old (sorted) without the views at the positions in
// remove (ascending) and with insert (sorted) merged in: runs of old are
// copied whole.
func spliceViews(old []PodView, remove []int, insert []PodView) []PodView {
	out := make([]PodView, 0, len(old)-len(remove)+len(insert))
	i, r := 0, 0
	copyTo := func(end int) {
		for i < end {
			stop := end
			if r < len(remove) && remove[r] < end {
				stop = remove[r]
			}
			out = append(out, old[i:stop]...)
			i = stop
			if i < end && r < len(remove) && remove[r] == i {
				i++
				r++
			}
		}
	}
	for j := range insert {
		pos, _ := slices.BinarySearchFunc(old, &insert[j], func(v PodView, w *PodView) int { return compareViews(&v, w) })
		copyTo(max(pos, i))
		out = append(out, insert[j])
	}
	copyTo(len(old))
	return out
}
