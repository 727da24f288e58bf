package spec

import (
	"math"
	"strconv"
	"time"
)

// The names Kubernetes gives what the workload kinds make, shared by
// validation (which bounds the names so these stay valid) and the
// reconciler (which makes the objects), so that the two never disagree.

// StatefulSetPodName is the name of a StatefulSet's pod for ordinal:
// <statefulset>-<ordinal>. It is also the pod's hostname.
func StatefulSetPodName(statefulSet string, ordinal int32) string {
	return statefulSet + "-" + strconv.FormatInt(int64(ordinal), 10)
}

// StatefulSetClaimName is the name of the claim a StatefulSet's claim
// template makes for ordinal: <template>-<statefulset>-<ordinal>.
func StatefulSetClaimName(template, statefulSet string, ordinal int32) string {
	return template + "-" + StatefulSetPodName(statefulSet, ordinal)
}

// OrdinalRange returns the first and last ordinal of the StatefulSet's
// pods (ordinals.start to start+replicas-1, replicas 1 when unset); last
// is first-1 when replicas is 0.
func (s *StatefulSetSpec) OrdinalRange() (first, last int32) {
	if s.Ordinals != nil {
		first = s.Ordinals.Start
	}
	replicas := int64(1)
	if s.Replicas != nil {
		replicas = int64(*s.Replicas)
	}
	// In int64, bounded: start+replicas may pass the largest int32.
	return first, int32(min(int64(first)+replicas-1, math.MaxInt32))
}

// IndexedJobHostname is the hostname of an Indexed Job's pod for index:
// <job>-<index>, as Kubernetes sets it.
func IndexedJobHostname(job string, index int32) string {
	return job + "-" + strconv.FormatInt(int64(index), 10)
}

// CronJobJobName is the name of the Job a CronJob makes for the slot at
// t: <cronjob>-<t in minutes since the epoch>, as Kubernetes names them,
// so that one slot always gives one name (a second attempt to start it
// finds the first).
func CronJobJobName(cronJob string, slot time.Time) string {
	return cronJob + "-" + strconv.FormatInt(slot.Unix()/60, 10)
}

// StatefulSetVolumes returns the volumes of a StatefulSet's pod for
// ordinal, as Kubernetes' controller makes them: one persistentVolumeClaim
// volume per claim template, named like the template and claiming
// StatefulSetClaimName(template, statefulSet, ordinal), then the
// template's own volumes but those of a claim template's name (the claim
// wins; validation allows only a persistentVolumeClaim volume there). The
// template is not modified.
func StatefulSetVolumes(o *StatefulSet, ordinal int32) []Volume {
	s := &o.Spec
	out := make([]Volume, 0, len(s.VolumeClaimTemplates)+len(s.Template.Spec.Volumes))
	claims := make(map[string]bool, len(s.VolumeClaimTemplates))
	for _, c := range s.VolumeClaimTemplates {
		claims[c.Name] = true
		out = append(out, Volume{Name: c.Name, VolumeSource: VolumeSource{
			PersistentVolumeClaim: &PersistentVolumeClaimVolumeSource{ClaimName: StatefulSetClaimName(c.Name, o.Name, ordinal)},
		}})
	}
	for _, v := range s.Template.Spec.Volumes {
		if !claims[v.Name] {
			out = append(out, v)
		}
	}
	return out
}
