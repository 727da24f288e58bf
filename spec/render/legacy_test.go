package render

import (
	"testing"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestLegacyAPIVersionRendered: an older apiVersion rendered by kustomize
// loads converted to apps/v1, and its warning names the kustomization.
func TestLegacyAPIVersionRendered(t *testing.T) {
	files := map[string][]byte{
		"app/deployment.yaml": []byte(`apiVersion: extensions/v1beta1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.local/web:1}]
`),
		"app/kustomization.yaml": []byte("resources: [deployment.yaml]\nnamePrefix: shop-\n"),
	}
	set, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	key := spec.ObjectKey{Kind: spec.KindDeployment, Namespace: spec.DefaultNamespace, Name: "shop-web"}
	d, ok := set.Objects[key].(*spec.Deployment)
	if !ok {
		t.Fatalf("objects %v", set.Keys())
	}
	if d.APIVersion != spec.AppsV1 || d.Spec.Selector == nil || d.Spec.Selector.MatchLabels["app"] != "web" ||
		*d.Spec.Strategy.RollingUpdate.MaxSurge != spec.FromInt(spec.ExtensionsV1beta1MaxSurge) {
		t.Errorf("deployment = %+v", d)
	}
	if src := set.Sources[key]; src.APIVersion != spec.ExtensionsV1beta1 {
		t.Errorf("source = %+v", src)
	}
	if len(set.Warnings) != 1 || set.Warnings[0].File != "app/kustomization.yaml" || set.Warnings[0].Object != "Deployment default/shop-web" {
		t.Errorf("warnings = %+v", set.Warnings)
	}
}
