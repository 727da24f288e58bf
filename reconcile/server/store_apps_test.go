package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

func appYAML(name, repo string, prune bool) string {
	return "apiVersion: stevedore.dev/v1alpha1\nkind: Application\nmetadata: {name: " + name + "}\nspec:\n  source: {repoURL: " + repo + "}\n  prune: " + map[bool]string{true: "true", false: "false"}[prune] + "\n---\n"
}

func deployYAML(name string) string {
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + "}\nspec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec: {containers: [{name: c, image: img:1}]}\n---\n"
}

func rev(hash string, files map[string]string) *savedRevision {
	r := &savedRevision{Commit: api.Commit{Hash: hash}, Files: map[string][]byte{}}
	for f, c := range files {
		r.Files[f] = []byte(c)
	}
	return r
}

func applyRaw(s *store, index uint64, c *command) error {
	b, err := encodeCommand(c)
	if err != nil {
		return err
	}
	if res, ok := s.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}).(error); ok {
		return res
	}
	return nil
}

func deployKey(name string) spec.ObjectKey {
	return spec.ObjectKey{Kind: spec.KindDeployment, Namespace: "default", Name: name}
}

func owners(s *store) map[string]string {
	out := map[string]string{}
	for k, v := range s.owner {
		out[k.Kind+"/"+k.Name] = v
	}
	return out
}

