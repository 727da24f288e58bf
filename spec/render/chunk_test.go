package render

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// withChunkObjects runs f with chunks of n objects.
func withChunkObjects(t *testing.T, n int) {
	t.Helper()
	old := chunkObjects
	chunkObjects = n
	t.Cleanup(func() { chunkObjects = old })
}

// objects writes n objects of kind (Deployment, Pod, ReplicationController
// or Namespace) named prefix-i as one YAML stream; ns, when set, is each
// object's namespace.
func objects(kind, prefix, ns string, from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		if b.Len() > 0 {
			b.WriteString("---\n")
		}
		name := fmt.Sprintf("%s-%d", prefix, i)
		meta := "  name: " + name + "\n  labels: {app: " + name + ", tier: " + []string{"web", "db"}[i%2] + "}\n"
		if ns != "" {
			meta += "  namespace: " + ns + "\n"
		}
		pod := "      containers:\n        - name: main\n          image: registry.local/app:1\n        - name: side\n          image: registry.local/side:1\n"
		switch kind {
		case "Namespace":
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
		case "Pod":
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata:\n%sspec:\n  containers:\n  - {name: main, image: registry.local/app:1}\n", meta)
		case "Job":
			fmt.Fprintf(&b, "apiVersion: batch/v1\nkind: Job\nmetadata:\n%sspec:\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      restartPolicy: Never\n%s", meta, name, pod)
		case "CronJob":
			fmt.Fprintf(&b, "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n%sspec:\n  schedule: \"@hourly\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - {name: main, image: registry.local/app:1}\n", meta)
		case "ReplicaSet", "DaemonSet":
			fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: %s\nmetadata:\n%sspec:\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n%s", kind, meta, name, name, pod)
		case "ReplicationController":
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ReplicationController\nmetadata:\n%sspec:\n  replicas: 1\n  selector: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n%s", meta, name, name, pod)
		default:
			fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n%sspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n%s", meta, name, name, pod)
		}
	}
	return b.Bytes()
}

