package reconcile

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestFieldPaths checks how each kind of step renders: struct fields by
// their manifest names (inline TypeMeta, metadata), list elements by name,
// by containerPort or by index, map keys plain or quoted, pointers (set,
// unset), nil against empty, quantities and int-or-strings as written.
func TestFieldPaths(t *testing.T) {
	type edit func(d *spec.Deployment)
	c0 := func(d *spec.Deployment) *spec.Container { return &d.Spec.Template.Spec.Containers[0] }
	for _, c := range []struct {
		name string
		edit edit
		want []FieldChange
	}{
		{"pointer scalar", func(d *spec.Deployment) { d.Spec.Replicas = int32p(5) },
			[]FieldChange{{Path: "spec.replicas", Op: FieldChanged, Old: "2", New: "5"}}},
		{"pointer unset", func(d *spec.Deployment) { d.Spec.Replicas = nil },
			[]FieldChange{{Path: "spec.replicas", Op: FieldRemoved, Old: "2"}}},
		{"list element by name", func(d *spec.Deployment) { c0(d).Image = "img:2" },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].image", Op: FieldChanged, Old: "img:1", New: "img:2"}}},
		{"list element added, by name", func(d *spec.Deployment) {
			d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, spec.Container{Name: "side", Image: "busybox"})
		}, []FieldChange{{Path: "spec.template.spec.containers[name=side]", Op: FieldAdded, New: `{"name":"side","image":"busybox","resources":{}}`}}},
		{"port by containerPort", func(d *spec.Deployment) { c0(d).Ports = []spec.ContainerPort{{ContainerPort: 443}} },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].ports[containerPort=443]", Op: FieldAdded, New: `{"containerPort":443}`}}},
		{"env by name", func(d *spec.Deployment) { c0(d).Env = []spec.EnvVar{{Name: "MODE", Value: "x"}} },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].env[name=MODE]", Op: FieldAdded, New: `{"name":"MODE","value":"x"}`}}},
		{"list element by index", func(d *spec.Deployment) { c0(d).Args = []string{"-v"} },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].args[0]", Op: FieldAdded, New: "-v"}}},
		{"map key plain", func(d *spec.Deployment) { d.Labels = map[string]string{"tier": "db"} },
			[]FieldChange{{Path: "metadata.labels.tier", Op: FieldAdded, New: "db"}}},
		{"map key quoted", func(d *spec.Deployment) { d.Annotations = map[string]string{"app.kubernetes.io/name": "web"} },
			[]FieldChange{{Path: `metadata.annotations["app.kubernetes.io/name"]`, Op: FieldAdded, New: "web"}}},
		{"quantity as written", func(d *spec.Deployment) {
			c0(d).Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("250m")}
		}, []FieldChange{{Path: "spec.template.spec.containers[name=main].resources.requests.cpu", Op: FieldChanged, Old: "10m", New: "250m"}}},
		{"same quantity written differently", func(d *spec.Deployment) {
			c0(d).Resources.Requests = spec.ResourceList{spec.ResourceCPU: resource.MustParse("0.01")}
		}, nil},
		{"nil and empty are the same", func(d *spec.Deployment) { c0(d).Env = []spec.EnvVar{}; d.Labels = map[string]string{} }, nil},
		{"empty string is shown", func(d *spec.Deployment) { c0(d).Image = "" },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].image", Op: FieldChanged, Old: "img:1", New: `""`}}},
		{"pointer to an empty struct against nil", func(d *spec.Deployment) {
			d.Spec.Template.Spec.Affinity = &spec.Affinity{}
		}, []FieldChange{{Path: "spec.template.spec.affinity", Op: FieldAdded, New: "{}"}}},
		{"int or string", func(d *spec.Deployment) {
			d.Spec.Strategy.RollingUpdate = &spec.RollingUpdateDeployment{MaxSurge: ptr(spec.FromString("50%"))}
		}, []FieldChange{{Path: "spec.strategy.rollingUpdate", Op: FieldAdded, New: `{"maxSurge":"50%"}`}}},
		{"long values are cut", func(d *spec.Deployment) { c0(d).Command = []string{strings.Repeat("x", 200)} },
			[]FieldChange{{Path: "spec.template.spec.containers[name=main].command[0]", Op: FieldAdded, New: strings.Repeat("x", maxValueLen) + "…"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := deployment("default", "web", 2, "img:1")
			a.Spec.Template.Spec.Containers[0].Name = "main"
			n := deployment("default", "web", 2, "img:1")
			n.Spec.Template.Spec.Containers[0].Name = "main"
			c.edit(n)
			got := fieldChanges(spec.KeyOf(a), a, n)
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("field changes (-want +got):\n%s", d)
			}
			ch := Diff(setOf(a), setOf(n))
			if (len(ch) == 0) != (c.want == nil) {
				t.Errorf("Diff reports %d changes for %d field changes", len(ch), len(c.want))
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// testSecret stands for Kubernetes' v1 Secret, which Stevedore does not
// load yet: the redaction must not wait for it.
type testSecret struct {
	spec.TypeMeta   `json:",inline"`
	spec.ObjectMeta `json:"metadata,omitempty"`
	Type            string            `json:"type,omitempty"`
	Data            map[string][]byte `json:"data,omitempty"`
	StringData      map[string]string `json:"stringData,omitempty"`
}

func secret(name string, data map[string][]byte, stringData map[string]string) *testSecret {
	return &testSecret{TypeMeta: spec.TypeMeta{APIVersion: "v1", Kind: KindSecret}, ObjectMeta: spec.ObjectMeta{Name: name, Namespace: "default"},
		Type: "Opaque", Data: data, StringData: stringData}
}

// secretValues are the values the tests put in Secrets, in every form they
// could leak in: as written, and base64 (how []byte marshals).
var secretValues = []string{"certA", "Y2VydEE=", "certB", "Y2VydEI=", "hunter2", "aHVudGVyMg==", "s3cr3t-token", "czNjcjN0LXRva2Vu", "new-password", "bmV3LXBhc3N3b3Jk", "kept-value", "a2VwdC12YWx1ZQ=="}

// TestSecretRedacted checks that no value of a Secret appears in a change,
// whether it is created, changed or deleted, while what changed shows.
func TestSecretRedacted(t *testing.T) {
	old := secret("db", map[string][]byte{"password": []byte("hunter2"), "kept": []byte("kept-value"), "tls.crt": []byte("certA")}, map[string]string{"token": "s3cr3t-token"})
	nu := secret("db", map[string][]byte{"password": []byte("new-password"), "kept": []byte("kept-value"), "tls.crt": []byte("certB")}, nil)
	nu.Labels = map[string]string{"rotated": "yes"}
	for _, c := range []struct {
		name      string
		a, n      *spec.Set
		wantDiff  []string
		wantField []FieldChange
	}{
		{"changed", setOf(old), setOf(nu),
			[]string{"-  password: " + RedactedValue, "+  password: " + RedactedChangedValue, "   kept: " + RedactedValue, "-  token: " + RedactedValue, "+    rotated: \"yes\""},
			[]FieldChange{
				{Path: "metadata.labels.rotated", Op: FieldAdded, New: "yes"},
				{Path: "data.password", Op: FieldChanged, Redacted: true},
				{Path: `data["tls.crt"]`, Op: FieldChanged, Redacted: true},
				{Path: "stringData.token", Op: FieldRemoved, Redacted: true},
			}},
		{"created", nil, setOf(old), []string{"+  password: " + RedactedValue, "+  token: " + RedactedValue}, nil},
		{"deleted", setOf(old), nil, []string{"-  password: " + RedactedValue}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := Diff(c.a, c.n)
			if len(ch) != 1 {
				t.Fatalf("%d changes", len(ch))
			}
			all := ch[0].Diff
			for _, f := range ch[0].Fields {
				all += f.Path + f.Old + f.New
			}
			for _, v := range secretValues {
				if strings.Contains(all, v) {
					t.Errorf("value %q shown:\n%s\n%+v", v, ch[0].Diff, ch[0].Fields)
				}
			}
			for _, want := range c.wantDiff {
				if !strings.Contains(ch[0].Diff, want+"\n") {
					t.Errorf("diff lacks %q:\n%s", want, ch[0].Diff)
				}
			}
			if d := cmp.Diff(c.wantField, ch[0].Fields); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
		})
	}
	// An object of another kind with a data field is not redacted.
	cm := secret("cfg", map[string][]byte{"k": []byte("visible")}, nil)
	cm.Kind = "ConfigMap"
	if ch := Diff(nil, setOf(cm)); !strings.Contains(ch[0].Diff, "dmlzaWJsZQ==") {
		t.Errorf("a ConfigMap's data is redacted:\n%s", ch[0].Diff)
	}
}

// TestUnifiedDiff checks the unified diff's shape: headers, only the
// changed hunks with 3 lines of context, whole objects when created.
func TestUnifiedDiff(t *testing.T) {
	a := deployment("shop", "web", 2, "img:1")
	n := deployment("shop", "web", 3, "img:2")
	d := Diff(setOf(a), setOf(n))[0].Diff
	want := `--- a/Deployment/shop/web
+++ b/Deployment/shop/web
@@ -4,7 +4,7 @@
   name: web
   namespace: shop
 spec:
-  replicas: 2
+  replicas: 3
   selector:
     matchLabels:
       app: web
@@ -15,7 +15,7 @@
         app: web
     spec:
       containers:
-      - image: img:1
+      - image: img:2
         name: main
         resources:
           requests:
`
	if d != want {
		t.Errorf("diff:\n%s\nwant:\n%s", d, want)
	}
	created := Diff(nil, setOf(n))[0].Diff
	if !strings.HasPrefix(created, "--- /dev/null\n+++ b/Deployment/shop/web\n@@ -0,0 +1,") || strings.Count(created, "\n+") != strings.Count(created, "\n")-2 {
		t.Errorf("created:\n%s", created)
	}
}

// TestDiffRealManifest edits a real Deployment (spec's golden copy of a
// public manifest: affinity, spread constraints, tolerations, two
// containers) the way pull requests do and checks the paths reviewers get,
// in the object's field order, and one hunk per distant change.
func TestDiffRealManifest(t *testing.T) {
	b, err := os.ReadFile("../spec/testdata/golden/k8s-deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base, err := spec.Load(map[string][]byte{"web.yaml": b})
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.NewReplacer(
		"image: nginx:1.25.3", "image: nginx:1.27.0",
		"value: Europe/Paris", "value: UTC",
		"cpu: \"1\"", "cpu: 1500m",
		"tolerationSeconds: 300", "tolerationSeconds: 60",
	).Replace(string(b))
	next, err := spec.Load(map[string][]byte{"web.yaml": []byte(edited)})
	if err != nil {
		t.Fatal(err)
	}
	ch := Diff(base, next)
	var got []string
	for _, c := range ch {
		for _, f := range c.Fields {
			got = append(got, c.Key.String()+" "+f.Path+": "+f.Old+" → "+f.New)
		}
	}
	var key string
	for k := range next.Objects {
		if k.Kind == spec.KindDeployment {
			key = k.String()
		}
	}
	want := []string{
		key + " spec.template.spec.containers[name=nginx].image: nginx:1.25.3 → nginx:1.27.0",
		key + " spec.template.spec.containers[name=nginx].env[name=TZ].value: Europe/Paris → UTC",
		key + " spec.template.spec.containers[name=nginx].resources.limits.cpu: 1 → 1500m",
		key + " spec.template.spec.tolerations[1].tolerationSeconds: 300 → 60",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("field changes (-want +got):\n%s", d)
	}
	if len(ch) != 1 || strings.Count(ch[0].Diff, "\n@@ ") != 3 || !strings.Contains(ch[0].Diff, "\n-        image: nginx:1.25.3\n") || !strings.Contains(ch[0].Diff, "\n+        image: nginx:1.27.0\n") {
		t.Errorf("unified diff:\n%s", ch[0].Diff)
	}
}
