package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// The diff goldens are rewritten by `go test ./cmd/ctl -run TestDiffGolden
// -rewrite`, then review the diff.

// The applied revision of the golden test: a Deployment, a worker and a
// bare Pod.
const goldenApplied = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app.kubernetes.io/name: web}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.local/web:1.0
        ports: [{name: http, containerPort: 8080}]
        env: [{name: MODE, value: prod}]
        resources:
          requests: {cpu: 100m, memory: 64Mi}
      - name: log
        image: registry.local/log:2
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  replicas: 1
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: registry.local/worker:7
---
apiVersion: v1
kind: Pod
metadata: {name: migrate, namespace: shop}
spec:
  restartPolicy: Never
  containers:
  - name: migrate
    image: registry.local/migrate:1
`

// goldenNext scales web to 5 and changes its image, its env and a limit;
// deletes the Pod; creates a Deployment too big for any node.
var goldenNext = strings.NewReplacer(
	"replicas: 3", "replicas: 5",
	"web:1.0", "web:1.1",
	"value: prod}]", "value: canary}, {name: DEBUG, value: \"1\"}]",
	"requests: {cpu: 100m, memory: 64Mi}", "requests: {cpu: 100m, memory: 64Mi}\n          limits: {memory: 256Mi}",
).Replace(goldenApplied[:strings.Index(goldenApplied, "---\napiVersion: v1\nkind: Pod")]) + `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: big, namespace: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: big}
  template:
    metadata:
      labels: {app: big}
    spec:
      containers:
      - name: big
        image: registry.local/big:1
        resources:
          requests: {memory: 64Gi}
