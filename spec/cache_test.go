package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadBothWays loads files with Load and with LoadCached (given prev) and
// fails unless both give the same objects, sources and errors.
func loadBothWays(t *testing.T, files map[string][]byte, prev *Cache) (*Set, *Cache, error) {
	t.Helper()
	want, wantErr := Load(files)
	got, c, gotErr := LoadCached(files, prev)
	if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
		t.Fatalf("errors differ:\nLoad:\n%v\nLoadCached:\n%v", wantErr, gotErr)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("sets differ")
	}
	return got, c, gotErr
}

// TestLoadCachedSameAsLoad loads every golden manifest, good and bad, both
// ways, fresh and with a cache of the same files moved down a few lines.
func TestLoadCachedSameAsLoad(t *testing.T) {
	paths, _ := filepath.Glob("testdata/golden/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no golden manifests")
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(p), func(t *testing.T) {
			files := map[string][]byte{"m.yaml": b}
			_, c, err := loadBothWays(t, files, nil)
			if err != nil {
				return
			}
			// The same documents, now in another file and 3 lines lower.
			moved := map[string][]byte{"a/other.yaml": append([]byte("# moved\n# down\n---\n"), b...)}
			loadBothWays(t, moved, c)
		})
	}
}

func TestLoadCachedReuses(t *testing.T) {
	doc := func(name, image string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: shop}\nspec:\n  containers: [{name: c, image: %s}]\n", name, image)
	}
	ns := "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
	v1 := map[string][]byte{"ns.yaml": []byte(ns), "pods.yaml": []byte(doc("a", "x:1") + "---\n" + doc("b", "x:1") + "--- # c\n" + doc("c", "x:1"))}
	s1, c1, err := loadBothWays(t, v1, nil)
	if err != nil || c1.Len() != 4 {
		t.Fatalf("first load: %v, %d cached", err, c1.Len())
	}
	// b changes; c moves to another file; a stays.
	v2 := map[string][]byte{"ns.yaml": []byte(ns), "pods.yaml": []byte(doc("a", "x:1") + "---\n" + doc("b", "x:2")), "more/c.yaml": []byte("# c, moved\n\n" + doc("c", "x:1"))}
	s2, _, err := loadBothWays(t, v2, c1)
	if err != nil {
		t.Fatal(err)
	}
	key := func(n string) ObjectKey { return ObjectKey{Kind: KindPod, Namespace: "shop", Name: n} }
	if s1.Objects[key("a")] != s2.Objects[key("a")] || s1.Objects[key("c")] != s2.Objects[key("c")] {
		t.Error("unchanged documents were decoded again")
	}
	if s1.Objects[key("b")] == s2.Objects[key("b")] {
		t.Error("a changed document was reused")
	}
	if s2.Sources[key("c")] != (Source{File: "more/c.yaml", Line: 3}) {
		t.Errorf("moved document's source: %+v", s2.Sources[key("c")])
	}
	// An error about a reused document names its new place: the namespace
	// is gone.
	v3 := map[string][]byte{"more/c.yaml": []byte("\n\n\n" + doc("c", "x:1"))}
	_, _, err = loadBothWays(t, v3, c1)
	if err == nil || !strings.Contains(err.Error(), "more/c.yaml:6: Pod shop/c: metadata.namespace: namespace \"shop\" does not exist") {
		t.Errorf("error about a reused document: %v", err)
	}
	// A revision with errors gives no cache; a syntax error is reported as
	// Load reports it; files that cannot be cut (directives, "..." and
	// content on a marker line) load whole.
	for _, text := range []string{
		doc("a", "x:1") + "---\nkind: [\n",
		"%YAML 1.2\n---\n" + doc("a", "x:1"),
		doc("a", "x:1") + "...\n---\n" + doc("b", "x:1"),
		"--- " + strings.ReplaceAll(strings.TrimSpace(doc("a", "x:1")), "\n", "\n    ") + "\n",
	} {
		files := map[string][]byte{"ns.yaml": []byte(ns), "p.yaml": []byte(text)}
		_, c, err := loadBothWays(t, files, c1)
		if (err != nil) != (c == nil) {
			t.Errorf("%q: error %v and cache %v", text, err, c)
		}
	}
}

// BenchmarkLoadCached10k loads 10,000 Deployments of which 1% changed,
// reusing the cache of the previous revision.
func BenchmarkLoadCached10k(b *testing.B) {
	files := manyDeployments(10000)
	_, c, err := LoadCached(files, nil)
	if err != nil {
		b.Fatal(err)
	}
	next := map[string][]byte{}
	for name, data := range files {
		next[name] = []byte(strings.Replace(string(data), "replicas: 3", "replicas: 4", 1))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := LoadCached(next, c); err != nil {
			b.Fatal(err)
		}
	}
}
