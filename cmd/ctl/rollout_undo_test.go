package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	sigsyaml "sigs.k8s.io/yaml"
)

// shopYAML is a file of three documents: the Deployment in the middle, with
// comments inside and around its template. IMAGE and REPLICAS vary.
const shopYAML = `# The shop's web tier.
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: REPLICAS # scaled by hand
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        # the image CI builds
        image: registry.local/web:IMAGE
        ports: [{containerPort: 8080}]

  # Keep at least one replica while rolling.
  strategy:
    rollingUpdate: {maxUnavailable: 0}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
      - name: worker
        image: registry.local/worker:7
`

func shop(image, replicas string) string {
	return strings.NewReplacer("IMAGE", image, "REPLICAS", replicas).Replace(shopYAML)
}

// historyServer answers the reconciler API calls ctl rollout undo makes:
// status, applications and Deployment histories.
type historyServer struct {
	mu     sync.Mutex
	status api.Status
	apps   []api.Application                   // nil: GET /v1/applications is 404, as an older reconciler
	revs   map[string][]api.DeploymentRevision // by "namespace/name"
}

func (h *historyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	notFound := func(msg string) {
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(api.Error{Error: msg, Code: api.CodeNotFound})
	}
	var v any
	switch p := r.URL.Path; {
	case p == api.PathStatus:
		v = h.status
	case p == api.PathApplications && h.apps != nil:
		v = api.ApplicationList{Applications: h.apps}
	case strings.HasPrefix(p, api.PathApplications+"/") && h.apps != nil:
		for _, a := range h.apps {
			if api.ApplicationPath(a.Name) == p {
				v = a
			}
		}
		if v == nil {
			notFound("application not found")
			return
		}
	case strings.HasPrefix(p, "/v1/deployments/") && strings.HasSuffix(p, "/history"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/v1/deployments/"), "/history")
		revs, ok := h.revs[id]
		if !ok {
			notFound("deployment " + id + " not found")
			return
		}
		v = api.RevisionList{Revisions: revs}
	default:
		notFound("no such path " + p)
		return
	}
	json.NewEncoder(w).Encode(v)
}

// runGit runs git in dir and returns its trimmed output.
func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// undoRepo is a config repository with a history of the shop's web
// Deployment, and a reconciler that recorded each commit as a revision.
type undoRepo struct {
	dir  string // the clone's root
	path string // the tracked path in it
	h    *historyServer
	url  string
}

func newUndoRepo(t *testing.T, path string) *undoRepo {
	r := &undoRepo{dir: gitInit(t), path: path}
	runGit(t, r.dir, "config", "user.name", "Grace")
	runGit(t, r.dir, "config", "user.email", "grace@example.com")
	r.h = &historyServer{status: api.Status{Repo: "https://git.example/shop.git", Branch: "main", Path: path}, revs: map[string][]api.DeploymentRevision{}}
	r.url = startHistory(t, r.h)
	return r
}

func startHistory(t *testing.T, h *historyServer) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// commit commits files (under the tracked path) and records web's
// template as the reconciler would: a new revision when it changed,
// current.
func (r *undoRepo) commit(t *testing.T, subject string, files map[string]string) string {
	t.Helper()
	under := map[string]string{}
	for name, content := range files {
		under[filepath.Join(r.path, name)] = content
	}
	gitCommit(t, r.dir, subject, under)
	hash := runGit(t, r.dir, "rev-parse", "HEAD")
	tmpl := r.template(t)
	h := spec.TemplateHash(tmpl)
	revs := r.h.revs["shop/web"]
	for i := range revs {
		revs[i].Current = false
	}
	if n := len(revs); n == 0 || revs[n-1].Hash != h {
		var images []string
		for _, c := range tmpl.Spec.Containers {
			images = append(images, c.Image)
		}
		revs = append(revs, api.DeploymentRevision{Number: int64(len(revs) + 1), Hash: h, Commit: hash, Author: "Ada", Subject: subject, Images: images, Template: *tmpl})
	}
	revs[len(revs)-1].Current = true
	r.h.revs["shop/web"] = revs
	return hash
}

// template loads the work tree's tracked path and returns web's template.
func (r *undoRepo) template(t *testing.T) *spec.PodTemplateSpec {
	t.Helper()
	set, err := render.LoadDir(filepath.Join(r.dir, r.path))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := set.Objects[spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "shop", Name: "web"}].(*spec.Deployment)
	if !ok {
		t.Fatal("no Deployment shop/web")
	}
	return &d.Spec.Template
}

