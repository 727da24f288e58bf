package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// appsFake is a reconciler with a StatefulSet part-way through an ordered
// start, a ReplicaSet and a Deployment.
func appsFake() *fakeReconciler {
	return &fakeReconciler{
		pods: [][]api.Pod{{}},
		wl: []api.Workload{
			{Kind: spec.KindDeployment, Namespace: "shop", Name: "web", Replicas: 2, Current: 2, Ready: 2, UpToDate: 2, Available: 2,
				Created: t0.Add(-time.Hour), Containers: []string{"web"}, Images: []string{"hello:1"}, Progress: api.ProgressComplete},
			{Kind: spec.KindStatefulSet, Namespace: "shop", Name: "db", Replicas: 3, Current: 2, Running: 2, Ready: 1, UpToDate: 2, Available: 1,
				Created: t0.Add(-10 * time.Minute), Containers: []string{"redis"}, Images: []string{"redis:7"}, Selector: map[string]string{"app": "db"},
				Revision: "0a1b2c3d4e", Strategy: spec.RollingUpdateStatefulSetStrategyType, MaxUnavailable: 1, ServiceName: "db",
				Progress: api.ProgressProgressing, Message: "1 of 3 new pods available; waiting for db-1 to be Running and Ready before creating db-2"},
			{Kind: spec.KindReplicaSet, Namespace: "shop", Name: "front", Replicas: 3, Current: 3, Running: 3, Ready: 3, UpToDate: 3, Available: 3,
				Created: t0.Add(-2 * time.Hour), Containers: []string{"nginx"}, Images: []string{"nginx:1"}, Selector: map[string]string{"app": "front"},
				Revision: "5e6f7a8b9c", Progress: api.ProgressComplete},
		},
		events: []api.Event{
			{Time: t0.Add(-9 * time.Minute), Object: "StatefulSet/shop/db", Reason: "SuccessfulCreate", Message: "create Pod db-0 in StatefulSet db successful"},
			{Time: t0.Add(-8 * time.Minute), Object: "Pod/shop/db-0", Reason: api.EventScheduled, Message: "assigned shop/db-0 to node-a"},
			{Time: t0.Add(-7 * time.Minute), Object: "Pod/shop/web-0a1b2c3d4e-0", Reason: api.EventScheduled, Message: "not the StatefulSet's"},
		},
	}
}

// TestGetApps prints StatefulSets and ReplicaSets with kubectl's columns
// and shapes, and checks that the deployments table keeps to its kinds
// (go test -run TestGetApps -rewrite rewrites testdata/apps).
func TestGetApps(t *testing.T) {
	url := startFake(t, appsFake())
	for _, r := range []struct {
		name string
		args []string
	}{
		{"sts", []string{"get", "statefulsets", "-n", "shop"}},
		{"sts-wide", []string{"get", "sts", "-n", "shop", "-o", "wide"}},
		{"sts-yaml", []string{"get", "statefulset", "db", "-n", "shop", "-o", "yaml"}},
		{"rs", []string{"get", "replicasets", "-n", "shop"}},
		{"rs-wide", []string{"get", "rs", "-n", "shop", "-o", "wide"}},
		{"rs-json", []string{"get", "rs", "front", "-n", "shop", "-o", "json"}},
		{"deployments", []string{"get", "deployments", "-n", "shop"}},
		{"sts-and-rs", []string{"get", "sts,rs", "-n", "shop"}},
		{"all", []string{"get", "all", "-n", "shop"}},
		{"describe-sts", []string{"describe", "sts", "db", "-n", "shop"}},
		{"describe-rs", []string{"describe", "replicaset", "front", "-n", "shop"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			code, out, errOut := ctl(t, url, r.args...)
			if code != 0 {
				t.Fatalf("ctl %s = %d %q", strings.Join(r.args, " "), code, errOut)
			}
			golden(t, filepath.Join("testdata", "apps", r.name+".golden"), out)
		})
	}
	if code, _, errOut := ctl(t, url, "describe", "sts", "nope", "-n", "shop"); code != exitChanges || !strings.Contains(errOut, "statefulset shop/nope not found") {
		t.Errorf("describe of a missing StatefulSet = %d %q", code, errOut)
	}
}

