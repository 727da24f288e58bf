package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

// website reads examples from kubernetes/website (testdata/k8s-website).
func website(t *testing.T, names ...string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata/k8s-website", n))
		if err != nil {
			t.Fatal(err)
		}
		files[n] = b
	}
	return files
}

func loadErr(t *testing.T, files map[string][]byte) string {
	t.Helper()
	_, err := Load(files)
	if err == nil {
		t.Fatal("loaded, want an error")
	}
	return err.Error()
}

func TestKubernetesWebsiteQuotaExamples(t *testing.T) {
	set, err := Load(website(t, "quota-mem-cpu.yaml", "quota-objects.yaml", "quota-pod-deployment.yaml", "storagelimits.yaml", "memory-defaults.yaml", "limit-memory-ratio-pod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	q := set.Objects[ObjectKey{Kind: KindResourceQuota, Namespace: "default", Name: "mem-cpu-demo"}].(*ResourceQuota)
	if h := q.Spec.Hard["limits.memory"]; h.Cmp(resource.MustParse("2Gi")) != 0 {
		t.Errorf("hard limits.memory = %s", h.String())
	}
	// memory-defaults: the Deployment's container takes 256Mi/512Mi.
	d := set.Objects[ObjectKey{Kind: KindDeployment, Namespace: "default", Name: "pod-quota-demo"}].(*Deployment)
	r := d.Spec.Template.Spec.Containers[0].Resources
	if q := r.Requests[ResourceMemory]; q.Cmp(resource.MustParse("256Mi")) != 0 {
		t.Errorf("defaulted request = %s, want 256Mi", q.String())
	}
	if q := r.Limits[ResourceMemory]; q.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("defaulted limit = %s, want 512Mi", q.String())
	}
}

func TestLimitRangeMaxRefusesInKubernetesWords(t *testing.T) {
	msg := loadErr(t, website(t, "cpu-constraints.yaml", "cpu-constraints-pod-2.yaml"))
	want := "cpu-constraints-pod-2.yaml:14: Pod default/constraints-cpu-demo-2: spec.containers[0].resources.limits[cpu]: forbidden: container \"constraints-cpu-demo-2-ctr\": maximum cpu usage per Container is 800m, but limit is 1500m"
	if msg != want {
		t.Errorf("got\n%s\nwant\n%s", msg, want)
	}
}

func TestLimitRangeRules(t *testing.T) {
	const lr = `apiVersion: v1
kind: LimitRange
metadata: {name: lr}
spec:
  limits:
  - type: Container
    min: {cpu: 100m, memory: 64Mi}
    max: {cpu: "1", memory: 1Gi}
    maxLimitRequestRatio: {cpu: "4"}
  - type: Pod
    max: {memory: 1536Mi}
  - type: PersistentVolumeClaim
    min: {storage: 1Gi}
    max: {storage: 2Gi}
`
	const pods = `apiVersion: v1
kind: Pod
metadata: {name: small}
spec:
  containers:
  - name: app
    image: nginx
    resources:
      requests: {cpu: 50m, memory: 64Mi}
      limits: {cpu: 800m, memory: 1Gi}
---
apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers:
  - name: a
    image: nginx
    resources:
      limits: {cpu: 500m, memory: 1Gi}
  - name: b
    image: nginx
    resources:
      limits: {cpu: 500m, memory: 1Gi}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 5Gi}}
`
	msg := loadErr(t, map[string][]byte{"lr.yaml": []byte(lr), "pods.yaml": []byte(pods)})
	for _, want := range []string{
		`pods.yaml:9: Pod default/small: spec.containers[0].resources.requests[cpu]: forbidden: container "app": minimum cpu usage per Container is 100m, but request is 50m`,
		`pods.yaml:10: Pod default/small: spec.containers[0].resources.limits[cpu]: forbidden: container "app": cpu max limit to request ratio per Container is 4, but provided ratio is 16.000000`,
		`pods.yaml:15: Pod default/big: spec: forbidden: maximum memory usage per Pod is 1536Mi, but limit is 2Gi`,
		`pods.yaml:31: PersistentVolumeClaim default/data: spec.resources.requests[storage]: forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing\n%s\nin\n%s", want, msg)
		}
	}
}

func TestLimitRangeValidation(t *testing.T) {
	const lr = `apiVersion: v1
kind: LimitRange
metadata: {name: lr}
spec:
  limits:
  - type: Container
    min: {cpu: "2"}
    max: {cpu: "1"}
    defaultRequest: {memory: 1Gi}
    default: {memory: 512Mi}
    maxLimitRequestRatio: {memory: 500m}
  - type: Pod
    default: {cpu: "1"}
  - type: Container
  - type: Node
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: q}
spec:
  hard: {pods: 1500m, requests.nvidia.com/gpu: "1", foo: "1", count/deployments.apps: "2", count/widgets.example.com: "1", services: "-1"}
`
	msg := loadErr(t, map[string][]byte{"x.yaml": []byte(lr)})
	for _, want := range []string{
		`x.yaml:7: LimitRange default/lr: spec.limits[0].min[cpu]: invalid value "2": min value 2 is greater than max value 1`,
		`x.yaml:9: LimitRange default/lr: spec.limits[0].defaultRequest[memory]: invalid value "1Gi": default request value 1Gi is greater than default limit value 512Mi`,
		`x.yaml:11: LimitRange default/lr: spec.limits[0].maxLimitRequestRatio[memory]: invalid value "500m": ratio 500m is less than 1`,
		"spec.limits[1].default: forbidden: may not be specified when `type` is 'Pod'",
		`spec.limits[2].type: duplicate value "Container": spec.limits[0] has the same type`,
		`spec.limits[3].type: unsupported value "Node": supported values: "Container", "Pod", "PersistentVolumeClaim"`,
		`ResourceQuota default/q: spec.hard[pods]: invalid value "1500m": must be an integer`,
		`spec.hard[foo]: invalid value "foo": must be a standard resource for quota`,
		`spec.hard[requests.nvidia.com/gpu]: invalid value "requests.nvidia.com/gpu": extended and hugepages resource quotas are not supported by Stevedore`,
		`spec.hard[count/widgets.example.com]: invalid value "count/widgets.example.com": not a resource Stevedore loads`,
		`spec.hard[services]: invalid value "-1": must be greater than or equal to 0`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing\n%s\nin\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "spec.hard[count/deployments.apps]") {
		t.Errorf("count/deployments.apps refused:\n%s", msg)
	}
}

func TestResourceQuotaScopesNotSupported(t *testing.T) {
	msg := loadErr(t, map[string][]byte{"q.yaml": []byte("apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q}\nspec:\n  hard: {pods: \"1\"}\n  scopes: [BestEffort]\n")})
	if !strings.Contains(msg, "q.yaml:6: ResourceQuota default/q: spec.scopes:") || !strings.Contains(msg, "not supported by Stevedore") {
		t.Errorf("got %s", msg)
	}
}

// A LimitRange's defaults are written to a copy: the cached document keeps
// the object as written, so the next revision without the LimitRange
// loads it undefaulted, and a reload of the same files gives the same
// defaults.
func TestLimitRangeDefaultsDoNotLeakThroughTheCache(t *testing.T) {
	files := website(t, "memory-defaults.yaml", "quota-pod-deployment.yaml")
	key := ObjectKey{Kind: KindDeployment, Namespace: "default", Name: "pod-quota-demo"}
	set1, cache, err := LoadCached(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	d1 := set1.Objects[key].(*Deployment)
	if _, ok := d1.Spec.Template.Spec.Containers[0].Resources.Limits[ResourceMemory]; !ok {
		t.Fatal("no default limit")
	}
	set2, cache, err := LoadCached(files, cache)
	if err != nil {
		t.Fatal(err)
	}
	if TemplateHash(&set2.Objects[key].(*Deployment).Spec.Template) != TemplateHash(&d1.Spec.Template) {
		t.Error("a reload gives another template")
	}
	delete(files, "memory-defaults.yaml")
	set3, _, err := LoadCached(files, cache)
	if err != nil {
		t.Fatal(err)
	}
	if r := set3.Objects[key].(*Deployment).Spec.Template.Spec.Containers[0].Resources; len(r.Limits)+len(r.Requests) != 0 {
		t.Errorf("defaults kept without the LimitRange: %+v", r)
	}
}

// BenchmarkLoadCachedLimitRange: a cached reload of 1,000 Deployments, with
// and without a LimitRange defaulting every one (the copies it makes).
func BenchmarkLoadCachedLimitRange(b *testing.B) {
	for _, withLR := range []bool{false, true} {
		files := map[string][]byte{}
		for i := range 1000 {
			files[fmt.Sprintf("web-%d.yaml", i)] = []byte(fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web-%d}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, image: nginx}]\n", i))
		}
		if withLR {
			files["lr.yaml"] = []byte("apiVersion: v1\nkind: LimitRange\nmetadata: {name: lr}\nspec:\n  limits:\n  - {type: Container, default: {cpu: 500m, memory: 256Mi}, defaultRequest: {cpu: 100m}}\n")
		}
		_, cache, err := LoadCached(files, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("limitrange=%t", withLR), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := LoadCached(files, cache); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
