package reconcile

import (
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// The Planner keeps the reports no record has (strays: pods their agents
// are still stopping) as the reports and the memory change, rather than
// looking for them among every report at every plan: a report becomes or
// stops being a stray when it changes (observe), when a record of its UID
// comes or goes (assemble), and its view shows or not when its node's
// state changes (changes). Recreate rollouts read them by owner
// (straysOf), and Output.Pods lists those on alive nodes (pods).

// straysOf is planner.strayOf: the reports of owner's pods no record has.
func (p *Planner) straysOf(owner string) []*api.PodStatus {
	uids := p.strayOwners[owner]
	out := make([]*api.PodStatus, 0, len(uids))
	for uid := range uids {
		out = append(out, p.obs[uid])
	}
	return out
}

// restray brings the stray index up to date for the report of uid (if
// any) against the current reports and memory, noting uid in touched.
func (p *Planner) restray(uid string, touched map[string]bool) {
	if owner, ok := p.strays[uid]; ok {
		delete(p.strays, uid)
		if set := p.strayOwners[owner]; set != nil {
			delete(set, uid)
			if len(set) == 0 {
				delete(p.strayOwners, owner)
			}
		}
	}
	if st := p.obs[uid]; st != nil {
		if rec, ok := p.mem[st.Namespace+"/"+st.Name]; !ok || stray(st, &rec) {
			p.strays[uid] = st.Owner
			if st.Owner != "" {
				set := p.strayOwners[st.Owner]
				if set == nil {
					set = map[string]struct{}{}
					p.strayOwners[st.Owner] = set
				}
				set[uid] = struct{}{}
			}
		}
	}
	if touched != nil {
		touched[uid] = true
	}
}

// pods returns this plan's Output.Pods: the previous one with the views of
// the re-planned records (oldRecs, as remembered before) replaced by
// views (sorted), and the terminating views of the touched reports
// brought up to date. The previous slice itself when nothing changed.
func (p *Planner) pods(oldRecs []PodRecord, views []PodView) []PodView {
	old := p.last.Pods
	var rem []int
	for i := range oldRecs {
		if j, ok := findView(old, oldRecs[i].Namespace, oldRecs[i].Name, oldRecs[i].UID); ok {
			rem = append(rem, j)
		}
	}
	// A copy: views are pointed to by the workload views' pods.
	ins := append(make([]PodView, 0, len(views)+len(p.touched)), views...)
	for _, uid := range sortedKeys(p.touched) {
		if ov, had := p.termViews[uid]; had {
			if j, ok := findView(old, ov.Namespace, ov.Name, ov.UID); ok {
				rem = append(rem, j)
			}
			delete(p.termViews, uid)
		}
		if _, ok := p.strays[uid]; ok {
			if node := p.obsNode[uid]; p.alive[node] {
				v := terminatingView(p.obs[uid], node)
				ins = append(ins, v)
				p.termViews[uid] = v
			}
		}
	}
	slices.Sort(rem)
	slices.SortFunc(ins, func(a, b PodView) int { return compareViews(&a, &b) })
	if len(rem) == len(ins) && old != nil {
		same := true
		for i := range rem {
			if !reflect.DeepEqual(old[rem[i]], ins[i]) {
				same = false
				break
			}
		}
		if same {
			return old
		}
	}
	return spliceViews(old, rem, ins)
}

// findView returns the position in views (sorted by compareViews) of the
// view of namespace, name and uid.
func findView(views []PodView, ns, name, uid string) (int, bool) {
	i, _ := slices.BinarySearchFunc(views, 0, func(v PodView, _ int) int {
		if c := strings.Compare(v.Namespace, ns); c != 0 {
			return c
		}
		return strings.Compare(v.Name, name)
	})
	for ; i < len(views) && views[i].Namespace == ns && views[i].Name == name; i++ {
		if views[i].UID == uid {
			return i, true
		}
	}
	return 0, false
}

// changedOverrides marks the owners whose template override changed.
func (p *Planner) changedOverrides(in Input, dirty map[*group]bool) {
	if len(in.Overrides) == 0 && len(p.overrides) == 0 {
		return
	}
	changed := false
	mark := func(owner string) {
		changed = true
		if g := p.groups[owner]; g != nil {
			dirty[g] = true
		}
	}
	for owner, o := range in.Overrides {
		if old, ok := p.overrides[owner]; !ok || !reflect.DeepEqual(old, o) {
			mark(owner)
		}
	}
	for owner := range p.overrides {
		if _, ok := in.Overrides[owner]; !ok {
			mark(owner)
		}
	}
	if changed {
		p.overrides = maps.Clone(in.Overrides)
	}
}
