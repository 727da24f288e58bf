package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// appDoc declares an application in the bootstrap repository.
func appDoc(name, repo, branch string, prune bool) string {
	return fmt.Sprintf("apiVersion: stevedore.dev/v1alpha1\nkind: Application\nmetadata:\n  name: %s\nspec:\n  source:\n    repoURL: %s\n    targetRevision: %s\n  prune: %v\n", name, repo, branch, prune)
}

// namedDeploy is a Deployment of the default namespace.
func namedDeploy(name string, replicas int, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers:
      - {name: c, image: "%s"}
`, name, replicas, name, name, image)
}

// podsOf counts the pods of one workload in the agents' last sets.
func podsOf(prefix string, agents ...*fakeAgent) int {
	n := 0
	for _, a := range agents {
		for _, p := range a.last().Pods {
			if strings.HasPrefix(p.Name, prefix+"-") {
				n++
			}
		}
	}
	return n
}

func appByName(t *testing.T, cl *api.Client, name string) *api.Application {
	t.Helper()
	a, err := cl.Application(context.Background(), name)
	if err != nil {
		t.Fatalf("application %s: %v", name, err)
	}
	return a
}

func syncApp(t *testing.T, cl *api.Client, app string) *api.SyncResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := cl.SyncApp(ctx, app, true)
	if err != nil {
		t.Fatalf("sync %q: %v", app, err)
	}
	return r
}

// TestApplications: two applications from two repositories beside the
// bootstrap one sync independently; one failing (bad YAML, then an
// unreachable repository) does not stop the other and keeps its last good
// revision; a revision claiming another's object is refused naming both;
// prune false keeps removed objects; deleting an Application prunes its
// objects (or leaves them, with prune false).
func TestApplications(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repoA, repoB, boot := newGitRepo(t), newGitRepo(t), newGitRepo(t)
	a1 := repoA.commit("web", map[string]string{"web.yaml": namedDeploy("web", 2, "img:1")})
	repoB.git("checkout", "-q", "-b", "prod")
	repoB.commit("db and cache", map[string]string{"db.yaml": namedDeploy("db", 1, "img:1"), "cache.yaml": namedDeploy("cache", 1, "img:1")})
	boot.commit("apps", map[string]string{
		"apps/team-a.yaml": appDoc("team-a", repoA.dir, "main", true),
		"apps/team-b.yaml": appDoc("team-b", repoB.dir, "prod", false),
		"base.yaml":        namedDeploy("base", 1, "img:1"),
	})
	s := startServer(t, boot.dir, t.TempDir(), log, func(c *Config) { c.AppName = "platform" })
	agent := newFakeAgent(t, "node-a")
	agent.join(s.GossipAddr())
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx := context.Background()

	waitFor(t, 20*time.Second, "base, web and db, cache running", func() bool {
		return podsOf("base", agent) == 1 && podsOf("web", agent) == 2 && podsOf("db", agent) == 1 && podsOf("cache", agent) == 1
	})
	var apps []api.Application
	waitFor(t, 10*time.Second, "three Synced, Healthy applications", func() bool {
		var err error
		apps, err = cl.Applications(ctx)
		if err != nil || len(apps) != 3 {
			return false
		}
		for _, a := range apps {
			if a.Sync != api.SyncSynced || a.Health != api.HealthHealthy {
				return false
			}
		}
		return true
	})
	if apps[0].Name != "platform" || !apps[0].Bootstrap || apps[1].Name != "team-a" || apps[1].Applied.Hash != a1 || apps[2].Branch != "prod" || apps[2].Prune {
		t.Errorf("applications = %+v", apps)
	}
	if ta := appByName(t, cl, "team-a"); len(ta.Objects) != 1 || ta.Objects[0].Key.Name != "web" || ta.Objects[0].File != "web.yaml" || ta.Objects[0].Health != api.HealthHealthy {
		t.Errorf("team-a objects = %+v", ta.Objects)
	}

	// team-a's next commit is bad YAML: it fails with the file and line,
	// keeps web at 2, and team-b goes on syncing.
	repoA.commit("broken", map[string]string{"web.yaml": namedDeploy("web", 3, "img:1") + "  bogus: [\n"})
	r := syncApp(t, cl, "team-a")
	if r.Error == nil || r.Error.Stage != api.StageLoad || len(r.Error.Entries) == 0 || r.Error.Entries[0].File != "web.yaml" {
		t.Fatalf("bad YAML sync = %+v", r.Error)
	}
	repoB.commit("db: 2", map[string]string{"db.yaml": namedDeploy("db", 2, "img:1")})
	if r := syncApp(t, cl, "team-b"); r.Error != nil || !r.Applied {
		t.Fatalf("team-b beside a failing team-a: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "db at 2 with web kept at 2", func() bool { return podsOf("db", agent) == 2 && podsOf("web", agent) == 2 })
	if ta := appByName(t, cl, "team-a"); ta.Sync != api.SyncFailed || ta.Applied.Hash != a1 || ta.LastError == nil {
		t.Errorf("team-a after bad YAML: sync %s applied %v error %v", ta.Sync, ta.Applied, ta.LastError)
	}

	// team-a's repository becomes unreachable: a fetch error; team-b still syncs.
	moved := repoA.dir + ".gone"
	if err := os.Rename(repoA.dir, moved); err != nil {
		t.Fatal(err)
	}
	r = syncApp(t, cl, "team-a")
	if r.Error == nil || r.Error.Stage != api.StageFetch {
		t.Fatalf("unreachable repository: %+v", r.Error)
	}
	repoB.commit("db: 3", map[string]string{"db.yaml": namedDeploy("db", 3, "img:1")})
	if r := syncApp(t, cl, "team-b"); r.Error != nil {
		t.Fatalf("team-b beside an unreachable team-a: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "db at 3, web still 2", func() bool { return podsOf("db", agent) == 3 && podsOf("web", agent) == 2 })
	if err := os.Rename(moved, repoA.dir); err != nil {
		t.Fatal(err)
	}
	repoA.commit("fixed", map[string]string{"web.yaml": namedDeploy("web", 3, "img:1")})
	if r := syncApp(t, cl, "team-a"); r.Error != nil {
		t.Fatalf("team-a fixed: %+v", r.Error)
	}

	// team-b claims web: refused naming both applications, the object and
	// the file; web stays team-a's.
	b4 := repoB.commit("steal web", map[string]string{"web.yaml": namedDeploy("web", 1, "img:2")})
	r = syncApp(t, cl, "team-b")
	if r.Error == nil || r.Error.Stage != api.StageConflict ||
		!strings.Contains(r.Error.Message, `Deployment/default/web (web.yaml:1) of application "team-b" is already owned by application "team-a" (web.yaml:1)`) {
		t.Fatalf("conflict = %+v", r.Error)
	}
	if tb := appByName(t, cl, "team-b"); tb.Sync != api.SyncFailed || tb.Applied.Hash == b4 {
		t.Errorf("team-b after its conflict: %s %v", tb.Sync, tb.Applied)
	}
	waitFor(t, 10*time.Second, "web at 3 (team-a's)", func() bool { return podsOf("web", agent) == 3 })

	// The bootstrap points team-a at another path: team-a syncs at once,
	// without being asked.
	repoA.commit("v2", map[string]string{"v2/web.yaml": namedDeploy("web", 1, "img:1")})
	boot.commit("team-a from v2", map[string]string{"apps/team-a.yaml": strings.Replace(appDoc("team-a", repoA.dir, "main", true), "targetRevision: main", "targetRevision: main\n    path: v2", 1)})
	if r := syncApp(t, cl, "platform"); r.Error != nil {
		t.Fatalf("bootstrap moving team-a: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "team-a synced from v2 with web at 1", func() bool {
		ta := appByName(t, cl, "team-a")
		return ta.Path == "v2" && len(ta.Objects) == 1 && ta.Objects[0].File == "web.yaml" && podsOf("web", agent) == 1
	})

	// An image that cannot be pulled degrades team-a, not team-b.
	agent.mu.Lock()
	agent.badImage = "img:bad"
	agent.mu.Unlock()
	repoA.commit("bad image", map[string]string{"v2/web.yaml": namedDeploy("web", 1, "img:bad")})
	if r := syncApp(t, cl, "team-a"); r.Error != nil {
		t.Fatalf("team-a with a bad image: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "team-a Degraded by ErrImagePull", func() bool {
		ta := appByName(t, cl, "team-a")
		return ta.Health == api.HealthDegraded && strings.Contains(ta.HealthMessage, "ErrImagePull")
	})
	if tb := appByName(t, cl, "team-b"); tb.Health != api.HealthHealthy {
		t.Errorf("team-b's health beside a degraded team-a: %s %s", tb.Health, tb.HealthMessage)
	}

	// team-b (prune false) drops cache and the stolen web: cache keeps running, and it says so.
	repoB.commit("no cache", map[string]string{"web.yaml": "", "cache.yaml": ""})
	if r := syncApp(t, cl, "team-b"); r.Error != nil {
		t.Fatalf("team-b without cache: %+v", r.Error)
	}
	tb := appByName(t, cl, "team-b")
	if len(tb.Retained) != 1 || tb.Retained[0].Name != "cache" || !strings.Contains(tb.Message, "keep running because prune is off") {
		t.Errorf("team-b retained %v, message %q", tb.Retained, tb.Message)
	}
	if podsOf("cache", agent) != 1 {
		t.Errorf("cache stopped although team-b does not prune")
	}

	// A push to prod (team-b's branch) syncs team-b only; a GitHub push
	// naming another repository's main syncs nobody.
	aBefore := appByName(t, cl, "team-a").LastSync
	b6 := repoB.commit("db: 1", map[string]string{"db.yaml": namedDeploy("db", 1, "img:1")})
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"ref":"refs/heads/prod"}`, "sync triggered for 1 application(s)"},
		{`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/octo/other.git"}}`, "ignored: no application tracks refs/heads/main"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.APIURL()+api.PathWebhook, strings.NewReader(tc.body))
		req.Header.Set("X-GitHub-Event", "push")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), tc.want) {
			t.Errorf("webhook %s = %d %s", tc.body, resp.StatusCode, body)
		}
	}
	waitFor(t, 10*time.Second, "team-b at the pushed commit", func() bool { return appByName(t, cl, "team-b").Applied.Hash == b6 })
	if got := appByName(t, cl, "team-a").LastSync; !got.Equal(aBefore) {
		t.Errorf("a push to prod synced team-a (main) too")
	}
	waitFor(t, 10*time.Second, "db at 1", func() bool { return podsOf("db", agent) == 1 })

	// Deleting team-a (prune) removes web; deleting team-b (no prune)
	// leaves db and cache running, as an orphan that says so.
	boot.commit("drop both", map[string]string{"apps/team-a.yaml": "", "apps/team-b.yaml": ""})
	if r := syncApp(t, cl, "platform"); r.Error != nil {
		t.Fatalf("bootstrap without applications: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "web pruned", func() bool { return podsOf("web", agent) == 0 })
	if podsOf("db", agent) != 1 || podsOf("cache", agent) != 1 || podsOf("base", agent) != 1 {
		t.Errorf("after the deletions: db %d cache %d base %d", podsOf("db", agent), podsOf("cache", agent), podsOf("base", agent))
	}
	apps, _ = cl.Applications(ctx)
	if len(apps) != 2 || apps[1].Name != "team-b" || apps[1].Sync != api.SyncOutOfSync || !strings.Contains(apps[1].Message, "removed from the bootstrap application \"platform\" with prune off") {
		t.Errorf("applications after the deletions = %+v", apps)
	}
	evs, _ := cl.Events(ctx)
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Object+" "+e.Reason] = true
	}
	if !seen["application/team-a Deleted"] || !seen["application/team-b Orphaned"] {
		t.Errorf("no Deleted/Orphaned events: %v", seen)
	}
	if _, err := cl.Application(ctx, "team-a"); err == nil || !strings.Contains(err.Error(), `application "team-a" not found`) {
		t.Errorf("deleted team-a: %v", err)
	}
	if _, err := cl.SyncApp(ctx, "team-a", true); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("sync of a deleted application: %v", err)
	}
}

