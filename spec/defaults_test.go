package spec

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func mustLoad(t *testing.T, src string) *Set {
	t.Helper()
	set, err := loadOne(src)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return set
}

func TestPodDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  tolerations: [{key: k, value: v}]
  containers:
  - name: a
    image: busybox
    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 100m}
  - {name: b, image: "registry.local:5000/app:latest"}
  - {name: c, image: "registry.local:5000/app:1.2"}
  - {name: d, image: "registry.local:5000/app"}
  - {name: e, image: "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
  - {name: f, image: "app:latest", imagePullPolicy: Never}
`)
	p := set.Objects[ObjectKey{Kind: KindPod, Namespace: "default", Name: "p"}].(*Pod)
	if p == nil {
		t.Fatal("pod not in set under default namespace")
	}
	s := p.Spec
	if s.RestartPolicy != RestartPolicyAlways {
		t.Errorf("restartPolicy = %q", s.RestartPolicy)
	}
	if s.TerminationGracePeriodSeconds == nil || *s.TerminationGracePeriodSeconds != 30 {
		t.Errorf("terminationGracePeriodSeconds = %v", s.TerminationGracePeriodSeconds)
	}
	if s.SchedulerName != "default-scheduler" {
		t.Errorf("schedulerName = %q", s.SchedulerName)
	}
	if s.Tolerations[0].Operator != TolerationOpEqual {
		t.Errorf("toleration operator = %q", s.Tolerations[0].Operator)
	}
	a := s.Containers[0]
	if a.Ports[0].Protocol != ProtocolTCP || a.Ports[1].Protocol != ProtocolUDP {
		t.Errorf("protocols = %q, %q", a.Ports[0].Protocol, a.Ports[1].Protocol)
	}
	if q := a.Resources.Requests[ResourceMemory]; q.Cmp(resource.MustParse("128Mi")) != 0 {
		t.Errorf("memory request = %s, want the limit 128Mi", q.String())
	}
	if q := a.Resources.Requests[ResourceCPU]; q.Cmp(resource.MustParse("100m")) != 0 {
		t.Errorf("cpu request = %s, want the declared 100m", q.String())
	}
	wantPull := []string{PullAlways, PullAlways, PullIfNotPresent, PullAlways, PullIfNotPresent, PullNever}
	for i, want := range wantPull {
		if got := s.Containers[i].ImagePullPolicy; got != want {
			t.Errorf("container %s (%s): imagePullPolicy = %q, want %q", s.Containers[i].Name, s.Containers[i].Image, got, want)
		}
	}
	if src := set.Sources[KeyOf(p)]; src != (Source{File: "x.yaml", Line: 1}) {
		t.Errorf("source = %+v", src)
	}
}

func TestDeploymentDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
`)
	d := set.OfKind(KindDeployment)[0].(*Deployment)
	s := d.Spec
	if d.Namespace != "default" {
		t.Errorf("namespace = %q", d.Namespace)
	}
	if s.Replicas == nil || *s.Replicas != 1 {
		t.Errorf("replicas = %v", s.Replicas)
	}
	if s.Strategy.Type != RollingUpdateDeploymentStrategyType || s.Strategy.RollingUpdate == nil {
		t.Fatalf("strategy = %+v", s.Strategy)
	}
	if got := s.Strategy.RollingUpdate.MaxUnavailable.String(); got != "25%" {
		t.Errorf("maxUnavailable = %s", got)
	}
	if got := s.Strategy.RollingUpdate.MaxSurge.String(); got != "25%" {
		t.Errorf("maxSurge = %s", got)
	}
	if s.ProgressDeadlineSeconds == nil || *s.ProgressDeadlineSeconds != 600 {
		t.Errorf("progressDeadlineSeconds = %v", s.ProgressDeadlineSeconds)
	}
	if s.RevisionHistoryLimit == nil || *s.RevisionHistoryLimit != 10 {
		t.Errorf("revisionHistoryLimit = %v", s.RevisionHistoryLimit)
	}
	if s.Template.Spec.RestartPolicy != RestartPolicyAlways || s.Template.Spec.Containers[0].ImagePullPolicy != PullIfNotPresent {
		t.Errorf("template not defaulted: %+v", s.Template.Spec)
	}
}

func TestDeploymentDefaultsKeepDeclared(t *testing.T) {
	set := mustLoad(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  strategy: {rollingUpdate: {maxSurge: 2}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: c, image: busybox:1.36}]
`)
	web := set.Objects[ObjectKey{KindDeployment, "default", "web"}].(*Deployment)
	if *web.Spec.Replicas != 0 {
		t.Errorf("replicas 0 was replaced by %d", *web.Spec.Replicas)
	}
	if web.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got a rollingUpdate: %+v", web.Spec.Strategy.RollingUpdate)
	}
	api := set.Objects[ObjectKey{KindDeployment, "default", "api"}].(*Deployment)
	ru := api.Spec.Strategy.RollingUpdate
	if ru.MaxSurge.String() != "2" || ru.MaxSurge.IsString || ru.MaxUnavailable.String() != "25%" {
		t.Errorf("rollingUpdate = %s/%s", ru.MaxSurge, ru.MaxUnavailable)
	}
}

func TestReplicationControllerDefaults(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  template:
    metadata: {labels: {app: a, tier: b}}
    spec:
      containers: [{name: c, image: busybox}]
`)
	rc := set.OfKind(KindReplicationController)[0].(*ReplicationController)
	if *rc.Spec.Replicas != 1 {
		t.Errorf("replicas = %d", *rc.Spec.Replicas)
	}
	if len(rc.Spec.Selector) != 2 || rc.Spec.Selector["app"] != "a" || rc.Spec.Selector["tier"] != "b" {
		t.Errorf("selector = %v", rc.Spec.Selector)
	}
	if rc.Labels["app"] != "a" {
		t.Errorf("labels = %v", rc.Labels)
	}
}

func TestClusterScopedNotDefaulted(t *testing.T) {
	set := mustLoad(t, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n")
	for k := range set.Objects {
		if k.Namespace != "" {
			t.Errorf("%v got a namespace", k)
		}
	}
}

func TestSetDefaultsIdempotent(t *testing.T) {
	set := mustLoad(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox, resources: {limits: {cpu: "1"}}}]
`)
	d := set.OfKind(KindDeployment)[0].(*Deployment)
	before := TemplateHash(&d.Spec.Template)
	SetDefaults(d)
	if after := TemplateHash(&d.Spec.Template); after != before {
		t.Errorf("second SetDefaults changed the template hash: %s → %s", before, after)
	}
	if errs := Validate(d); errs != nil {
		t.Errorf("Validate: %v", errs)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]string{
		"busybox":                           PullAlways,
		"busybox:latest":                    PullAlways,
		"busybox:1.36":                      PullIfNotPresent,
		"localhost:5000/busybox":            PullAlways,
		"localhost:5000/busybox:1":          PullIfNotPresent,
		"localhost:5000/busybox@sha256:abc": PullIfNotPresent,
	} {
		if got := DefaultPullPolicy(image); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestResourceNamesAccepted(t *testing.T) {
	set := mustLoad(t, `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: c
    image: busybox
    resources:
      limits: {cpu: "2", memory: 1Gi, ephemeral-storage: 10Gi, hugepages-2Mi: 64Mi, example.com/gpu: 1}
`)
	p := set.OfKind(KindPod)[0].(*Pod)
	if got := len(p.Spec.Containers[0].Resources.Requests); got != 5 {
		t.Errorf("got %d requests defaulted from limits, want 5", got)
	}
}