func (r *undoRepo) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, r.path, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (r *undoRepo) rev(n int) api.DeploymentRevision { return r.h.revs["shop/web"][n-1] }

// TestRolloutUndo rolls web back from 1.1 to 1.0: the commit restores
// revision 1's template exactly as written, with its comments, and leaves
// the rest of the file (the other documents, the replicas changed since,
// comments) as it is.
func TestRolloutUndo(t *testing.T) {
	r := newUndoRepo(t, "")
	c1 := r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	c2 := r.commit(t, "web 1.1, 3 replicas", map[string]string{"shop.yaml": shop("1.1", "3")})

	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir)
	if code != 0 {
		t.Fatalf("rollout undo = %d %q %q", code, out, errOut)
	}
	for _, want := range []string{
		"Deployment shop/web: revision 2 (registry.local/web:1.1) → revision 1 (registry.local/web:1.0)\n",
		"edited shop.yaml (template from commit " + c1[:12] + ", shop.yaml)\n",
		"on main: Roll back Deployment shop/web to revision 1\n",
		"next: git push, then ctl sync\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got, want := r.read(t, "shop.yaml"), shop("1.0", "3"); got != want {
		t.Errorf("shop.yaml after undo:\n%s\nwant:\n%s", got, want)
	}
	if h := spec.TemplateHash(r.template(t)); h != r.rev(1).Hash {
		t.Errorf("template hash %s, want revision 1's %s", h, r.rev(1).Hash)
	}
	msg := runGit(t, r.dir, "log", "-1", "--format=%an <%ae>%n%B")
	wantMsg := "Grace <grace@example.com>\nRoll back Deployment shop/web to revision 1\n\n" +
		"Restores the pod template of revision 1 (commit " + c1[:12] + ", \"web 1.0\"), replacing revision 2 (commit " + c2[:12] + ").\n" +
		"Images: registry.local/web:1.0 (were registry.local/web:1.1).\n\n" +
		"Rollback-Of: " + c2 + "\nRollback-To: " + c1
	if msg != wantMsg {
		t.Errorf("commit message:\n%s\nwant:\n%s", msg, wantMsg)
	}
	if st := runGit(t, r.dir, "status", "--porcelain"); st != "" {
		t.Errorf("work tree not clean after the commit:\n%s", st)
	}
	if parent := runGit(t, r.dir, "rev-parse", "HEAD~1"); parent != c2 {
		t.Errorf("rollback commit's parent %s, want %s", parent, c2)
	}
	// The same again: the clone already has revision 1's template.
	code, _, errOut = ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir)
	if code != 1 || !strings.Contains(errOut, "shop.yaml already gives Deployment shop/web revision 1's template: push and sync it") {
		t.Errorf("undo of an unpushed rollback = %d %q", code, errOut)
	}
}

// TestRolloutUndoToRevision picks a revision by number and refuses the
// current one and one the reconciler does not know.
func TestRolloutUndoToRevision(t *testing.T) {
	r := newUndoRepo(t, "deploy")
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	r.commit(t, "web 1.1", map[string]string{"shop.yaml": shop("1.1", "2")})
	r.commit(t, "web 1.2", map[string]string{"shop.yaml": shop("1.2", "2")})
	head := runGit(t, r.dir, "rev-parse", "HEAD")

	code, _, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir, "--to-revision", "3")
	if code != 1 || !strings.Contains(errOut, "Deployment shop/web: revision 3 is the current one: nothing to roll back") {
		t.Errorf("undo to the current revision = %d %q", code, errOut)
	}
	code, _, errOut = ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir, "--to-revision", "9")
	if code != 1 || !strings.Contains(errOut, "no revision 9: the reconciler keeps revisions 1, 2, 3") {
		t.Errorf("undo to an unknown revision = %d %q", code, errOut)
	}
	if h := runGit(t, r.dir, "rev-parse", "HEAD"); h != head {
		t.Fatal("a refused undo committed")
	}
	// From a sub-directory of the clone, without --repo.
	t.Chdir(filepath.Join(r.dir, "deploy"))
	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--to-revision", "1")
	if code != 0 || !strings.Contains(out, "revision 3 (registry.local/web:1.2) → revision 1 (registry.local/web:1.0)") ||
		!strings.Contains(out, "edited deploy/shop.yaml") {
		t.Fatalf("undo --to-revision 1 = %d %q %q", code, out, errOut)
	}
	if got, want := r.read(t, "shop.yaml"), shop("1.0", "2"); got != want {
		t.Errorf("deploy/shop.yaml after undo:\n%s\nwant:\n%s", got, want)
	}
}

