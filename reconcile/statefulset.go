package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// StatefulSets follow Kubernetes' statefulset controller
// (pkg/controller/statefulset/stateful_set_control.go), made into one pure
// decision per plan like the Deployment rollouts (rollout.go):
//
//   - Pods are named <name>-<ordinal>, ordinals.start … start+replicas-1,
//     whatever their revision: a template change gives an ordinal a new
//     incarnation (a new UID) under the same name. DesiredPod.Index is the
//     ordinal.
//   - OrderedReady creates the lowest missing ordinal only when every lower
//     one is Running and Ready, and a scale-down removes the highest ordinal
//     first, the next only once the previous one's agent no longer reports
//     it (at once when no agent reported it). Parallel creates and removes
//     them all at once.
//   - RollingUpdate replaces the pods of another revision from the highest
//     ordinal down, while fewer than maxUnavailable pods at or above the
//     partition are unavailable. A pod that is unavailable already may be
//     replaced while fewer than maxUnavailable replaced (or missing) pods
//     are not available yet: that makes nothing less available, and a
//     broken pod must not block the update that fixes it (Kubernetes' own
//     controller waits for it forever). Pods below the
//     partition keep their revision, even when re-created. OnDelete keeps
//     every pod's revision until it is re-created for another reason (its
//     node died, it was evicted); it then takes the current template.
//   - One incarnation per ordinal: a new incarnation is not placed on any
//     node while an agent still reports another incarnation of the same
//     name (incarnationGate). The daemon forgets the reports of a node that
//     is not alive, so a dead node's pods never hold their successors.
//
// The decision reads the remembered records and the reports only, so Plan
// and the incremental Planner (which re-plans a StatefulSet whenever one
// of its pods' reports changes, or it has a pod not placed) agree.

// Labels a StatefulSet's pods carry besides their template's, as in
// Kubernetes.
const (
	ControllerRevisionHashLabel = "controller-revision-hash"
	StatefulSetPodNameLabel     = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel               = "apps.kubernetes.io/pod-index"
)

// StatefulSet events, about the StatefulSet, as Kubernetes names them.
const (
	// EventSuccessfulCreate: an ordinal's pod was created (or re-created
	// with a new revision).
	EventSuccessfulCreate = "SuccessfulCreate"
	// EventSuccessfulDelete: an ordinal's pod was removed by a scale-down.
	EventSuccessfulDelete = "SuccessfulDelete"
)

// statefulSet is what a StatefulSet adds to a workload.
type statefulSet struct {
	serviceName string
	// ordered is podManagementPolicy OrderedReady.
	ordered bool
	// onDelete is updateStrategy OnDelete; partition and maxUnavailable
	// bound a RollingUpdate.
	onDelete       bool
	partition      int
	maxUnavailable int
	start          int
	claims         []spec.PersistentVolumeClaim
	// retainScaled and retainDeleted are the claim retention policy.
	retainScaled, retainDeleted bool
	// selector is spec.selector.matchLabels, given to the claims.
	selector map[string]string
}

// replicaSetWorkload is a ReplicaSet as a workload: a ReplicationController
// with a label selector (its matchLabels, as for a Deployment) and
// minReadySeconds.
func replicaSetWorkload(key spec.ObjectKey, r *spec.ReplicaSet, ns string) workload {
	var sel map[string]string
	if r.Spec.Selector != nil {
		sel = r.Spec.Selector.MatchLabels
	}
	n := replicas(r.Spec.Replicas)
	return workload{
		key:       key,
		replicas:  n,
		template:  &r.Spec.Template,
		maxSurge:  n,
		minReady:  r.Spec.MinReadySeconds,
		selector:  sel,
		namespace: ns,
		deadline:  progressDeadline(nil),
	}
}

