package reconcile

import (
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func testStatefulSet(name string, replicas int32, image string) *spec.StatefulSet {
	labels := map[string]string{"app": name}
	s := &spec.StatefulSet{
		TypeMeta:   spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindStatefulSet},
		ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: spec.StatefulSetSpec{Replicas: int32p(replicas), Selector: &spec.LabelSelector{MatchLabels: labels},
			ServiceName: name, PodManagementPolicy: spec.ParallelPodManagement,
			Template: spec.PodTemplateSpec{ObjectMeta: spec.ObjectMeta{Labels: labels}, Spec: podSpec(image, "")}},
	}
	s.Spec.Template.Spec.Volumes = []spec.Volume{{Name: "data", VolumeSource: spec.VolumeSource{EmptyDir: &spec.EmptyDirVolumeSource{}}}}
	c := spec.PersistentVolumeClaim{ObjectMeta: spec.ObjectMeta{Name: "data"}}
	c.Spec.AccessModes = []string{spec.ReadWriteOnce}
	logs := spec.PersistentVolumeClaim{ObjectMeta: spec.ObjectMeta{Name: "logs", Labels: map[string]string{"kind": "logs"}}}
	logs.Spec.AccessModes = []string{spec.ReadWriteOnce}
	s.Spec.VolumeClaimTemplates = []spec.PersistentVolumeClaim{c, logs}
	return s
}

// TestStatefulSetIdentity checks what makes a StatefulSet's pod itself: its
// name, labels, hostname and subdomain (so the headless Service gives it
// its DNS name), and a claim volume per template unless the template has a
// volume of that name; and that the Service's endpoints carry the
// hostname.
func TestStatefulSetIdentity(t *testing.T) {
	s := testStatefulSet("db", 2, "redis:7")
	s.Spec.Ordinals = &spec.StatefulSetOrdinals{Start: 3}
	svc := &spec.Service{TypeMeta: spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindService},
		ObjectMeta: spec.ObjectMeta{Name: "db", Namespace: "shop"},
		Spec:       spec.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}, Ports: []spec.ServicePort{{Port: 6379}}}}
	n := 0
	in := Input{Desired: setOf(s, svc), Nodes: nodes(2), Now: time.Unix(0, 0), NewUID: func() string { n++; return "u" + string(rune('0'+n)) }}
	out := Plan(in)
	var pods []PodView
	for _, v := range out.Pods {
		if v.Owner == "StatefulSet/shop/db" {
			pods = append(pods, v)
		}
	}
	if len(pods) != 2 || pods[0].Name != "db-3" || pods[1].Name != "db-4" {
		t.Fatalf("pods = %+v", pods)
	}
	p := pods[1]
	if p.Spec.Hostname != "db-4" || p.Spec.Subdomain != "db" {
		t.Errorf("hostname %q subdomain %q", p.Spec.Hostname, p.Spec.Subdomain)
	}
	for k, v := range map[string]string{"app": "db", ControllerRevisionHashLabel: out.Workloads[0].Revision,
		StatefulSetPodNameLabel: "db-4", PodIndexLabel: "4"} {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].EmptyDir == nil || p.Spec.Volumes[1].PersistentVolumeClaim == nil ||
		p.Spec.Volumes[1].PersistentVolumeClaim.ClaimName != "logs-db-4" {
		t.Errorf("volumes = %+v: want the template's data, and logs-db-4", p.Spec.Volumes)
	}
	if len(s.Spec.Template.Spec.Volumes) != 1 || s.Spec.Template.Spec.Hostname != "" {
		t.Errorf("the template was written to: %+v", s.Spec.Template.Spec)
	}
	var claims []string
	for _, c := range out.Claims {
		if c.Owner == "StatefulSet/shop/db" {
			claims = append(claims, c.Name)
		}
	}
	if want := []string{"data-db-3", "data-db-4", "logs-db-3", "logs-db-4"}; !equalStrings(claims, want) {
		t.Errorf("claims = %v, want %v", claims, want)
	}

	// The headless Service's endpoints name the pods by hostname: the
	// agents' DNS answers db-4.db.shop.svc.<domain>.
	for i := range pods {
		pods[i].PodIP = "10.244.0." + string(rune('5'+i))
		pods[i].Phase = api.PodRunning
		pods[i].Status = &api.PodStatus{Phase: api.PodRunning, PodIP: pods[i].PodIP, Containers: []api.ContainerStatus{{Name: "main", Ready: true}}}
	}
	views := ResolveServices([]*spec.Service{svc}, map[string]ServiceAddrs{"shop/db": {}}, pods)
	if len(views) != 1 || len(views[0].Resolved.Endpoints) != 2 || views[0].Resolved.Endpoints[1].Hostname != "db-4" {
		t.Errorf("endpoints = %+v", views)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
