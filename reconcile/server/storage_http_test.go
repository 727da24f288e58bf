package server

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// storageSet is an applied set with a ConfigMap, a Secret (data and
// stringData, and a last-applied annotation holding its values), two
// claims, a volume declared in Git and, when withClass, a StorageClass.
// (Built in Go, not loaded: the test is about the API, not the loader.)
func storageSet(withClass bool) *spec.Set {
	set := spec.NewSet()
	add := func(o spec.Object, kind, file string, line int) {
		o.GetTypeMeta().Kind = kind
		k := spec.KeyOf(o)
		set.Objects[k], set.Sources[k] = o, spec.Source{File: file, Line: line}
	}
	meta := func(ns, name string) spec.ObjectMeta { return spec.ObjectMeta{Namespace: ns, Name: name} }
	cm := &spec.ConfigMap{ObjectMeta: meta("shop", "web-config"),
		Data:       map[string]string{"LOG_LEVEL": "debug", "nginx.conf": "worker_processes 1;\n"},
		BinaryData: map[string][]byte{"logo.png": []byte("\x89PNG\r\n\x1a\n")}}
	cm.Labels = map[string]string{"app": "web"}
	add(cm, spec.KindConfigMap, "config.yaml", 1)
	sec := &spec.Secret{ObjectMeta: meta("shop", "db-password"), Type: "Opaque",
		Data: map[string][]byte{"password": []byte("hunter2")}, StringData: map[string]string{"user": "admin-s3cr3t"}}
	sec.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"aHVudGVyMg=="}}`, "team": "data"}
	add(sec, spec.KindSecret, "config.yaml", 17)
	rwo, rwx, shared, empty := []string{spec.ReadWriteOnce}, []string{spec.ReadWriteMany}, "shared", ""
	db := &spec.PersistentVolumeClaim{ObjectMeta: meta("shop", "data-db-0"), Spec: spec.PersistentVolumeClaimSpec{AccessModes: rwo,
		Resources: spec.VolumeResourceRequirements{Requests: spec.ResourceList{"storage": resource.MustParse("1Gi")}}}}
	db.Labels = map[string]string{"app": "db"}
	add(db, spec.KindPersistentVolumeClaim, "storage.yaml", 1)
	add(&spec.PersistentVolumeClaim{ObjectMeta: meta("shop", "uploads"), Spec: spec.PersistentVolumeClaimSpec{AccessModes: rwx, StorageClassName: &shared,
		Resources: spec.VolumeResourceRequirements{Requests: spec.ResourceList{"storage": resource.MustParse("5Gi")}}}},
		spec.KindPersistentVolumeClaim, "storage.yaml", 15)
	add(&spec.PersistentVolume{ObjectMeta: meta("", "archive"), Spec: spec.PersistentVolumeSpec{
		Capacity: spec.ResourceList{"storage": resource.MustParse("10Gi")}, AccessModes: []string{spec.ReadOnlyMany}, StorageClassName: empty,
		PersistentVolumeSource: spec.PersistentVolumeSource{Local: &spec.LocalVolumeSource{Path: "/srv/archive"}}}},
		spec.KindPersistentVolume, "storage.yaml", 27)
	if withClass {
		retain, expand := spec.ReclaimRetain, true
		sc := &spec.StorageClass{ObjectMeta: meta("", "shared"), Provisioner: "stevedore.dev/sshfs", ReclaimPolicy: &retain,
			AllowVolumeExpansion: &expand, Parameters: map[string]string{"host": "storage.internal"}}
		sc.Annotations = map[string]string{spec.DefaultStorageClassAnnotation: "true"}
		add(sc, spec.KindStorageClass, "class.yaml", 1)
	}
	return set
}

// storageViews are the core's views of storageSet's claims: data-db-0
// bound to a provisioned node-local volume, uploads Pending.
func storageViews() ([]reconcile.ClaimView, []reconcile.VolumeView) {
	created := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	claims := []reconcile.ClaimView{
		{Namespace: "shop", Name: "data-db-0", Phase: reconcile.ClaimBound, Volume: "pvc-1a2b", Requested: 1 << 30, Capacity: 1 << 30,
			AccessModes: []string{spec.ReadWriteOnce}, StorageClass: "local", Node: "node-a", UsedBy: []string{"shop/db-0"}, Created: created},
		{Namespace: "shop", Name: "uploads", Phase: reconcile.ClaimPending, Reason: "ProvisioningFailed", Message: "no node reaches storage.internal",
			Requested: 5 << 30, AccessModes: []string{spec.ReadWriteMany}, StorageClass: "shared", Created: created},
	}
	volumes := []reconcile.VolumeView{
		{Name: "archive", Phase: reconcile.VolumeAvailable, Capacity: 10 << 30, AccessModes: []string{spec.ReadOnlyMany},
			ReclaimPolicy: spec.ReclaimRetain, Node: "node-a", Created: created},
		{Name: "pvc-1a2b", Phase: reconcile.VolumeBound, Capacity: 1 << 30, AccessModes: []string{spec.ReadWriteOnce},
			ReclaimPolicy: spec.ReclaimDelete, StorageClass: "local", Claim: "shop/data-db-0", Driver: "stevedore.dev/local-dir",
			Handle: "pvc-1a2b", Node: "node-a", Dynamic: true, Created: created},
	}
	return claims, volumes
}

// serveStorage serves the storage routes of a Server whose view is v,
// without raft (the handlers read only the view).
func serveStorage(t *testing.T, v *view) *api.Client {
	t.Helper()
	s := &Server{}
	s.view.Store(v)
	mux := http.NewServeMux()
	s.registerStorageRoutes(func(p string, h http.HandlerFunc) { mux.HandleFunc(p, h) })
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	t.Cleanup(s.viewChanged.stop)
	cl, err := api.NewClient(hs.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestStorageHTTP(t *testing.T) {
	set := storageSet(true)
	claims, volumes := storageViews()
	cl := serveStorage(t, &view{leader: true, set: set, claims: claims, volumes: volumes})
	ctx := context.Background()

	cms, err := cl.ConfigMaps(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	wantCM := []api.ConfigMap{{Namespace: "shop", Name: "web-config", Labels: map[string]string{"app": "web"},
		Data:       map[string]string{"LOG_LEVEL": "debug", "nginx.conf": "worker_processes 1;\n"},
		BinaryData: map[string]int{"logo.png": 8}, Source: &spec.Source{File: "config.yaml", Line: 1}}}
	if d := cmp.Diff(wantCM, cms); d != "" {
		t.Errorf("configmaps (-want +got):\n%s", d)
	}
	if other, err := cl.ConfigMaps(ctx, "default"); err != nil || len(other) != 0 {
		t.Errorf("configmaps in default = %v, %v; want none", other, err)
	}

	secs, err := cl.Secrets(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	wantSec := []api.Secret{{Namespace: "shop", Name: "db-password", Type: "Opaque", Annotations: map[string]string{"team": "data"},
		Keys:   []api.SecretKey{{Name: "password", Size: 7}, {Name: "user", Size: 12}},
		Source: &spec.Source{File: "config.yaml", Line: 17}}}
	if d := cmp.Diff(wantSec, secs); d != "" {
		t.Errorf("secrets (-want +got):\n%s", d)
	}

	gotClaims, err := cl.Claims(ctx, "shop")
	if err != nil || len(gotClaims) != 2 {
		t.Fatalf("claims = %v, %v", gotClaims, err)
	}
	db := gotClaims[0]
	if db.Name != "data-db-0" || db.Phase != "Bound" || db.Volume != "pvc-1a2b" || db.Capacity != 1<<30 || db.Node != "node-a" ||
		!cmp.Equal(db.UsedBy, []string{"shop/db-0"}) || db.Labels["app"] != "db" || db.Spec == nil || quantity(db.Spec.Resources.Requests, "storage") != 1<<30 ||
		db.Source == nil || *db.Source != (spec.Source{File: "storage.yaml", Line: 1}) || db.Created.IsZero() {
		t.Errorf("data-db-0 = %+v", db)
	}
	one, err := cl.Claim(ctx, "shop", "uploads")
	if err != nil || one.Phase != "Pending" || one.Reason != "ProvisioningFailed" || one.StorageClass != "shared" || one.Spec == nil {
		t.Errorf("Claim(uploads) = %+v, %v", one, err)
	}
	if _, err := cl.Claim(ctx, "shop", "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Claim(nope) = %v, want not found", err)
	}

	vols, err := cl.Volumes(ctx)
	if err != nil || len(vols) != 2 {
		t.Fatalf("volumes = %v, %v", vols, err)
	}
	if a := vols[0]; a.Name != "archive" || a.Dynamic || a.Spec == nil || a.Spec.Local == nil || a.Source == nil || a.ReclaimPolicy != "Retain" {
		t.Errorf("archive = %+v", a)
	}
	if p := vols[1]; p.Name != "pvc-1a2b" || !p.Dynamic || p.Spec != nil || p.Claim != "shop/data-db-0" || p.Driver != "stevedore.dev/local-dir" {
		t.Errorf("pvc-1a2b = %+v", p)
	}

	classes, err := cl.StorageClasses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantSC := []api.StorageClass{{Name: "shared", Annotations: map[string]string{spec.DefaultStorageClassAnnotation: "true"},
		Provisioner: "stevedore.dev/sshfs", Parameters: map[string]string{"host": "storage.internal"}, ReclaimPolicy: "Retain",
		VolumeBindingMode: "Immediate", AllowVolumeExpansion: true, Default: true, Source: &spec.Source{File: "class.yaml", Line: 1}}}
	if d := cmp.Diff(wantSC, classes); d != "" {
		t.Errorf("storage classes (-want +got):\n%s", d)
	}
}

// TestStorageHTTPBuiltinClass: a repository that declares no StorageClass
// has the built-in default; claims the core has not reported (a core
// without storage) are listed Pending from the committed objects.
func TestStorageHTTPBuiltinClass(t *testing.T) {
	cl := serveStorage(t, &view{leader: true, set: storageSet(false)})
	ctx := context.Background()
	classes, err := cl.StorageClasses(ctx)
	if err != nil || len(classes) != 1 {
		t.Fatalf("classes = %v, %v", classes, err)
	}
	if c := classes[0]; !c.Builtin || !c.Default || c.Provisioner == "" || c.Source != nil {
		t.Errorf("built-in class = %+v", c)
	}
	claims, err := cl.Claims(ctx, "")
	if err != nil || len(claims) != 2 {
		t.Fatalf("claims = %v, %v", claims, err)
	}
	if c := claims[0]; c.Phase != "Pending" || c.Requested != 1<<30 || c.Spec == nil {
		t.Errorf("unreported claim = %+v", c)
	}
	vols, err := cl.Volumes(ctx)
	if err != nil || len(vols) != 1 || vols[0].Capacity != 10<<30 || vols[0].ReclaimPolicy != "Retain" {
		t.Errorf("volumes = %+v, %v", vols, err)
	}

	// Before any revision: empty lists, not null, and no built-in class.
	empty := serveStorage(t, &view{leader: true})
	for _, p := range []string{api.PathConfigMaps, api.PathSecrets, api.PathClaims, api.PathVolumes, api.PathStorageClasses} {
		body := get(t, empty.BaseURL()+p)
		if strings.Contains(body, "null") || !strings.Contains(body, "[]") {
			t.Errorf("GET %s before a revision = %s", p, body)
		}
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// secretPlain is the value of the Secret the leak test commits, in every
// form it could leak in.
const secretPlain = "correct-horse-battery-staple"

// TestNoSecretValueInAnyAnswer commits a Secret and asks every GET
// endpoint of the API; no answer may hold its value, plain or base64. An
// endpoint added to http.go must be added here (the test reads the
// registrations and fails on one it does not ask).
func TestNoSecretValueInAnyAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, logs := testLogger(t)
	repo := newGitRepo(t)
	b64 := base64.StdEncoding.EncodeToString([]byte(secretPlain))
	secret := func(v string) string {
		return `apiVersion: v1
