package reconcile

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// randomApps returns a random StatefulSet (most of the time) or
// ReplicaSet named name: scaling, template changes, both pod management
// policies, both update strategies, partitions, maxUnavailable,
// minReadySeconds, a start ordinal and claim templates.
func randomApps(r *rand.Rand, name string) spec.Object {
	d := deployment("default", name, int32(r.IntN(5)), fmt.Sprintf("img:%d", r.IntN(3)))
	d.Spec.Template.Spec.Containers[0].Resources.Requests = nil
	minReady := []int32{0, 0, 5, 30}[r.IntN(4)]
	if r.IntN(4) == 0 {
		d := deployment("default", "r"+name, *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image)
		d.Spec.Template.Spec.Containers[0].Resources.Requests = nil
		return &spec.ReplicaSet{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindReplicaSet},
			ObjectMeta: d.ObjectMeta,
			Spec: spec.ReplicaSetSpec{Replicas: d.Spec.Replicas, MinReadySeconds: minReady,
				Selector: d.Spec.Selector, Template: d.Spec.Template},
		}
	}
	s := &spec.StatefulSet{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindStatefulSet},
		ObjectMeta: d.ObjectMeta,
		Spec: spec.StatefulSetSpec{Replicas: d.Spec.Replicas, MinReadySeconds: minReady, Selector: d.Spec.Selector,
			Template: d.Spec.Template, ServiceName: name,
			PodManagementPolicy: []string{spec.OrderedReadyPodManagement, spec.ParallelPodManagement}[r.IntN(2)],
			UpdateStrategy:      spec.StatefulSetUpdateStrategy{Type: spec.RollingUpdateStatefulSetStrategyType}},
	}
	if r.IntN(4) == 0 {
		s.Spec.UpdateStrategy.Type = spec.OnDeleteStatefulSetStrategyType
	} else if r.IntN(2) == 0 {
		part := int32(r.IntN(3))
		unav := []spec.IntOrString{spec.FromInt(1), spec.FromInt(2), spec.FromString("50%")}[r.IntN(3)]
		s.Spec.UpdateStrategy.RollingUpdate = &spec.RollingUpdateStatefulSetStrategy{Partition: &part, MaxUnavailable: &unav}
	}
	if r.IntN(4) == 0 {
		s.Spec.Ordinals = &spec.StatefulSetOrdinals{Start: 1}
	}
	if r.IntN(3) == 0 {
		c := spec.PersistentVolumeClaim{ObjectMeta: spec.ObjectMeta{Name: "data"}}
		c.Spec.AccessModes = []string{spec.ReadWriteOnce}
		s.Spec.VolumeClaimTemplates = []spec.PersistentVolumeClaim{c}
		pol := []string{spec.RetainPersistentVolumeClaimRetentionPolicyType, spec.DeletePersistentVolumeClaimRetentionPolicyType}
		s.Spec.PersistentVolumeClaimRetentionPolicy = &spec.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenScaled: pol[r.IntN(2)], WhenDeleted: pol[r.IntN(2)]}
	}
	return s
}

// checkStatefulSets checks the StatefulSets' invariants after a plan: a
// pod placed by this plan has no other incarnation of its name reported
// by an agent; an OrderedReady StatefulSet created an ordinal only with
// every lower ordinal Running and Ready; no ordinal has two records.
func checkStatefulSets(t testingT, step int, in Input, out Output) {
	t.Helper()
	if in.Desired == nil {
		return
	}
	reported := map[string][]string{} // pod key → reported UIDs
	ready := map[string]bool{}        // UID → Running and Ready
	for _, sts := range in.Observed {
		for i := range sts {
			st := &sts[i]
			reported[st.Namespace+"/"+st.Name] = append(reported[st.Namespace+"/"+st.Name], st.UID)
			ready[st.UID] = runningReady(st)
		}
	}
	created := map[string]bool{}
	for _, e := range out.Events {
		if e.Reason == EventCreated {
			created[strings.TrimPrefix(e.Object, "Pod/")] = true
		}
	}
	for key, rec := range out.Memory.Pods {
		k := objectKeyOf(rec.Owner)
		s, ok := in.Desired.Objects[k].(*spec.StatefulSet)
		if !ok || k.Kind != spec.KindStatefulSet {
			continue
		}
		old, had := in.Memory.Pods[key]
		// Adopted records keep the node their agent reported: not placed
		// by this plan.
		if rec.Node != "" && in.Adopt == nil && (!had || old.UID != rec.UID || old.Node == "") {
			for _, uid := range reported[key] {
				if uid != rec.UID {
					t.Fatalf("step %d: %s placed uid %s while uid %s is reported", step, key, rec.UID, uid)
				}
			}
		}
		if !created[key] || s.Spec.PodManagementPolicy != spec.OrderedReadyPodManagement {
			continue
		}
		o, _ := ordinalOf(s.Name, rec.Name)
		start := 0
		if s.Spec.Ordinals != nil {
			start = int(s.Spec.Ordinals.Start)
		}
		for lower := start; lower < o; lower++ {
			lk := "default/" + statefulPodName(s.Name, lower)
			if lr, ok := out.Memory.Pods[lk]; !ok || !ready[lr.UID] {
				t.Fatalf("step %d: %s created while %s is not Running and Ready", step, key, lk)
			}
		}
		if !strings.HasPrefix(rec.Name, s.Name+"-") {
			t.Fatalf("step %d: %s is not named after %s", step, key, s.Name)
		}
	}
}

// checkRetention checks that a volume bound to a StatefulSet's claim is
// released only when its retention policy says so: its ordinal was scaled
// away with whenScaled Delete, or its StatefulSet left Git with
// whenDeleted Delete. Anything else is data loss.
func checkRetention(t testingT, step int, in Input, out Output) {
	t.Helper()
	if in.Desired == nil {
		return
	}
	for name, r := range in.Memory.Volumes {
		if r.Owner == "" || r.Phase != VolumeBound {
			continue
		}
		if nr, ok := out.Memory.Volumes[name]; ok && nr.Phase == VolumeBound {
			continue
		}
		k := objectKeyOf(r.Owner)
		s, present := in.Desired.Objects[k].(*spec.StatefulSet)
		if !present {
			if !r.DeleteWithOwner {
				t.Fatalf("step %d: volume %s of %s released although its StatefulSet retains it on deletion", step, name, r.Claim)
			}
			continue
		}
		w := statefulSetWorkload(k, s, namespaceOf(k))
		_, claimName, _ := strings.Cut(r.Claim, "/")
		inRange, templated := false, false
		for _, c := range s.Spec.VolumeClaimTemplates {
			if o, ok := ordinalOf(s.Name, strings.TrimPrefix(claimName, c.Name+"-")); ok && strings.HasPrefix(claimName, c.Name+"-") {
				templated = true
				inRange = inRange || o >= w.sts.start && o < w.sts.start+w.replicas
			}
		}
		if inRange || templated && w.sts.retainScaled || !templated && w.sts.retainDeleted {
			t.Fatalf("step %d: volume %s of %s released although %s keeps it", step, name, r.Claim, r.Owner)
		}
	}
}

// testingT is what the checks need of *testing.T.
type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}
