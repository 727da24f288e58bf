package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var yamlBlockRE = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocExamples loads every YAML example in docs/spec (and the other
// pages listed below), so the docs cannot
// show a manifest that Stevedore rejects. The examples' namespace "demo" is
// declared here, as a repository would.
func TestDocExamples(t *testing.T) {
	pages, err := filepath.Glob("../docs/spec/*.md")
	if err != nil || len(pages) < 7 {
		t.Fatalf("docs/spec pages: %v, %v", pages, err)
	}
	// Pages outside docs/spec that show manifests.
	pages = append(pages, "../docs/probes.md")
	n := 0
	for _, page := range pages {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range yamlBlockRE.FindAllSubmatch(b, -1) {
			n++
			name := fmt.Sprintf("%s#%d.yaml", filepath.Base(page), i)
			files := map[string][]byte{name: m[1]}
			if filepath.Base(page) != "namespace.md" {
				files["ns.yaml"] = []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n")
			}
			if _, err := Load(files); err != nil {
				t.Errorf("example in %s does not load:\n%v", page, err)
			}
		}
	}
	if n < 6 {
		t.Errorf("found %d examples, want one per kind at least", n)
	}
}
