package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files of testdata/golden")

// TestKustomizeExamples builds the shapes of kustomize's own examples
// (helloWorld's base and its staging and production overlays,
// configGeneration's generators, images and replicas) from a directory
// read as ctl validate reads it, and compares what kustomize renders with
// testdata/golden. The examples carry ConfigMaps and env.valueFrom, which
// Stevedore does not load yet, so they are compared at the render level;
// TestLoadOverlay loads an overlay end to end.
func TestKustomizeExamples(t *testing.T) {
	files, err := ReadDir("testdata/examples")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := files["generators/.env"]; !ok {
		t.Fatal("ReadDir left out generators/.env, a secretGenerator's source under a kustomization")
	}
	l := newLayout(files)
	want := []string{"base", "generators", "overlays/production", "overlays/staging"}
	if strings.Join(l.roots, ",") != strings.Join(want, ",") {
		t.Fatalf("roots = %q, want %q", l.roots, want)
	}
	if len(l.plain) != 0 {
		t.Errorf("plain files = %q: files below a kustomization must not load a second time", l.plain)
	}
	fsys := newMemFS(l.visible(files), files)
	for _, root := range l.roots {
		t.Run(root, func(t *testing.T) {
			out, err := build(fsys, root)
			if err != nil {
				t.Fatal(err)
			}
			again, err := build(newMemFS(newLayout(files).visible(files), files), root)
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("a second build differs (err %v): rendering must be deterministic", err)
			}
			golden(t, filepath.Join("testdata", "golden", strings.ReplaceAll(root, "/", "-")+".yaml"), out)
		})
	}
}

// golden compares got with the file at name, or rewrites it with -rewrite.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test -rewrite to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what kustomize rendered:\n%s", name, got)
	}
}
