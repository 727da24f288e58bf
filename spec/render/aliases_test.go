package render

import (
	"fmt"
	"strings"
	"testing"
)

// TestAliasBombRefused checks that a small file whose YAML aliases expand
// to a huge document is refused before kustomize expands it (which costs
// gigabytes for a nine-level file), while ordinary anchors still render.
func TestAliasBombRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x]\n")
	for i := 1; i <= 6; i++ {
		p := fmt.Sprintf("*a%d", i-1)
		fmt.Fprintf(&b, "a%d: &a%d [%s, %s, %s, %s, %s, %s, %s]\n", i, i, p, p, p, p, p, p, p)
	}
	b.WriteString("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels: *a6\n")
	files := map[string][]byte{
		"app/kustomization.yaml": []byte("resources:\n- bomb.yaml\n"),
		"app/bomb.yaml":          []byte(b.String()),
	}
	_, err := Load(files)
	if err == nil || !strings.Contains(err.Error(), "app/bomb.yaml:2: YAML aliases expand to more than 100000 nodes") {
		t.Fatalf("Load = %v, want the alias bomb refused at app/bomb.yaml:2", err)
	}

	ok := map[string][]byte{
		"app/kustomization.yaml": []byte("resources:\n- ns.yaml\n"),
		"app/ns.yaml":            []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n  labels: &l {team: a}\n  annotations: *l\n"),
	}
	set, err := Load(ok)
	if err != nil {
		t.Fatalf("Load with an ordinary anchor: %v", err)
	}
	if n := len(set.Keys()); n != 1 {
		t.Errorf("objects = %d, want 1", n)
	}
}
