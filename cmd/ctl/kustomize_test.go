package main

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestValidateKustomize checks that ctl validate renders kustomizations
// as the reconciler does: the overlay of spec/render's testdata loads, and a
// broken one is reported at the kustomization's file and line, or at the
// kustomization with the rendered object and field.
func TestValidateKustomize(t *testing.T) {
	if code, out, errOut := ctl(t, "", "validate", "../../spec/render/testdata/shop"); code != 0 || !strings.Contains(out, "2 object(s) valid") {
		t.Errorf("validate of the shop overlay = %d %q %q", code, out, errOut)
	}
	missing := writeDir(t, map[string]string{
		"ns.yaml":                nsYAML,
		"app/kustomization.yaml": "namespace: shop\nresources:\n- web.yaml\n- db.yaml\n",
		"app/web.yaml":           strings.Replace(webYAML, "REPLICAS", "2", 1),
	})
	code, out, _ := ctl(t, "", "validate", missing)
	if want := `app/kustomization.yaml:4: resources[1]: resource "db.yaml" not found`; code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("validate with a missing resource = %d %q, want it to start with %q", code, out, want)
	}
	invalid := writeDir(t, map[string]string{
		"ns.yaml":                nsYAML,
		"app/kustomization.yaml": "namespace: shop\nresources: [web.yaml]\nreplicas: [{name: web, count: -1}]\n",
		"app/web.yaml":           strings.Replace(webYAML, "REPLICAS", "2", 1),
	})
	code, out, _ = ctl(t, "", "validate", invalid)
	if want := "app/kustomization.yaml: Deployment shop/web: spec.replicas: invalid value -1"; code != 1 || !strings.HasPrefix(out, want) {
		t.Errorf("validate of an overlay rendering an invalid object = %d %q, want it to start with %q", code, out, want)
	}
}

// TestDiffLocalKustomize checks that ctl diff --local renders a
// kustomization, diffs what it renders against the applied revision, and
// sends the reconciler every file the kustomization may read, not only the
// YAML.
func TestDiffLocalKustomize(t *testing.T) {
	web := strings.Replace(webYAML, "REPLICAS", "2", 1)
	f := &fakeReconciler{revision: api.Revision{
		Commit: &api.Commit{Hash: "1111111111111111111111111111111111111111"},
		Files:  map[string][]byte{"ns.yaml": []byte(nsYAML), "apps/web.yaml": []byte(web)},
	}}
	url := startFake(t, f)
	dir := writeDir(t, map[string]string{
		"ns.yaml":                 nsYAML,
		"apps/kustomization.yaml": "resources: [web.yaml]\nreplicas: [{name: web, count: 4}]\n",
		"apps/web.yaml":           web,
		"apps/NOTES.txt":          "read by nothing, but below a kustomization",
		"README.md":               "outside every kustomization: not sent",
	})
	code, out, errOut := ctl(t, url, "diff", "--local", dir)
	if code != 1 || !strings.Contains(out, "changed Deployment/shop/web") || strings.Count(out, "  + pod shop/web-") != 2 {
		t.Errorf("diff --local of an overlay scaling web to 4 = %d\n%s%s", code, out, errOut)
	}
	f.mu.Lock()
	posted := slices.Sorted(maps.Keys(f.posted))
	f.mu.Unlock()
	if want := []string{"apps/NOTES.txt", "apps/kustomization.yaml", "apps/web.yaml", "ns.yaml"}; !slices.Equal(posted, want) {
		t.Errorf("posted files %q, want %q", posted, want)
	}
}
