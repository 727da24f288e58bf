package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// DaemonSets follow Kubernetes' daemon controller (pkg/controller/daemon):
// one pod on every eligible node. Expansion depends on the nodes, so a
// DaemonSet's workload is resolved against the plan's nodes and memory
// (resolveDaemon) before its pods are expanded:
//
//   - a node alive in membership runs the pod when the template's
//     nodeName (if any) names it, its nodeSelector and required node
//     affinity match the node's labels (the agent's plus its Node object's,
//     as the scheduler sees them), and the pod tolerates every NoSchedule
//     and NoExecute taint (the template's tolerations plus those Kubernetes
//     adds to every DaemonSet pod, daemonTolerations); a cordoned node is
//     eligible, since the pods tolerate node.kubernetes.io/unschedulable.
//     A node where the pod would no longer be placed but may keep running
//     (a new NoSchedule taint: Kubernetes' shouldContinueRunning) keeps a
//     pod of the current revision it already has;
//   - a node in Grace, or absent from membership while absent nodes are not
//     lost, keeps the pods it has (none is created there);
//   - a dead node's pod is dropped, never moved: it is that node's pod.
//
// Each pod is pinned to its node as Kubernetes pins it (the required node
// affinity becomes the one term matchFields metadata.name In [node]) and
// goes through the scheduler, so a node without room or with a host port
// taken leaves its pod Pending with the scheduler's reason.

// A DaemonSet's pods carry ControllerRevisionHashLabel (statefulset.go)
// with the hash of their template, as Kubernetes labels them (a
// Deployment's pods carry PodTemplateHashLabel instead).

// daemonSet is what a DaemonSet's workload has beyond the common fields.
// The fields below nodes are set by resolveDaemon, on a copy: a workload
// from workloadOf has none.
type daemonSet struct {
	onDelete bool
	// maxSurge and maxUnavailable are the rolling update's bounds, not
	// yet resolved against the number of nodes.
	maxSurge, maxUnavailable spec.IntOrString

	// nodes are the nodes that have (or are to have) a pod of the
	// current revision, sorted.
	nodes []string
	// alive are the nodes of nodes alive in membership (the others only
	// keep what they have).
	alive map[string]bool
}

// daemonWorkload is the workload of a DaemonSet: Replicas is 0 until the
// workload is resolved against the nodes.
func daemonWorkload(key spec.ObjectKey, ds *spec.DaemonSet, ns string) workload {
	var sel map[string]string
	if ds.Spec.Selector != nil {
		sel = ds.Spec.Selector.MatchLabels
	}
	st := ds.Spec.UpdateStrategy
	d := &daemonSet{
		onDelete:       st.Type == spec.OnDeleteDaemonSetStrategyType,
		maxSurge:       spec.FromInt(0),
		maxUnavailable: spec.FromInt(1),
	}
	if ru := st.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			d.maxSurge = *ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			d.maxUnavailable = *ru.MaxUnavailable
		}
	}
	strategy := st.Type
	if strategy == "" {
		strategy = spec.RollingUpdateDaemonSetStrategyType
	}
	return workload{
		key:       key,
		template:  &ds.Spec.Template,
		strategy:  strategy,
		minReady:  ds.Spec.MinReadySeconds,
		deadline:  progressDeadline(nil),
		selector:  sel,
		namespace: ns,
		daemon:    d,
	}
}

// daemonTolerations are the tolerations Kubernetes adds to every
// DaemonSet pod (AddOrUpdateDaemonPodTolerations), so that a node that is
// not ready, unreachable, under pressure or cordoned keeps (and gets) its
// pod; a pod on the host's network also tolerates network-unavailable.
func daemonTolerations(hostNetwork bool) []spec.Toleration {
	exists := func(key, effect string) spec.Toleration {
		return spec.Toleration{Key: key, Operator: spec.TolerationOpExists, Effect: effect}
	}
	tols := []spec.Toleration{
		exists("node.kubernetes.io/not-ready", spec.TaintEffectNoExecute),
		exists("node.kubernetes.io/unreachable", spec.TaintEffectNoExecute),
		exists("node.kubernetes.io/disk-pressure", spec.TaintEffectNoSchedule),
		exists("node.kubernetes.io/memory-pressure", spec.TaintEffectNoSchedule),
		exists("node.kubernetes.io/pid-pressure", spec.TaintEffectNoSchedule),
		exists("node.kubernetes.io/unschedulable", spec.TaintEffectNoSchedule),
	}
	if hostNetwork {
		tols = append(tols, exists("node.kubernetes.io/network-unavailable", spec.TaintEffectNoSchedule))
	}
	return tols
}

