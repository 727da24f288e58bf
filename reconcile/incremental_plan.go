package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// replan plans the dirty owners with Plan's own code (decide on their pods
// alone, then scheduling on the kept scheduler state) and splices the
// result into the previous Output. False when the owners turn out not to
// be independent of the others (two claims on one pod name).
func (p *Planner) replan(in Input, dirty map[*group]bool) (Output, bool) {
	groups := make([]*group, 0, len(dirty))
	for g := range dirty {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int { return strings.Compare(a.id, b.id) })
	sp := &planner{
		in:        in,
		alive:     p.alive,
		grace:     p.grace,
		observed:  p.obs,
		workloads: map[string]workload{},
		noExecute: p.noExecute,
		nodes:     p.schedNodes,
		wakes:     map[string]time.Time{},
	}
	nrec := 0
	for _, g := range groups {
		nrec += len(g.keys)
	}
	sp.mem = make(map[string]*PodRecord, nrec)
	backing := make([]PodRecord, 0, nrec)
	oldKeys := make([]string, 0, nrec)
	for _, g := range groups {
		for k := range g.keys {
			backing = append(backing, in.Memory.Pods[k])
			sp.mem[k] = &backing[len(backing)-1]
			oldKeys = append(oldKeys, k)
		}
	}
	slices.SortFunc(oldKeys, comparePodKeys)
	oldSet := make(map[string]struct{}, len(oldKeys))
	for _, k := range oldKeys {
		oldSet[k] = struct{}{}
	}
	var desired []DesiredPod
	for _, g := range groups {
		if g.obj == nil {
			continue
		}
		if pod, ok := g.obj.(*spec.Pod); ok {
			desired = append(desired, barePod(pod))
			continue
		}
		w := *g.workload()
		if w.daemon != nil {
			sp.resolveDaemon(g.id, &w)
		}
		sp.workloads[g.id] = w
		desired = expandWorkload(desired, w)
	}
	sortPods(desired)
	for i := range desired {
		d := &desired[i]
		if rec, ok := in.Memory.Pods[d.Key()]; ok && !dirty[p.groups[groupID(rec.Owner, d.Key())]] {
			return Output{}, false // another owner's record: not independent
		}
	}
	sp.strayOf = p.straysOf
	sp.decide(sp.retemplate(desired))
	if sp.dups {
		return Output{}, false
	}
	// The reference index follows the re-planned records.
	for _, k := range oldKeys {
		p.refs.remove(k)
	}
	for k, rec := range sp.mem {
		if rec != nil {
			p.refs.add(k, rec)
		}
	}
	sp.refs = p.refs
	if p.catSet != in.Desired {
		p.cat, p.catSet = newCatalog(in.Desired), in.Desired
		p.cat.statefulClaims(in.Desired, in.Memory.Volumes)
	}
	sp.cat = p.cat
	sp.resolveClaims()
	p.schedule(in, sp, oldSet)
	sp.settleVolumes()
	return p.assemble(in, sp, groups, oldKeys, oldSet), true
}

// schedule is planner.schedule for the re-planned pods, on the kept
// scheduler state of every placed pod.
func (p *Planner) schedule(in Input, sp *planner, oldSet map[string]struct{}) {
	if p.state != nil {
		for k := range sp.changed {
			p.unstate(in, k)
			if rec := sp.mem[k]; rec != nil && rec.Node != "" && rec.Finished == "" {
				p.state.Add(scheduler.Pod{Namespace: rec.Namespace, Name: rec.Name, Labels: rec.Labels, Spec: &rec.Spec, Node: rec.Node})
			}
		}
		for _, k := range sp.deleted {
			p.unstate(in, k)
		}
	}
	var pending []scheduler.Pod
	var pendingKeys []string
	for _, key := range sp.keys {
		rec := sp.mem[key]
		if rec == nil || rec.Node != "" || rec.Finished != "" {
			continue
		}
		ps := &rec.Spec
		if d := sp.want[key]; d != nil {
			ps = d.Spec
		}
		if !sp.incarnationGate(key, rec) {
			continue
		}
		vols, ok := sp.volumeGate(key, rec)
		if !ok {
			continue
		}
		spod := scheduler.Pod{Namespace: rec.Namespace, Name: rec.Name, Labels: rec.Labels, Spec: ps, Volumes: vols}
		if pinned := rec.Spec.NodeName; pinned != "" {
			if sp.pinnedReachable(key, vols) && sp.placePinned(key, rec) && p.state != nil {
				spod.Volumes = nil
				spod.Node = pinned
				p.state.Add(spod)
			}
			continue
		}
		pending = append(pending, spod)
		pendingKeys = append(pendingKeys, key)
	}
	if len(pending) == 0 {
		return
	}
	if p.sched == nil && p.schedErr == nil {
		var cfg scheduler.Config
		if in.Scheduler != nil {
			cfg = *in.Scheduler
		}
		p.sched, p.schedErr = scheduler.New(cfg)
	}
	if p.schedErr != nil {
		for _, key := range pendingKeys {
			sp.unschedulable(key, fmt.Sprintf("failed to create scheduler: %v", p.schedErr))
		}
		return
	}
	if p.state == nil {
		p.state = p.sched.NewState(p.schedNodes, p.placed(in, sp, oldSet))
	}
	// The state took every pod it placed: one the planner refuses comes
	// off again.
	for _, i := range sp.applyResults(pendingKeys, p.state.Schedule(pending)) {
		p.state.Remove(pending[i].Namespace, pending[i].Name)
	}
}

