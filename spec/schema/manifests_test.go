package schema

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestEveryFieldOfRealManifestsIsExplained walks every field set in the
// manifests that load (the example repository, and the Kubernetes manifests
// of spec's golden tests: kubernetes/examples, kubectl's dry-run output, a
// List) and checks explain can document each: what a user copies from a
// working manifest can be looked up.
func TestEveryFieldOfRealManifestsIsExplained(t *testing.T) {
	files := map[string][]byte{}
	repo, err := spec.ReadDir("../../examples-repo")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range repo {
		files["examples-repo/"+name] = b
	}
	golden, _ := filepath.Glob("../testdata/golden/k8s-*.yaml")
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = b
	}
	if len(files) < 8 {
		t.Fatalf("found %d manifest files", len(files))
	}
	paths := 0
	for name, b := range files {
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if obj == nil {
				continue
			}
			objs := []map[string]any{obj}
			if obj["kind"] == "List" {
				objs = nil
				for _, it := range obj["items"].([]any) {
					objs = append(objs, it.(map[string]any))
				}
			}
			for _, o := range objs {
				// A SOPS-encrypted file's "sops" key is its encryption's
				// metadata, removed by decryption: not a field.
				delete(o, "sops")
				kind, _ := o["kind"].(string)
				if _, err := LookupKind(kind); err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				walk(o, kind, func(path string) {
					paths++
					if _, err := Resolve(path); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				})
			}
		}
	}
	t.Logf("%d field paths in %d files", paths, len(files))
}

// walk calls f with KIND.path of every field that has a value, descending
// into objects and the elements of lists. Maps whose keys are data (labels,
// resource lists) are not fields: their keys are not descended into. The
// empty leftovers kubectl writes (status: {}, creationTimestamp: null)
// are not declarations and are skipped, as the decoder skips them.
func walk(v any, path string, f func(string)) {
	switch v := v.(type) {
	case map[string]any:
		t, err := Resolve(path)
		if err == nil && t.Type == nil {
			return // a map of data, e.g. labels
		}
		for k, sub := range v {
			if sub == nil || isEmptyMap(sub) || isEmptyList(sub) {
				continue
			}
			// What the decoder drops (status, metadata.uid…) or accepts
			// at Kubernetes' default (dnsPolicy: ClusterFirst) declares
			// nothing.
			if err == nil && t.Type != nil && (slices.Contains(t.Type.Dropped, k) || isDefault(t.Type.Defaults, k, sub)) {
				continue
			}
			f(path + "." + k)
			walk(sub, path+"."+k, f)
		}
	case []any:
		for _, e := range v {
			walk(e, path, f)
		}
	}
}

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}

func isDefault(defaults map[string]string, k string, v any) bool {
	def, ok := defaults[k]
	return ok && fmt.Sprint(v) == def
}

func isEmptyMap(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 0
}