// daemonPodTolerations returns the template's tolerations with the
// DaemonSet ones added; one that matches a template toleration in key,
// operator, value and effect replaces it, as Kubernetes' AddOrUpdate
// does. The template's slice is not modified.
func daemonPodTolerations(ps *spec.PodSpec) []spec.Toleration {
	out := slices.Clone(ps.Tolerations)
	for _, t := range daemonTolerations(ps.HostNetwork) {
		i := slices.IndexFunc(out, func(o spec.Toleration) bool {
			op := o.Operator
			if op == "" {
				op = spec.TolerationOpEqual
			}
			return o.Key == t.Key && op == t.Operator && o.Value == t.Value && o.Effect == t.Effect
		})
		if i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

// daemonFits says whether a DaemonSet pod with tolerations tols (the
// daemon ones included) should run on n (Kubernetes' shouldRun) and,
// when not, whether one already there may keep running
// (shouldContinueRunning: only a NoSchedule taint is in the way).
func daemonFits(ps *spec.PodSpec, tols []spec.Toleration, n *scheduler.Node) (run, keep bool) {
	if ps.NodeName != "" && ps.NodeName != n.Name {
		return false, false
	}
	// An agent too old for the pod (a host-network pod on a protocol-1
	// agent) gets no new one, but one already running stays: an agent
	// rolled back to the previous release must not make its node lose,
	// say, the self-hosted reconciler that runs there.
	keepOnly := !scheduler.AgentRuns(n, ps)
	for k, v := range ps.NodeSelector {
		if have, ok := n.Labels[k]; !ok || have != v {
			return false, false
		}
	}
	if a := ps.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		if !scheduler.MatchNodeSelector(n, a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution) {
			return false, false
		}
	}
	run, keep = !keepOnly, true
	for i := range n.Taints {
		t := &n.Taints[i]
		if t.Effect != spec.TaintEffectNoSchedule && t.Effect != spec.TaintEffectNoExecute || spec.Tolerates(tols, t) {
			continue
		}
		run = false
		if t.Effect == spec.TaintEffectNoExecute {
			keep = false
		}
	}
	return run, keep
}

// daemonPodName is the stable name of a DaemonSet's pod on node at a
// template hash: "<name>-<hash>-<node>" when that is a DNS label (at most
// 63 characters, no dot), so that the pod's default hostname is valid;
// otherwise the node is replaced by shortHash(node) and, if that is still
// no label (a long DaemonSet name, or one with dots), the DaemonSet's name
// by a prefix of it made a label plus shortHash(name).
func daemonPodName(name, hash, node string) string {
	if n := name + "-" + hash + "-" + node; isDNSLabel(n) {
		return n
	}
	suffix := "-" + hash + "-" + shortHash(node)
	if n := name + suffix; isDNSLabel(n) {
		return n
	}
	// 63 characters in all: the prefix, "-", 10 for the name's hash.
	prefix := []byte(strings.ToLower(name))
	for i, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			prefix[i] = '-'
		}
	}
	p := strings.Trim(string(prefix[:min(len(prefix), 63-len(suffix)-11)]), "-")
	if p == "" {
		return shortHash(name) + suffix
	}
	return p + "-" + shortHash(name) + suffix
}

// shortHash is the first 10 hex digits of s's SHA-256.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:5])
}

// daemonPodKey is the key of w's pod on node at w's hash.
func daemonPodKey(w *workload, node string) string {
	return w.namespace + "/" + daemonPodName(w.key.Name, w.hash, node)
}

// isDNSLabel reports whether s is an RFC 1123 label: lowercase letters,
// digits and '-', starting and ending with a letter or digit.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// daemonPodSpec is the template's spec pinned to node: the daemon
// tolerations added and the required node affinity replaced by
// matchFields metadata.name In [node], as Kubernetes'
// ReplaceDaemonSetPodNodeNameNodeAffinity does (the template's own terms
// were already applied by eligibility). Nothing of the template is
// modified.
func daemonPodSpec(tmpl *spec.PodSpec, tols []spec.Toleration, node string) *spec.PodSpec {
	ps := *tmpl
	ps.Tolerations = tols
	pin := &spec.NodeSelector{NodeSelectorTerms: []spec.NodeSelectorTerm{{
		MatchFields: []spec.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: []string{node}}},
	}}}
	var a spec.Affinity
	if tmpl.Affinity != nil {
		a = *tmpl.Affinity
	}
	var na spec.NodeAffinity
	if a.NodeAffinity != nil {
		na = *a.NodeAffinity
	}
	na.RequiredDuringSchedulingIgnoredDuringExecution = pin
	a.NodeAffinity = &na
	ps.Affinity = &a
	return &ps
}