// unstate takes the remembered record of k off the scheduler state.
func (p *Planner) unstate(in Input, k string) {
	if rec, ok := in.Memory.Pods[k]; ok && rec.Node != "" {
		p.state.Remove(rec.Namespace, rec.Name)
	}
}

// placed lists every placed pod, the re-planned ones as planned so far.
func (p *Planner) placed(in Input, sp *planner, oldSet map[string]struct{}) []scheduler.Pod {
	out := make([]scheduler.Pod, 0, len(in.Memory.Pods))
	add := func(rec *PodRecord) {
		if rec.Node != "" && rec.Finished == "" {
			out = append(out, scheduler.Pod{Namespace: rec.Namespace, Name: rec.Name, Labels: rec.Labels, Spec: &rec.Spec, Node: rec.Node})
		}
	}
	for k := range in.Memory.Pods {
		if _, ok := oldSet[k]; ok {
			continue
		}
		rec := in.Memory.Pods[k]
		add(&rec)
	}
	for _, rec := range sp.mem {
		add(rec)
	}
	return out
}

// assemble turns the re-planned owners' decisions into the Output: the
// previous one with their records, views, sets and wakes replaced.
func (p *Planner) assemble(in Input, sp *planner, groups []*group, oldKeys []string, oldSet map[string]struct{}) Output {
	out := Output{Events: sp.events, Memory: in.Memory}
	out.Changed, out.Deleted = sp.delta()
	out.MemoryChanged = len(out.Changed) > 0 || len(out.Deleted) > 0

	// Owners this plan changed are planned again next time.
	clear(p.restless)
	for _, k := range out.Changed {
		rec := sp.mem[k]
		p.restless[p.groups[groupID(rec.Owner, k)]] = true
	}
	for _, k := range out.Deleted {
		rec := in.Memory.Pods[k]
		p.restless[p.groups[groupID(rec.Owner, k)]] = true
	}

	// The re-planned records, before and after, and the nodes whose sets
	// they change: a record left as it was is the same api.Pod.
	affected := map[string]bool{}
	oldRecs := make([]PodRecord, 0, len(oldKeys))
	for _, k := range oldKeys {
		rec := in.Memory.Pods[k]
		oldRecs = append(oldRecs, rec)
		if _, ok := sp.changed[k]; (ok || sp.mem[k] == nil) && rec.Node != "" {
			affected[rec.Node] = true
		}
		p.removeRecord(k, &rec)
	}
	for _, n := range p.changedNodes {
		affected[n] = true
	}
	views := make([]PodView, 0, len(sp.mem))
	byOwner := map[string][]ownedPod{}
	var newKeys []string
	for _, k := range sp.keys {
		if rec := sp.mem[k]; rec != nil {
			views = append(views, sp.view(rec))
			newKeys = append(newKeys, k)
			if _, ok := sp.changed[k]; ok && rec.Node != "" {
				affected[rec.Node] = true
			}
		}
	}
	for i, k := range newKeys {
		rec := sp.mem[k]
		if rec.Owner != "" {
			byOwner[rec.Owner] = append(byOwner[rec.Owner], ownedPod{&views[i], rec})
		}
	}

	// Memory, in place (see Planner).
	for _, k := range out.Changed {
		in.Memory.Pods[k] = *sp.mem[k]
	}
	for _, k := range out.Deleted {
		delete(in.Memory.Pods, k)
	}
	for _, k := range newKeys {
		rec := in.Memory.Pods[k]
		p.addRecord(k, &rec)
	}

	// Reports whose record came or went are stopping pods, or no longer.
	for i := range oldRecs {
		p.restray(oldRecs[i].UID, p.touched)
	}
	for _, k := range out.Changed {
		p.restray(in.Memory.Pods[k].UID, p.touched)
	}
	out.Pods = p.pods(oldRecs, views)
	out.PodSets, p.changedNodes = p.spliceSets(sp, oldSet, newKeys, affected)
	p.allChanged = false

	// Workload views and wakes of the re-planned owners.
	var wkeys []spec.ObjectKey
	anyWorkload := false
	for _, g := range groups {
		if g.obj != nil && g.okey.Kind != spec.KindPod {
			wkeys = append(wkeys, g.okey)
		}
		if g.view != nil || g.obj != nil && g.okey.Kind != spec.KindPod {
			anyWorkload = true
		}
		g.view = nil
	}
	slices.SortFunc(wkeys, compareObjectKeys)
	wviews := sp.workloadViews(wkeys, byOwner)
	for i := range wviews {
		p.groups[wkeys[i].String()].view = &wviews[i]
	}
	for _, g := range groups {
		delete(p.waking, g)
		g.wake = time.Time{}
		if t, ok := sp.wakes[g.id]; ok {
			g.wake = t
			p.waking[g] = true
		}
	}
	out.Workloads = p.last.Workloads
	if anyWorkload {
		out.Workloads = nil
		for _, k := range p.wlKeys {
			if g := p.groups[k.String()]; g != nil && g.view != nil {
				out.Workloads = append(out.Workloads, *g.view)
			}
		}
	}
	for g := range p.waking {
		if out.Wake.IsZero() || g.wake.Before(out.Wake) {
			out.Wake = g.wake
		}
	}
	// Config and volumes of the nodes: a node whose entry changed has a
	// new set, pods changed or not.
	if extra := sp.storageOutput(&out, &p.last); len(extra) > 0 {
		p.changedNodes = append(p.changedNodes, extra...)
		slices.Sort(p.changedNodes)
		p.changedNodes = slices.Compact(p.changedNodes)
	}

	// Owners left with nothing are forgotten.
	for _, g := range groups {
		if g.obj == nil && len(g.keys) == 0 {
			delete(p.groups, g.id)
			delete(p.restless, g)
		}
	}
	p.last = out
	return out
}

