package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Rollouts follow Kubernetes' deployment controller (rolling.go,
// recreate.go), made into one pure decision per plan. A workload's pods of
// its current revision are its new pods (indexes 0..n-1, named by the
// revision's hash); its remembered pods of any other revision are old
// pods. Kubernetes reaches its target over several syncs (scale the new
// ReplicaSet up, then the old ones down, then up again); a plan goes
// straight to the point where such a sync would change nothing, so that
// planning again from its memory decides nothing new:
//
//   - old pods: with minAvailable = replicas − maxUnavailable and
//     newAvailable the new pods available, unavailable old pods go first,
//     as many as old + newAvailable − minAvailable (Kubernetes'
//     cleanupUnhealthyReplicas bound), then available ones as long as
//     availableOld + newAvailable stays at least minAvailable;
//   - new pods: n = max(new pods already created, min(replicas, replicas +
//     maxSurge − old pods kept)).
//
// An old pod on a node that has reported nothing yet (a reconciler that
// just started) is neither available nor unavailable: it is kept, so that
// a failover in the middle of a rollout does not take the old revision
// down before the agents have spoken.
//
// Recreate drops every old pod at once and creates the new pods only once
// no old pod of the workload runs anywhere: the agents report the pods
// they are still stopping (with the owner and hash of their api.Pod), and
// a status of the workload's owner and of another revision, not Succeeded
// nor Failed, is an old pod still running. Agents report every change, so
// no Wake is needed.

// rollout is what a plan decided for one workload with old pods (or, for
// Recreate, old pods still running).
type rollout struct {
	// n is the number of new pods the plan wants: indexes 0..n-1.
	n int
	// keep holds the keys of the old pods kept.
	keep map[string]bool
	// waiting counts a Recreate workload's old pods still running (a
	// DaemonSet's nodes waiting for one to stop).
	waiting int
	// blocked holds the keys of a DaemonSet's new pods not to create yet.
	blocked map[string]bool
}

// resolveStrategy resolves a rolling update's bounds against replicas as
// Kubernetes' ResolveFenceposts and MaxUnavailable do: maxSurge rounds a
// percentage up, maxUnavailable rounds down, both 0 makes maxUnavailable
// 1, and maxUnavailable is at most replicas (0 for 0 replicas). Unset
// bounds are Kubernetes' default 25%.
func resolveStrategy(ru *spec.RollingUpdateDeployment, replicas int) (surge, unavailable int) {
	s, u := spec.FromString(spec.DefaultMaxSurge), spec.FromString(spec.DefaultMaxUnavailable)
	if ru != nil && ru.MaxSurge != nil {
		s = *ru.MaxSurge
	}
	if ru != nil && ru.MaxUnavailable != nil {
		u = *ru.MaxUnavailable
	}
	// Validation rejects what does not resolve; 0 is the safe reading.
	surge, _ = s.Scaled(replicas, true)
	unavailable, _ = u.Scaled(replicas, false)
	surge, unavailable = max(surge, 0), max(unavailable, 0)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, min(unavailable, replicas)
}

// renewal is why decide gives a remembered pod a new incarnation.
type renewal int

const (
	renewNone renewal = iota
	renewReplaced
	renewNodeLost
	renewEvicted
	renewDeleted
)

// renewal says whether the record of a desired pod (of owner and hash,
// with spec ps) gets a new UID in this plan, and why.
func (p *planner) renewal(rec *PodRecord, owner, hash string, ps *spec.PodSpec) renewal {
	changed := rec.Hash != hash || rec.Owner != owner
	switch {
	case changed && !p.statefulPod(owner):
		return renewReplaced
	case p.deleting(rec):
		return renewDeleted
	case rec.Node != "" && !p.aliveOrUnknown(rec.Node):
		return renewNodeLost
	case rec.Node != "" && p.evicting(rec.Node, ps) != nil && !p.succeeded(rec):
		return renewEvicted
	case rec.Node != "" && p.agentEvicted(rec):
		return renewAgentEvicted
	case changed:
		// A StatefulSet's ordinal re-created for its node's death or an
		// eviction says so, whatever revision it takes (statefulset.go).
		return renewReplaced
	}
	return renewNone
}

// serving says whether an old revision's record still stands for a pod:
// placed on a node that is not dead and does not evict it. The others are
// dropped whatever the strategy (re-creating them would roll back).
func (p *planner) serving(rec *PodRecord) bool {
	return rec.Node != "" && !p.deleting(rec) && p.aliveOrUnknown(rec.Node) && p.evicting(rec.Node, &rec.Spec) == nil && !p.agentEvicted(rec)
}

// heard says whether node's agent has reported at all (Input.Observed has
// an entry for it, possibly empty).
func (p *planner) heard(node string) bool {
	_, ok := p.in.Observed[node]
	return ok
}

