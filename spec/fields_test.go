package spec

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	appsv1beta2 "k8s.io/api/apps/v1beta2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// jsonFields maps a struct type's JSON field names to their types, with
// inlined embedded structs promoted.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		out[name] = f.Type
	}
	return out
}

// structOf strips pointers, slices and maps down to a struct type, or nil.
func structOf(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

// leafTypes decode from scalars on both sides and are not walked.
var leafTypes = map[reflect.Type]bool{
	reflect.TypeOf(resource.Quantity{}):   true,
	reflect.TypeOf(IntOrString{}):         true,
	reflect.TypeOf(intstr.IntOrString{}):  true,
	reflect.TypeOf(corev1.ResourceList{}): true,
}

// TestFieldsMatchKubernetes walks each supported kind beside its type in
// k8s.io/api (the Kubernetes release go.mod names) and checks that every
// Kubernetes field is implemented, dropped (read-only) or listed as not
// supported, that every field Stevedore has exists in Kubernetes, and that
// the lists name only real fields. A new Kubernetes field shows up here
// when k8s.io/api is upgraded, so that it says "not supported by
// Stevedore" instead of "unknown field".
func TestFieldsMatchKubernetes(t *testing.T) {
	roots := []struct{ ours, theirs any }{
		{Pod{}, corev1.Pod{}},
		{PodTemplate{}, corev1.PodTemplate{}},
		{ReplicationController{}, corev1.ReplicationController{}},
		{Deployment{}, appsv1.Deployment{}},
		{ReplicaSet{}, appsv1.ReplicaSet{}},
		{StatefulSet{}, appsv1.StatefulSet{}},
		{DaemonSet{}, appsv1.DaemonSet{}},
		{Job{}, batchv1.Job{}},
		{CronJob{}, batchv1.CronJob{}},
		{Namespace{}, corev1.Namespace{}},
		{Node{}, corev1.Node{}},
		{Service{}, corev1.Service{}},
		{ConfigMap{}, corev1.ConfigMap{}},
		{Secret{}, corev1.Secret{}},
		{ResourceQuota{}, corev1.ResourceQuota{}},
		{LimitRange{}, corev1.LimitRange{}},
		{ServiceAccount{}, corev1.ServiceAccount{}},
		{PersistentVolumeClaim{}, corev1.PersistentVolumeClaim{}},
		{PersistentVolume{}, corev1.PersistentVolume{}},
		{StorageClass{}, storagev1.StorageClass{}},
		{Role{}, rbacv1.Role{}},
		{ClusterRole{}, rbacv1.ClusterRole{}},
		{RoleBinding{}, rbacv1.RoleBinding{}},
		{ClusterRoleBinding{}, rbacv1.ClusterRoleBinding{}},
	}
	seen := map[reflect.Type]bool{}
	used := map[string]map[string]bool{} // lists' entries met in a walk
	var walk func(ours, theirs reflect.Type, path string)
	walk = func(ours, theirs reflect.Type, path string) {
		if seen[ours] || leafTypes[ours] {
			return
		}
		seen[ours] = true
		name := tableName(ours)
		mine, k8s := jsonFields(ours), jsonFields(theirs)
		if used[name] == nil {
			used[name] = map[string]bool{}
		}
		for f, kt := range k8s {
			ot, ok := mine[f]
			switch {
			case ok:
				o, k := structOf(ot), structOf(kt)
				if o != nil && k != nil && !leafTypes[o] && !leafTypes[kt] {
					walk(o, k, path+"."+f)
				}
			case droppedFields[name][f] != 0:
				used[name][f] = true
			case slices.Contains(unsupportedFields[name], f):
				used[name][f] = true
			default:
				t.Errorf("%s.%s (Stevedore type %s): a Kubernetes field neither implemented, dropped nor listed as not supported", path, f, name)
			}
		}
		for f := range mine {
			if _, ok := k8s[f]; !ok {
				t.Errorf("%s.%s (Stevedore type %s): not a field of Kubernetes' %s", path, f, name, theirs.Name())
			}
		}
	}
	for _, r := range roots {
		ot, kt := reflect.TypeOf(r.ours), reflect.TypeOf(r.theirs)
		walk(ot, kt, ot.Name())
	}
	walked := map[string]bool{}
	for t := range seen {
		walked[t.Name()] = true
	}
	for _, name := range []string{"Service", "ServiceSpec", "ServicePort", "SessionAffinityConfig", "ClientIPConfig",
		"PodDNSConfig", "PodDNSConfigOption", "PodSpec", "Container"} {
		if !walked[name] {
			t.Errorf("%s was not compared with Kubernetes' type", name)
		}
	}
	// The older versions Stevedore converts from, each walked whole (their
	// nested types are Kubernetes' own per version).
	for _, r := range []struct{ ours, theirs any }{
		{legacyDeployment{}, extensionsv1beta1.Deployment{}},
		{legacyDaemonSet{}, extensionsv1beta1.DaemonSet{}},
		{ReplicaSet{}, extensionsv1beta1.ReplicaSet{}},
		{legacyDeployment{}, appsv1beta1.Deployment{}},
		{StatefulSet{}, appsv1beta1.StatefulSet{}},
		{Deployment{}, appsv1beta2.Deployment{}},
		{DaemonSet{}, appsv1beta2.DaemonSet{}},
		{ReplicaSet{}, appsv1beta2.ReplicaSet{}},
		{StatefulSet{}, appsv1beta2.StatefulSet{}},
	} {
		ot, kt := reflect.TypeOf(r.ours), reflect.TypeOf(r.theirs)
		clear(seen)
		walk(ot, kt, kt.PkgPath()+"."+kt.Name())
	}
	if len(legacyKinds) != 9 {
		t.Errorf("%d older kinds, 9 compared with Kubernetes'", len(legacyKinds))
	}
	for _, list := range []map[string][]string{unsupportedFields, toLists(droppedFields)} {
		for typ, names := range list {
			for _, f := range names {
				if !used[typ][f] {
					t.Errorf("%s.%s is listed, but is no Kubernetes field of a supported type (or Stevedore implements it)", typ, f)
				}
			}
		}
	}
	for typ, defs := range kubernetesDefaults {
		for f := range defs {
			if !slices.Contains(unsupportedFields[typ], f) {
				t.Errorf("kubernetesDefaults %s.%s: not an unsupported field", typ, f)
			}
		}
	}
}

func toLists[V any](m map[string]map[string]V) map[string][]string {
	out := map[string][]string{}
	for typ, fields := range m {
		for f := range fields {
			out[typ] = append(out[typ], f)
		}
		sort.Strings(out[typ])
	}
	return out
}