// layeredTree is a three-level tree using every field a chunked build
// allows: files and directories interleaved in resources, a base with
// namespace, namePrefix, commonLabels and a JSON 6902 patch by label, a
// middle layer with nameSuffix, labels (with selectors and templates),
// images and a strategic-merge patch from a file, and a top with another
// namespace, commonAnnotations, a patch deleting objects by name and one
// targeting Pods.
func layeredTree() map[string][]byte {
	return map[string][]byte{
		"kustomization.yaml": []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: top
commonAnnotations: {owner: team@example.com}
resources:
- namespaces.yaml
- mid
- pods.yaml
- other
patches:
- target: {kind: Deployment, name: "mid-d-1[0-4]-v2"}
  patch: |-
    $patch: delete
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: any}
- target: {kind: Pod}
  patch: |-
    - op: add
      path: /spec/containers/0/args
      value: [--verbose]
`),
		"namespaces.yaml": objects("Namespace", "ns", "", 0, 1),
		"pods.yaml":       objects("Pod", "pod", "", 0, 9),
		"mid/kustomization.yaml": []byte(`nameSuffix: -v2
labels:
- pairs: {env: prod}
  includeSelectors: true
  includeTemplates: true
images:
- name: registry.local/app
  newName: registry.example/app
  newTag: "2"
- name: registry.local/side
  digest: sha256:0123456789012345678901234567890123456789012345678901234567890123
resources:
- a.yaml
- base
- b.yaml
- rc.yaml
patches:
- path: env.yaml
  target: {kind: Deployment, labelSelector: "tier=web"}
`),
		"mid/env.yaml": []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: any}\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - {name: MODE, value: production}\n"),
		"mid/a.yaml":   objects("Deployment", "d", "", 0, 11),
		"mid/b.yaml":   objects("Deployment", "d", "", 11, 6),
		"mid/rc.yaml":  objects("ReplicationController", "rc", "keep", 0, 5),
		"mid/base/kustomization.yaml": []byte(`namespace: base
namePrefix: mid-
commonLabels: {layer: base}
resources:
- x.yaml
- y.yaml
- z.yaml
patches:
- target: {kind: Deployment, labelSelector: "tier=db"}
  patch: |-
    - op: replace
      path: /spec/replicas
      value: 3
`),
		"mid/base/x.yaml":          objects("Deployment", "d", "", 17, 8),
		"mid/base/y.yaml":          objects("Deployment", "d", "pinned", 25, 4),
		"mid/base/z.yaml":          objects("Pod", "p", "", 0, 7),
		"other/kustomization.yaml": []byte("resources: [o.yaml, jobs.yaml, cron.yaml, sets.yaml, daemons.yaml]\nnamePrefix: o-\nlabels:\n- pairs: {env: prod}\n  includeSelectors: true\n  includeTemplates: true\n"),
		"other/o.yaml":             objects("Deployment", "d", "", 0, 5),
		"other/jobs.yaml":          objects("Job", "j", "", 0, 4),
		"other/cron.yaml":          objects("CronJob", "cj", "", 0, 3),
		"other/sets.yaml":          objects("ReplicaSet", "rs", "", 0, 3),
		"other/daemons.yaml":       objects("DaemonSet", "ds", "", 0, 3),
	}
}

// oneFileTree is an overlay of a single file, cut into documents in every
// way kustomize accepts: a leading ---, separators with comments, a
// comment-only line before a document, and a literal block scalar ending
// a document with and without its newline (kustomize adds one to every
// document but the last).
func oneFileTree() map[string][]byte {
	var b bytes.Buffer
	b.WriteString("---\n")
	for i := 0; i < 23; i++ {
		if i > 0 {
			b.WriteString([]string{"---\n", "--- # next\n", "---   \n"}[i%3])
		}
		if i%4 == 1 {
			b.WriteString("# a comment before the object\n")
		}
		fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d-%d\n  annotations:\n    note: |\n      line one\n      line two", i)
		if i%2 == 0 {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: last\n  annotations:\n    note: |\n      no final newline")
	return map[string][]byte{
		"kustomization.yaml": []byte("resources: [overlay]\n"),
		"overlay/kustomization.yaml": []byte(`namespace: one
namePrefix: x-
resources:
- ../all/objects.yaml
patches:
- target: {kind: Deployment, name: "d-1.*"}
  patch: |-
    - {op: add, path: /spec, value: {replicas: 3}}
`),
		"all/objects.yaml": b.Bytes(),
	}
}

// TestChunkedBuildIdentical checks that building a tree in chunks renders
// the same bytes as building it whole, for chunks of every size from one
// object to the whole tree, on the benchmark's overlay and on a layered
// tree using every field a chunked build allows.
func TestChunkedBuildIdentical(t *testing.T) {
	trees := map[string]map[string][]byte{"bench": mustOverlay(110, 50), "layered": layeredTree(), "one file": oneFileTree()}
	for name, files := range trees {
		sizes := []int{1, 7, 50, 100, 1000}
		if name == "bench" {
			sizes = []int{50, 100, 1000} // one file is 50 objects
		}
		t.Run(name, func(t *testing.T) {
			l := newLayout(files)
			fsys := newMemFS(l.visible(files), files)
			whole, err := build(fsys, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range sizes {
				withChunkObjects(t, size)
				p := planChunks(l, files, "")
				if p == nil {
					if size < 50 || name == "bench" && size < 1000 {
						t.Fatalf("chunks of %d: the tree was not planned in chunks", size)
					}
					continue
				}
				out, ok := buildChunks(fsys, files, "", p)
				if !ok {
					t.Fatalf("chunks of %d: the chunked build failed", size)
				}
				if !bytes.Equal(out, whole) {
					t.Fatalf("chunks of %d (%d chunks) render differently from the whole build:\n%s\nwant\n%s", size, len(p.chunks), out, whole)
				}
			}
			if again, err := build(fsys, ""); err != nil || !bytes.Equal(again, whole) {
				t.Fatalf("the file system was not restored after the chunked builds (err %v)", err)
			}
		})
	}
}

// TestChunkedBuildFallsBack checks that a tree whose whole build fails
// because two objects get one id (in different chunks) fails the same way
// through buildRoot: the chunked output is dropped and kustomize's own
// error reported.
func TestChunkedBuildFallsBack(t *testing.T) {
	withChunkObjects(t, 5)
	cases := map[string]map[string][]byte{
		"same object in two files": {
			"kustomization.yaml": []byte("namePrefix: p-\nresources: [a.yaml, b.yaml]\n"),
			"a.yaml":             objects("Deployment", "d", "", 0, 6),
			"b.yaml":             objects("Deployment", "d", "", 5, 6),
		},
		"namespace makes two ids one": {
			"kustomization.yaml": []byte("namespace: bench\nresources: [a.yaml, b.yaml]\n"),
			"a.yaml":             objects("Deployment", "d", "", 0, 6),
			"b.yaml":             objects("Deployment", "d", "bench", 5, 6),
		},
		"a base and an overlay object share an id": {
			"kustomization.yaml":      []byte("resources: [a.yaml, base]\n"),
			"a.yaml":                  objects("Deployment", "x-d", "", 0, 6),
			"base/kustomization.yaml": []byte("namePrefix: x-\nresources: [b.yaml]\n"),
			"base/b.yaml":             objects("Deployment", "d", "", 3, 6),
		},
	}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			l := newLayout(files)
			if planChunks(l, files, "") == nil {
				t.Fatal("the tree was not planned in chunks: the case tests nothing")
			}
			_, want := build(newMemFS(l.visible(files), files), "")
			if want == nil {
				t.Fatal("the whole build succeeded: the case tests nothing")
			}
			_, err := buildRoot(l, newMemFS(l.visible(files), files), files, "")
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("buildRoot error = %v\nwant the whole build's %v", err, want)
			}
		})
	}
}

// TestPlanChunksRefuses lists what makes a tree build whole: every field,
// patch and kind whose effect may cross objects or ids. Each case adds to
// a tree of two files of Deployments that is planned in chunks.
func TestPlanChunksRefuses(t *testing.T) {
	withChunkObjects(t, 5)
	const resources = "resources: [d.yaml, e.yaml]\n"
	plain := func() map[string][]byte {
		return map[string][]byte{
			"d.yaml":             objects("Deployment", "d", "", 0, 6),
			"e.yaml":             objects("Deployment", "d", "", 6, 6),
			"kustomization.yaml": []byte(resources),
		}
	}
	if p := planChunks(newLayout(plain()), plain(), ""); p == nil {
		t.Fatal("the plain tree is not planned in chunks: the cases test nothing")
	}
	const patch = "patches:\n- target: {kind: Deployment}\n"
	cases := map[string]struct {
		kustomization string // replaces the plain tree's
		extra         map[string][]byte
	}{
		"a generator":                       {kustomization: resources + "configMapGenerator:\n- name: c\n  literals: [a=b]\n"},
		"replicas":                          {kustomization: resources + "replicas:\n- {name: d-1, count: 2}\n"},
		"replacements":                      {kustomization: resources + "replacements: []\n"},
		"sortOptions":                       {kustomization: resources + "sortOptions: {order: legacy}\n"},
		"bases":                             {kustomization: "bases: [b]\n" + resources, extra: map[string][]byte{"b/kustomization.yaml": []byte("resources: []\n")}},
		"a component":                       {kustomization: resources + "components: [c]\n", extra: map[string][]byte{"c/kustomization.yaml": []byte("kind: Component\n")}},
		"a patch without target":            {kustomization: resources + "patches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d-1}\n    spec: {replicas: 2}\n"},
		"a patch with options":              {kustomization: resources + patch + "  options: {allowNameChange: true}\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: renamed}\n"},
		"a JSON patch renaming":             {kustomization: resources + patch + "  patch: |-\n    - {op: replace, path: /metadata/name, value: x}\n"},
		"a JSON patch moving the namespace": {kustomization: resources + patch + "  patch: '[{\"op\": \"move\", \"from\": \"/metadata/namespace\", \"path\": \"/metadata/annotations/ns\"}]'\n"},
		"a JSON patch replacing metadata":   {kustomization: resources + patch + "  patch: |-\n    - {op: replace, path: /metadata, value: {name: x}}\n"},
		"a JSON patch changing the kind, from a file": {kustomization: resources + patch + "  path: p.yaml\n", extra: map[string][]byte{"p.yaml": []byte("- {op: replace, path: /kind, value: StatefulSet}\n")}},
		"a kind names refer to":                       {kustomization: "resources: [d.yaml, e.yaml, cm.yaml]\n", extra: map[string][]byte{"cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")}},
		"a HorizontalPodAutoscaler":                   {kustomization: "resources: [d.yaml, e.yaml, hpa.yaml]\n", extra: map[string][]byte{"hpa.yaml": []byte("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d-1}\n")}},
		"a Helm-generated object":                     {kustomization: "resources: [d.yaml, e.yaml, h.yaml]\n", extra: map[string][]byte{"h.yaml": []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: h\n  annotations: {config.kubernetes.io/helm-generated: \"true\"}\n")}},
		"a base reached twice": {kustomization: "resources: [d.yaml, e.yaml, b, c]\n", extra: map[string][]byte{
			"b/kustomization.yaml": []byte("resources: [../shared]\n"), "c/kustomization.yaml": []byte("resources: [../shared]\nnamePrefix: c-\n"),
			"shared/kustomization.yaml": []byte("resources: [p.yaml]\n"), "shared/p.yaml": objects("Pod", "p", "", 0, 3)}},
		"a kustomization of another kind": {kustomization: "kind: Component\n" + resources},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			files := plain()
			files["kustomization.yaml"] = []byte(c.kustomization)
			var k map[string]any
			if err := yaml.Unmarshal(files["kustomization.yaml"], &k); err != nil {
				t.Fatalf("the case's kustomization is invalid, it tests nothing: %v", err)
			}
			for n, b := range c.extra {
				files[n] = b
			}
			if p := planChunks(newLayout(files), files, ""); p != nil {
				t.Fatalf("planned %d chunks for a tree with %s:\n%s", len(p.chunks), name, files["kustomization.yaml"])
			}
		})
	}
}

// TestChunkedBuildRandomTrees builds random trees (one to three levels of
// kustomizations, each with a random mix of the fields a chunked build
// allows, over random objects of every chunkable kind, some colliding) in
// chunks of random sizes, and checks buildRoot renders what the whole
// build renders, or fails with its error.
func TestChunkedBuildRandomTrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"Deployment", "Pod", "ReplicationController"}
	fields := []string{
		"namespace: ns-%d\n", "namePrefix: p%d-\n", "nameSuffix: -s%d\n",
		"labels:\n- pairs: {l%d: v}\n  includeSelectors: true\n", "commonLabels: {c%d: v}\n",
		"commonAnnotations: {a%d: v}\n", "images:\n- {name: registry.local/app, newTag: \"%d\"}\n",
		"patches:\n- target: {kind: Deployment, labelSelector: tier=web}\n  patch: |-\n    - {op: add, path: /metadata/annotations/patched%d, value: \"yes\"}\n",
		"patches:\n- target: {kind: Pod, name: \".*-%d\"}\n  patch: |-\n    $patch: delete\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: any}\n",
		"patches:\n- target: {kind: ReplicationController}\n  patch: |-\n    apiVersion: v1\n    kind: ReplicationController\n    metadata: {name: any, labels: {rc%d: v}}\n    spec: {replicas: 2}\n",
	}
	built, failed := 0, 0
	for tree := 0; tree < 30; tree++ {
		files := map[string][]byte{}
		var level func(dir string, depth int) string
		level = func(dir string, depth int) string {
			var k bytes.Buffer
			for _, f := range fields {
				if rng.IntN(3) == 0 {
					fmt.Fprintf(&k, f, rng.IntN(4))
				}
			}
			var res []string
			for i := 0; i < 1+rng.IntN(3); i++ {
				if depth < 3 && rng.IntN(3) == 0 {
					sub := fmt.Sprintf("sub%d", i)
					level(path.Join(dir, sub), depth+1)
					res = append(res, sub)
					continue
				}
				name := fmt.Sprintf("f%d.yaml", i)
				ns := []string{"", "", "x"}[rng.IntN(3)]
				// Names from a small range so some trees collide.
				files[path.Join(dir, name)] = objects(kinds[rng.IntN(len(kinds))], "o", ns, rng.IntN(40), 1+rng.IntN(12))
				res = append(res, name)
			}
			fmt.Fprintf(&k, "resources: [%s]\n", strings.Join(res, ", "))
			files[path.Join(dir, "kustomization.yaml")] = k.Bytes()
			return dir
		}
		level("", 1)
		l := newLayout(files)
		want, wantErr := build(newMemFS(l.visible(files), files), "")
		withChunkObjects(t, 1+rng.IntN(15))
		p := planChunks(l, files, "")
		if p == nil {
			continue
		}
		if wantErr == nil {
			// A tree the whole build renders must render in chunks, not
			// through the fallback.
			if _, ok := buildChunks(newMemFS(l.visible(files), files), files, "", p); !ok {
				t.Errorf("tree %d: the chunked build failed where the whole build succeeds:\n%s", tree, files["kustomization.yaml"])
			}
		}
		got, err := buildRoot(l, newMemFS(l.visible(files), files), files, "")
		switch {
		case wantErr != nil && (err == nil || err.Error() != wantErr.Error()):
			t.Errorf("tree %d: buildRoot error %v, want the whole build's %v", tree, err, wantErr)
		case wantErr == nil && (err != nil || !bytes.Equal(got, want)):
			t.Errorf("tree %d (%d chunks): buildRoot (err %v) renders\n%s\nwant\n%s", tree, len(p.chunks), err, got, want)
		case wantErr != nil:
			failed++
		default:
			built++
		}
	}
	t.Logf("%d trees built in chunks, %d failing as the whole build does", built, failed)
	if built < 4 || failed < 1 {
		t.Fatalf("%d trees built in chunks and %d failing: too few to test anything", built, failed)
	}
}