// daemonRecords returns the remembered records of owner, indexing the
// DaemonSets' records on first use.
func (p *planner) daemonRecords(owner string) []*PodRecord {
	if p.daemonRecs == nil {
		p.daemonRecs = map[string][]*PodRecord{}
		for _, rec := range p.mem {
			if strings.HasPrefix(rec.Owner, spec.KindDaemonSet+"/") {
				p.daemonRecs[rec.Owner] = append(p.daemonRecs[rec.Owner], rec)
			}
		}
	}
	return p.daemonRecs[owner]
}

// resolveDaemons resolves every DaemonSet of p.workloads.
func (p *planner) resolveDaemons() {
	for owner, w := range p.workloads {
		if w.daemon != nil {
			p.resolveDaemon(owner, &w)
			p.workloads[owner] = w
		}
	}
}

// resolveDaemon gives w (a DaemonSet's workload, a copy) its nodes, its
// replicas (their number: Kubernetes' desiredNumberScheduled, plus the
// nodes that only keep their pod) and its rolling bounds resolved against
// them, as Kubernetes' updatedDesiredNodeCounts does: both round up, and
// both 0 makes maxUnavailable 1.
func (p *planner) resolveDaemon(owner string, w *workload) {
	d := &daemonSet{onDelete: w.daemon.onDelete, maxSurge: w.daemon.maxSurge, maxUnavailable: w.daemon.maxUnavailable,
		alive: map[string]bool{}}
	w.daemon = d
	recs := p.daemonRecords(owner)
	if w.template != nil {
		tols := daemonPodTolerations(&w.template.Spec)
		for i := range p.nodes {
			n := &p.nodes[i]
			run, keep := daemonFits(&w.template.Spec, tols, n)
			if !run && keep {
				rec := p.mem[daemonPodKey(w, n.Name)]
				keep = rec != nil && rec.Node == n.Name
			}
			if run || keep {
				d.nodes = append(d.nodes, n.Name)
				d.alive[n.Name] = true
			}
		}
		// Nodes membership has not declared dead keep what they run.
		for _, rec := range recs {
			if rec.Node != "" && !p.alive[rec.Node] && p.aliveOrUnknown(rec.Node) && !slices.Contains(d.nodes, rec.Node) {
				d.nodes = append(d.nodes, rec.Node)
			}
		}
		slices.Sort(d.nodes)
	}
	w.replicas = len(d.nodes)
	w.maxSurge, w.maxUnavailable = 0, 0
	if !d.onDelete {
		surge, _ := d.maxSurge.Scaled(w.replicas, true)
		unavailable, _ := d.maxUnavailable.Scaled(w.replicas, true)
		surge, unavailable = max(surge, 0), max(unavailable, 0)
		if w.replicas > 0 && surge == 0 && unavailable == 0 {
			unavailable = 1
		}
		w.maxSurge, w.maxUnavailable = surge, unavailable
	}
}

// expandDaemon appends the pods of a resolved DaemonSet to out, in node
// order (sortPods orders them by name afterwards).
func expandDaemon(out []DesiredPod, w workload) []DesiredPod {
	d := w.daemon
	if w.template == nil || len(d.nodes) == 0 {
		return out
	}
	labels := make(map[string]string, len(w.template.Labels)+1)
	maps.Copy(labels, w.template.Labels)
	labels[ControllerRevisionHashLabel] = w.hash
	tols := daemonPodTolerations(&w.template.Spec)
	owner := w.key.String()
	for i, node := range d.nodes {
		key := daemonPodKey(&w, node)
		out = append(out, DesiredPod{
			Namespace:   w.namespace,
			Name:        key[len(w.namespace)+1:],
			key:         key,
			Owner:       owner,
			Labels:      labels,
			Annotations: w.template.Annotations,
			Spec:        daemonPodSpec(&w.template.Spec, tols, node),
			Hash:        w.hash,
			Index:       i,
		})
	}
	return out
}

// dirtyDaemons marks every DaemonSet for the incremental Planner to plan
// again: which nodes it runs on depends on every node's membership,
// labels and taints, not only on the nodes its pods are on.
func (p *Planner) dirtyDaemons(dirty map[*group]bool) {
	for _, k := range p.wlKeys {
		if g := p.groups[k.String()]; k.Kind == spec.KindDaemonSet && g != nil {
			dirty[g] = true
		}
	}
}
