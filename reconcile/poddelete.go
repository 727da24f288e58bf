package reconcile

import "maps"

// deleting says whether rec is the incarnation Input.DeletePods asks to
// delete.
func (p *planner) deleting(rec *PodRecord) bool {
	uid, ok := p.in.DeletePods[rec.Key()]
	return ok && uid == rec.UID && uid != ""
}

// changedDeletes marks the owners of the pods whose entry in
// Input.DeletePods changed.
func (p *Planner) changedDeletes(in Input, dirty map[*group]bool) {
	if maps.Equal(in.DeletePods, p.deletes) {
		return
	}
	mark := func(key string) {
		rec, ok := p.mem[key]
		if !ok {
			return
		}
		if g := p.groups[groupID(rec.Owner, key)]; g != nil {
			dirty[g] = true
		}
	}
	for k, uid := range in.DeletePods {
		if p.deletes[k] != uid {
			mark(k)
		}
	}
	for k := range p.deletes {
		if _, ok := in.DeletePods[k]; !ok {
			mark(k)
		}
	}
	p.deletes = maps.Clone(in.DeletePods)
}