// rollouts decides, for every workload with old pods (and every Recreate
// workload), which old pods stay and how many new pods exist (p.rolls).
// decide runs it once the remembered pods have their incarnations (a new
// pod given a new UID is not available) and before it creates pods; rest
// are the keys of the remembered pods not desired, in order.
func (p *planner) rollouts(rest []string) {
	old := map[string][]*PodRecord{}
	var owners []string
	for _, k := range rest {
		rec := p.mem[k]
		if rec.Owner == "" {
			continue
		}
		if w, ok := p.workloads[rec.Owner]; ok && w.template != nil && rec.Hash != w.hash && w.sts == nil {
			if _, seen := old[rec.Owner]; !seen {
				owners = append(owners, rec.Owner)
			}
			old[rec.Owner] = append(old[rec.Owner], rec)
		}
	}
	for owner, w := range p.workloads {
		if _, ok := old[owner]; !ok && (w.recreate || w.daemon != nil) && w.template != nil {
			owners = append(owners, owner)
		}
	}
	if len(owners) == 0 {
		return
	}
	sort.Strings(owners)
	p.rolls = make(map[string]*rollout, len(owners))
	for _, owner := range owners {
		w := p.workloads[owner]
		var r *rollout
		if w.daemon != nil {
			r = p.daemonRollout(owner, &w, old[owner])
		} else if w.recreate {
			r = p.recreate(owner, &w, old[owner])
		} else {
			r = p.rolling(owner, &w, old[owner])
		}
		if r != nil {
			p.rolls[owner] = r
		}
	}
}

// newPods returns how many of w's new pods exist (the highest index
// remembered, plus one) and, when asked, how many of them are available.
func (p *planner) newPods(w *workload, avail bool) (created, available int) {
	for i := 0; i < w.replicas; i++ {
		rec := p.mem[w.namespace+"/"+workloadPodName(w.key.Name, w.hash, i)]
		if rec == nil {
			continue
		}
		created = i + 1
		if avail && p.available(p.observed[rec.UID], w.minReady) {
			available++
		}
	}
	return created, available
}

// rolling is the RollingUpdate decision (see the top of this file).
func (p *planner) rolling(owner string, w *workload, recs []*PodRecord) *rollout {
	var unhealthy, unknown, avail []*PodRecord
	for _, rec := range recs {
		switch {
		case !p.serving(rec):
			// dropUnwanted drops it whatever the strategy.
		case p.available(p.observed[rec.UID], w.minReady):
			avail = append(avail, rec)
		case !p.heard(rec.Node):
			unknown = append(unknown, rec)
		default:
			unhealthy = append(unhealthy, rec)
		}
	}
	created, newAvail := p.newPods(w, true)
	minAvail := w.replicas - w.maxUnavailable
	dropU := min(max(len(unhealthy)+len(unknown)+len(avail)+newAvail-minAvail, 0), len(unhealthy))
	dropA := min(max(len(avail)+newAvail-minAvail, 0), len(avail))
	r := &rollout{keep: make(map[string]bool, len(unhealthy)+len(unknown)+len(avail))}
	// The highest names go first, as a scale-down removes the highest
	// indexes.
	for _, kept := range [][]*PodRecord{unhealthy[:len(unhealthy)-dropU], unknown, avail[:len(avail)-dropA]} {
		for _, rec := range kept {
			r.keep[rec.Key()] = true
		}
	}
	r.n = max(created, min(w.replicas, w.replicas+w.maxSurge-len(r.keep)))
	return r
}

// recreate is the Recreate decision: no old pod is kept, and no new pod
// is created while an old one runs. Nil when there is nothing to decide.
func (p *planner) recreate(owner string, w *workload, recs []*PodRecord) *rollout {
	created, _ := p.newPods(w, false)
	if len(recs) == 0 && created == w.replicas {
		return nil // the steady state: no report to look at
	}
	r := &rollout{n: w.replicas}
	oldRunning := func(st *api.PodStatus) bool {
		return st != nil && st.Owner == owner && st.Hash != w.hash && st.Phase != api.PodSucceeded && st.Phase != api.PodFailed
	}
	for _, rec := range recs {
		if oldRunning(p.observed[rec.UID]) {
			r.waiting++
		}
	}
	for _, st := range p.straysOf(owner) {
		if oldRunning(st) {
			r.waiting++
		}
	}
	if r.waiting > 0 {
		r.n = created
	}
	if len(recs) == 0 && r.n == w.replicas {
		return nil
	}
	return r
}

