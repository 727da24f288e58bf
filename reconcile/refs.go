package reconcile

import "slices"

// refIndex indexes the pod records by what they refer to (ConfigMaps,
// Secrets, claims: podRefs), so that a node's config and volumes, and a
// claim's users, are found without walking every record. Plan builds one
// from its memory; the Planner keeps one from plan to plan, told of every
// record that comes, goes or moves.
type refIndex struct {
	pods map[string]*refEntry // by pod key
	// byNode counts, per node, the placed records referring to each ref.
	byNode map[string]map[string]int32
	// claimPods holds the keys of the records (placed or not) that mount
	// each claim ("namespace/name").
	claimPods map[string]map[string]struct{}
}

type refEntry struct {
	node string
	uid  string
	refs []string
}

func newRefIndex() *refIndex {
	return &refIndex{pods: map[string]*refEntry{}, byNode: map[string]map[string]int32{}, claimPods: map[string]map[string]struct{}{}}
}

// add files the record of key (replacing what was filed under key).
func (x *refIndex) add(key string, rec *PodRecord) {
	x.remove(key)
	refs := podRefs(rec.Namespace, &rec.Spec)
	pr := &refEntry{uid: rec.UID, refs: refs}
	x.pods[key] = pr
	for _, r := range refs {
		if c, ok := refClaim(r); ok {
			set := x.claimPods[c]
			if set == nil {
				set = map[string]struct{}{}
				x.claimPods[c] = set
			}
			set[key] = struct{}{}
		}
	}
	x.move(key, rec.Node)
}

// remove forgets the record of key.
func (x *refIndex) remove(key string) {
	pr := x.pods[key]
	if pr == nil {
		return
	}
	x.move(key, "")
	for _, r := range pr.refs {
		if c, ok := refClaim(r); ok {
			if set := x.claimPods[c]; set != nil {
				delete(set, key)
				if len(set) == 0 {
					delete(x.claimPods, c)
				}
			}
		}
	}
	delete(x.pods, key)
}

// move records that the record of key is now on node ("" unplaced).
func (x *refIndex) move(key, node string) {
	pr := x.pods[key]
	if pr == nil || pr.node == node {
		return
	}
	if pr.node != "" {
		m := x.byNode[pr.node]
		for _, r := range pr.refs {
			if m[r]--; m[r] <= 0 {
				delete(m, r)
			}
		}
		if len(m) == 0 {
			delete(x.byNode, pr.node)
		}
	}
	pr.node = node
	if node != "" && len(pr.refs) > 0 {
		m := x.byNode[node]
		if m == nil {
			m = map[string]int32{}
			x.byNode[node] = m
		}
		for _, r := range pr.refs {
			m[r]++
		}
	}
}

// users returns the keys of the records that mount claim, sorted.
func (x *refIndex) users(claim string) []string {
	set := x.claimPods[claim]
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.SortFunc(out, comparePodKeys)
	return out
}

// nodeRefs returns the refs of the placed records of node, sorted.
func (x *refIndex) nodeRefs(node string) []string {
	return sortedKeys(x.byNode[node])
}

// buildRefs indexes every record of mem.
func buildRefs(mem map[string]*PodRecord) *refIndex {
	x := newRefIndex()
	for k, rec := range mem {
		if rec != nil {
			x.add(k, rec)
		}
	}
	return x
}