// statefulSetWorkload is a StatefulSet as a workload.
func statefulSetWorkload(key spec.ObjectKey, s *spec.StatefulSet, ns string) workload {
	var sel map[string]string
	if s.Spec.Selector != nil {
		sel = s.Spec.Selector.MatchLabels
	}
	n := replicas(s.Spec.Replicas)
	st := &statefulSet{
		serviceName:    s.Spec.ServiceName,
		ordered:        s.Spec.PodManagementPolicy != spec.ParallelPodManagement,
		onDelete:       s.Spec.UpdateStrategy.Type == spec.OnDeleteStatefulSetStrategyType,
		maxUnavailable: 1,
		claims:         s.Spec.VolumeClaimTemplates,
		retainScaled:   true,
		retainDeleted:  true,
		selector:       sel,
	}
	if o := s.Spec.Ordinals; o != nil && o.Start > 0 {
		st.start = int(o.Start)
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil && *ru.Partition > 0 {
			st.partition = int(*ru.Partition)
		}
		if ru.MaxUnavailable != nil {
			// A percentage rounds down; validation rejects what does not
			// resolve, and at least one pod may always be unavailable.
			u, _ := ru.MaxUnavailable.Scaled(n, false)
			st.maxUnavailable = max(u, 1)
		}
	}
	if rp := s.Spec.PersistentVolumeClaimRetentionPolicy; rp != nil {
		st.retainScaled = rp.WhenScaled != spec.DeletePersistentVolumeClaimRetentionPolicyType
		st.retainDeleted = rp.WhenDeleted != spec.DeletePersistentVolumeClaimRetentionPolicyType
	}
	strategy := s.Spec.UpdateStrategy.Type
	if strategy == "" {
		strategy = spec.RollingUpdateStatefulSetStrategyType
	}
	return workload{
		key:            key,
		replicas:       n,
		template:       &s.Spec.Template,
		strategy:       strategy,
		maxUnavailable: st.maxUnavailable,
		minReady:       s.Spec.MinReadySeconds,
		selector:       sel,
		namespace:      ns,
		deadline:       progressDeadline(nil),
		sts:            st,
	}
}

// statefulPodName is the name of a StatefulSet's pod of an ordinal.
func statefulPodName(name string, ordinal int) string {
	return name + "-" + strconv.Itoa(ordinal)
}

// ordinalOf returns the ordinal of a StatefulSet's pod name, or false.
func ordinalOf(stsName, pod string) (int, bool) {
	rest, ok := strings.CutPrefix(pod, stsName+"-")
	if !ok {
		return 0, false
	}
	o, err := strconv.Atoi(rest)
	if err != nil || o < 0 || strconv.Itoa(o) != rest {
		return 0, false
	}
	return o, true
}

// claimName is the claim an ordinal gets from a volumeClaimTemplate.
func claimName(template, sts string, ordinal int) string {
	return template + "-" + sts + "-" + strconv.Itoa(ordinal)
}

// expandStatefulSet appends the pods of a StatefulSet at its template's
// revision, one per ordinal, each with its own identity: hostname and
// subdomain (its DNS name through the headless Service), its name and
// index labels, and a volume per claim template.
func expandStatefulSet(out []DesiredPod, w *workload) []DesiredPod {
	owner := w.key.String()
	for i := 0; i < w.replicas; i++ {
		out = append(out, statefulPod(w, owner, w.sts.start+i))
	}
	return out
}

// statefulPod is the desired pod of one ordinal at the template's
// revision.
func statefulPod(w *workload, owner string, ordinal int) DesiredPod {
	name := statefulPodName(w.key.Name, ordinal)
	labels := make(map[string]string, len(w.template.Labels)+3)
	maps.Copy(labels, w.template.Labels)
	labels[ControllerRevisionHashLabel] = w.hash
	labels[StatefulSetPodNameLabel] = name
	labels[PodIndexLabel] = strconv.Itoa(ordinal)
	ps := w.template.Spec
	ps.Hostname = name
	ps.Subdomain = w.sts.serviceName
	if len(w.sts.claims) > 0 {
		ps.Volumes = slices.Clip(ps.Volumes)
		for _, c := range w.sts.claims {
			if slices.ContainsFunc(ps.Volumes, func(v spec.Volume) bool { return v.Name == c.Name }) {
				continue
			}
			ps.Volumes = append(ps.Volumes, spec.Volume{Name: c.Name, VolumeSource: spec.VolumeSource{
				PersistentVolumeClaim: &spec.PersistentVolumeClaimVolumeSource{ClaimName: claimName(c.Name, w.key.Name, ordinal)}}})
		}
	}
	key := w.namespace + "/" + name
	return DesiredPod{
		Namespace:   w.namespace,
		Name:        name,
		key:         key,
		Owner:       owner,
		Labels:      labels,
		Annotations: w.template.Annotations,
		Spec:        &ps,
		Hash:        w.hash,
		Index:       ordinal,
	}
}