`

// goldenResult diffs the golden revisions with the core, as the reconciler
// does, and places the started pods as a dry run on two nodes would.
func goldenResult(t *testing.T) *api.DiffResult {
	t.Helper()
	base, err := spec.Load(map[string][]byte{"shop.yaml": []byte(goldenApplied)})
	if err != nil {
		t.Fatal(err)
	}
	next, err := spec.Load(map[string][]byte{"shop.yaml": []byte(goldenNext)})
	if err != nil {
		t.Fatal(err)
	}
	res := &api.DiffResult{
		Applied: &api.Commit{Hash: "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"},
		Head:    &api.Commit{Hash: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"},
		Changes: []api.ObjectChange{},
	}
	for _, ch := range reconcile.Diff(base, next) {
		res.Changes = append(res.Changes, wireChange(ch))
	}
	n := 0
	for _, ch := range res.Changes {
		for _, p := range ch.PodsStarted {
			if strings.Contains(p, "big") {
				res.Placements = append(res.Placements, api.PodPlacement{Pod: p, Reason: "Unschedulable", Message: "0/2 nodes are available: 2 Insufficient memory."})
				continue
			}
			res.Placements = append(res.Placements, api.PodPlacement{Pod: p, Node: fmt.Sprintf("node-%c", 'a'+n%2)})
			n++
		}
	}
	return res
}

// TestDiffGolden renders a realistic change set in every format: a
// Deployment scaled with a new image, env and limit (pods started on nodes
// and stopped), a Deployment created whose pods stay Pending, a Pod
// deleted.
func TestDiffGolden(t *testing.T) {
	f := &fakeReconciler{diff: *goldenResult(t)}
	url := startFake(t, f)
	for _, c := range []struct{ file, format string }{
		{"text.txt", "text"}, {"markdown.md", "markdown"}, {"diff.json", "json"},
	} {
		code, out, errOut := ctl(t, url, "diff", "-o", c.format)
		if code != exitChanges || errOut != "" {
			t.Errorf("-o %s: exit %d, stderr %q", c.format, code, errOut)
		}
		golden(t, filepath.Join("testdata", "diff", c.file), out)
	}
	// What the text format must say, whatever the golden file holds.
	_, out, _ := ctl(t, url, "diff")
	for _, want := range []string{
		"changed Deployment/shop/web\n",
		"  spec.replicas: 3 → 5\n",
		"  spec.template.spec.containers[name=web].image: registry.local/web:1.0 → registry.local/web:1.1\n",
		"  spec.template.spec.containers[name=web].env[name=MODE].value: prod → canary\n",
		`  spec.template.spec.containers[name=web].env[name=DEBUG]: (none) → {"name":"DEBUG","value":"1"}` + "\n",
		"  spec.template.spec.containers[name=web].resources.limits.memory: (none) → 256Mi\n",
		"--- a/Deployment/shop/web\n+++ b/Deployment/shop/web\n@@ ",
		"-  replicas: 3\n+  replicas: 5\n",
		" → node-a\n", " → node-b\n",
		"created Deployment/shop/big\n",
		"→ Pending: 0/2 nodes are available: 2 Insufficient memory.\n",
		"--- /dev/null\n+++ b/Deployment/shop/big\n@@ -0,0 +1,",
		"deleted Pod/shop/migrate\n  - pod shop/migrate\n--- a/Pod/shop/migrate\n+++ /dev/null\n",
		"3 object(s) changed: 1 created, 1 changed, 1 deleted; 7 pod(s) started, 4 stopped.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "worker") {
		t.Errorf("an unchanged object is listed:\n%s", out)
	}
	// Not a terminal: no colour unless asked for.
	if strings.Contains(out, "\x1b[") {
		t.Error("colour in output to a pipe")
	}
	_, out, _ = ctl(t, url, "diff", "--color", "always")
	if !strings.Contains(out, ansiRed+"-  replicas: 3"+ansiReset) || !strings.Contains(out, ansiGreen+"+  replicas: 5"+ansiReset) {
		t.Errorf("--color always does not colour the diff:\n%q", out)
	}
	_, out, _ = ctl(t, url, "diff", "-o", "markdown", "--color", "always")
	if strings.Contains(out, "\x1b[") {
		t.Error("colour in markdown")
	}

	// The JSON is the documented document.
	_, out, _ = ctl(t, url, "diff", "-o", "json")
	var doc diffJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != "Diff" || doc.Summary != (diffJSONSummary{Objects: 3, Created: 1, Changed: 1, Deleted: 1, PodsStarted: 7, PodsStopped: 4}) ||
		len(doc.Objects) != 3 || doc.Objects[1].Name != "web" || doc.Objects[1].Fields[0] != (api.FieldChange{Path: "spec.replicas", Op: "changed", Old: "3", New: "5"}) ||
		doc.Objects[0].PodsStarted[0].Reason != "Unschedulable" || doc.Objects[2].Namespace != "shop" || doc.Objects[2].Action != "deleted" {
		t.Errorf("json document: %+v", doc)
	}

	// --max-lines cuts a created object, never a changed one.
	_, out, _ = ctl(t, url, "diff", "--max-lines", "5")
	if !strings.Contains(out, "+apiVersion: apps/v1\n+kind: Deployment\n+metadata:\n+  name: big\n+  namespace: shop\n… ") ||
		!strings.Contains(out, "-  replicas: 3\n+  replicas: 5\n") {
		t.Errorf("--max-lines 5:\n%s", out)
	}

	for _, bad := range [][]string{{"-o", "yaml"}, {"--color", "sometimes"}} {
		if code, _, errOut := ctl(t, url, append([]string{"diff"}, bad...)...); code != exitError || errOut == "" {
			t.Errorf("diff %v = %d %q", bad, code, errOut)
		}
	}
}

// golden compares got with the file, or rewrites it with -rewrite: the one
// golden check of ctl's output tests, with the project's flag name.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *rewrite {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (run with -rewrite and review the diff) (-want +got):\n%s", path, d)
	}
}

// TestDiffMarkdownCap checks that a large change set stays under
// --max-bytes and says what it left out.
func TestDiffMarkdownCap(t *testing.T) {
	res := api.DiffResult{Applied: &api.Commit{Hash: "1111111111111111111111111111111111111111"}, Head: &api.Commit{Hash: "2222222222222222222222222222222222222222"}}
	for i := range 500 {
		key := spec.ObjectKey{Kind: "Pod", Namespace: "default", Name: fmt.Sprintf("p-%03d", i)}
		res.Changes = append(res.Changes, api.ObjectChange{Key: key, Action: api.ActionCreated, PodsStarted: []string{"default/" + key.Name},
			Diff: "--- /dev/null\n+++ b/" + key.String() + "\n@@ -0,0 +1,3 @@\n+apiVersion: v1\n+kind: Pod\n+metadata: {name: " + key.Name + "}\n"})
	}
	url := startFake(t, &fakeReconciler{diff: res})
	_, out, _ := ctl(t, url, "diff", "-o", "markdown", "--max-bytes", "20000")
	if len(out) > 20000 || !strings.Contains(out, "| | … and ") || !strings.Contains(out, " of 500 object diffs are not shown, to keep this comment under 20000 bytes") {
		t.Errorf("capped markdown is %d bytes:\n%s", len(out), out[max(0, len(out)-600):])
	}
	_, out, _ = ctl(t, url, "diff", "-o", "markdown", "--max-bytes", "0")
	if strings.Count(out, "<details>") != 500 || strings.Contains(out, "not shown") {
		t.Errorf("--max-bytes 0 leaves sections out")
	}
}

// TestMarkdownEscapes checks that a value cannot break the comment: table
// cells, HTML and code fences.
func TestMarkdownEscapes(t *testing.T) {
	o := diffObject{ObjectChange: api.ObjectChange{Key: spec.ObjectKey{Kind: "Pod", Namespace: "default", Name: "p"}, Action: api.ActionChanged,
		Fields: []api.FieldChange{{Path: `metadata.annotations.note`, Op: api.FieldChanged, Old: "a|b", New: "</details><script>x</script> *y* `z`"}},
		Diff:   "--- a/Pod/default/p\n+++ b/Pod/default/p\n@@ -1 +1 @@\n-note: ```\n+note: ````\n"}}
	row, section := markdownRow(&o), markdownSection(&o, 0)
	for _, s := range []string{row, section} {
		if strings.Contains(s, "a|b") || strings.Contains(s, "<script>") || strings.Contains(s, "</details><") || strings.Contains(s, "*y*") {
			t.Errorf("unescaped value:\n%s", s)
		}
	}
	if strings.Count(row, "|") != 5 {
		t.Errorf("row has extra cells: %s", row)
	}
	if !strings.Contains(section, "`````diff\n") {
		t.Errorf("fence not longer than the content's backticks:\n%s", section)
	}
}

