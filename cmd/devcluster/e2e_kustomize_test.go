package main

import (
	"strings"
	"time"

	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// kustomizeFiles is a kustomize overlay committed to the shared cluster's
// repository, in a namespace of its own so that the other steps' pod counts
// in demo are untouched: a base (the examples' hello Deployment, in demo,
// image v1, 3 replicas) and an overlay that moves it to kdemo, prefixes its
// name, labels it, sets the image tag to v2, scales it to 2 and patches its
// greeting.
var kustomizeFiles = map[string]string{
	"kustomize-demo/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: kdemo
namePrefix: prod-
labels:
- pairs: {variant: prod}
  includeTemplates: true
resources:
- namespace.yaml
- base
images:
- name: 127.0.0.1:5000/stevedore/hello
  newTag: v2
replicas:
- name: hello
  count: 2
patches:
- path: greeting.yaml
`,
	"kustomize-demo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kdemo\n",
	"kustomize-demo/greeting.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: demo
spec:
  template:
    spec:
      containers:
      - name: hello
        env:
        - name: GREETING
          value: Hello from kustomize
`,
	"kustomize-demo/base/kustomization.yaml": "resources:\n- hello.yaml\n",
}

// kustomizeStep commits the overlay and checks that its pods run as the
// overlay says, that a broken overlay is refused at its kustomization's
// line without touching them, and leaves the overlay in place (the last
// step deletes it with everything else). It needs the hello:v2 image.
func kustomizeStep(e *e2e, hello string) {
	e.t.Helper()
	files := map[string]string{"kustomize-demo/base/hello.yaml": hello}
	for k, v := range kustomizeFiles {
		files[k] = v
	}
	e.commit("kustomize overlay of hello in kdemo", files)
	pods := e.waitPods("the kustomize overlay's pods", "kdemo", 2*time.Minute, running("hello", 2, func(p rapi.Pod) bool {
		return strings.HasPrefix(p.Name, "prod-hello-") && p.Labels["variant"] == "prod" &&
			strings.HasSuffix(p.Spec.Containers[0].Image, "/stevedore/hello:v2")
	}))
	if body := httpGet(e.t, "http://"+pods[0].PodIP+":8080/"); !strings.Contains(body, "Hello from kustomize") {
		e.t.Errorf("a pod of the overlay answered %q: the greeting patch did not reach it", body)
	}
	out, err := e.c.Ctl(e.ctx, "get", "deployments", "-n", "kdemo")
	if err != nil || !strings.Contains(out, "prod-hello") {
		e.t.Errorf("ctl get deployments -n kdemo: %v\n%s", err, out)
	}
	good := uids(pods, "hello")

	broken := strings.Replace(kustomizeFiles["kustomize-demo/kustomization.yaml"], "- base\n", "- base\n- missing.yaml\n", 1)
	h := e.commit("kustomize: a resource that does not exist", map[string]string{"kustomize-demo/kustomization.yaml": broken})
	e.waitStatus("a broken overlay", h[:7], "kustomize-demo/kustomization.yaml:11", `resource "missing.yaml" not found`)
	time.Sleep(time.Second)
	now, err := e.c.Client.Pods(e.ctx, "kdemo")
	if err != nil {
		e.t.Fatal(err)
	}
	if got := uids(now, "hello"); !sameKeys(got, good) {
		e.t.Errorf("a broken overlay changed the pods from %v to %v", good, got)
	}
	e.commit("kustomize: fix the overlay", map[string]string{"kustomize-demo/kustomization.yaml": kustomizeFiles["kustomize-demo/kustomization.yaml"]})
	e.waitApplied("the fixed overlay")
}

// kustomizeDeleted deletes the overlay's files (the last step's commit).
func kustomizeDeleted(files map[string]string) map[string]string {
	for k := range kustomizeFiles {
		files[k] = ""
	}
	files["kustomize-demo/base/hello.yaml"] = ""
	return files
}