// keptPod is the desired pod that keeps a remembered record's revision.
func keptPod(rec *PodRecord, ordinal int) DesiredPod {
	ps := rec.Spec
	return DesiredPod{
		Namespace:   rec.Namespace,
		Name:        rec.Name,
		key:         rec.Key(),
		Owner:       rec.Owner,
		Labels:      rec.Labels,
		Annotations: rec.Annotations,
		Spec:        &ps,
		Hash:        rec.Hash,
		Index:       ordinal,
	}
}

// statefulSets applies the StatefulSets' decisions to the desired pods
// (sorted, as decide gets them): ordinals not to be created yet are taken
// out, ordinals that keep their revision get their record's content, and
// pods of a scale-down still to be removed are put in. Other owners' pods
// are left as they are.
func (p *planner) statefulSets(desired []DesiredPod) []DesiredPod {
	var owners []string
	for owner, w := range p.workloads {
		if w.sts != nil && w.template != nil {
			owners = append(owners, owner)
		}
	}
	if len(owners) == 0 {
		return desired
	}
	slices.Sort(owners)
	p.indexReports(owners)
	sts := make(map[string]bool, len(owners))
	for _, o := range owners {
		sts[o] = true
	}
	recs := map[string]map[int]*PodRecord{}
	for _, rec := range p.mem {
		if !sts[rec.Owner] {
			continue
		}
		w := p.workloads[rec.Owner]
		if o, ok := ordinalOf(w.key.Name, rec.Name); ok {
			if recs[rec.Owner] == nil {
				recs[rec.Owner] = map[int]*PodRecord{}
			}
			recs[rec.Owner][o] = rec
		}
	}
	// What each StatefulSet wants of each of its desired pods: kept
	// (with its record's revision), dropped (not created yet) or as is.
	type change struct {
		drop bool
		keep *PodRecord
	}
	changes := map[string]change{}
	var extra []DesiredPod
	for _, owner := range owners {
		w := p.workloads[owner]
		d := p.statefulSet(owner, &w, recs[owner])
		for key, rec := range d.keep {
			changes[key] = change{keep: rec}
		}
		for _, key := range d.notYet {
			changes[key] = change{drop: true}
		}
		extra = append(extra, d.condemned...)
		if p.stsWaits == nil {
			p.stsWaits = map[string]string{}
		}
		p.stsWaits[owner] = d.waiting
	}
	if len(changes) == 0 && len(extra) == 0 {
		return desired
	}
	out := make([]DesiredPod, 0, len(desired)+len(extra))
	for _, d := range desired {
		c, ok := changes[d.Key()]
		switch {
		case !ok || !sts[d.Owner]:
			out = append(out, d)
		case c.keep != nil:
			out = append(out, keptPod(c.keep, d.Index))
		}
	}
	if len(extra) > 0 {
		out = append(out, extra...)
		sortPods(out)
	}
	return out
}

// stsPlan is statefulSet's decision for one StatefulSet.
type stsPlan struct {
	// keep holds the desired pods (by key) that keep their record's
	// revision; notYet the keys of those not to be created in this plan;
	// condemned the pods beyond replicas still kept.
	keep      map[string]*PodRecord
	notYet    []string
	condemned []DesiredPod
	waiting   string
}

// statefulSet decides one StatefulSet's ordinals from its records (by
// ordinal).
func (p *planner) statefulSet(owner string, w *workload, recs map[int]*PodRecord) stsPlan {
	d := stsPlan{keep: map[string]*PodRecord{}}
	p.stsScaleDown(owner, w, recs, &d)
	update := p.stsUpdates(w, recs)
	s := w.sts
	first, end := s.start, s.start+w.replicas
	for o := first; o < end; o++ {
		rec := recs[o]
		if rec == nil || rec.Hash == w.hash || update[o] {
			continue
		}
		// Another revision kept: serving, or re-created below the
		// partition (OnDelete re-creates with the current template).
		if p.serving(rec) || !s.onDelete && o < first+s.partition {
			d.keep[rec.Key()] = rec
		}
	}
	for o := end - 1; o >= first; o-- {
		if update[o] {
			p.stsEvent(owner, EventSuccessfulCreate, fmt.Sprintf("update Pod %s in StatefulSet %s to revision %s", recs[o].Name, w.key.Name, w.hash))
		}
	}
	p.stsCreate(owner, w, recs, update, &d)
	return d
}

