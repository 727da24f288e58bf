package reconcile

import "slices"

// The daemon keeps the inventory (Memory.Pods) as replicated state, so a
// plan reports what it changed rather than only the whole new memory: every
// write to a record goes through touch, every removal through drop, and
// delta turns those into Output.Changed and Output.Deleted. The property
// tests check that the delta is exact: applied to Input.Memory it gives
// Output.Memory, and it names no record that did not change.

// touch notes that the record of key was created or changed.
func (p *planner) touch(key string) {
	if p.changed == nil {
		p.changed = map[string]struct{}{}
	}
	p.changed[key] = struct{}{}
}

// delta returns the keys of the records this plan created or changed and
// of those it removed from Input.Memory, each in namespace and name order.
func (p *planner) delta() (changed, deleted []string) {
	if len(p.changed) > 0 {
		changed = make([]string, 0, len(p.changed))
		// p.keys is in order and holds every key of p.mem.
		for _, k := range p.keys {
			if _, ok := p.changed[k]; ok && p.mem[k] != nil {
				changed = append(changed, k)
			}
		}
	}
	for _, k := range p.deleted {
		// A record adopted and dropped by the same plan was never in
		// Input.Memory.
		if _, ok := p.in.Memory.Pods[k]; ok {
			deleted = append(deleted, k)
		}
	}
	slices.SortFunc(deleted, comparePodKeys)
	return changed, deleted
}
