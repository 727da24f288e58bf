package render

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// TestLoadOverlay loads testdata/shop as ctl validate does: a Namespace in
// plain YAML beside an overlay (namespace, namePrefix/nameSuffix, labels,
// commonLabels, commonAnnotations, images, replicas, a strategic-merge and
// a JSON 6902 patch) of a base below it.
func TestLoadOverlay(t *testing.T) {
	set, err := LoadDir("testdata/shop")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range set.Keys() {
		keys = append(keys, k.String()+"@"+set.Sources[k].File)
	}
	want := "Deployment/shop/prod-web-v2@app/kustomization.yaml Namespace/shop@namespace.yaml"
	if got := strings.Join(keys, " "); got != want {
		t.Fatalf("objects = %s\nwant      %s", got, want)
	}
	d := set.Objects[spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "shop", Name: "prod-web-v2"}].(*spec.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"replicas", *d.Spec.Replicas, int32(4)},
		{"image", c.Image, "registry.example/web:2.4.1"},
		{"env from the strategic-merge patch", fmt.Sprintln(len(c.Env), c.Env[0].Name, c.Env[0].Value), "1 MODE production\n"},
		{"memory limit", memory(c.Resources.Limits), "256Mi"},
		{"labels", fmt.Sprint(d.Labels), "map[env:prod team:storefront]"},
		{"selector (commonLabels includes selectors, labels does not)", fmt.Sprint(d.Spec.Selector.MatchLabels), "map[app:web env:prod]"},
		{"annotation", d.Annotations["owner"], "storefront@example.com"},
		{"port from the JSON 6902 patch", c.Ports[0].ContainerPort, int32(8080)},
		{"line of a rendered object", set.Sources[spec.KeyOf(d)].Line, 0},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

func memory(l map[string]resource.Quantity) string {
	q := l["memory"]
	return q.String()
}