// TestApplicationsFailover: when the leader of three reconcilers dies, the
// new leader carries on with every application's applied revision (from
// raft), moves no pod, and syncs each application again.
func TestApplicationsFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repoA, boot := newGitRepo(t), newGitRepo(t)
	a1 := repoA.commit("web", map[string]string{"web.yaml": namedDeploy("web", 2, "img:1")})
	boot.commit("apps", map[string]string{"team-a.yaml": appDoc("team-a", repoA.dir, "main", true), "base.yaml": namedDeploy("base", 1, "img:1")})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	r1 := startPeer(t, "r1", boot.dir, dirs[0], 3, nil, log)
	r2 := startPeer(t, "r2", boot.dir, dirs[1], 3, []string{r1.GossipAddr()}, log)
	r3 := startPeer(t, "r3", boot.dir, dirs[2], 3, []string{r1.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	agent := newFakeAgent(t, "node-a")
	agent.join(r1.GossipAddr(), r2.GossipAddr(), r3.GossipAddr())
	waitFor(t, 20*time.Second, "base and web running", func() bool { return podsOf("base", agent) == 1 && podsOf("web", agent) == 2 })
	before := uids(agent)

	lead := leaderOf(servers...)
	var rest []*Server
	for _, s := range servers {
		if s != lead {
			rest = append(rest, s)
		}
	}
	if err := lead.el.shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := lead.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a new leader", func() bool { return leaderOf(rest...) != nil })
	next := leaderOf(rest...)
	cl, _ := api.NewClient(rest[0].APIURL()+","+rest[1].APIURL(), nil)
	var ta *api.Application
	waitFor(t, 10*time.Second, "team-a Synced on the new leader", func() bool {
		a, err := cl.Application(context.Background(), "team-a")
		ta = a
		return err == nil && a.Sync == api.SyncSynced && a.Applied != nil
	})
	if ta.Applied.Hash != a1 || len(ta.Objects) != 1 {
		t.Errorf("team-a on the new leader %s: applied %v objects %v", next.Name(), ta.Applied, ta.Objects)
	}
	if got := uids(agent); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("pods changed across the failover: %v → %v", before, got)
	}
	repoA.commit("web: 3", map[string]string{"web.yaml": namedDeploy("web", 3, "img:1")})
	if r := syncApp(t, cl, "team-a"); r.Error != nil || !r.Applied {
		t.Fatalf("team-a on the new leader: %+v", r.Error)
	}
	waitFor(t, 10*time.Second, "web at 3 from the new leader", func() bool { return podsOf("web", agent) == 3 })
}