// TestDiffSecretValuesNeverShown: a v1 Secret changed between two
// revisions (as decrypted from SOPS files) shows which keys were added,
// removed or changed, never a value nor its base64, in every format.
func TestDiffSecretValuesNeverShown(t *testing.T) {
	mk := func(name string, data map[string][]byte, str map[string]string) *spec.Secret {
		return &spec.Secret{TypeMeta: spec.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "shop"}, Data: data, StringData: str}
	}
	setOf := func(objs ...spec.Object) *spec.Set {
		s := spec.NewSet()
		for _, o := range objs {
			s.Objects[spec.KeyOf(o)] = o
		}
		return s
	}
	applied := setOf(
		mk("db", map[string][]byte{"password": []byte("hunter2-old")}, map[string]string{"user": "admin-name"}),
		mk("gone", map[string][]byte{"key": []byte("deleted-value")}, nil))
	next := setOf(
		mk("db", map[string][]byte{"password": []byte("hunter2-new")}, map[string]string{"user": "admin-name", "extra": "added-value"}),
		mk("fresh", nil, map[string]string{"token": "created-value"}))
	res := api.DiffResult{Applied: &api.Commit{Hash: "1111111111111111111111111111111111111111"}, Head: &api.Commit{Hash: "2222222222222222222222222222222222222222"}}
	for _, ch := range reconcile.Diff(applied, next) {
		res.Changes = append(res.Changes, wireChange(ch))
	}
	url := startFake(t, &fakeReconciler{diff: res})
	values := []string{"hunter2-old", "hunter2-new", "admin-name", "added-value", "deleted-value", "created-value"}
	for _, v := range slices.Clone(values) {
		values = append(values, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	for _, args := range [][]string{{"diff"}, {"diff", "--color", "always"}, {"diff", "-o", "markdown"}, {"diff", "-o", "json"}} {
		code, out, _ := ctl(t, url, args...)
		if code != exitChanges {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, v := range values {
			if strings.Contains(out, v) {
				t.Errorf("%v shows the Secret value %q:\n%s", args, v, out)
			}
		}
		if !strings.Contains(out, "(value changed)") && args[len(args)-1] != "json" {
			t.Errorf("%v does not say the password changed:\n%s", args, out)
		}
		if !strings.Contains(out, api.RedactedChangedValue) || !strings.Contains(out, "stringData.extra") {
			t.Errorf("%v lacks the redacted diff:\n%s", args, out)
		}
	}
}

// TestDiffColorChoice checks --color auto: colour on a character device
// (a terminal; /dev/null stands in for one), never with NO_COLOR set, never
// into a pipe or a file.
func TestDiffColorChoice(t *testing.T) {
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, c := range []struct {
		out     io.Writer
		noColor string
		mode    string
		want    palette
	}{
		{dev, "", "auto", true},
		{dev, "1", "auto", false},
		{dev, "", "never", false},
		{file, "", "auto", false},
		{&strings.Builder{}, "", "auto", false},
		{&strings.Builder{}, "1", "always", true},
	} {
		cl := &cli{out: c.out, getenv: func(k string) string {
			if k == "NO_COLOR" {
				return c.noColor
			}
			return ""
		}}
		if got, err := cl.useColor(c.mode); err != nil || got != c.want {
			t.Errorf("%T NO_COLOR=%q --color %s: %v %v, want %v", c.out, c.noColor, c.mode, got, err, c.want)
		}
	}
}
