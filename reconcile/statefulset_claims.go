package reconcile

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// A StatefulSet's volumeClaimTemplates give every ordinal its own claims,
// <template>-<statefulset>-<ordinal>, which the catalog holds beside the
// claims declared in Git: they are bound and provisioned exactly like
// them (volumes.go), and the volume a claim binds remembers the
// StatefulSet that made it (VolumeRecord.Owner). A claim outlives its pod:
// it is in the catalog whenever its ordinal is, whatever becomes of the
// pod, so a re-created ordinal (another UID, another node for a network
// volume) mounts the same volume.
//
// persistentVolumeClaimRetentionPolicy decides what happens to the claims
// of ordinals that are no longer wanted:
//
//   - whenScaled Retain (the default) keeps the bound claims of the
//     ordinals a scale-down removed in the catalog, so their volumes stay
//     Bound (never released, so never deleted by a reclaim policy) and a
//     scale-up finds the data; Delete leaves them out, and the volume is
//     released once no pod mounts it.
//   - whenDeleted Retain (the default) keeps the bound claims of a
//     StatefulSet that left Git, as claims of their own (their spec
//     rebuilt from the volume: size, access modes, class); Delete drops
//     them. The record keeps the policy of the last revision that had the
//     StatefulSet (VolumeRecord.DeleteWithOwner), which is all a plan knows
//     once the StatefulSet is gone.
//
// A claim declared in Git under the same name wins: the StatefulSet's pods
// mount it, as Kubernetes' controller uses an existing claim.
//
// The claims depend on the desired set and on the bound volumes' owners,
// which change only with the set (a volume binds only to a claim already
// in the catalog, and a retained claim's volume is never released), so the
// incremental Planner's catalog, rebuilt on a new set, stays Plan's.

// statefulClaims adds the claims of the StatefulSets of set, and the
// retained claims of the volumes vols remembers, to c.
func (c *catalog) statefulClaims(set *spec.Set, vols map[string]VolumeRecord) {
	if set == nil {
		return
	}
	added := false
	present := map[string]*spec.StatefulSet{}
	for k, o := range set.Objects {
		s, ok := o.(*spec.StatefulSet)
		if !ok {
			continue
		}
		owner := k.String()
		present[owner] = s
		if len(s.Spec.VolumeClaimTemplates) == 0 {
			continue
		}
		w := statefulSetWorkload(k, s, namespaceOf(k))
		for i := 0; i < w.replicas; i++ {
			for t := range s.Spec.VolumeClaimTemplates {
				added = c.addStatefulClaim(owner, &w, &s.Spec.VolumeClaimTemplates[t], w.sts.start+i) || added
			}
		}
	}
	for _, name := range sortedKeys(vols) {
		r := vols[name]
		if r.Owner == "" || r.Phase != VolumeBound || r.Claim == "" {
			continue
		}
		if _, ok := c.claims[r.Claim]; ok {
			continue
		}
		if s := present[r.Owner]; s != nil {
			// An ordinal scaled away follows whenScaled; a claim whose
			// template is gone from the StatefulSet (Kubernetes forbids
			// that change; a commit can make it) follows whenDeleted.
			w := statefulSetWorkload(objectKeyOf(r.Owner), s, namespaceOf(objectKeyOf(r.Owner)))
			t, o, ok := claimTemplateOf(s, r.Claim)
			if ok && !w.sts.retainScaled || !ok && !w.sts.retainDeleted {
				continue
			}
			if ok {
				added = c.addStatefulClaim(r.Owner, &w, t, o) || added
				continue
			}
		} else if r.DeleteWithOwner {
			continue
		}
		c.claims[r.Claim] = retainedClaim(&r)
		c.owners[r.Claim] = r.Owner
		added = true
	}
	if added {
		c.claimKeys = sortedKeys(c.claims)
		slices.SortFunc(c.claimKeys, comparePodKeys)
	}
}

