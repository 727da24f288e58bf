package runtime

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func statGID(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Gid) }

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": ""}
	mapping := func(n string) string {
		if v, ok := vars[n]; ok {
			return v
		}
		return "$(" + n + ")"
	}
	for in, want := range map[string]string{
		"":                "",
		"plain":           "plain",
		"$(A)":            "a",
		"x$(A)y$(A)":      "xaya",
		"$(EMPTY)":        "",
		"$(UNKNOWN)":      "$(UNKNOWN)",
		"$$(A)":           "$(A)",
		"$$$(A)":          "$a",
		"$$":              "$",
		"$":               "$",
		"a$":              "a$",
		"$x":              "$x",
		"$(A":             "$(A",
		"$(A$(A)":         "$(A$(A)",
		"$()":             "$()",
		"100$ and $(A)$$": "100$ and a$",
	} {
		if got := expandVars(in, mapping); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMakeEnv(t *testing.T) {
	yes := true
	objs := map[string]*api.ConfigObject{
		"ConfigMap/default/cm": {Kind: "ConfigMap", Namespace: "default", Name: "cm", Data: map[string][]byte{
			"color": []byte("blue"), "size": []byte("L"), "1bad": []byte("x"), "has space": []byte("y")}},
		"Secret/default/sec": {Kind: "Secret", Namespace: "default", Name: "sec", Data: map[string][]byte{
			"password": []byte("hunter2"), "color": []byte("red")}},
	}
	lookup := func(kind, ns, name string) *api.ConfigObject { return objs[kind+"/"+ns+"/"+name] }
	div := resource.MustParse("1Mi")
	milli := resource.MustParse("1m")
	pod := &api.Pod{UID: "u-1", Namespace: "default", Name: "web", Labels: map[string]string{"app": "web"},
		Annotations: map[string]string{"note": "hi"},
		Spec: spec.PodSpec{ServiceAccountName: "robot", Containers: []spec.Container{{Name: "c", Resources: spec.Resources{
			Limits:   spec.ResourceList{spec.ResourceMemory: resource.MustParse("64Mi")},
			Requests: spec.ResourceList{spec.ResourceCPU: resource.MustParse("250m"), spec.ResourceMemory: resource.MustParse("32Mi")},
		}}}}}
	facts := &podFacts{pod: pod, nodeName: "node-1", podIP: "10.0.0.5", hostIP: "192.0.2.1", allocMilliCPU: 4000, allocMemory: 1 << 30}
	ref := func(path string) *spec.EnvVarSource {
		return &spec.EnvVarSource{FieldRef: &spec.ObjectFieldSelector{FieldPath: path}}
	}
	res := func(r string, d *resource.Quantity) *spec.EnvVarSource {
		return &spec.EnvVarSource{ResourceFieldRef: &spec.ResourceFieldSelector{Resource: r, Divisor: d}}
	}
	for _, tc := range []struct {
		name     string
		c        spec.Container
		services []spec.EnvVar
		want     []string
		warn     int
		err      string
	}{
		{
			name: "fieldRef",
			c: spec.Container{Env: []spec.EnvVar{
				{Name: "NAME", ValueFrom: ref("metadata.name")}, {Name: "NS", ValueFrom: ref("metadata.namespace")},
				{Name: "UID", ValueFrom: ref("metadata.uid")}, {Name: "APP", ValueFrom: ref("metadata.labels['app']")},
				{Name: "NOTE", ValueFrom: ref("metadata.annotations['note']")}, {Name: "NODE", ValueFrom: ref("spec.nodeName")},
				{Name: "SA", ValueFrom: ref("spec.serviceAccountName")}, {Name: "IP", ValueFrom: ref("status.podIP")},
				{Name: "IPS", ValueFrom: ref("status.podIPs")}, {Name: "HOST", ValueFrom: ref("status.hostIP")},
			}},
			want: []string{"NAME=web", "NS=default", "UID=u-1", "APP=web", "NOTE=hi", "NODE=node-1", "SA=robot", "IP=10.0.0.5", "IPS=10.0.0.5", "HOST=192.0.2.1"},
		},
		{
			name: "resourceFieldRef rounds up, limits default to allocatable",
			c: spec.Container{Env: []spec.EnvVar{
				{Name: "REQ_CPU", ValueFrom: res("requests.cpu", nil)},
				{Name: "REQ_CPU_M", ValueFrom: res("requests.cpu", &milli)},
				{Name: "LIM_CPU", ValueFrom: res("limits.cpu", nil)},
				{Name: "LIM_MEM_MI", ValueFrom: res("limits.memory", &div)},
				{Name: "LIM_MEM", ValueFrom: res("limits.memory", nil)},
				{Name: "REQ_MEM_MI", ValueFrom: res("requests.memory", &div)},
			}},
			want: []string{"REQ_CPU=1", "REQ_CPU_M=250", "LIM_CPU=4", "LIM_MEM_MI=64", "LIM_MEM=67108864", "REQ_MEM_MI=32"},
		},
		{
			name: "keys, optional missing ones unset",
			c: spec.Container{Env: []spec.EnvVar{
				{Name: "COLOR", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cm", Key: "color"}}},
				{Name: "PW", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "sec", Key: "password"}}},
				{Name: "OPT", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cm", Key: "nope", Optional: &yes}}},
				{Name: "OPT2", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "nope", Key: "k", Optional: &yes}}},
			}},
			want: []string{"COLOR=blue", "PW=hunter2"},
		},
		{
			name: "missing key",
			c:    spec.Container{Env: []spec.EnvVar{{Name: "X", ValueFrom: &spec.EnvVarSource{ConfigMapKeyRef: &spec.ConfigMapKeySelector{Name: "cm", Key: "nope"}}}}},
			err:  "couldn't find key nope in ConfigMap default/cm",
		},
		{
			name: "missing secret",
			c:    spec.Container{Env: []spec.EnvVar{{Name: "X", ValueFrom: &spec.EnvVarSource{SecretKeyRef: &spec.SecretKeySelector{Name: "gone", Key: "k"}}}}},
			err:  `secret "gone" not found`,
		},
		{
			name: "envFrom: later source wins, env wins over both, prefix, invalid names skipped",
			c: spec.Container{
				EnvFrom: []spec.EnvFromSource{
					{ConfigMapRef: &spec.ConfigMapEnvSource{Name: "cm"}},
					{SecretRef: &spec.SecretEnvSource{Name: "sec"}},
					{Prefix: "S_", SecretRef: &spec.SecretEnvSource{Name: "sec"}},
					{ConfigMapRef: &spec.ConfigMapEnvSource{Name: "absent", Optional: &yes}},
				},
				Env: []spec.EnvVar{{Name: "size", Value: "XL"}},
			},
			want: []string{"color=red", "size=XL", "password=hunter2", "S_color=red", "S_password=hunter2"},
			warn: 1,
		},
		{
			name: "envFrom missing",
			c:    spec.Container{EnvFrom: []spec.EnvFromSource{{ConfigMapRef: &spec.ConfigMapEnvSource{Name: "absent"}}}},
			err:  `configmap "absent" not found`,
		},
		{
			name: "expansion from earlier variables, envFrom and Services; later wins",
			c: spec.Container{
				EnvFrom: []spec.EnvFromSource{{ConfigMapRef: &spec.ConfigMapEnvSource{Name: "cm"}}},
				Env: []spec.EnvVar{
					{Name: "A", Value: "a"},
					{Name: "B", Value: "$(A)-$(color)-$(WEB_SERVICE_HOST)-$(LATER)-$$(A)"},
					{Name: "LATER", Value: "l"},
					{Name: "A", Value: "again"},
				},
			},
			services: []spec.EnvVar{{Name: "WEB_SERVICE_HOST", Value: "10.96.0.1"}, {Name: "A", Value: "svc"}},
			want:     []string{"color=blue", "size=L", "A=again", "B=a-blue-10.96.0.1-$(LATER)-$(A)", "LATER=l", "WEB_SERVICE_HOST=10.96.0.1"},
			warn:     1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Name = "c"
			got, warnings, err := makeEnv(envInput{facts: facts, ctr: &c, services: tc.services, lookup: lookup})
			if tc.err != "" {
				var ce *configError
				if !errors.As(err, &ce) || ce.msg != tc.err {
					t.Fatalf("err = %v, want config error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if len(warnings) != tc.warn {
				t.Errorf("warnings %q, want %d", warnings, tc.warn)
			}
		})
	}
}

func TestDownwardFormats(t *testing.T) {
	got := formatMap(map[string]string{"b": "two \"quoted\"", "a": "1", "x/y": "line\nbreak"})
	want := "a=\"1\"\nb=\"two \\\"quoted\\\"\"\nx/y=\"line\\nbreak\""
	if got != want {
		t.Errorf("formatMap = %q, want %q", got, want)
	}
}
