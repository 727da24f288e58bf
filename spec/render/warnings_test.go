package render

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestDeprecatedFieldsPrintNothing: kustomize prints a warning for each
// deprecated field straight to the process's stderr; a render rewrites them
// first, so neither the reconciler's log nor ctl's output gets those lines,
// and the result is what kustomize renders from the current fields.
func TestDeprecatedFieldsPrintNothing(t *testing.T) {
	deployment := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.local/web:1}]
`
	old := map[string][]byte{
		"base/deployment.yaml":    []byte(deployment),
		"base/kustomization.yaml": []byte("resources: [deployment.yaml]\n"),
		"kustomization.yaml": []byte(`bases: [base]
commonLabels: {team: shop}
imageTags:
- {name: registry.local/web, newTag: "2"}
`),
	}
	current := map[string][]byte{
		"base/deployment.yaml":    []byte(deployment),
		"base/kustomization.yaml": []byte("resources: [deployment.yaml]\n"),
		"kustomization.yaml": []byte(`resources: [base]
labels:
- pairs: {team: shop}
  includeSelectors: true
images:
- {name: registry.local/web, newTag: "2"}
`),
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	got, gotErr := Load(old)
	os.Stderr = saved
	w.Close()
	printed, _ := io.ReadAll(r)
	if gotErr != nil {
		t.Fatal(gotErr)
	}
	if strings.Contains(string(printed), "Warning") {
		t.Errorf("render printed to stderr:\n%s", printed)
	}
	want, err := Load(current)
	if err != nil {
		t.Fatal(err)
	}
	gd, wd := got.OfKind(spec.KindDeployment), want.OfKind(spec.KindDeployment)
	if len(gd) != 1 || len(wd) != 1 {
		t.Fatalf("deployments: %d and %d", len(gd), len(wd))
	}
	g := gd[0].(*spec.Deployment)
	if g.Labels["team"] != "shop" || g.Spec.Selector.MatchLabels["team"] != "shop" || g.Spec.Template.Spec.Containers[0].Image != "registry.local/web:2" {
		t.Errorf("deprecated fields rendered as %+v", g)
	}
	if diff := cmp.Diff(wd[0], gd[0]); diff != "" {
		t.Errorf("deprecated and current fields render differently (-current +deprecated):\n%s", diff)
	}
}
