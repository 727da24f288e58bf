package reconcile

import (
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// appsObject builds the scripts' short forms of a StatefulSet and a
// ReplicaSet (the pod fields are addObject's):
//
//	statefulset NAME [replicas=N] [svc=S] [policy=Parallel] [strategy=OnDelete] [partition=N]
//	            [maxUnavailable=N|P%] [minReady=S] [start=N] [vct=name:size,...] [vctClass=C]
//	            [whenScaled=Delete] [whenDeleted=Delete]
//	replicaset NAME [replicas=N] [minReady=S]
func appsObject(kind, name, ns string, a, labels map[string]string, ps spec.PodSpec) (spec.Object, error) {
	num := func(k string, def int) (int, error) {
		v, ok := a[k]
		if !ok {
			return def, nil
		}
		return strconv.Atoi(v)
	}
	r, err := num("replicas", 1)
	if err != nil {
		return nil, err
	}
	minReady, err := num("minReady", 0)
	if err != nil {
		return nil, err
	}
	meta := spec.ObjectMeta{Name: name, Namespace: ns}
	tmpl := spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: ps}
	sel := &spec.LabelSelector{MatchLabels: labels}
	reps := int32(r)
	if kind == "replicaset" {
		return &spec.ReplicaSet{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindReplicaSet},
			ObjectMeta: meta,
			Spec:       spec.ReplicaSetSpec{Replicas: &reps, MinReadySeconds: int32(minReady), Selector: sel, Template: tmpl},
		}, nil
	}
	s := &spec.StatefulSet{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindStatefulSet},
		ObjectMeta: meta,
		Spec: spec.StatefulSetSpec{
			Replicas: &reps, Selector: sel, Template: tmpl, ServiceName: a["svc"],
			MinReadySeconds:     int32(minReady),
			PodManagementPolicy: spec.OrderedReadyPodManagement,
			UpdateStrategy:      spec.StatefulSetUpdateStrategy{Type: spec.RollingUpdateStatefulSetStrategyType},
		},
	}
	if s.Spec.ServiceName == "" {
		s.Spec.ServiceName = name
	}
	if v := a["policy"]; v != "" {
		s.Spec.PodManagementPolicy = v
	}
	if v := a["strategy"]; v != "" {
		s.Spec.UpdateStrategy.Type = v
	}
	if v, ok := a["partition"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, err
		}
		p := int32(n)
		s.Spec.UpdateStrategy.RollingUpdate = &spec.RollingUpdateStatefulSetStrategy{Partition: &p}
	}
	if v, ok := a["maxUnavailable"]; ok {
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &spec.RollingUpdateStatefulSetStrategy{}
		}
		x := spec.FromString(v)
		if n, err := strconv.Atoi(v); err == nil {
			x = spec.FromInt(int32(n))
		}
		s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &x
	}
	if v, ok := a["start"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, err
		}
		s.Spec.Ordinals = &spec.StatefulSetOrdinals{Start: int32(n)}
	}
	if v := a["vct"]; v != "" {
		for _, c := range strings.Split(v, ",") {
			cn, size, _ := strings.Cut(c, ":")
			pvc := spec.PersistentVolumeClaim{ObjectMeta: spec.ObjectMeta{Name: cn}}
			pvc.Spec.AccessModes = []string{spec.ReadWriteOnce}
			if size != "" {
				pvc.Spec.Resources.Requests = spec.ResourceList{"storage": resource.MustParse(size)}
			}
			if class, ok := a["vctClass"]; ok {
				pvc.Spec.StorageClassName = &class
			}
			s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, pvc)
			s.Spec.Template.Spec.Containers[0].VolumeMounts = append(s.Spec.Template.Spec.Containers[0].VolumeMounts,
				spec.VolumeMount{Name: cn, MountPath: "/" + cn})
		}
	}
	if a["whenScaled"] != "" || a["whenDeleted"] != "" {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &spec.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenScaled: a["whenScaled"], WhenDeleted: a["whenDeleted"]}
	}
	return s, nil
}