// TestRolloutUndoDryRun prints the diff and changes nothing.
func TestRolloutUndoDryRun(t *testing.T) {
	r := newUndoRepo(t, "")
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	r.commit(t, "web 1.1", map[string]string{"shop.yaml": shop("1.1", "2")})
	head := runGit(t, r.dir, "rev-parse", "HEAD")

	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run = %d %q %q", code, out, errOut)
	}
	want := `--- a/shop.yaml
+++ b/shop.yaml
@@ -22,7 +22,7 @@
       containers:
       - name: web
         # the image CI builds
-        image: registry.local/web:1.1
+        image: registry.local/web:1.0
         ports: [{containerPort: 8080}]
 
   # Keep at least one replica while rolling.
`
	if out != want {
		t.Errorf("dry run diff:\n%s\nwant:\n%s", out, want)
	}
	if !strings.Contains(errOut, "dry run: shop.yaml not changed; the commit would say:") || !strings.Contains(errOut, "    Roll back Deployment shop/web to revision 1\n") {
		t.Errorf("dry run stderr: %q", errOut)
	}
	if r.read(t, "shop.yaml") != shop("1.1", "2") || runGit(t, r.dir, "rev-parse", "HEAD") != head || runGit(t, r.dir, "status", "--porcelain") != "" {
		t.Error("the dry run changed the clone")
	}
}

// TestRolloutUndoPush pushes the rollback to the branch's remote, a bare
// repository, and finds the application's path from the reconciler.
func TestRolloutUndoPush(t *testing.T) {
	r := newUndoRepo(t, "deploy")
	bare := t.TempDir()
	runGit(t, bare, "init", "-q", "--bare", "-b", "main")
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	r.commit(t, "web 1.1", map[string]string{"shop.yaml": shop("1.1", "2")})
	runGit(t, r.dir, "remote", "add", "origin", bare)
	runGit(t, r.dir, "push", "-q", "-u", "origin", "main")
	// Two applications: the Deployment is the second one's, whose path is
	// deploy; the bootstrap's is elsewhere.
	r.h.status.Path = "elsewhere"
	r.h.apps = []api.Application{
		{Name: "root", Bootstrap: true, Repo: "https://git.example/root.git", Branch: "main", Path: "elsewhere"},
		{Name: "shop", Repo: "https://git.example/shop.git", Branch: "main", Path: "./deploy/", Objects: []api.ApplicationObject{
			{Key: spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "shop", Name: "web"}, File: "shop.yaml", Line: 9},
		}},
	}

	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir, "--push", "--author", "Lin <lin@example.com>")
	if code != 0 {
		t.Fatalf("undo --push = %d %q %q", code, out, errOut)
	}
	head := runGit(t, r.dir, "rev-parse", "HEAD")
	if got := runGit(t, bare, "rev-parse", "main"); got != head {
		t.Errorf("remote main = %s, want the rollback %s", got, head)
	}
	if !strings.Contains(out, "pushed main to origin ("+bare+") as refs/heads/main\n") || !strings.Contains(out, "next: ctl sync shop ") {
		t.Errorf("push output:\n%s", out)
	}
	if a := runGit(t, bare, "log", "-1", "--format=%an <%ae>", "main"); a != "Lin <lin@example.com>" {
		t.Errorf("author %q, want --author's", a)
	}
	if got := runGit(t, bare, "show", "main:deploy/shop.yaml"); got+"\n" != shop("1.0", "2") {
		t.Errorf("pushed deploy/shop.yaml:\n%s", got)
	}
}

