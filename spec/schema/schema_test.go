package schema

import (
	"go/build"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// objects are instances of every kind, for reflection.
var objects = map[string]any{
	spec.KindNamespace:             spec.Namespace{},
	spec.KindPod:                   spec.Pod{},
	spec.KindPodTemplate:           spec.PodTemplate{},
	spec.KindReplicationController: spec.ReplicationController{},
	spec.KindService:               spec.Service{},
	spec.KindNode:                  spec.Node{},
	spec.KindDeployment:            spec.Deployment{},
	spec.KindApplication:           spec.Application{},
	spec.KindConfigMap:             spec.ConfigMap{},
	spec.KindSecret:                spec.Secret{},
	spec.KindServiceAccount:        spec.ServiceAccount{},
	spec.KindRole:                  spec.Role{},
	spec.KindClusterRole:           spec.ClusterRole{},
	spec.KindRoleBinding:           spec.RoleBinding{},
	spec.KindClusterRoleBinding:    spec.ClusterRoleBinding{},
	spec.KindPersistentVolumeClaim: spec.PersistentVolumeClaim{},
	spec.KindPersistentVolume:      spec.PersistentVolume{},
	spec.KindStorageClass:          spec.StorageClass{},
	spec.KindReplicaSet:            spec.ReplicaSet{},
	spec.KindStatefulSet:           spec.StatefulSet{},
	spec.KindDaemonSet:             spec.DaemonSet{},
	spec.KindJob:                   spec.Job{},
	spec.KindCronJob:               spec.CronJob{},
	spec.KindResourceQuota:         spec.ResourceQuota{},
	spec.KindLimitRange:            spec.LimitRange{},
}

// TestKindsMatchSpec: the schema has exactly the kinds spec loads.
func TestKindsMatchSpec(t *testing.T) {
	var got []string
	for _, k := range Kinds() {
		got = append(got, k.APIVersion+" "+k.Kind)
		if k.Namespaced != spec.Namespaced(k.Kind) {
			t.Errorf("%s: namespaced %t, spec says %t", k.Kind, k.Namespaced, spec.Namespaced(k.Kind))
		}
		if _, ok := objects[k.Kind]; !ok {
			t.Errorf("kind %s has no instance in this test's objects", k.Kind)
		}
	}
	if want := spec.SupportedKinds(); !slices.Equal(got, want) {
		t.Errorf("kinds = %v, spec loads %v", got, want)
	}
}

// TestFieldsMatchGoTypes walks every kind's Go type by reflection, as
// encoding/json sees it, and checks the schema lists the same fields with
// the same object types, so the generator's reading of the source agrees
// with what the decoder accepts.
func TestFieldsMatchGoTypes(t *testing.T) {
	for kind, obj := range objects {
		k, err := LookupKind(kind)
		if err != nil {
			t.Fatal(err)
		}
		compare(t, kind, reflect.TypeOf(obj), TypeOf(k.Type), map[reflect.Type]bool{})
	}
}

func compare(t *testing.T, path string, rt reflect.Type, st *Type, seen map[reflect.Type]bool) {
	if st == nil {
		t.Errorf("%s: no schema type for %s", path, rt)
		return
	}
	if seen[rt] {
		return
	}
	seen[rt] = true
	fields := map[string]reflect.Type{}
	jsonFields(rt, fields)
	var want, got []string
	for n := range fields {
		want = append(want, n)
	}
	for _, f := range st.Fields {
		got = append(got, f.Name)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s (%s): schema fields %v, Go fields %v", path, st.Name, got, want)
		return
	}
	for _, f := range st.Fields {
		if f.Doc == "" {
			t.Errorf("%s.%s: no description", path, f.Name)
		}
		ft := fields[f.Name]
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
			ft = ft.Elem()
		}
		isObject := ft.Kind() == reflect.Struct && ft != reflect.TypeOf(resource.Quantity{}) && ft != reflect.TypeOf(spec.IntOrString{})
		if isObject != (f.Ref != "") {
			t.Errorf("%s.%s: Go type %s, schema ref %q", path, f.Name, ft, f.Ref)
			continue
		}
		if isObject {
			compare(t, path+"."+f.Name, ft, TypeOf(f.Ref), seen)
		}
	}
}

// jsonFields collects a struct's JSON field names as encoding/json does,
// flattening embedded structs without a name.
func jsonFields(rt reflect.Type, out map[string]reflect.Type) {
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			jsonFields(f.Type, out)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}