// straysOf returns the reports of owner's pods that no record has (a
// status whose UID memory does not hold under its namespace and name): an
// old pod its agent is still stopping. It reads the memory as decide left
// it when the rollouts run, where only new pods got new UIDs (whose old
// reports are of the current revision: no old pod). The incremental
// Planner keeps them itself (strayOf).
func (p *planner) straysOf(owner string) []*api.PodStatus {
	if p.strayOf != nil {
		return p.strayOf(owner)
	}
	if p.strayIdx == nil {
		p.strayIdx = map[string][]*api.PodStatus{}
		for _, node := range sortedKeys(p.in.Observed) {
			sts := p.in.Observed[node]
			for i := range sts {
				st := &sts[i]
				if st.Owner == "" || p.observed[st.UID] != st {
					continue
				}
				if rec := p.mem[st.Namespace+"/"+st.Name]; rec != nil && rec.UID == st.UID {
					continue
				}
				p.strayIdx[st.Owner] = append(p.strayIdx[st.Owner], st)
			}
		}
	}
	return p.strayIdx[owner]
}

// dropUnwanted removes the remembered pods Git no longer asks for, except an
// old revision's pods that the rollout keeps.
func (p *planner) dropUnwanted(want map[string]*DesiredPod) {
	for _, key := range p.keys {
		if _, ok := want[key]; ok {
			continue
		}
		rec := p.mem[key]
		w, ok := p.workloads[rec.Owner]
		switch {
		case p.jobDrops[key] != "":
			p.drop(key, p.jobDrops[key])
		case rec.Owner == "":
			p.drop(key, "deleted from Git")
		case !ok:
			p.drop(key, fmt.Sprintf("%s deleted from Git", rec.Owner))
		case w.sts != nil:
			// statefulSets kept the ordinals it wants: a scale-down.
			p.drop(key, fmt.Sprintf("%s scaled to %d", rec.Owner, w.replicas))
		case w.daemon != nil && p.daemonDropReason(rec, &w) != "":
			p.drop(key, p.daemonDropReason(rec, &w))
		case w.template != nil && rec.Hash == w.hash:
			p.drop(key, fmt.Sprintf("%s scaled to %d", rec.Owner, w.replicas))
		case rec.Node == "" || !p.aliveOrUnknown(rec.Node):
			// An old revision's pod that is not running anywhere stands in
			// for nothing; re-creating it would roll back.
			p.drop(key, fmt.Sprintf("old revision of %s is not running", rec.Owner))
		case p.evicting(rec.Node, &rec.Spec) != nil:
			p.drop(key, fmt.Sprintf("old revision of %s evicted from %s", rec.Owner, rec.Node))
		default:
			if r := p.rolls[rec.Owner]; r == nil || !r.keep[key] {
				p.drop(key, fmt.Sprintf("superseded by revision %s of %s", w.hash, rec.Owner))
			}
		}
	}
}

func (p *planner) drop(key, why string) {
	rec := p.mem[key]
	delete(p.mem, key)
	p.deleted = append(p.deleted, key)
	p.scaled(rec.Owner, rec.Hash, -1)
	p.event(key, EventDeleted, fmt.Sprintf("deleted pod %s (uid %s): %s", key, rec.UID, why))
}

// revisionKey is one revision of one workload.
type revisionKey struct{ owner, hash string }

// scaled notes that a plan changed the number of pods of a workload's
// revision by delta.
func (p *planner) scaled(owner, hash string, delta int) {
	if owner == "" {
		return
	}
	if p.scales == nil {
		p.scales = map[revisionKey]int{}
	}
	p.scales[revisionKey{owner, hash}] += delta
}

// scalingEvents records a ScalingReplicaSet event about each workload
// whose revisions' pod counts this plan changed: the current revision
// first, then the others by hash.
func (p *planner) scalingEvents() {
	var keys []revisionKey
	owners := map[string]bool{}
	for k, d := range p.scales {
		if _, ok := p.workloads[k.owner]; ok && d != 0 {
			keys = append(keys, k)
			owners[k.owner] = true
		}
	}
	if len(keys) == 0 {
		return
	}
	count := map[revisionKey]int{}
	for _, rec := range p.mem {
		if owners[rec.Owner] {
			count[revisionKey{rec.Owner, rec.Hash}]++
		}
	}
	slices.SortFunc(keys, func(a, b revisionKey) int {
		if a.owner != b.owner {
			return strings.Compare(a.owner, b.owner)
		}
		cur := p.workloads[a.owner].hash
		if (a.hash == cur) != (b.hash == cur) {
			if a.hash == cur {
				return -1
			}
			return 1
		}
		return strings.Compare(a.hash, b.hash)
	})
	for _, k := range keys {
		dir := "up"
		if p.scales[k] < 0 {
			dir = "down"
		}
		p.events = append(p.events, Event{Time: p.in.Now, Object: k.owner, Reason: EventScalingReplicaSet,
			Message: fmt.Sprintf("Scaled %s revision %s to %d", dir, k.hash, count[k])})
	}
}
