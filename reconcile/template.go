package reconcile

import (
	"sort"

	"github.com/stevedore-dev/stevedore/spec"
)

// A workload runs its template from Git, except in two cases that share
// one mechanism (retemplate): a template override (Input.Overrides, an
// automatic rollback) makes it run a previous revision's template, and a
// paused Deployment whose template changed keeps running the revision it
// ran. Either way the workload's pods are expanded from that template and
// hash instead, and the rollout machinery treats the result like any
// template: pods of every other revision are old pods, replaced as the
// strategy says.

// retemplate applies overrides and pauses to the workloads of desired and
// returns desired with their pods expanded from the template they run
// (sorted, as desired is).
func (p *planner) retemplate(desired []DesiredPod) []DesiredPod {
	var changed []string
	for owner, o := range p.in.Overrides {
		w, ok := p.workloads[owner]
		if !ok || w.template == nil || w.hash != o.GitHash || o.Hash == w.hash {
			continue
		}
		w.override = &o
		w.hash, w.template = o.Hash, &w.override.Template
		p.workloads[owner] = w
		changed = append(changed, owner)
	}
	changed = append(changed, p.holdPaused()...)
	if len(changed) == 0 {
		return desired
	}
	sort.Strings(changed)
	changed = compactStrings(changed)
	subst := make(map[string]bool, len(changed))
	for _, owner := range changed {
		subst[owner] = true
		desired = expandWorkload(desired, p.workloads[owner])
	}
	kept := desired[:0]
	for _, d := range desired {
		if subst[d.Owner] && d.Hash != p.workloads[d.Owner].hash {
			continue // the template's pods: another runs instead
		}
		kept = append(kept, d)
	}
	sortPods(kept)
	return kept
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// holdPaused keeps a paused Deployment on the revision it runs: when none
// of its remembered pods is of the revision it would run (its template's,
// or its override's), it runs the revision most of its remembered pods are
// of instead (scaling still applies), as Kubernetes scales the current
// ReplicaSet of a paused Deployment. It returns the workloads it held.
func (p *planner) holdPaused() []string {
	var paused []string
	for owner, w := range p.workloads {
		if w.paused && w.template != nil {
			paused = append(paused, owner)
		}
	}
	if len(paused) == 0 {
		return nil
	}
	sort.Strings(paused)
	type revision struct {
		n   int
		rec *PodRecord // the record of smallest key, for determinism
	}
	revs := map[string]map[string]*revision{}
	for _, owner := range paused {
		revs[owner] = map[string]*revision{}
	}
	for key, rec := range p.mem {
		byHash, ok := revs[rec.Owner]
		if !ok {
			continue
		}
		r := byHash[rec.Hash]
		if r == nil {
			r = &revision{rec: rec}
			byHash[rec.Hash] = r
		}
		r.n++
		if key < r.rec.Key() {
			r.rec = rec
		}
	}
	var held []string
	for _, owner := range paused {
		w := p.workloads[owner]
		byHash := revs[owner]
		if len(byHash) == 0 || byHash[w.hash] != nil {
			continue // nothing runs yet, or the revision already does
		}
		best := ""
		for h, r := range byHash {
			if best == "" || r.n > byHash[best].n || r.n == byHash[best].n && h < best {
				best = h
			}
		}
		rec := byHash[best].rec
		w.heldFrom, w.hash = w.hash, best
		w.template = &spec.PodTemplateSpec{
			ObjectMeta: spec.ObjectMeta{Labels: rec.Labels, Annotations: rec.Annotations},
			Spec:       rec.Spec,
		}
		p.workloads[owner] = w
		held = append(held, owner)
	}
	return held
}