// tree builds a revision's files from name → text.
func tree(kv ...string) map[string][]byte {
	files := map[string][]byte{}
	for i := 0; i+1 < len(kv); i += 2 {
		files[kv[i]] = []byte(kv[i+1])
	}
	return files
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "web:1"}]
`

func keysOf(t *testing.T, files map[string][]byte) string {
	t.Helper()
	set, err := Load(files)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var keys []string
	for _, k := range set.Keys() {
		keys = append(keys, k.String()+"@"+set.Sources[k].File)
	}
	return strings.Join(keys, " ")
}

// TestRootRule checks which directories are built and which files load as
// plain YAML (the rule of docs/kustomize.md, Flux's).
func TestRootRule(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"no kustomization: plain YAML as before", tree("a/web.yaml", deployment, "README.md", "{"),
			"Deployment/default/web@a/web.yaml"},
		{"a kustomization at the top renders the whole tree, unlisted files included in nothing",
			tree("kustomization.yaml", "resources: [apps/web.yaml]\nnamePrefix: k-\n", "apps/web.yaml", deployment,
				"other/unlisted.yaml", "kind: [ # never read\n"),
			"Deployment/default/k-web@kustomization.yaml"},
		{"top-most kustomizations are built; plain YAML elsewhere loads; files below a kustomization load once",
			tree("one/kustomization.yml", "resources: [web.yaml]\nnamePrefix: one-\n", "one/web.yaml", deployment,
				"one/nested/kustomization.yaml", "resources: [../web.yaml]\n",
				"two/Kustomization", "resources: [web.yaml]\nnamePrefix: two-\n", "two/web.yaml", deployment,
				"plain/web.yaml", deployment),
			"Deployment/default/one-web@one/kustomization.yml Deployment/default/two-web@two/Kustomization Deployment/default/web@plain/web.yaml"},
		{"a Component is only included, never built alone",
			tree("app/kustomization.yaml", "resources: [base]\ncomponents: [../replicas]\n",
				"app/base/kustomization.yaml", "resources: [web.yaml]\nnamePrefix: base-\n", "app/base/web.yaml", deployment,
				"replicas/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nreplicas: [{name: base-web, count: 3}]\n"),
			"Deployment/default/base-web@app/kustomization.yaml"},
		{"dot-directories are never read",
			tree(".github/kustomization.yaml", "resources: [missing.yaml]\n", "web.yaml", deployment),
			"Deployment/default/web@web.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keysOf(t, tc.files); got != tc.want {
				t.Errorf("objects = %s\nwant      %s", got, tc.want)
			}
		})
	}
}

// TestRenderErrors checks that every failure names the kustomization file,
// the line when the problem is in it, and what failed; and that a rendered
// object failing validation names the kustomization, the object and the
// field.
func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  []string // one line of the error list each, in order
	}{
		{"missing resource", tree("app/kustomization.yaml", "resources:\n- web.yaml\n- gone.yaml\n", "app/web.yaml", deployment),
			[]string{`app/kustomization.yaml:3: resources[1]: resource "gone.yaml" not found: no file or directory app/gone.yaml in the revision`}},
		{"remote base", tree("kustomization.yaml", "resources:\n- github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v5.0.0\n- https://example.com/web.yaml\n"),
			[]string{
				`kustomization.yaml:2: resources[0]: remote base "github.com/kubernetes-sigs/kustomize/examples/helloWorld?ref=v5.0.0": Stevedore renders without network; copy it into the repository and refer to it by a relative path`,
				`kustomization.yaml:3: resources[1]: remote base "https://example.com/web.yaml": Stevedore renders without network; copy it into the repository and refer to it by a relative path`,
			}},
		{"remote patch file", tree("kustomization.yaml", "resources: [web.yaml]\npatches:\n- path: https://example.com/p.yaml\n", "web.yaml", deployment),
			[]string{`kustomization.yaml:3: patches[0].path: remote file "https://example.com/p.yaml": Stevedore renders without network; copy it into the repository`}},
		{"cycle", tree("a/kustomization.yaml", "resources: [../b]\n", "b/kustomization.yaml", "resources:\n- ../c\n", "c/kustomization.yaml", "resources: [../b]\n"),
			[]string{`c/kustomization.yaml:1: kustomizations include each other in a cycle: b → c → b`}},
		{"outside the tracked path", tree("app/kustomization.yaml", "resources: [../../base]\n"),
			[]string{`app/kustomization.yaml:1: resources[0]: "../../base" is outside the tracked path: only the revision's files are rendered`}},
		{"directory without a kustomization", tree("app/kustomization.yaml", "resources: [../base]\n", "base/web.yaml", deployment),
			[]string{`app/kustomization.yaml:1: resources[0]: directory "../base" holds no kustomization.yaml: kustomize includes a directory only through its kustomization`}}, // base/web.yaml is plain YAML outside every kustomization.

		{"Helm chart", tree("kustomization.yaml", "helmCharts:\n- name: redis\n  repo: https://charts.example\n"),
			[]string{`kustomization.yaml:1: helmCharts: Helm charts are not rendered by Stevedore: render the chart with helm template and commit its output (see docs/kustomize.md)`}},
		{"invalid YAML in the kustomization", tree("kustomization.yaml", "resources:\n  - web.yaml\n bad: [\n"),
			[]string{`kustomization.yaml:2: invalid YAML: did not find expected key`}},
		{"bad patch", tree("kustomization.yaml", "resources: [web.yaml]\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: replace\n      path: /spec/nope/0\n      value: 1\n", "web.yaml", deployment),
			[]string{`kustomization.yaml: kustomize build failed: replace operation does not apply: doc is missing path: /spec/nope/0`}},
		{"patch file missing", tree("kustomization.yaml", "resources: [web.yaml]\npatches:\n- path: nope.yaml\n", "web.yaml", deployment),
			[]string{`kustomization.yaml:3: kustomize build failed: trouble configuring builtin PatchTransformer`}},
		{"unknown field", tree("kustomization.yaml", "resources: [web.yaml]\nnamPrefix: x-\n", "web.yaml", deployment),
			[]string{`kustomization.yaml:2: kustomize build failed: invalid Kustomization: json: unknown field "namPrefix"`}},
		{"invalid rendered object", tree("kustomization.yaml", "resources: [web.yaml]\nreplicas: [{name: web, count: -2}]\n", "web.yaml", deployment),
			[]string{
				`kustomization.yaml: Deployment default/web: spec.replicas: invalid value -2: must be greater than or equal to 0`,
			}},
		{"object declared by plain YAML and by a kustomization", tree("k/kustomization.yaml", "resources: [web.yaml]\n", "k/web.yaml", deployment, "web.yaml", deployment),
			[]string{`k/kustomization.yaml: Deployment default/web: declared twice: web.yaml:1 and k/kustomization.yaml`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.files)
			var list spec.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want a spec.ErrorList", err)
			}
			lines := strings.Split(list.Error(), "\n")
			if len(lines) < len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(lines), len(tc.want), list.Error())
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d =\n  %s\nwant it to start with\n  %s", i, lines[i], w)
				}
			}
		})
	}
}

