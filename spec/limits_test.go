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

// loadErrors loads one file and returns its errors, failing the test when
// it loads or takes longer than limit.
func hostileErrors(t *testing.T, data string, limit time.Duration) ErrorList {
	t.Helper()
	start := time.Now()
	_, err := Load(map[string][]byte{"app.yaml": []byte(data)})
	if d := time.Since(start); d > limit {
		t.Errorf("took %v, want under %v", d, limit)
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	return list
}

func wantHostileError(t *testing.T, list ErrorList, field, msg string) {
	t.Helper()
	for _, e := range list {
		if e.File == "app.yaml" && e.Field == field && strings.Contains(e.Message, msg) {
			return
		}
	}
	t.Fatalf("no error at %q containing %q in:\n%v", field, msg, list)
}

func TestHostileEnvValueTooLarge(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: big}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env:\n    - name: A\n      value: " +
		strings.Repeat("x", 10<<20) + "\n"
	list := hostileErrors(t, doc, 5*time.Second)
	wantHostileError(t, list, "spec.containers[0].env[0].value", "object too large")
	if list[0].Line != 10 || list[0].Object != "Pod default/big" {
		t.Errorf("error at line %d object %q, want line 10 of Pod default/big: %v", list[0].Line, list[0].Object, list[0])
	}
}

// An alias to a 1 MB string used twice is 2 MB once expanded: the
// runtime would get the expanded object, so the limit counts it so.
func TestHostileAliasedStringTooLarge(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: big}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env:\n    - {name: A, value: &big " +
		strings.Repeat("y", 1<<20) + "}\n    - {name: B, value: *big}\n"
	wantHostileError(t, hostileErrors(t, doc, 5*time.Second), "spec.containers[0].env[1].value", "object too large")
}

// Just under the limit loads: the limit is Kubernetes', not stricter.
func TestObjectJustUnderLimitLoads(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    env:\n    - name: A\n      value: " +
		strings.Repeat("y", MaxObjectBytes-100) + "\n"
	if _, err := Load(map[string][]byte{"app.yaml": []byte(doc)}); err != nil {
		t.Fatalf("a %d-byte Pod was refused: %.300v", MaxObjectBytes-100, err)
	}
}

func TestHostileImageReferences(t *testing.T) {
	for _, img := range []string{"../../../etc/passwd", "/etc/passwd", "Busybox", "busybox:lat est", "busybox@sha256:abc", "a//b", strings.Repeat("a", 300)} {
		t.Run(img[:min(len(img), 20)], func(t *testing.T) {
			doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      initContainers: [{name: i, image: busybox}]\n      containers:\n      - name: c\n        image: " + fmt.Sprintf("%q", img) + "\n"
			list := hostileErrors(t, doc, time.Second)
			wantHostileError(t, list, "spec.template.spec.containers[0].image", "not an image reference")
			if len(list) != 1 {
				t.Errorf("want one error, got %v", list)
			}
		})
	}
	for _, img := range []string{"busybox", "busybox:1.36", "127.0.0.1:5000/stevedore/busybox:1.35", "docker.io/library/bash:5",
		"busybox:1.38.0@sha256:fd8d9aa63ba2f0982b5304e1ee8d3b90a210bc1ffb5314d980eb6962f1a9715d", "us-central1-docker.pkg.dev/a/b/c:v0.10.6"} {
		doc := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: \"" + img + "\"}]\n"
		if _, err := Load(map[string][]byte{"app.yaml": []byte(doc)}); err != nil {
			t.Errorf("image %q refused: %v", img, err)
		}
	}
}

func TestHostileNesting(t *testing.T) {
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: " + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + "\n"
	list := hostileErrors(t, doc, 2*time.Second)
	if len(list) != 1 || list[0].File != "app.yaml" || !strings.Contains(list[0].Message, "exceeded max depth of 10000") {
		t.Fatalf("errors = %v, want one naming app.yaml and the depth", list)
	}
}

// A billion-laughs bomb of lists (the merge-key variant is TestAliasBomb).
func TestHostileAliasBombLists(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: bomb\n  annotations:\n    a: &a lol\nspec:\n  x0: &x0 [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), 10), ", "))
	}
	b.WriteString("  containers: [{name: c, image: busybox, args: *x9}]\n")
	list := hostileErrors(t, b.String(), 2*time.Second)
	if !strings.Contains(list.Error(), "document too large") && !strings.Contains(list.Error(), "unknown field") {
		t.Fatalf("errors = %v", list)
	}
}