// TestGetAppsShape checks the fields of a StatefulSet's Kubernetes shape
// that scripts read.
func TestGetAppsShape(t *testing.T) {
	url := startFake(t, appsFake())
	_, out, _ := ctl(t, url, "get", "sts", "db", "-n", "shop", "-o", "yaml")
	var o struct {
		Kind string `json:"kind"`
		Spec struct {
			Replicas    int32  `json:"replicas"`
			ServiceName string `json:"serviceName"`
		} `json:"spec"`
		Status struct {
			Replicas       int32  `json:"replicas"`
			ReadyReplicas  int32  `json:"readyReplicas"`
			UpdateRevision string `json:"updateRevision"`
		} `json:"status"`
	}
	if err := yaml.Unmarshal([]byte(out), &o); err != nil {
		t.Fatal(err)
	}
	if o.Kind != spec.KindStatefulSet || o.Spec.Replicas != 3 || o.Spec.ServiceName != "db" || o.Status.Replicas != 2 ||
		o.Status.ReadyReplicas != 1 || o.Status.UpdateRevision != "db-0a1b2c3d4e" {
		t.Errorf("statefulset shape = %+v", o)
	}
}

// TestPrintAppsObject checks describe's sections that come from the
// applied object: the pod management policy and the claim templates.
func TestPrintAppsObject(t *testing.T) {
	wl := appsFake().wl[1]
	s := &spec.StatefulSet{ObjectMeta: spec.ObjectMeta{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}}}
	s.Spec.PodManagementPolicy = spec.OrderedReadyPodManagement
	s.Spec.Template.Spec.Containers = []spec.Container{{Name: "redis", Image: "redis:7"}}
	c := spec.PersistentVolumeClaim{ObjectMeta: spec.ObjectMeta{Name: "data"}}
	c.Spec.AccessModes = []string{spec.ReadWriteOnce}
	c.Spec.Resources.Requests = spec.ResourceList{"storage": resource.MustParse("1Gi")}
	s.Spec.VolumeClaimTemplates = []spec.PersistentVolumeClaim{c}
	var b bytes.Buffer
	printApps(&b, &appsDescription{Workload: wl, Object: s})
	for _, want := range []string{"Pod Management:     OrderedReady", "Volume Claims:", "  Name:             data", "  Capacity:         1Gi",
		"Service Name:       db", "Labels:             app=db", "waiting for db-1 to be Running and Ready"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, b.String())
		}
	}
}

// TestDescribeClaimOwner checks that describe pvc names the StatefulSet
// that made a claim.
func TestDescribeClaimOwner(t *testing.T) {
	var b bytes.Buffer
	printClaim(&b, &claimDescription{Claim: api.Claim{Namespace: "shop", Name: "data-db-0", Phase: "Bound", Volume: "pvc-1",
		Capacity: 1 << 30, UsedBy: []string{"shop/db-0"}, Owner: "StatefulSet/shop/db"}})
	if !strings.Contains(b.String(), "Controlled By:      StatefulSet/shop/db") {
		t.Errorf("describe pvc lacks its owner:\n%s", b.String())
	}
}

// TestStatefulPodOwner checks a StatefulSet's pod's ownerReferences.
func TestStatefulPodOwner(t *testing.T) {
	f := appsFake()
	pod := running("db-0", "node-a", "10.88.0.9", 0)
	pod.Owner = "StatefulSet/shop/db"
	f.pods = [][]api.Pod{{pod}}
	url := startFake(t, f)
	_, out, errOut := ctl(t, url, "get", "pod", "db-0", "-n", "shop", "-o", "yaml")
	var o struct {
		Metadata struct {
			OwnerReferences []struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Name       string `json:"name"`
			} `json:"ownerReferences"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("%v: %s %s", err, out, errOut)
	}
	if r := o.Metadata.OwnerReferences; len(r) != 1 || r[0].APIVersion != spec.AppsV1 || r[0].Kind != spec.KindStatefulSet || r[0].Name != "db" {
		t.Errorf("ownerReferences = %+v", r)
	}
}
