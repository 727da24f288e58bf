package reconcile

import (
	"fmt"
	"math"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A DaemonSet's rollout is decided node by node, as Kubernetes' daemon
// controller does (update.go rollingUpdate), made into one decision per
// plan that planning again from its memory does not change. On each node
// of the DaemonSet (resolveDaemon), its pod of the current revision is the
// new pod and its remembered pods of other revisions are old pods:
//
//   - RollingUpdate without maxSurge: a node with no pod, with an
//     unavailable new pod, or whose old pod is unknown (its agent has not
//     reported) is unavailable. An unavailable old pod is dropped at once
//     (its node counts as unavailable unless an available old pod stays);
//     available old pods are dropped in node order while fewer than
//     maxUnavailable nodes are unavailable. The
//     new pod is created only once no old pod of the DaemonSet runs on the
//     node: neither remembered nor reported by the agent (an old pod being
//     stopped), as Recreate waits (rollout.go).
//   - RollingUpdate with maxSurge: a node whose new pod is not available
//     yet is a surge node; while fewer than maxSurge nodes surge, nodes
//     with only an old pod get their new pod beside it, in node order
//     (at once where the old pod is not available); an old pod is dropped
//     once the new pod on its node is available (minReadySeconds counted).
//   - OnDelete: an old pod stays until it is gone for another reason (its
//     node dies or turns ineligible, or it is evicted); then the new pod
//     is created.
//
// A DaemonSet whose pods use the host's network (hostNetwork) replaces a
// node's pod in one plan instead: the old pod is dropped and the new one
// created in the same set, and the node's agent sequences them (the new
// pod starts once the old one stopped, agent/runtime/hostnet.go), as the
// kubelet replaces a static pod. Two such pods can never overlap on a node
// anyway (they share its ports), and waiting for the old pod to stop
// before creating the new one would leave a self-hosted reconciler that
// replaces its own pod, as the only leader, with nobody to create the new
// one (docs/self-hosting.md).
//
// A node in Grace or unknown to membership keeps its pods: nothing is
// created or dropped there. A node that has no old pod gets its new pod at
// once, except, without surge, while an old pod still stops there.

// daemonRollout is the rollout of a resolved DaemonSet whose old pods are
// recs; nil when there is nothing to decide (no old pod, every new pod
// remembered).
func (p *planner) daemonRollout(owner string, w *workload, recs []*PodRecord) *rollout {
	d := w.daemon
	missing := false
	for _, node := range d.nodes {
		if p.mem[daemonPodKey(w, node)] == nil {
			missing = true
			break
		}
	}
	if len(recs) == 0 && !missing {
		return nil
	}
	onNode := map[string]bool{}
	for _, node := range d.nodes {
		onNode[node] = true
	}
	dr := &daemonRoll{p: p, w: w, olds: map[string][]*PodRecord{}, stopping: map[string]bool{},
		r: &rollout{n: math.MaxInt, keep: map[string]bool{}, blocked: map[string]bool{}}}
	for _, rec := range recs {
		// The others are dropped whatever the strategy (dropUnwanted).
		if p.serving(rec) && onNode[rec.Node] {
			dr.olds[rec.Node] = append(dr.olds[rec.Node], rec)
		}
	}
	for _, st := range p.straysOf(owner) {
		if st.Hash != w.hash && !finished(st) {
			dr.stopping[st.Node] = true
		}
	}
	for _, node := range d.nodes {
		dr.visit(node)
	}
	dr.finish()
	return dr.r
}

// daemonRoll is one DaemonSet's rollout decision in the making.
type daemonRoll struct {
	p *planner
	w *workload
	r *rollout
	// olds are the old pods on each node; stopping the nodes whose agent
	// still reports an old pod no record has (one being stopped).
	olds     map[string][]*PodRecord
	stopping map[string]bool
	// candidates are the nodes with only available old pods, in node
	// order; unavailable and surging count nodes as Kubernetes does.
	candidates           []string
	unavailable, surging int
}

func (dr *daemonRoll) keepAll(node string) {
	for _, rec := range dr.olds[node] {
		dr.r.keep[rec.Key()] = true
	}
}

// block keeps a node's new pod (key) from being created; stops says that
// it waits for an old pod to stop (the view's message counts those). A
// host-network DaemonSet's new pod does not wait for its old pod: the
// agent does (replaceInSet).
func (dr *daemonRoll) block(key string, stops bool) {
	if stops && dr.replaceInSet() {
		return
	}
	dr.r.blocked[key] = true
	if stops {
		dr.r.waiting++
	}
}

// replaceInSet says whether a node's new pod replaces its old one in the
// same pod set (a host-network DaemonSet) rather than after it stopped.
// Only the new template counts: the agent makes a new host-network pod
// wait for any stopping pod of its owner, on the pod network or not
// (agent/runtime/hostnet.go), so a DaemonSet moved onto the host's
// network never overlaps its old pod either.
func (dr *daemonRoll) replaceInSet() bool {
	return dr.w.template.Spec.HostNetwork && dr.w.maxSurge == 0
}

// visit decides about one node of the DaemonSet.
func (dr *daemonRoll) visit(node string) {
	p, w := dr.p, dr.w
	key := daemonPodKey(w, node)
	nu := p.mem[key]
	old := dr.olds[node]
	switch {
	case !w.daemon.alive[node]:
		// Grace or unknown: keep what runs (Unknown, so not available),
		// start nothing.
		dr.keepAll(node)
		dr.unavailable++
		if nu == nil {
			dr.r.blocked[key] = true
		}
	case w.daemon.onDelete:
		// With a new pod there, the old ones go.
		if nu == nil {
			dr.keepAll(node)
			if len(old) > 0 || dr.stopping[node] {
				dr.block(key, len(old) == 0)
			}
		}
	case nu != nil && len(old) > 0:
		// Surged onto this node: the old pods go once it is available.
		if !p.available(p.observed[nu.UID], w.minReady) {
			dr.keepAll(node)
			dr.surging++
			dr.unavailable++
		}
	case nu != nil:
		if !p.available(p.observed[nu.UID], w.minReady) {
			dr.unavailable++
		}
	case len(old) == 0:
		dr.unavailable++
		if dr.stopping[node] && w.maxSurge == 0 {
			dr.block(key, true)
		}
	case w.maxSurge > 0:
		// Only old pods: a candidate for a surge, or replaced at once
		// (beside the old pod) when the old pod is not available.
		dr.keepAll(node)
		if !p.daemonOldUnavailable(old, w.minReady) {
			dr.candidates = append(dr.candidates, node)
		}
	default:
		// Only old pods, no surge: unavailable ones go at once; a node
		// left with available ones is a candidate, one left with none is
		// unavailable. A node not heard of yet keeps its pods.
		if !p.heard(node) {
			dr.keepAll(node)
			dr.unavailable++
			dr.r.blocked[key] = true
			return
		}
		kept := 0
		for _, rec := range old {
			if p.available(p.observed[rec.UID], w.minReady) {
				kept++
				dr.r.keep[rec.Key()] = true
			}
		}
		if kept > 0 {
			dr.candidates = append(dr.candidates, node)
			return
		}
		dr.unavailable++
		if p.daemonOldRunning(old) || dr.stopping[node] {
			dr.block(key, true)
		}
	}
}

// finish takes as many candidates as the bounds allow: with maxSurge,
// their new pods start; without, their old pods go (the new pods waiting
// for them to stop).
func (dr *daemonRoll) finish() {
	w := dr.w
	if w.maxSurge > 0 {
		room := max(w.maxSurge-dr.surging, 0)
		for i, node := range dr.candidates {
			if i >= room {
				dr.block(daemonPodKey(w, node), false)
			}
		}
		return
	}
	room := max(w.maxUnavailable-dr.unavailable, 0)
	for i, node := range dr.candidates {
		dr.block(daemonPodKey(w, node), i < room)
		if i < room {
			for _, rec := range dr.olds[node] {
				delete(dr.r.keep, rec.Key())
			}
		}
	}
}

// daemonOldUnavailable says whether a node's old pods are all reported
// and not available (Kubernetes replaces such a pod at once).
func (p *planner) daemonOldUnavailable(old []*PodRecord, minReady int32) bool {
	for _, rec := range old {
		if !p.heard(rec.Node) || p.available(p.observed[rec.UID], minReady) {
			return false
		}
	}
	return true
}

// daemonOldRunning says whether the agent reports one of old still
// running: once dropped, it is an old pod being stopped.
func (p *planner) daemonOldRunning(old []*PodRecord) bool {
	for _, rec := range old {
		if st := p.observed[rec.UID]; st != nil && !finished(st) {
			return true
		}
	}
	return false
}

// finished says whether st reports a pod that has run to completion.
func finished(st *api.PodStatus) bool {
	return st.Phase == api.PodSucceeded || st.Phase == api.PodFailed
}

// daemonDropReason says why a DaemonSet's pod that is no longer wanted is
// dropped, or "" when the common reasons (rollout.go) apply.
func (p *planner) daemonDropReason(rec *PodRecord, w *workload) string {
	for _, n := range w.daemon.nodes {
		if n == rec.Node {
			return ""
		}
	}
	switch {
	case rec.Node == "":
		return fmt.Sprintf("its node is no longer eligible for %s", rec.Owner)
	case !p.aliveOrUnknown(rec.Node):
		return fmt.Sprintf("node %s is not alive; a %s pod is not moved", rec.Node, rec.Owner)
	}
	return fmt.Sprintf("node %s is no longer eligible for %s", rec.Node, rec.Owner)
}