// stsScaleDown decides about the records of ordinals outside [start,
// start+replicas): all dropped at once (Parallel), or the highest first,
// the next once its agent no longer reports it (OrderedReady); those kept
// go to d.condemned.
func (p *planner) stsScaleDown(owner string, w *workload, recs map[int]*PodRecord, d *stsPlan) {
	first, end := w.sts.start, w.sts.start+w.replicas
	var condemned []int
	for o := range recs {
		if o < first || o >= end {
			condemned = append(condemned, o)
		}
	}
	if len(condemned) == 0 {
		return
	}
	slices.Sort(condemned)
	slices.Reverse(condemned)
	deleted := func(rec *PodRecord) {
		p.stsEvent(owner, EventSuccessfulDelete, fmt.Sprintf("delete Pod %s in StatefulSet %s successful", rec.Name, w.key.Name))
	}
	if !w.sts.ordered {
		for _, o := range condemned {
			if p.serving(recs[o]) {
				deleted(recs[o])
			}
		}
		return
	}
	stopping := ""
	for _, st := range p.ownerReports(owner) {
		if o, ok := ordinalOf(w.key.Name, st.Name); ok && (o < first || o >= end) && stray(st, recs[o]) {
			stopping = st.Name // the first by name: the same whoever indexed them
			break
		}
	}
	for _, o := range condemned {
		rec := recs[o]
		switch {
		case !p.serving(rec):
			// Not running anywhere: nothing to wait for.
		case stopping == "":
			deleted(rec)
			if p.observed[rec.UID] != nil {
				// Its agent will stop it: the next waits for that. One
				// its agent never reported has nothing to wait for (and
				// waiting would not be a fixed point).
				stopping = rec.Name
			}
		default:
			d.condemned = append(d.condemned, keptPod(rec, o))
			d.waiting = fmt.Sprintf("waiting for %s to stop before removing %s", stopping, rec.Name)
		}
	}
}

// stsUpdates returns the ordinals a RollingUpdate replaces in this plan
// (see the top of this file).
func (p *planner) stsUpdates(w *workload, recs map[int]*PodRecord) map[int]bool {
	s := w.sts
	update := map[int]bool{}
	if s.onDelete {
		return update
	}
	first, end := s.start, s.start+w.replicas
	// unavail counts the pods at or above the partition that are not
	// available, inflight those of them the update is bringing up (of the
	// current revision, or missing).
	unavail, inflight := 0, 0
	for o := first + s.partition; o < end; o++ {
		rec := recs[o]
		if rec == nil || !p.serving(rec) || !p.available(p.observed[rec.UID], w.minReady) {
			unavail++
			if rec == nil || rec.Hash == w.hash {
				inflight++
			}
		}
	}
	for o := end - 1; o >= first+s.partition; o-- {
		rec := recs[o]
		if rec == nil || rec.Hash == w.hash || !p.serving(rec) {
			continue
		}
		switch {
		case p.available(p.observed[rec.UID], w.minReady):
			if unavail < s.maxUnavailable {
				update[o] = true
				unavail++
				inflight++
			}
		case inflight < s.maxUnavailable:
			// Unavailable already: replacing it makes nothing less
			// available, so only the update's own pods bound it.
			update[o] = true
			inflight++
		}
	}
	return update
}

// stsCreate decides which missing ordinals are created: all (Parallel),
// or the lowest one once every lower one is Running and Ready
// (OrderedReady); the others go to d.notYet.
func (p *planner) stsCreate(owner string, w *workload, recs map[int]*PodRecord, update map[int]bool, d *stsPlan) {
	first, end := w.sts.start, w.sts.start+w.replicas
	blocked := ""
	for o := first; o < end; o++ {
		rec := recs[o]
		name := statefulPodName(w.key.Name, o)
		if blocked != "" {
			if rec == nil {
				d.notYet = append(d.notYet, w.namespace+"/"+name)
				if d.waiting == "" {
					d.waiting = fmt.Sprintf("waiting for %s to be Running and Ready before creating %s", blocked, name)
				}
			}
			continue
		}
		if rec == nil {
			p.stsEvent(owner, EventSuccessfulCreate, fmt.Sprintf("create Pod %s in StatefulSet %s successful", name, w.key.Name))
		}
		if w.sts.ordered && (rec == nil || update[o] || !p.serving(rec) || !runningReady(p.observed[rec.UID])) {
			blocked = name
		}
	}
}

