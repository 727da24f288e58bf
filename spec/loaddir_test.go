package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"namespaces/shop.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"apps/shop/web.yml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1"}]
`,
		"README.md":                  "# not a manifest: {",
		"apps/notes.txt":             "kind: [",
		".git/config.yaml":           "kind: [",
		".github/workflows/ci.yml":   "on: push\njobs: {}\n",
		"apps/.hidden/broken.yaml":   "kind: [",
		"apps/.scratch.yaml":         "kind: [",
		"empty.yaml":                 "",
		"comments-only.yaml":         "# nothing yet\n",
		"dirs/with.yaml/inside.yaml": "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
	})
	// (A dangling link or one to a directory named like a manifest is
	// refused: TestLoadDirRefusedLinks.)
	set, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	var keys []string
	for _, k := range set.Keys() {
		keys = append(keys, k.String()+"@"+set.Sources[k].File)
	}
	want := "Deployment/shop/web@apps/shop/web.yml Namespace/shop@namespaces/shop.yaml Node/n1@dirs/with.yaml/inside.yaml"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys = %s\nwant   %s", got, want)
	}
}

func TestLoadDirErrorsAreRelative(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"apps/web.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n",
	})
	_, err := LoadDir(dir)
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	if got, want := err.Error(), "apps/web.yaml:5: Pod default/p: spec.containers[0].image: required"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadDirMissing(t *testing.T) {
	_, err := LoadDir(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a wrapped ErrNotExist", err)
	}
	var list ErrorList
	if errors.As(err, &list) {
		t.Fatal("an I/O error must not look like a manifest error")
	}
}

func TestLoadEmpty(t *testing.T) {
	set, err := Load(nil)
	if err != nil || len(set.Objects) != 0 {
		t.Fatalf("Load(nil) = %v, %v", set, err)
	}
}

func TestIsManifestPath(t *testing.T) {
	for p, want := range map[string]bool{
		"a.yaml": true, "a/b.yml": true, "a.json": false, "a.yaml.bak": false,
		".github/ci.yml": false, "a/.b/c.yaml": false, ".x.yaml": false, "a/b/c.YAML": false,
	} {
		if got := IsManifestPath(p); got != want {
			t.Errorf("IsManifestPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	// Each anchor merges the previous one twice: 2^40 expansions if
	// followed naively. The walker's node budget turns it into an error.
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Namespace\nanchors:\n- &l0 {a: b}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "- &l%d {<<: [*l%d, *l%d]}\n", i, i-1, i-1)
	}
	b.WriteString("metadata:\n  name: bomb\n  labels: *l40\n")
	start := time.Now()
	_, err := loadOne(b.String())
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("err = %v, want a 'document too large' error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestLoadDirLinks: a link to a manifest inside the tree loads as the file
// (Git checkouts keep links, and the reconciler follows them within the
// tracked path); a link out of the tree is an error naming it, because the
// reconciler would not read it.
func TestLoadDirLinks(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
	})
	if err := os.MkdirAll(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../base/ns.yaml", filepath.Join(dir, "apps", "ns.yaml")); err != nil {
		t.Fatal(err)
	}
	files, err := ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir with a link inside the tree: %v", err)
	}
	if string(files["apps/ns.yaml"]) != string(files["base/ns.yaml"]) {
		t.Errorf("the link read %q, want the target's contents", files["apps/ns.yaml"])
	}

	outside := filepath.Join(t.TempDir(), "outside.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "apps", "out.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err = LoadDir(dir)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].File != "apps/out.yaml" || !strings.Contains(list[0].Message, "outside the tree") {
		t.Fatalf("err = %v, want one error naming apps/out.yaml as a link outside the tree", err)
	}
}