// addStatefulClaim adds the claim of ordinal o from template t, unless Git
// declares one of that name; it reports whether it did.
func (c *catalog) addStatefulClaim(owner string, w *workload, t *spec.PersistentVolumeClaim, o int) bool {
	key := w.namespace + "/" + claimName(t.Name, w.key.Name, o)
	if _, ok := c.claims[key]; ok {
		return false
	}
	pvc := *t
	pvc.TypeMeta = spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolumeClaim}
	pvc.Name = claimName(t.Name, w.key.Name, o)
	pvc.Namespace = w.namespace
	labels := make(map[string]string, len(t.Labels)+len(w.sts.selector))
	maps.Copy(labels, t.Labels)
	maps.Copy(labels, w.sts.selector)
	pvc.Labels = labels
	c.claims[key] = &pvc
	c.owners[key] = owner
	return true
}

// claimTemplateOf finds the template and ordinal a claim key of s was made
// from.
func claimTemplateOf(s *spec.StatefulSet, key string) (*spec.PersistentVolumeClaim, int, bool) {
	_, name, _ := strings.Cut(key, "/")
	for i := range s.Spec.VolumeClaimTemplates {
		t := &s.Spec.VolumeClaimTemplates[i]
		if rest, ok := strings.CutPrefix(name, t.Name+"-"); ok {
			if o, ok := ordinalOf(s.Name, rest); ok {
				return t, o, true
			}
		}
	}
	return nil, 0, false
}

// retainedClaim is the claim a retained volume stands for once its
// template is gone: what the volume says of it.
func retainedClaim(r *VolumeRecord) *spec.PersistentVolumeClaim {
	ns, name, _ := strings.Cut(r.Claim, "/")
	pvc := &spec.PersistentVolumeClaim{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPersistentVolumeClaim},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: ns},
	}
	pvc.Spec.AccessModes = r.AccessModes
	pvc.Spec.VolumeName = r.Name
	class := r.Class
	pvc.Spec.StorageClassName = &class
	if r.Capacity > 0 {
		pvc.Spec.Resources.Requests = spec.ResourceList{"storage": *resource.NewQuantity(r.Capacity, resource.BinarySI)}
	}
	return pvc
}

// claimOwners brings the owner's whenDeleted policy of the volumes bound
// to StatefulSets' claims up to date (a StatefulSet that leaves Git leaves
// its last policy behind in them), and forgets the owner of a volume whose
// claim the catalog no longer has (dropped by a retention policy): the
// volume is released as any other once no pod mounts it, and a later
// change of the StatefulSet must not bring its claim back.
func (p *planner) claimOwners() {
	for _, name := range sortedKeys(p.vs.vols) {
		r := p.vs.vols[name]
		if r.Owner == "" {
			continue
		}
		if _, ok := p.cat.claims[r.Claim]; !ok || r.Phase != VolumeBound {
			nr := *r
			nr.Owner, nr.DeleteWithOwner = "", false
			*r = nr
			p.vtouch(name)
			continue
		}
		k := objectKeyOf(r.Owner)
		s, ok := p.in.Desired.Objects[k].(*spec.StatefulSet)
		if !ok {
			continue
		}
		w := statefulSetWorkload(k, s, namespaceOf(k))
		if del := !w.sts.retainDeleted; del != r.DeleteWithOwner {
			nr := *r
			nr.DeleteWithOwner = del
			*r = nr
			p.vtouch(name)
		}
	}
}

// namespaceOf is a key's namespace, defaulted.
func namespaceOf(k spec.ObjectKey) string {
	if k.Namespace == "" {
		return spec.DefaultNamespace
	}
	return k.Namespace
}

// objectKeyOf parses an owner key "Kind/ns/name".
func objectKeyOf(owner string) spec.ObjectKey {
	kind, rest, _ := strings.Cut(owner, "/")
	ns, name, ok := strings.Cut(rest, "/")
	if !ok {
		return spec.ObjectKey{Kind: kind, Name: rest}
	}
	return spec.ObjectKey{Kind: kind, Namespace: ns, Name: name}
}
