package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// EventAdopted: with the inventory lost, a pod an agent runs was taken back
// into memory with its UID, node and creation time.
const EventAdopted = "Adopted"

// adopt rebuilds an empty memory from the pod sets the agents report having
// applied (Input.Adopt), so that a lost inventory is not a cluster-wide
// restart: an adopted pod keeps its UID, node and creation time, and the
// plan then treats it as remembered (a pod Git no longer wants is dropped,
// one whose hash differs is replaced, one on a dead node is re-created).
// Two nodes reporting one pod key is what a node cut off during a node loss
// leaves behind: the incarnation created later (the re-created one) wins,
// ties broken by UID then node name, and the other is left out of memory,
// so its node stops it.
func (p *planner) adopt() {
	if len(p.in.Memory.Pods) > 0 || len(p.in.Adopt) == 0 {
		return
	}
	type reported struct {
		node string
		pod  *api.Pod
	}
	best := map[string]reported{}
	var losers []reported
	for _, node := range sortedKeys(p.in.Adopt) {
		pods := p.in.Adopt[node]
		for i := range pods {
			r := reported{node, &pods[i]}
			key := r.pod.Namespace + "/" + r.pod.Name
			cur, ok := best[key]
			if !ok {
				best[key] = r
				continue
			}
			if laterIncarnation(r.pod, r.node, cur.pod, cur.node) {
				best[key], r = r, cur
			}
			losers = append(losers, r)
		}
	}
	keys := make([]string, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePodKeys)
	backing := make([]PodRecord, len(keys))
	for i, key := range keys {
		r := best[key]
		rec := &backing[i]
		*rec = PodRecord{
			UID:         r.pod.UID,
			Namespace:   r.pod.Namespace,
			Name:        r.pod.Name,
			Owner:       r.pod.Owner,
			Node:        r.node,
			Created:     r.pod.Created,
			Hash:        r.pod.Hash,
			Labels:      r.pod.Labels,
			Annotations: r.pod.Annotations,
			Spec:        r.pod.Spec,
		}
		if rec.Created.IsZero() {
			// An agent that does not know it: the progress deadline counts
			// from the adoption rather than having passed long ago.
			rec.Created = p.in.Now
		}
		p.mem[key] = rec
		p.touch(key)
		p.event(key, EventAdopted, fmt.Sprintf("adopted pod %s (uid %s) on %s", key, rec.UID, rec.Node))
	}
	for _, r := range losers {
		key := r.pod.Namespace + "/" + r.pod.Name
		win := best[key]
		p.event(key, EventDeleted, fmt.Sprintf("deleted pod %s (uid %s) on %s: %s runs a later incarnation (uid %s)",
			key, r.pod.UID, r.node, win.node, win.pod.UID))
	}
}

// laterIncarnation says whether pod a (reported by node na) is to be kept
// rather than pod b (reported by nb): the later created, then the greater
// UID, then the smaller node name, so that the choice depends on neither
// map nor report order.
func laterIncarnation(a *api.Pod, na string, b *api.Pod, nb string) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	if c := strings.Compare(a.UID, b.UID); c != 0 {
		return c > 0
	}
	return na < nb
}
