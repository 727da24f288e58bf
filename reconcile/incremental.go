package reconcile

import (
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// Planner is Plan made incremental: a stateful planner whose every Output
// is identical to Plan's for the same Input, but whose cost follows what
// changed since its previous call rather than the size of the cluster. It
// is still pure: no I/O, no clock, deterministic.
//
// A plan decides about owners (a workload, or a bare Pod) one at a time:
// nothing one owner's pods decide depends on another's, except scheduling
// (which sees every placed pod; the Planner keeps a scheduler.State of
// them) and the first-of-two rule for two objects claiming one pod name
// (which sends the Planner back to full plans while it lasts). So the
// Planner re-plans only the owners whose inputs changed: objects that
// differ from the previous revision, owners with pods on nodes whose state
// changed or whose agents' reports about their pods changed, owners the
// previous plan changed, owners with pods not placed (scheduled again on
// every plan, as Plan does), and owners whose Wake has come. Everything
// else of the previous Output is reused. It falls back to a full Plan when
// it cannot tell what changed (first call, a Memory it did not return, a
// new scheduler config or AbsentNodesLost, adoption, no revision) and when
// the re-planned owners hold a large part of the cluster.
//
// The contract, for the caller (the daemon):
//   - Input.Memory must be the previous Output.Memory, as is. The Planner
//     owns that map: the next call writes its Changed records into it and
//     removes its Deleted keys, in place, so Output.Memory is then the same
//     map as Input.Memory even when MemoryChanged is true (Plan would
//     return a new map of equal content). A caller that keeps an older
//     Memory (a view being read on another goroutine) must copy it, or
//     apply Changed and Deleted to its own copy. Anything else (a restart
//     from disk, a lost memory) simply costs one full plan.
//   - Input.Desired: the same *spec.Set until the revision changes. In a new
//     Set, an object whose pointer is the previous Set's is unchanged;
//     others are compared with reflect.DeepEqual, so a loader that keeps
//     unchanged objects' pointers makes a commit cost only its changes.
//     Sets and their objects are never modified.
//   - Input.Observed: a node's []PodStatus is replaced (a new slice) when
//     its report changes, never modified in place: reports are compared by
//     slice identity. The map itself may be new at every call.
//   - Input.Nodes: may be a fresh slice at every call; compared by value.
//   - Input.Scheduler: the same pointer while the config is the same.
//   - Every Output, and every slice and map in it, is read-only, and stays
//     valid: the Planner never modifies what it handed out, except
//     Output.Memory as above. Later Outputs share the unchanged node sets,
//     pods and workloads with earlier ones.
//
// ChangedNodes tells which nodes' sets the last plan changed.
//
// A Planner is not safe for concurrent use.
type Planner struct {
	valid bool

	set        *spec.Set
	schedCfg   *scheduler.Config
	absentLost bool
	nodes      map[string]NodeState
	observed   map[string][]api.PodStatus
	mem        map[string]PodRecord // the map last handed out as Output.Memory.Pods
	last       Output

	groups     map[string]*group
	wlKeys     []spec.ObjectKey            // workloads, in Desired.Keys order
	uidKey     map[string]string           // record UID → key
	obs        map[string]*api.PodStatus   // UID → report, as Plan's
	obsNode    map[string]string           // UID → reporting node
	nodeGroups map[string]map[*group]int32 // node → owners with records there
	restless   map[*group]bool             // changed by the last plan
	unplaced   map[*group]bool             // with records not placed
	waking     map[*group]bool             // with a wake
	alive      map[string]bool
	grace      map[string]bool
	noExecute  map[string][]spec.Taint
	schedNodes []scheduler.Node

	sched    *scheduler.Scheduler
	schedErr error
	state    *scheduler.State // nil until scheduling needs it after a node change

	changedNodes []string
	allChanged   bool

	// overrides are the last Input.Overrides.
	overrides map[string]TemplateOverride
	// deletes are the last Input.DeletePods.
	deletes map[string]string
	// strays are the reports no record has (see terminating.go), by UID:
	// their owner; strayOwners indexes them by owner, termViews holds the
	// views in the last Output.Pods of those on alive nodes.
	strays      map[string]string
	strayOwners map[string]map[string]struct{}
	termViews   map[string]PodView
	// touched holds the UIDs of the reports whose terminating view may
	// have changed in the plan under way.
	touched map[string]bool
	// refs indexes the records by what they refer to, kept as they
	// change; cat is the catalog of the set catSet (volumes.go).
	refs   *refIndex
	cat    *catalog
	catSet *spec.Set
	// batchSet is the last Set batchPlanned looked at and batchHas
	// whether it holds a Job or CronJob.
	batchSet *spec.Set
	batchHas bool
}

// group is one owner: a workload or a bare Pod, and the records it holds.
type group struct {
	id   string
	okey spec.ObjectKey
	obj  spec.Object // nil when Git no longer has it
	w    *workload   // obj's workload, computed when first re-planned
	keys map[string]struct{}
	// unplaced counts records without a node.
	unplaced int
	wake     time.Time
	view     *WorkloadView
}

// incrementalLimit is the share of the cluster's records the owners to
// re-plan may hold before a full plan is cheaper (a variable for tests).
var incrementalLimit = 0.25

// NewPlanner returns a Planner whose first plan is a full one.
func NewPlanner() *Planner { return &Planner{} }

// ChangedNodes returns the nodes whose entry in Output.PodSets the last
// plan changed (a new set, or a node that appeared or left), sorted; all is
// true when that is not known (a full plan): every set may have changed.
// Sets not listed are the previous Output's slices themselves.
func (p *Planner) ChangedNodes() (nodes []string, all bool) {
	return p.changedNodes, p.allChanged
}

// groupID is the owner a record or desired pod belongs to.
func groupID(owner, key string) string {
	if owner != "" {
		return owner
	}
	return "Pod:" + key
}

// objectGroup is the owner id of an object, or false for kinds that run
// no pod.
func objectGroup(k spec.ObjectKey, o spec.Object) (string, bool) {
	switch {
	case isWorkloadKind(k.Kind):
		return k.String(), true
	case k.Kind == spec.KindPod:
		if pod, ok := o.(*spec.Pod); ok {
			ns := pod.Namespace
			if ns == "" {
				ns = spec.DefaultNamespace
			}
			return groupID("", ns+"/"+pod.Name), true
		}
	}
	return "", false
}

func (p *Planner) group(id string) *group {
	g := p.groups[id]
	if g == nil {
		g = &group{id: id, keys: map[string]struct{}{}}
		p.groups[id] = g
	}
	return g
}

func (g *group) workload() *workload {
	if g.w == nil {
		w, _ := workloadOf(g.okey, g.obj)
		g.w = &w
	}
	return g.w
}

// Plan returns what Plan(in) returns; see Planner for what in must be.
func (p *Planner) Plan(in Input) Output {
	if !p.valid || in.Desired == nil || in.Memory.Pods == nil || len(in.Memory.Pods) == 0 && len(in.Adopt) > 0 ||
		reflect.ValueOf(in.Memory.Pods).UnsafePointer() != reflect.ValueOf(p.mem).UnsafePointer() ||
		in.Scheduler != p.schedCfg || in.AbsentNodesLost != p.absentLost {
		return p.full(in)
	}
	if p.batchPlanned(in) {
		// Jobs and CronJobs decide from the reports of every pod of
		// theirs and from the clock: planned in full (job.go).
		return p.full(in)
	}
	dirty, ok := p.changes(in)
	if !ok {
		return p.full(in)
	}
	n := 0
	for g := range dirty {
		n += len(g.keys)
		if g.obj != nil && g.okey.Kind != spec.KindPod {
			n += g.workload().replicas
		}
	}
	if float64(n) > incrementalLimit*float64(len(in.Memory.Pods)) && n > 64 {
		return p.full(in)
	}
	out, ok := p.replan(in, dirty)
	if !ok {
		return p.full(in)
	}
	return out
}

// full runs Plan and rebuilds the Planner's indexes from its output.
func (p *Planner) full(in Input) Output {
	sp := newPlanner(in)
	sp.wakes = map[string]time.Time{}
	sp.adopt()
	if in.Desired != nil {
		sp.plan()
	} else {
		sp.keys = sortedPodKeys(sp.mem)
	}
	out := sp.output()
	p.rebuild(in, sp, &out)
	return out
}

func (p *Planner) rebuild(in Input, sp *planner, out *Output) {
	*p = Planner{
		valid:      in.Desired != nil && out.Memory.Pods != nil && !sp.dups,
		set:        in.Desired,
		schedCfg:   in.Scheduler,
		absentLost: in.AbsentNodesLost,
		observed:   maps.Clone(in.Observed),
		mem:        out.Memory.Pods,
		last:       *out,
		groups:     map[string]*group{},
		uidKey:     make(map[string]string, len(out.Memory.Pods)),
		obs:        sp.observed,
		obsNode:    make(map[string]string, len(sp.observed)),
		nodeGroups: map[string]map[*group]int32{},
		restless:   map[*group]bool{},
		unplaced:   map[*group]bool{},
		waking:     map[*group]bool{},
		alive:      sp.alive,
		grace:      sp.grace,
		noExecute:  sp.noExecute,
		schedNodes: sp.nodes,
		allChanged: true,
		refs:       sp.refs,
		cat:        sp.cat,
		catSet:     in.Desired,
		batchSet:   p.batchSet,
		batchHas:   p.batchHas,
	}
	if !p.valid {
		return
	}
	if !p.setNodes(in.Nodes) {
		p.valid = false
		return
	}
	for _, node := range sortedKeys(in.Observed) {
		for _, st := range in.Observed[node] {
			if n, ok := p.obsNode[st.UID]; ok && n != node {
				p.valid = false // one UID on two nodes: Plan's order decides
				return
			}
			p.obsNode[st.UID] = node
		}
	}
	for _, k := range in.Desired.Keys() {
		o := in.Desired.Objects[k]
		id, ok := objectGroup(k, o)
		if !ok {
			continue
		}
		g := p.group(id)
		g.okey, g.obj = k, o
		if w, ok := sp.workloads[id]; ok && k.Kind != spec.KindPod {
			if w.heldFrom != "" || w.override != nil {
				// retemplate changed it: recompute the template's own.
				g.w = nil
			} else {
				g.w = &w
			}
			p.wlKeys = append(p.wlKeys, k)
		}
	}
	for i := range out.Workloads {
		p.groups[p.wlKeys[i].String()].view = &out.Workloads[i]
	}
	p.overrides = maps.Clone(in.Overrides)
	p.deletes = maps.Clone(in.DeletePods)
	p.strays = map[string]string{}
	p.strayOwners = map[string]map[string]struct{}{}
	p.termViews = map[string]PodView{}
	for uid := range p.obs {
		p.restray(uid, nil)
	}
	for i := range out.Pods {
		if v := &out.Pods[i]; v.Terminating() && p.obsNode[v.UID] == v.Node {
			if _, ok := p.strays[v.UID]; ok {
				p.termViews[v.UID] = *v
			}
		}
	}
	for k, rec := range out.Memory.Pods {
		p.addRecord(k, &rec)
	}
	for id, t := range sp.wakes {
		if g := p.groups[id]; g != nil {
			g.wake = t
			p.waking[g] = true
		}
	}
	for _, k := range out.Changed {
		rec := out.Memory.Pods[k]
		p.restless[p.groups[groupID(rec.Owner, k)]] = true
	}
	for _, k := range out.Deleted {
		rec := in.Memory.Pods[k]
		if g := p.groups[groupID(rec.Owner, k)]; g != nil {
			p.restless[g] = true
		}
	}
}

// setNodes records the nodes of an input; false on a duplicate name.
func (p *Planner) setNodes(nodes []NodeState) bool {
	p.nodes = make(map[string]NodeState, len(nodes))
	for _, n := range nodes {
		if _, dup := p.nodes[n.Info.Name]; dup {
			return false
		}
		p.nodes[n.Info.Name] = n
	}
	return true
}

// addRecord files a record of the memory under its owner.
func (p *Planner) addRecord(k string, rec *PodRecord) {
	g := p.group(groupID(rec.Owner, k))
	g.keys[k] = struct{}{}
	p.uidKey[rec.UID] = k
	if rec.Node == "" {
		g.unplaced++
		p.unplaced[g] = true
		return
	}
	ng := p.nodeGroups[rec.Node]
	if ng == nil {
		ng = map[*group]int32{}
		p.nodeGroups[rec.Node] = ng
	}
	ng[g]++
}

// removeRecord undoes addRecord.
func (p *Planner) removeRecord(k string, rec *PodRecord) {
	g := p.groups[groupID(rec.Owner, k)]
	delete(g.keys, k)
	if p.uidKey[rec.UID] == k {
		delete(p.uidKey, rec.UID)
	}
	if rec.Node == "" {
		if g.unplaced--; g.unplaced == 0 {
			delete(p.unplaced, g)
		}
		return
	}
	ng := p.nodeGroups[rec.Node]
	if ng[g]--; ng[g] == 0 {
		delete(ng, g)
		if len(ng) == 0 {
			delete(p.nodeGroups, rec.Node)
		}
	}
}

func sameNode(a, b *NodeState) bool {
	return a.Alive == b.Alive && a.Grace == b.Grace && a.Info.Allocatable.Equal(b.Info.Allocatable) &&
		maps.Equal(a.Info.Labels, b.Info.Labels) && slices.Equal(a.Info.Taints, b.Info.Taints)
}

func sameReport(a, b []api.PodStatus) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// changes finds the owners to re-plan and brings the Planner's view of the
// nodes, the reports and the revision up to date; false when only a full
// plan can tell.
func (p *Planner) changes(in Input) (map[*group]bool, bool) {
	dirty := map[*group]bool{}
	p.touched = map[string]bool{}
	for g := range p.restless {
		dirty[g] = true
	}
	for g := range p.unplaced {
		dirty[g] = true
	}
	for g := range p.waking {
		if !in.Now.Before(g.wake) {
			dirty[g] = true
		}
	}
	changedNodes := map[string]bool{}
	if in.Desired != p.set {
		keysChanged := false
		for k, o := range in.Desired.Objects {
			old, had := p.set.Objects[k]
			if had && old == o {
				continue
			}
			if k.Kind == spec.KindNode {
				if !had || !reflect.DeepEqual(old, o) {
					changedNodes[k.Name] = true
				}
				continue
			}
			id, ok := objectGroup(k, o)
			if !ok {
				continue
			}
			if !had {
				keysChanged = keysChanged || k.Kind != spec.KindPod
			} else if reflect.DeepEqual(old, o) {
				p.groups[id].obj = o
				continue
			}
			g := p.group(id)
			g.okey, g.obj, g.w = k, o, nil
			dirty[g] = true
		}
		for k, old := range p.set.Objects {
			if _, ok := in.Desired.Objects[k]; ok {
				continue
			}
			if k.Kind == spec.KindNode {
				changedNodes[k.Name] = true
				continue
			}
			if id, ok := objectGroup(k, old); ok {
				g := p.groups[id]
				g.obj, g.w = nil, nil
				dirty[g] = true
				keysChanged = keysChanged || k.Kind != spec.KindPod
			}
		}
		if keysChanged {
			p.wlKeys = p.wlKeys[:0]
			for _, k := range in.Desired.Keys() {
				if isWorkloadKind(k.Kind) {
					p.wlKeys = append(p.wlKeys, k)
				}
			}
		}
		p.set = in.Desired
	}
	p.changedOverrides(in, dirty)
	p.changedDeletes(in, dirty)
	prev := p.nodes
	if !p.setNodes(in.Nodes) {
		return nil, false
	}
	for name, n := range p.nodes {
		if old, ok := prev[name]; !ok || !sameNode(&old, &n) {
			changedNodes[name] = true
		}
	}
	for name := range prev {
		if _, ok := p.nodes[name]; !ok {
			changedNodes[name] = true
		}
	}
	p.changedNodes = p.changedNodes[:0:0]
	if len(changedNodes) > 0 {
		np := newPlanner(Input{Nodes: in.Nodes, Desired: in.Desired, AbsentNodesLost: in.AbsentNodesLost})
		p.alive, p.grace, p.noExecute, p.schedNodes = np.alive, np.grace, np.noExecute, np.nodes
		p.state = nil
		for name := range changedNodes {
			for g := range p.nodeGroups[name] {
				dirty[g] = true
			}
			p.changedNodes = append(p.changedNodes, name)
		}
		p.dirtyDaemons(dirty)
	}
	if !p.observe(in, dirty) {
		return nil, false
	}
	// A stopping pod shows while its node is alive.
	for _, name := range p.changedNodes {
		for _, st := range in.Observed[name] {
			p.touched[st.UID] = true
		}
	}
	return dirty, true
}

// observe brings the report index up to date with in.Observed, marking
// the owners of pods whose report changed.
func (p *Planner) observe(in Input, dirty map[*group]bool) bool {
	mark := func(st *api.PodStatus) {
		if k, ok := p.uidKey[st.UID]; ok {
			rec := p.mem[k]
			dirty[p.groups[groupID(rec.Owner, k)]] = true
		}
		// A Recreate waits for its old pods' reports to go.
		if g := p.groups[st.Owner]; g != nil && st.Owner != "" {
			dirty[g] = true
		}
	}
	var changed []string
	for node, sts := range in.Observed {
		if old, ok := p.observed[node]; !ok || !sameReport(old, sts) {
			changed = append(changed, node)
		}
	}
	for node := range p.observed {
		if _, ok := in.Observed[node]; !ok {
			changed = append(changed, node)
		}
	}
	slices.Sort(changed)
	var uids []string
	// A changed report is a new list, but most of its pods are as they
	// were: only the owners of pods that came, went or changed are
	// re-planned. (Marking every pod of a changed node made each report
	// re-plan every workload with a pod there: at 200 pods a node, all of
	// them, and every plan during a rollout was a full one.)
	type prevReport struct {
		node string
		st   *api.PodStatus
	}
	gone := map[string]prevReport{}
	for _, node := range changed {
		old, had := p.observed[node]
		if _, has := in.Observed[node]; has != had {
			// Whether a node has reported at all decides whether its
			// old pods may be dropped as unhealthy (rollout.go).
			for g := range p.nodeGroups[node] {
				dirty[g] = true
			}
		}
		for i := range old {
			uid := old[i].UID
			if p.obsNode[uid] == node {
				// The entry Plan used: a UID a report lists twice is its
				// last entry, which obs holds.
				gone[uid] = prevReport{node, p.obs[uid]}
				delete(p.obs, uid)
				delete(p.obsNode, uid)
			}
		}
	}
	for _, node := range changed {
		sts := in.Observed[node]
		for i := range sts {
			uid := sts[i].UID
			if n, ok := p.obsNode[uid]; ok && n != node {
				return false // one UID on two nodes
			}
			p.obs[uid] = &sts[i]
			p.obsNode[uid] = node
			prev, had := gone[uid]
			delete(gone, uid)
			if had && prev.node == node && reflect.DeepEqual(*prev.st, sts[i]) {
				continue
			}
			if had {
				mark(prev.st)
			}
			mark(&sts[i])
			uids = append(uids, uid)
		}
	}
	for uid, prev := range gone {
		mark(prev.st)
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	if len(changed) > 0 {
		p.observed = maps.Clone(in.Observed)
	}
	for _, uid := range uids {
		p.restray(uid, p.touched)
	}
	return true
}