func compareObjectKeys(a, b spec.ObjectKey) int {
	if c := strings.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

// spliceSets returns the previous PodSets with the sets of the affected
// nodes rebuilt, and the nodes whose entry changed.
func (p *Planner) spliceSets(sp *planner, oldSet map[string]struct{}, newKeys []string, affected map[string]bool) (map[string][]api.Pod, []string) {
	if len(affected) == 0 {
		return p.last.PodSets, nil
	}
	sets := maps.Clone(p.last.PodSets)
	byNode := map[string][]api.Pod{}
	for _, k := range newKeys {
		rec := sp.mem[k]
		if rec.Node != "" && affected[rec.Node] {
			byNode[rec.Node] = append(byNode[rec.Node], podOf(rec))
		}
	}
	var changed []string
	for node := range affected {
		old, had := p.last.PodSets[node]
		if !sp.alive[node] {
			if had {
				delete(sets, node)
				changed = append(changed, node)
			}
			continue
		}
		set := make([]api.Pod, 0, len(old)+len(byNode[node]))
		for _, pod := range old {
			if _, ok := oldSet[pod.Namespace+"/"+pod.Name]; !ok {
				set = append(set, pod)
			}
		}
		set = append(set, byNode[node]...)
		slices.SortFunc(set, func(a, b api.Pod) int {
			if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
		sets[node] = set
		changed = append(changed, node)
	}
	slices.Sort(changed)
	return sets, changed
}

// podOf is a record as its node's set holds it.
func podOf(rec *PodRecord) api.Pod {
	return api.Pod{
		UID:         rec.UID,
		Namespace:   rec.Namespace,
		Name:        rec.Name,
		Labels:      rec.Labels,
		Annotations: rec.Annotations,
		Spec:        rec.Spec,
		Owner:       rec.Owner,
		Hash:        rec.Hash,
		Created:     rec.Created,
	}
}