kind: Secret
metadata:
  name: api-token
  namespace: shop
data:
  token: ` + v + `
stringData:
  also: ` + secretPlain + `-2
`
	}
	// A namespace that allows plaintext Secrets: what the API serves must
	// hide them as much as decrypted ones.
	plainNS := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  annotations: {stevedore.dev/allow-plaintext-secrets: \"true\"}\n"
	files := map[string]string{"ns.yaml": plainNS, "web.yaml": deploymentYAML(1, "img:1"), "secret.yaml": secret(b64),
		"cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: shop\ndata:\n  a: b\n",
		"pvc.yaml": "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  namespace: shop\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n"}
	loadable := map[string][]byte{}
	for f, c := range files {
		loadable[f] = []byte(c)
	}
	if _, err := spec.Load(loadable); err != nil {
		t.Fatalf("the loader refuses a plaintext Secret, a ConfigMap and a claim: %v", err)
	}
	c1 := repo.commit("secret", files)
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	cl, err := api.NewClient(s.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pod string
	waitFor(t, 10*time.Second, "the pod Running and the Secret listed", func() bool {
		pods, err := cl.Pods(ctx, "shop")
		secs, _ := cl.Secrets(ctx, "shop")
		if err != nil || len(pods) != 1 || pods[0].Phase != "Running" || len(secs) != 1 {
			return false
		}
		pod = pods[0].Name
		return true
	})
	// A change of the Secret's value waits on the branch: GET /v1/diff
	// compares it with the applied one.
	repo.commit("rotate", map[string]string{"secret.yaml": secret(base64.StdEncoding.EncodeToString([]byte(secretPlain + "-new")))})

	esc := url.PathEscape
	asked := map[string]string{
		"PathStatus":         api.PathStatus,
		"PathVersion":        api.PathVersion,
		"PathRolloutHistory": api.RolloutHistoryPath("shop", "web"),
		"PathPods":           api.PathPods,
		"PathDeployments":    api.PathDeployments,
		"PathNodes":          api.PathNodes,
		"PathNamespaces":     api.PathNamespaces,
		"PathDiff":           api.PathDiff,
		"PathPod":            api.PodPath("shop", pod),
		"PathApplications":   api.PathApplications,
		"PathApplication":    api.ApplicationPath("main"),
		"PathLogs":           api.PathLogs + "?namespace=shop&pod=" + esc(pod),
		"PathEvents":         api.PathEvents,
		"PathServices":       api.PathServices,
		"PathService":        api.ServicePath("shop", "web"),
		"PathEndpoints":      api.PathEndpoints,
		"PathEndpointsOf":    api.EndpointsPath("shop", "web"),
		"PathConfigMaps":     api.PathConfigMaps,
		"PathSecrets":        api.PathSecrets,
		"PathClaims":         api.PathClaims,
		"PathClaim":          api.ClaimPath("shop", "data"),
		"PathVolumes":        api.PathVolumes,
		"PathStorageClasses": api.PathStorageClasses,
		"PathJobs":           api.PathJobs,
		"PathJob":            api.JobPath("shop", "none"),
		"PathCronJobs":       api.PathCronJobs,
		"PathCronJob":        api.CronJobPath("shop", "none"),
		"PathTopPods":        api.PathTopPods + "?namespace=shop",
		"PathTopNodes":       api.PathTopNodes,
		"PathNode":           api.NodePath(api.PathNode, "node-a"),
		"PathMetrics":        api.PathMetrics,
		"PathHealthz":        api.PathHealthz,
		"PathTokens":         api.PathTokens,
		// The web UI's: its assets, the caller, and the commits waiting
		// (the rotation above is one of them).
		"PathUI":                 api.PathUI,
		"PathWhoAmI":             api.PathWhoAmI,
		"PathApplicationCommits": api.ApplicationCommitsPath(s.bootstrapName()),
	}
	// Not asked: GET /v1/revision serves the repository's files as
	// committed, so a Secret there is what Git holds (SOPS ciphertext; a
	// plaintext Secret only where its namespace allows plaintext in Git).
	notAsked := map[string]bool{"PathRevision": true}
	for _, name := range registeredGETs(t) {
		if _, ok := asked[name]; !ok && !notAsked[name] {
			t.Errorf("GET api.%s is served but this test does not ask it: add it to asked", name)
		}
	}
	forms := []string{secretPlain, b64, base64.StdEncoding.EncodeToString([]byte(secretPlain + "-2"))}
	for name, p := range asked {
		body := get(t, s.APIURL()+p)
		for _, f := range forms {
			if strings.Contains(body, f) {
				t.Errorf("GET %s (%s) answers the Secret's value %q:\n%s", p, name, f, body)
			}
		}
	}
	// The answers were real ones.
	if body := get(t, s.APIURL()+api.PathSecrets); !strings.Contains(body, `"name":"token","size":28`) {
		t.Errorf("GET %s = %s, want the key token of 28 bytes", api.PathSecrets, body)
	}
	if d, err := cl.Diff(ctx); err != nil || d.Head == nil || d.Applied == nil || d.Applied.Hash != c1 || len(d.Changes) == 0 {
		t.Errorf("diff = %+v, %v; want the Secret's change", d, err)
	}
	if body := get(t, s.APIURL()+api.ApplicationCommitsPath(s.bootstrapName())); !strings.Contains(body, `"applied":{"hash":"`+c1) {
		t.Errorf("GET %s = %s, want the application's commits", api.ApplicationCommitsPath(s.bootstrapName()), body)
	}
	for _, f := range forms {
		if strings.Contains(logs.String(), f) {
			t.Errorf("the reconciler's log holds the Secret's value %q", f)
		}
	}
}

// registeredGETs reads the package's sources for the GET routes it
// registers ("GET "+api.PathX), by constant name.
func registeredGETs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"GET "\s*\+\s*api\.(Path\w+)`)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 20 {
		t.Fatalf("found only %d GET routes (%v): has registration changed shape?", len(out), out)
	}
	return out
}

func quantity(rl spec.ResourceList, name string) int64 {
	q := rl[name]
	return q.Value()
}