// TestStoreApplications: per-application revisions, the union and its
// owners, conflicts refused without breaking the store, deletion pruning,
// and prune false keeping removed objects and deleted applications.
func TestStoreApplications(t *testing.T) {
	s := newStore()
	boot := appYAML("team-a", "/a.git", true) + appYAML("team-b", "/b.git", false) + deployYAML("base")
	created := time.Unix(1700000000, 0).UTC()
	applyCmd(t, s, 1, &command{Op: opRevision, Revision: rev("b1", map[string]string{"apps.yaml": boot}), Created: created})
	applyCmd(t, s, 2, &command{Op: opAppRevision, App: "team-a", Revision: rev("a1", map[string]string{"web.yaml": deployYAML("web")})})
	applyCmd(t, s, 3, &command{Op: opAppRevision, App: "team-b", Revision: rev("c1", map[string]string{"db.yaml": deployYAML("db") + deployYAML("cache")})})
	u := s.desired()
	if u == nil || len(u.Objects) != 6 { // 2 Applications, base, web, db, cache
		t.Fatalf("union = %v", u)
	}
	if o := owners(s); o["Deployment/web"] != "team-a" || o["Deployment/db"] != "team-b" || o["Deployment/base"] != "" || o["Application/team-a"] != "" {
		t.Errorf("owners = %v", o)
	}

	// team-b claims web: refused, named, and the store is not broken.
	err := applyRaw(s, 4, &command{Op: opAppRevision, App: "team-b", Revision: rev("c2", map[string]string{"more.yaml": deployYAML("db") + deployYAML("web")})})
	var rej *rejectedError
	if !errors.As(err, &rej) || !strings.Contains(err.Error(), `Deployment/default/web (more.yaml:10) of application "team-b" is already owned by application "team-a" (web.yaml:1)`) {
		t.Fatalf("conflict: %v", err)
	}
	if s.failed() != nil {
		t.Fatalf("a refused conflict broke the store: %v", s.failed())
	}
	if r, _ := s.appRevision("team-b"); r.Commit.Hash != "c1" {
		t.Errorf("team-b after the refused revision: %s", r.Commit.Hash)
	}
	// An application the bootstrap does not declare is refused too.
	if err := applyRaw(s, 5, &command{Op: opAppRevision, App: "team-z", Revision: rev("z1", nil)}); !errors.As(err, &rej) {
		t.Errorf("undeclared application: %v", err)
	}

	// team-b does not prune: cache removed from Git keeps running.
	next, err := loadApp(map[string][]byte{"db.yaml": []byte(deployYAML("db"))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := s.retainedFor("team-b", next, false)
	if err != nil || len(kept) != 1 {
		t.Fatalf("retained = %v, %v", kept, err)
	}
	applyCmd(t, s, 6, &command{Op: opAppRevision, App: "team-b", Revision: rev("c3", map[string]string{"db.yaml": deployYAML("db")}), Retained: kept})
	if _, ok := s.desired().Objects[deployKey("cache")]; !ok {
		t.Errorf("a retained object left the desired state")
	}
	infos := s.appInfos()
	if len(infos) != 3 || infos[2].Name != "team-b" || len(infos[2].Retained) != 1 || infos[2].Retained[0] != deployKey("cache") {
		t.Errorf("app infos = %+v", infos)
	}

	// Snapshot and restore keep every application, the union and owners.
	snap, _ := s.Snapshot()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	buf := sink.Buffer
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(buf.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if ai := r.appInfos(); !ai[0].Created.Equal(created) || ai[2].Retained[0] != deployKey("cache") {
		t.Errorf("restored applications: %+v", ai)
	}
	if len(r.desired().Objects) != len(s.desired().Objects) || owners(r)["Deployment/cache"] != "team-b" {
		t.Errorf("restored union %d objects, owners %v", len(r.desired().Objects), owners(r))
	}

	// Deleting both Application objects: team-a (prune) goes with its
	// objects, team-b (no prune) stays as an orphan, its objects running.
	applyCmd(t, s, 7, &command{Op: opRevision, Revision: rev("b2", map[string]string{"base.yaml": deployYAML("base")})})
	o := owners(s)
	if _, ok := o["Deployment/web"]; ok {
		t.Errorf("team-a's web survived its deletion")
	}
	if o["Deployment/db"] != "team-b" || o["Deployment/cache"] != "team-b" {
		t.Errorf("team-b's objects after its deletion without prune: %v", o)
	}
	if sa := s.st.Apps["team-b"]; sa == nil || !sa.Orphan {
		t.Errorf("team-b is not an orphan: %+v", sa)
	}
	// Declared again with prune on: no orphan, the retained cache goes.
	applyCmd(t, s, 8, &command{Op: opRevision, Revision: rev("b3", map[string]string{"apps.yaml": appYAML("team-b", "/b.git", true)})})
	if sa := s.st.Apps["team-b"]; sa == nil || sa.Orphan || len(sa.Retained) != 0 {
		t.Errorf("team-b declared again with prune: %+v", sa)
	}
	if _, ok := s.desired().Objects[deployKey("cache")]; ok {
		t.Errorf("cache still desired after team-b prunes again")
	}
}

// TestStoreRestoresSingleRevision: the snapshot and the log entries of a
// reconciler that tracked one repository restore as the bootstrap
// application's.
func TestStoreRestoresSingleRevision(t *testing.T) {
	old := `{"clusterID":"c1","revision":{"commit":{"hash":"abc","author":"a","authorEmail":"a@x","message":"m","time":"2026-01-01T00:00:00Z"},"files":{"pod.yaml":"` +
		b64(podYAML) + `"}},"pods":{"default/solo":{"uid":"u1","namespace":"default","name":"solo","node":"n1"}},"termBase":2}` + "\n"
	s := newStore()
	if err := s.Restore(io.NopCloser(strings.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	if r, set := s.appRevision(""); r == nil || r.Commit.Hash != "abc" || len(set.Objects) != 1 {
		t.Fatalf("bootstrap after an old snapshot: %v %v", r, set)
	}
	if d := s.desired(); d == nil || len(d.Objects) != 1 || owners(s)["Pod/solo"] != "" {
		t.Errorf("desired after an old snapshot: %v", d)
	}
	infos := s.appInfos()
	if len(infos) != 1 || infos[0].Name != "" || infos[0].Revision.Commit.Hash != "abc" {
		t.Errorf("applications after an old snapshot: %+v", infos)
	}
	// An old log entry (no "app") is the bootstrap's.
	entry := `{"op":"revision","revision":{"commit":{"hash":"def"},"files":{"pod.yaml":"` + b64(podYAML) + `"}}}`
	if res := s.Apply(&raft.Log{Index: 9, Type: raft.LogCommand, Data: []byte(entry)}); res != nil {
		t.Fatal(res)
	}
	if r, _ := s.appRevision(""); r.Commit.Hash != "def" {
		t.Errorf("old entry applied to %v", r)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// BenchmarkAppRevision applies one application's new revision (500
// Deployments) beside 9 others of 500 each: load, ownership check and the
// union of 5,000 objects, as every reconciler's store does per revision.
func BenchmarkAppRevision(b *testing.B) {
	s := newStore()
	var boot strings.Builder
	files := func(app string, replicas int) map[string]string {
		var sb strings.Builder
		for i := range 500 {
			sb.WriteString(strings.Replace(deployYAML(fmt.Sprintf("%s-%d", app, i)), "spec:\n  selector", fmt.Sprintf("spec:\n  replicas: %d\n  selector", replicas), 1))
		}
		return map[string]string{"all.yaml": sb.String()}
	}
	for i := range 10 {
		boot.WriteString(appYAML(fmt.Sprintf("app%d", i), "/r.git", true))
	}
	if err := applyRaw(s, 1, &command{Op: opRevision, Revision: rev("b", map[string]string{"apps.yaml": boot.String()})}); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if err := applyRaw(s, uint64(2+i), &command{Op: opRevision, App: fmt.Sprintf("app%d", i), Revision: rev("x", files(fmt.Sprintf("app%d", i), 1))}); err != nil {
			b.Fatal(err)
		}
	}
	next := []*command{
		{Op: opRevision, App: "app3", Revision: rev("y", files("app3", 2))},
		{Op: opRevision, App: "app3", Revision: rev("z", files("app3", 3))},
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := applyRaw(s, uint64(100+i), next[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(s.desired().Objects); n != 5010 {
		b.Fatalf("union of %d objects", n)
	}
}

// TestRetainedRoundTrip: every object of real manifests (the spec's
// Kubernetes goldens and the examples repository), kept as a retained
// document, loads back to the same object, so an application with prune
// off never fails on what it retained.
func TestRetainedRoundTrip(t *testing.T) {
	sets := map[string]*spec.Set{}
	// The examples' Secret is encrypted for the development-only key.
	keys, err := sops.LoadKeys([]string{"../../internal/devenv/dev-only.agekey"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"../../examples-repo"} {
		set, err := render.Loader{Decrypt: keys}.LoadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		sets[dir] = set
	}
	for _, f := range []string{"k8s-deployment", "k8s-kubectl-dryrun", "k8s-list", "k8s-node-podtemplate", "k8s-replicationcontroller", "yaml-features"} {
		b, err := os.ReadFile("../../spec/testdata/golden/" + f + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		set, err := render.Load(map[string][]byte{f + ".yaml": b})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sets[f] = set
	}
	n := 0
	for name, set := range sets {
		s := newStore()
		s.apps["x"] = &appState{set: set}
		kept, err := s.retainedFor("x", spec.NewSet(), false)
		if err != nil {
			t.Fatal(err)
		}
		back, err := loadApp(nil, kept)
		if err != nil {
			t.Fatalf("%s: retained objects do not load back: %v", name, err)
		}
		for k, o := range set.Objects {
			if k.Kind == spec.KindSecret {
				// Never retained: its plaintext would go into the raft
				// log (docs/secrets.md).
				if _, kept := back.Objects[k]; kept {
					t.Errorf("%s: %s was retained", name, k)
				}
				continue
			}
			n++
			if !encodeEqual(o, back.Objects[k]) {
				t.Errorf("%s: %s changed when retained", name, k)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d objects checked", n)
	}
}