func TestLookupKind(t *testing.T) {
	for name, want := range map[string]string{
		"pods": "Pod", "pod": "Pod", "po": "Pod", "Pod": "Pod",
		"deployments": "Deployment", "deploy": "Deployment", "deployments.apps": "Deployment",
		"rc": "ReplicationController", "replicationcontrollers": "ReplicationController",
		"ns": "Namespace", "namespaces": "Namespace", "no": "Node", "nodes": "Node",
		"podtemplates": "PodTemplate", "services": "Service", "svc": "Service", "service": "Service",
	} {
		k, err := LookupKind(name)
		if err != nil || k.Kind != want {
			t.Errorf("LookupKind(%q) = %v, %v; want %s", name, k, err, want)
		}
	}
	for _, name := range []string{"ingresses", "services.apps", "deployments.batch", "pods.apps", ""} {
		if k, err := LookupKind(name); err == nil {
			t.Errorf("LookupKind(%q) = %s, want an error", name, k.Kind)
		}
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		path, wantPath, wantField, wantType string
		required                            bool
	}{
		{"deployment", "", "", "Deployment", false},
		{"deployment.spec.strategy", "spec.strategy", "DeploymentStrategy", "DeploymentStrategy", false},
		{"deployments.apps.spec.selector", "spec.selector", "LabelSelector", "LabelSelector", true},
		{"pod.spec.containers", "spec.containers", "[]Container", "Container", true},
		{"pod.spec.containers.resources.limits", "spec.containers.resources.limits", "map[string]Quantity", "", false},
		{"deploy.spec.strategy.rollingUpdate.maxSurge", "spec.strategy.rollingUpdate.maxSurge", "IntOrString", "", false},
		{"rc.spec.template.spec.nodeName", "spec.template.spec.nodeName", "string", "", false},
		{"pod.spec.enableServiceLinks", "spec.enableServiceLinks", "boolean", "", false},
	} {
		got, err := Resolve(tc.path)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tc.path, err)
			continue
		}
		var field, typ string
		var req bool
		if got.Field != nil {
			field, req = got.Field.Type, got.Field.Required
		}
		if got.Type != nil {
			typ = got.Type.Name
		}
		if got.Path != tc.wantPath || field != tc.wantField || typ != tc.wantType || req != tc.required {
			t.Errorf("Resolve(%q) = path %q field %q type %q required %t; want %q %q %q %t",
				tc.path, got.Path, field, typ, req, tc.wantPath, tc.wantField, tc.wantType, tc.required)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	for path, want := range map[string]string{
		"widgets":                   `doesn't have a resource type "widgets"`,
		"pod.spec.hostPID":          `field "hostPID" of Pod.spec is a Kubernetes field that Stevedore does not support`,
		"pod.spec.volumes.nfs":      `field "nfs" of Pod.spec.volumes is a Kubernetes field that Stevedore does not support`,
		"pod.spec.containers.tty":   `field "tty" of Pod.spec.containers is a Kubernetes field that Stevedore does not support`,
		"pod.spec.contaners":        `field "contaners" does not exist in Pod.spec; its fields are: affinity, containers,`,
		"pod.spec.hostname.length":  `spec.hostname is string, which has no fields`,
		"pod..spec":                 `invalid path`,
		"pod.status":                `field "status" of Pod is written by Kubernetes' API server (kubectl get -o yaml prints it): Stevedore accepts it and ignores it`,
		"podtemplate.status":        `field "status" does not exist in PodTemplate`,
		"pod.metadata.uid":          `field "uid" of Pod.metadata is written by Kubernetes' API server`,
		"pod.spec.preemptionPolicy": `a manifest that sets it to anything but Kubernetes' default, PreemptLowerPriority, is rejected at load`,
		"svc.spec.ipFamilies":       `a manifest that sets it to anything but Kubernetes' default, [IPv4], is rejected at load`,
		"service.spec.externalIPs":  `field "externalIPs" of Service.spec is a Kubernetes field that Stevedore does not support`,
		"service.status":            `field "status" of Service is written by Kubernetes' API server`,
	} {
		_, err := Resolve(path)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q) = %v, want an error containing %q", path, err, want)
		}
	}
}

// TestLeaf keeps the package a leaf that ctl (or any tool) can import
// without the rest of the project: no package of the module, not even
// spec, whose documentation is compiled in instead.
func TestLeaf(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/stevedore-dev/stevedore") {
			t.Errorf("spec/schema imports %s", imp)
		}
	}
}