// TestRolloutUndoFromRecord restores a template whose commit the clone does
// not have (a squashed or force-pushed history) from the reconciler's
// record, and checks it hashes as recorded.
func TestRolloutUndoFromRecord(t *testing.T) {
	r := newUndoRepo(t, "")
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	r.commit(t, "web 1.1", map[string]string{"shop.yaml": shop("1.1", "2")})
	r.h.revs["shop/web"][0].Commit = strings.Repeat("ab", 20)

	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir)
	if code != 0 || !strings.Contains(out, "template from the reconciler's record of revision 1") {
		t.Fatalf("undo from the record = %d %q %q", code, out, errOut)
	}
	if h := spec.TemplateHash(r.template(t)); h != r.rev(1).Hash {
		t.Errorf("template hash %s, want revision 1's %s", h, r.rev(1).Hash)
	}
	got := r.read(t, "shop.yaml")
	for _, keep := range []string{"# The shop's web tier.\n", "  replicas: 2 # scaled by hand\n", "  # Keep at least one replica while rolling.\n  strategy:\n", "image: registry.local/worker:7\n"} {
		if !strings.Contains(got, keep) {
			t.Errorf("shop.yaml lost %q:\n%s", keep, got)
		}
	}
	// A record that does not hash as recorded (a field lost on the way)
	// is refused.
	r.commit(t, "web 1.2", map[string]string{"shop.yaml": shop("1.2", "2")})
	r.h.revs["shop/web"][1].Commit = strings.Repeat("cd", 20)
	r.h.revs["shop/web"][1].Template.Spec.Containers[0].Ports = nil
	head := runGit(t, r.dir, "rev-parse", "HEAD")
	code, _, errOut = ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir)
	if code != 1 || !strings.Contains(errOut, "cannot restore revision 2's template ("+r.rev(2).Hash+") in shop.yaml; nothing was changed") ||
		!strings.Contains(errOut, "commit cdcdcdcdcdcd is not in") || !strings.Contains(errOut, "the edited template hashes to ") {
		t.Errorf("undo from a lossy record = %d %q", code, errOut)
	}
	if runGit(t, r.dir, "rev-parse", "HEAD") != head || runGit(t, r.dir, "status", "--porcelain") != "" {
		t.Error("a refused undo changed the clone")
	}
}

// TestRolloutUndoRefusals: no previous revision, an unknown Deployment, a
// file with uncommitted changes, other staged changes, and a Deployment
// kustomize renders.
func TestRolloutUndoRefusals(t *testing.T) {
	r := newUndoRepo(t, "")
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "shop.yaml": shop("1.0", "2")})
	undo := func(args ...string) (int, string, string) {
		return ctl(t, r.url, append([]string{"rollout", "undo", "--repo", r.dir}, args...)...)
	}
	if code, _, errOut := undo("web", "-n", "shop"); code != 1 || !strings.Contains(errOut, "Deployment shop/web: no revision before the current one (1) to roll back to") {
		t.Errorf("undo with one revision = %d %q", code, errOut)
	}
	if code, _, errOut := undo("nope", "-n", "shop"); code != 1 || !strings.Contains(errOut, "Deployment shop/nope not found (the reconciler answered: deployment shop/nope not found)") {
		t.Errorf("undo of an unknown Deployment = %d %q", code, errOut)
	}
	// Known to the reconciler, but not in this clone.
	r.h.revs["shop/api"] = []api.DeploymentRevision{{Number: 1, Hash: "a"}, {Number: 2, Hash: "b", Current: true}}
	if code, _, errOut := undo("api", "-n", "shop"); code != 1 || !strings.Contains(errOut, "declares Deployment shop/api: is "+r.dir+" a clone of https://git.example/shop.git, up to date?") {
		t.Errorf("undo of a Deployment the clone lacks = %d %q", code, errOut)
	}

	r.commit(t, "web 1.1", map[string]string{"shop.yaml": shop("1.1", "2")})
	head := runGit(t, r.dir, "rev-parse", "HEAD")
	os.WriteFile(filepath.Join(r.dir, "shop.yaml"), []byte(shop("1.1", "5")), 0o644)
	if code, _, errOut := undo("web", "-n", "shop"); code != 1 || !strings.Contains(errOut, "shop.yaml has uncommitted changes: commit or stash them first") {
		t.Errorf("undo with a dirty file = %d %q", code, errOut)
	}
	runGit(t, r.dir, "checkout", "--", "shop.yaml")
	os.WriteFile(filepath.Join(r.dir, "README.md"), []byte("notes\n"), 0o644)
	runGit(t, r.dir, "add", "README.md")
	if code, _, errOut := undo("web", "-n", "shop"); code != 1 || !strings.Contains(errOut, "changes are staged in "+r.dir+" (README.md): commit or unstage them first") {
		t.Errorf("undo with staged changes = %d %q", code, errOut)
	}
	runGit(t, r.dir, "reset", "-q", "README.md")
	if runGit(t, r.dir, "rev-parse", "HEAD") != head {
		t.Fatal("a refused undo committed")
	}
}