// runningReady is Kubernetes' isRunningAndReady: the pod is Running and
// ready (ready.go).
func runningReady(st *api.PodStatus) bool {
	return st != nil && st.Phase == api.PodRunning && ready(st)
}

func (p *planner) stsEvent(owner, reason, msg string) {
	p.events = append(p.events, Event{Time: p.in.Now, Object: owner, Reason: reason, Message: msg})
}

// indexReports indexes, by StatefulSet, the reports that may be of
// another incarnation than a record's: every report of the StatefulSets'
// pods for Plan; for the incremental Planner (strayOf set), which must
// not read every report at every plan, the reports no record had before
// this plan (its strays) and those of the StatefulSets' records, which
// is the same once filtered by UID (the only use). It runs before decide
// changes the memory; each owner's reports are sorted by name and UID.
func (p *planner) indexReports(owners []string) {
	p.stsReports = map[string][]*api.PodStatus{}
	if p.strayOf == nil {
		for _, node := range sortedKeys(p.in.Observed) {
			sts := p.in.Observed[node]
			for i := range sts {
				st := &sts[i]
				if w, ok := p.workloads[st.Owner]; ok && w.sts != nil && p.observed[st.UID] == st {
					p.stsReports[st.Owner] = append(p.stsReports[st.Owner], st)
				}
			}
		}
	} else {
		want := make(map[string]bool, len(owners))
		for _, o := range owners {
			want[o] = true
			p.stsReports[o] = append(p.stsReports[o], p.strayOf(o)...)
		}
		for _, rec := range p.mem {
			if st := p.observed[rec.UID]; want[rec.Owner] && st != nil && st.Owner == rec.Owner {
				p.stsReports[rec.Owner] = append(p.stsReports[rec.Owner], st)
			}
		}
	}
	for _, sts := range p.stsReports {
		slices.SortFunc(sts, func(a, b *api.PodStatus) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.UID, b.UID)
		})
	}
}

// ownerReports returns what indexReports found of owner.
func (p *planner) ownerReports(owner string) []*api.PodStatus {
	return p.stsReports[owner]
}

// incarnationGate says whether an unplaced record may be placed: a
// StatefulSet's pod waits while an agent still reports another
// incarnation of its name, and says so.
func (p *planner) incarnationGate(key string, rec *PodRecord) bool {
	if w, ok := p.workloads[rec.Owner]; !ok || w.sts == nil {
		return true
	}
	var old *api.PodStatus
	for _, st := range p.ownerReports(rec.Owner) {
		if st.Namespace == rec.Namespace && st.Name == rec.Name && st.UID != rec.UID && (old == nil || st.UID < old.UID) {
			old = st
		}
	}
	if old == nil {
		return true
	}
	p.unschedulable(key, fmt.Sprintf("waiting for the previous incarnation of %s (uid %s) to stop", rec.Name, old.UID))
	return false
}

// stsView fills a StatefulSet's view fields and says whether its rollout
// is complete, as `kubectl rollout status` judges a StatefulSet: every
// ordinal exists and is available, and those at or above the partition
// run the current revision (with OnDelete, every ordinal: until its pods
// are re-created it shows old pods left).
func stsView(v *WorkloadView, w *workload, newAvailable int32) bool {
	s := w.sts
	v.ServiceName = s.serviceName
	v.Strategy = w.strategy
	if !s.onDelete {
		v.Partition = int32(s.partition)
		v.MaxUnavailable = int32(s.maxUnavailable)
	}
	if v.Current != v.Replicas || v.Available != v.Replicas {
		return false
	}
	return newAvailable >= max(v.Replicas-int32(s.partition), 0)
}

// statefulPod reports whether owner is a StatefulSet of the plan.
func (p *planner) statefulPod(owner string) bool {
	w, ok := p.workloads[owner]
	return ok && w.sts != nil
}