func TestHostileManyDocuments(t *testing.T) {
	var b strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d}\n", i)
	}
	files := map[string][]byte{"ns.yaml": []byte(b.String()), "app.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"), "README.md": []byte("---\n---\n")}
	start := time.Now()
	list := CheckLimits(files, Limits{MaxObjects: 10000, MaxBytes: 64 << 20})
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("CheckLimits took %v", d)
	}
	if len(list) != 1 || list[0].File != "ns.yaml" || !strings.Contains(list[0].Message, "holds 100001 YAML documents (100000 in this file), more than the limit of 10000") {
		t.Fatalf("errors = %v", list)
	}
	list = CheckLimits(files, Limits{MaxObjects: 200000, MaxBytes: 1 << 20})
	if len(list) != 1 || list[0].File != "ns.yaml" || !strings.Contains(list[0].Message, "revision too large") {
		t.Fatalf("errors = %v", list)
	}
	if list := CheckLimits(files, Limits{}); list != nil {
		t.Fatalf("no limits: %v", list)
	}
}

// A List counts as one document before decoding; its items count after.
func TestCheckObjectCountList(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "- {apiVersion: v1, kind: Namespace, metadata: {name: ns%d}}\n", i)
	}
	files := map[string][]byte{"list.yaml": []byte(b.String())}
	if list := CheckLimits(files, Limits{MaxObjects: 10}); list != nil {
		t.Fatalf("before decoding: %v", list)
	}
	set, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	list := CheckObjectCount(set, Limits{MaxObjects: 10})
	if len(list) != 1 || list[0].File != "list.yaml" || !strings.Contains(list[0].Message, "declares 20 objects (20 from this file), more than the limit of 10") {
		t.Fatalf("errors = %v", list)
	}
}

func TestCountDocuments(t *testing.T) {
	for in, want := range map[string]int{
		"":                            0,
		"# only a comment\n":          0,
		"a: 1\n":                      1,
		"---\na: 1\n":                 1,
		"a: 1\n---\nb: 2\n---\n":      3,
		"a: |\n  ---x\n---  \nb: 1\n": 2,
		"--- {a: 1}\n--- {b: 2}":      2,
		"a: 1\r\n---\r\nb: 1\r\n":     2,
		"a: 1\r---\rb: 2\r---\rc: 3":  3, // lone CRs break lines too (fuzzing)
		"#\r00":                       1,
		"a: '\n----\n'\n":             1,
		"a: 1\n...\nb: 1\n...\n":      2,
		"%YAML 1.2\n---\na: 1\n":      2,
	} {
		if got := CountDocuments([]byte(in)); got != want {
			t.Errorf("CountDocuments(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestLoadDirRefusedLinks: a work tree is read as the reconciler reads Git:
// a dangling link, or one to a directory, named as a manifest, is refused
// by name rather than skipped.
func TestLoadDirRefusedLinks(t *testing.T) {
	for to, want := range map[string]string{
		"nowhere.yaml": "is a symbolic link to nowhere.yaml, which does not exist",
		"base":         "is a symbolic link to base, which is not a regular file",
	} {
		dir := writeTree(t, map[string]string{"base/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"})
		if err := os.Symlink(to, filepath.Join(dir, "app.yaml")); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDir(dir)
		var list ErrorList
		if !errors.As(err, &list) || len(list) != 1 || list[0].File != "app.yaml" || !strings.Contains(list[0].Message, want) {
			t.Errorf("link to %s: err = %v, want %q", to, err, want)
		}
	}
}

// TestHostileErrorText: a megabyte name is quoted in its error, and a
// hundred of them would make a status of hundreds of megabytes: each part
// of an error is cut to maxErrorText bytes, saying how long it was.
func TestHostileErrorText(t *testing.T) {
	name := strings.Repeat("K", 100000)
	doc := strings.Repeat("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+name+"}\n---\n", 110)
	_, err := Load(map[string][]byte{"app.yaml": []byte(doc)})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != MaxErrors+1 {
		t.Fatalf("err = %.300v, want %d errors and a count of the rest", err, MaxErrors)
	}
	if n := len(err.Error()); n > 300<<10 {
		t.Errorf("the errors hold %d bytes", n)
	}
	if e := list[0]; !strings.Contains(e.Object, "… (cut: 100010 bytes)") || e.File != "app.yaml" || e.Line != 3 {
		t.Errorf("first error %.300v", e)
	}
}