// TestRolloutUndoKustomize refuses a Deployment kustomize renders, naming
// the kustomization and the image to restore there.
func TestRolloutUndoKustomize(t *testing.T) {
	r := newUndoRepo(t, "")
	kust := func(tag string) string {
		return "namespace: shop\nresources: [web.yaml]\nimages:\n- name: hello\n  newName: registry.local/web\n  newTag: \"" + tag + "\"\n"
	}
	r.commit(t, "web 1.0", map[string]string{"ns.yaml": nsYAML, "app/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1), "app/kustomization.yaml": kust("1.0")})
	r.commit(t, "web 1.1", map[string]string{"app/kustomization.yaml": kust("1.1")})
	head := runGit(t, r.dir, "rev-parse", "HEAD")

	code, out, errOut := ctl(t, r.url, "rollout", "undo", "web", "-n", "shop", "--repo", r.dir)
	if code != 1 || out != "" {
		t.Errorf("undo of a kustomize-built Deployment = %d %q", code, out)
	}
	for _, want := range []string{
		"error: Deployment shop/web is built by kustomization app/kustomization.yaml: ctl rollout undo edits only a manifest that declares it as applied; nothing was changed.\n",
		"  container web: image registry.local/web:1.0 (now registry.local/web:1.1)\n",
		"    e.g. (cd app && kustomize edit set image hello=registry.local/web:1.0)\n",
		"Only the images differ.\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if runGit(t, r.dir, "rev-parse", "HEAD") != head || runGit(t, r.dir, "status", "--porcelain") != "" {
		t.Error("a refused undo changed the clone")
	}
}

// TestUndoTemplateEdit checks the line edit on its own: a template that
// ends its document and the file (without a newline), one written at
// another indentation, a Deployment of the default namespace, and a spec in
// flow style, which ctl does not edit.
func TestUndoTemplateEdit(t *testing.T) {
	cur := "kind: Service\nmetadata: {name: web}\n---\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: web, image: web:2}]\n  # the end"
	old := "kind: Deployment\nmetadata:\n    name: web\nspec:\n    template:\n        # pinned\n        spec:\n            containers:\n            -   name: web\n                image: web:1\n"
	span, err := findTemplate([]byte(cur), "default", "web")
	if err != nil {
		t.Fatal(err)
	}
	if span != (templateSpan{start: 8, end: 11, col: 2}) {
		t.Errorf("span = %+v", span)
	}
	block, err := templateBlock([]byte(old), "default", "web", span.col)
	if err != nil {
		t.Fatal(err)
	}
	got := string(replaceSpan(splitLines([]byte(cur)), span, block))
	want := "kind: Service\nmetadata: {name: web}\n---\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n" +
		"  template:\n      # pinned\n      spec:\n          containers:\n          -   name: web\n              image: web:1\n  # the end"
	if got != want {
		t.Errorf("edited:\n%s\nwant:\n%s", got, want)
	}
	var d struct {
		Spec spec.DeploymentSpec `json:"spec"`
	}
	if err := sigsyaml.Unmarshal([]byte(strings.TrimPrefix(got, "kind: Service\nmetadata: {name: web}\n---\n")), &d); err != nil {
		t.Fatalf("the edited document does not parse: %v", err)
	}
	if c := d.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "web:1" {
		t.Errorf("containers %+v after the edit", c)
	}
	if _, err := findTemplate([]byte("kind: Deployment\nmetadata: {name: web}\nspec: {template: {}}\n"), "default", "web"); err == nil || !strings.Contains(err.Error(), "line 3: its spec is written in flow style") {
		t.Errorf("flow-style spec: %v", err)
	}
	if _, err := findTemplate([]byte(cur), "shop", "web"); err != errNoDocument {
		t.Errorf("another namespace: %v", err)
	}
}