// TestFileSizeCap checks that a file under a kustomization past MaxFileSize
// is refused by name, both when read from a directory and when it arrives
// in a revision from Git.
func TestFileSizeCap(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	files := tree("app/kustomization.yaml", "resources: [web.yaml]\n", "app/web.yaml", deployment)
	files["app/blob.bin"] = big
	files["elsewhere/blob.bin"] = big // outside every kustomization: never read
	_, err := Load(files)
	want := fmt.Sprintf("app/blob.bin: file is %d bytes: a file under a kustomization may be at most 4 MiB", len(big))
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load: err = %v\nwant it to start with %s", err, want)
	}

	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = ReadDir(dir)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ReadDir: err = %v\nwant it to start with %s", err, want)
	}
	os.Remove(filepath.Join(dir, "app", "blob.bin"))
	got, err := ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "app/kustomization.yaml app/web.yaml" {
		t.Errorf("ReadDir read %q: a large file outside every kustomization is not read", names)
	}
}

// TestDeterministic renders the same revision many times, as every
// reconciler's raft state machine does, and wants the same objects each
// time.
func TestDeterministic(t *testing.T) {
	files, err := ReadDir("testdata/examples")
	if err != nil {
		t.Fatal(err)
	}
	l := newLayout(files)
	first, err := build(newMemFS(l.visible(files), files), "generators")
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		out, err := build(newMemFS(newLayout(files).visible(files), files), "generators")
		if err != nil || string(out) != string(first) {
			t.Fatalf("render differs (err %v):\n%s\nvs\n%s", err, out, first)
		}
	}
}

// TestCache checks that a second render of the same files is served from
// the cache, and that changing any file kustomize reads (here a patch, not
// the kustomization) renders again.
func TestCache(t *testing.T) {
	files := tree("app/kustomization.yaml", "resources: [web.yaml]\npatches: [{path: replicas.yaml}]\n", "app/web.yaml", deployment,
		"app/replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n")
	replicas := func() int32 {
		t.Helper()
		set, err := Load(files)
		if err != nil {
			t.Fatal(err)
		}
		return *set.Objects[spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: "web"}].(*spec.Deployment).Spec.Replicas
	}
	if got := replicas(); got != 3 {
		t.Fatalf("replicas = %d, want 3", got)
	}
	l := newLayout(files)
	if _, ok := cache.get(digest(l.visible(files), files), "app"); !ok {
		t.Error("the render of app is not in the cache")
	}
	if got := replicas(); got != 3 {
		t.Fatalf("replicas from the cache = %d, want 3", got)
	}
	files["app/replicas.yaml"] = []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}\n")
	if got := replicas(); got != 5 {
		t.Errorf("replicas after the patch changed = %d, want 5: a stale render was served", got)
	}
}

// TestLoaderNetwork: a Service rendered by kustomize is checked against the
// Loader's network, and refused at its kustomization (no line: the author
// never sees kustomize's output) with the object and field.
func TestLoaderNetwork(t *testing.T) {
	files := map[string][]byte{
		"app/kustomization.yaml": []byte("resources: [svc.yaml]\nnamePrefix: prod-\ncommonLabels: {env: prod}\n"),
		"app/svc.yaml": []byte(`apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080}]
`),
	}
	set, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	s := set.Objects[spec.ObjectKey{Kind: spec.KindService, Namespace: "default", Name: "prod-web"}].(*spec.Service)
	if fmt.Sprint(s.Spec.Selector) != "map[app:web env:prod]" {
		t.Errorf("selector = %v: commonLabels select too", s.Spec.Selector)
	}
	ld := Loader{Network: spec.Network{ServiceCIDR: netip.MustParsePrefix("10.100.0.0/16"), NodePortMin: 31000, NodePortMax: 31999}}
	_, err = ld.Load(files)
	want := `app/kustomization.yaml: Service default/prod-web: spec.clusterIP: invalid value "10.96.0.10": not in the cluster's service CIDR 10.100.0.0/16
app/kustomization.yaml: Service default/prod-web: spec.ports[0].nodePort: invalid value 30080: not in the cluster's node-port range 31000-31999`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if _, _, err := ld.LoadCached(files, nil); err == nil {
		t.Error("LoadCached ignored the network")
	}
}
