package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// withHistory serves the fake's API plus GET /v1/deployments/NS/NAME/history
// from revs (by "namespace/name"), 404 for another Deployment.
func withHistory(t *testing.T, f *fakeReconciler, revs map[string][]api.DeploymentRevision) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v1/deployments/")
		if !ok || !strings.HasSuffix(rest, "/history") {
			f.ServeHTTP(w, r)
			return
		}
		h, ok := revs[strings.TrimSuffix(rest, "/history")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Error{Error: "deployment not found", Code: api.CodeNotFound})
			return
		}
		json.NewEncoder(w).Encode(api.RevisionList{Revisions: h})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// webWL is shop/web with 3 replicas and the given counts.
func webWL(updated, current, available int32, progress string) api.Workload {
	return api.Workload{Kind: spec.KindDeployment, Namespace: "shop", Name: "web", Replicas: 3, UpToDate: updated, Current: current,
		Ready: available, Available: available, Progress: progress, Created: t0.Add(-time.Hour)}
}

func wlEvent(t *testing.T, typ string, w api.Workload) api.WatchEvent {
	t.Helper()
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return api.WatchEvent{Type: typ, Object: b}
}

var bookmark = api.WatchEvent{Type: api.WatchBookmark}

// TestRolloutStatus plays watch streams of a Deployment's rollout: the
// progress lines as kubectl prints them (each once, a stream opened again
// printing nothing twice), success, a passed deadline, an automatic
// rollback, a timeout, an unknown Deployment and --watch=false.
func TestRolloutStatus(t *testing.T) {
	defer func(d time.Duration) { watchRetry = d }(watchRetry)
	watchRetry = 20 * time.Millisecond
	other := api.Workload{Kind: spec.KindDeployment, Namespace: "shop", Name: "api", Replicas: 1, UpToDate: 1, Current: 1, Available: 1, Progress: api.ProgressComplete}
	rc := api.Workload{Kind: spec.KindReplicationController, Namespace: "shop", Name: "web", Replicas: 1}

	f := &fakeReconciler{watches: [][]api.WatchEvent{
		// The first stream ends mid-rollout, as when the leader changes.
		{wlEvent(t, api.WatchAdded, other), wlEvent(t, api.WatchAdded, rc), wlEvent(t, api.WatchAdded, webWL(1, 4, 3, api.ProgressProgressing)), bookmark,
			wlEvent(t, api.WatchModified, webWL(3, 5, 3, api.ProgressProgressing))},
		{wlEvent(t, api.WatchAdded, other), wlEvent(t, api.WatchAdded, webWL(3, 5, 3, api.ProgressProgressing)), bookmark,
			wlEvent(t, api.WatchModified, webWL(3, 3, 2, api.ProgressProgressing)),
			wlEvent(t, api.WatchModified, other),
			wlEvent(t, api.WatchModified, webWL(3, 3, 3, api.ProgressComplete))},
	}}
	url := startFake(t, f)
	code, out, errOut := ctl(t, url, "rollout", "status", "deployment/web", "-n", "shop")
	want := `Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...
Waiting for deployment "web" rollout to finish: 2 old replicas are pending termination...
Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...
deployment "web" successfully rolled out
`
	if code != 0 || out != want {
		t.Errorf("rollout status = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}

	stuck := webWL(3, 6, 3, api.ProgressDeadlineExceeded)
	stuck.Message = "pod web-5d9c1a2b3c-0 not available after 2s: Pending ErrImagePull (not found)"
	stuck.Conditions = []agentapi.Condition{{Type: "Progressing", Status: "False", Reason: "ProgressDeadlineExceeded"}}
	rolled := webWL(3, 3, 3, api.ProgressComplete)
	rolled.Override = "progress deadline exceeded on revision 2 (commit 91cff47)"
	for _, tc := range []struct {
		name    string
		args    []string
		script  []api.WatchEvent
		code    int
		out     string
		errOut  string
		wantErr string
	}{
		{name: "deadline", args: []string{"web"}, script: []api.WatchEvent{wlEvent(t, api.WatchAdded, webWL(3, 6, 3, api.ProgressProgressing)), bookmark, wlEvent(t, api.WatchModified, stuck)},
			code: 1, out: "Waiting for deployment \"web\" rollout to finish: 3 old replicas are pending termination...\n",
			errOut: "error: deployment \"web\" exceeded its progress deadline: pod web-5d9c1a2b3c-0 not available after 2s: Pending ErrImagePull (not found)\n"},
		{name: "rolled back", args: []string{"deploy", "web"}, script: []api.WatchEvent{wlEvent(t, api.WatchAdded, rolled), bookmark},
			code: 1, errOut: "error: deployment \"web\" was rolled back automatically: progress deadline exceeded on revision 2 (commit 91cff47); its Git template runs again once a commit changes it\n"},
		{name: "timeout", args: []string{"web", "--timeout", "200ms"}, script: []api.WatchEvent{wlEvent(t, api.WatchAdded, webWL(1, 4, 3, api.ProgressProgressing)), bookmark},
			code: 2, out: "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n",
			errOut: "error: timed out after 200ms waiting for deployment \"web\" rollout to finish\n"},
		{name: "not found", args: []string{"deployments/nope"}, script: []api.WatchEvent{wlEvent(t, api.WatchAdded, other), bookmark},
			code: 1, errOut: "error: deployment \"nope\" not found in namespace \"shop\"\n"},
		{name: "deleted", args: []string{"web"}, script: []api.WatchEvent{wlEvent(t, api.WatchAdded, webWL(1, 4, 3, api.ProgressProgressing)), bookmark, wlEvent(t, api.WatchDeleted, webWL(1, 4, 3, api.ProgressProgressing))},
			code: 1, out: "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...\n",
			errOut: "error: deployment \"web\" was deleted\n"},
		{name: "not a deployment", args: []string{"rc/web"}, code: 2, wantErr: "rollout supports deployments only"},
		{name: "two names", args: []string{"web", "api", "x"}, code: 2, wantErr: "want one Deployment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeReconciler{watches: [][]api.WatchEvent{tc.script}}
			url := startFake(t, f)
			code, out, errOut := ctl(t, url, append([]string{"rollout", "status", "-n", "shop"}, tc.args...)...)
			if code != tc.code || out != tc.out || tc.errOut != "" && errOut != tc.errOut || !strings.Contains(errOut, tc.wantErr) {
				t.Errorf("rollout status %v = %d\n%s%s\nwant %d\n%s%s%s", tc.args, code, out, errOut, tc.code, tc.out, tc.errOut, tc.wantErr)
			}
		})
	}

	// --watch=false: the state once, from the list.
	f = &fakeReconciler{wl: []api.Workload{other, webWL(3, 3, 2, api.ProgressProgressing)}}
	url = startFake(t, f)
	code, out, _ = ctl(t, url, "rollout", "status", "web", "-n", "shop", "-w=false")
	if code != 0 || out != "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...\n" {
		t.Errorf("rollout status -w=false = %d %q", code, out)
	}
	code, _, errOut = ctl(t, url, "rollout", "status", "nope", "--watch=false")
	if code != 1 || !strings.Contains(errOut, `deployment "nope" not found in namespace "default"`) {
		t.Errorf("rollout status -w=false of an unknown Deployment = %d %q", code, errOut)
	}
}

// webHistory is three revisions of shop/web, the last Git's current one.
func webHistory() []api.DeploymentRevision {
	tmpl := func(images ...string) spec.PodTemplateSpec {
		t := spec.PodTemplateSpec{}
		t.Labels = map[string]string{"app": "web"}
		for i, img := range images {
			t.Spec.Containers = append(t.Spec.Containers, spec.Container{Name: []string{"web", "side"}[i], Image: img})
		}
		return t
	}
	return []api.DeploymentRevision{
		{Number: 1, Hash: "aaaaaaaaaa", Commit: "1111111111111111111111111111111111111111", Author: "Ada Lovelace", Subject: "web: hello 1", Time: t0.Add(-3 * time.Hour), Images: []string{"hello:1"}, Healthy: true, Template: tmpl("hello:1")},
		{Number: 2, Hash: "bbbbbbbbbb", Commit: "2222222222222222222222222222222222222222", Author: "Bob", Subject: "web: hello 2 with a sidecar", Time: t0.Add(-2 * time.Hour), Images: []string{"hello:2", "side:1"}, Healthy: true, Template: tmpl("hello:2", "side:1")},
		{Number: 3, Hash: "cccccccccc", Commit: "3333333333333333333333333333333333333333", Author: "Ada Lovelace", Subject: "web: hello bad", Time: t0.Add(-time.Hour), Images: []string{"hello:bad"}, Current: true, Template: tmpl("hello:bad")},
	}
}

// TestRolloutHistory: the table with the current revision marked (and the
// running one during an automatic rollback), one revision's template, and
// the errors.
func TestRolloutHistory(t *testing.T) {
	web := webWL(3, 3, 3, api.ProgressDeadlineExceeded)
	web.RevisionNumber, web.Commit = 3, "3333333333333333333333333333333333333333"
	f := &fakeReconciler{wl: []api.Workload{web}}
	url := withHistory(t, f, map[string][]api.DeploymentRevision{"shop/web": webHistory(), "shop/empty": {}})

	code, out, errOut := ctl(t, url, "rollout", "history", "deployment/web", "-n", "shop")
	want := `deployment.apps/web
REVISION      COMMIT    AUTHOR         IMAGES           CHANGE-CAUSE
1             1111111   Ada Lovelace   hello:1          web: hello 1
2             2222222   Bob            hello:2,side:1   web: hello 2 with a sidecar
3 (current)   3333333   Ada Lovelace   hello:bad        web: hello bad
`
	if code != 0 || out != want {
		t.Errorf("rollout history = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}

	// An automatic rollback runs revision 2.
	f.wl[0].Override, f.wl[0].RevisionNumber = "progress deadline exceeded on revision 3 (commit 3333333)", 2
	code, out, _ = ctl(t, url, "rollout", "history", "web", "-n", "shop")
	if code != 0 || !strings.Contains(out, "\n2 (running)   2222222") || !strings.Contains(out, "\n3 (current)   3333333") ||
		!strings.HasSuffix(out, "Revision 2 runs instead of revision 3 (automatic rollback): progress deadline exceeded on revision 3 (commit 3333333)\n") {
		t.Errorf("rollout history during a rollback = %d\n%s", code, out)
	}

	code, out, _ = ctl(t, url, "rollout", "history", "web", "-n", "shop", "--revision", "2")
	want = `# deployment.apps/web revision 2
# commit 2222222 by Bob at 2026-11-25 10:00:00 UTC: web: hello 2 with a sidecar
metadata:
  labels:
    app: web
spec:
  containers:
  - image: hello:2
    name: web
    resources: {}
  - image: side:1
    name: side
    resources: {}
`
	if code != 0 || out != want {
		t.Errorf("rollout history --revision 2 = %d\n%s\nwant:\n%s", code, out, want)
	}

	code, out, _ = ctl(t, url, "rollout", "history", "web", "-n", "shop", "-o", "json")
	var l api.RevisionList
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || len(l.Revisions) != 3 || !l.Revisions[2].Current || !l.Revisions[0].Healthy {
		t.Errorf("rollout history -o json = %d %v\n%s", code, err, out)
	}

	code, out, _ = ctl(t, url, "rollout", "history", "empty", "-n", "shop")
	if code != 0 || !strings.Contains(out, "No revision recorded yet") {
		t.Errorf("rollout history of a Deployment without revisions = %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"web", "-n", "shop", "--revision", "9"}, 1, "unable to find revision 9 of deployment \"web\" (kept: 1, 2, 3)"},
		{[]string{"nope", "-n", "shop"}, 1, `deployment "nope" not found in namespace "shop"`},
		{[]string{"web", "-o", "wide"}, 2, "unknown output format"},
	} {
		code, _, errOut := ctl(t, url, append([]string{"rollout", "history"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.err) {
			t.Errorf("rollout history %v = %d %q, want %d %q", tc.args, code, errOut, tc.code, tc.err)
		}
	}
}

const describeWebYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    team: shop
  annotations:
    stevedore.dev/auto-rollback: "true"
spec:
  replicas: 10
  minReadySeconds: 5
  progressDeadlineSeconds: 120
  strategy:
    rollingUpdate:
      maxUnavailable: 0
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: hello:bad
        ports:
        - containerPort: 8080
        env:
        - name: MODE
          value: prod
        resources:
          requests:
            cpu: 100m
`

// TestDescribeDeployment: kubectl's fields (replicas line, strategy,
// conditions, template), the revision and its commit, the automatic
// rollback, and the events of the Deployment and its pods only.
func TestDescribeDeployment(t *testing.T) {
	web := api.Workload{Kind: spec.KindDeployment, Namespace: "shop", Name: "web", Replicas: 10, UpToDate: 3, Current: 12, Ready: 9, Available: 9,
		Revision: "cccccccccc", RevisionNumber: 3, Commit: "3333333333333333333333333333333333333333", Created: t0.Add(-time.Hour),
		Selector: map[string]string{"app": "web"}, Strategy: "RollingUpdate", MaxUnavailable: 0, MaxSurge: 3,
		Progress: api.ProgressDeadlineExceeded, Message: "pod web-cccccccccc-0 not available after 2m0s: Pending ErrImagePull",
		Override:   "progress deadline exceeded on revision 3 (commit 3333333)",
		Conditions: []agentapi.Condition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable"}, {Type: "Progressing", Status: "False", Reason: "ProgressDeadlineExceeded", Message: "stuck"}},
	}
	f := &fakeReconciler{
		wl:       []api.Workload{web},
		revision: api.Revision{Files: map[string][]byte{"web.yaml": []byte(describeWebYAML)}},
		events: []api.Event{
			{Time: t0.Add(-50 * time.Second), Object: "Pod/shop/web-cccccccccc-0", Reason: "Scheduled", Message: "placed on node-a"},
			{Time: t0.Add(-40 * time.Second), Object: "Pod/shop/web-api-cccccccccc-0", Reason: "Scheduled", Message: "another Deployment's pod"},
			{Time: t0.Add(-30 * time.Second), Object: "Deployment/shop/web", Reason: "RolledBack", Type: "Warning", Message: "rolled back to revision 2"},
			{Time: t0.Add(-20 * time.Second), Object: "Deployment/other/web", Reason: "RolledBack", Type: "Warning", Message: "another namespace"},
		},
	}
	url := withHistory(t, f, map[string][]api.DeploymentRevision{"shop/web": webHistory()})
	code, out, errOut := ctl(t, url, "describe", "deployment", "web", "-n", "shop")
	t.Logf("ctl describe deployment:\n%s", out)
	if code != 0 {
		t.Errorf("describe deployment = %d %q", code, errOut)
	}
	for _, want := range []string{
		"Name:               web\n",
		"Labels:             team=shop\n",
		"Annotations:        stevedore.dev/auto-rollback=true\n",
		"Selector:           app=web\n",
		"Replicas:           10 desired | 3 updated | 12 total | 9 available | 3 unavailable\n",
		"StrategyType:       RollingUpdate\n",
		"MinReadySeconds:    5\n",
		"RollingUpdateStrategy: 0 max unavailable, 25% max surge\n",
		"Revision:           3 (commit 3333333 by Ada Lovelace: web: hello bad)\n",
		"Rolled back:        progress deadline exceeded on revision 3 (commit 3333333); Git's template runs again once a commit changes it\n",
		"Progress:           ProgressDeadlineExceeded: pod web-cccccccccc-0 not available after 2m0s: Pending ErrImagePull\n",
		"Pod Template:\n  Labels:           app=web\n  Containers:\n    web:\n      Image:        hello:bad\n",
		"  Progressing   False    ProgressDeadlineExceeded   stuck\n",
		"Warning   RolledBack   30s   reconciler   deployment/web",
		"Normal    Scheduled    50s   reconciler   pod/web-cccccccccc-0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe deployment lacks %q:\n%s%s", want, out, errOut)
		}
	}
	for _, unwanted := range []string{"another Deployment's pod", "another namespace"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("describe deployment shows %q:\n%s", unwanted, out)
		}
	}
	code, out, _ = ctl(t, url, "describe", "deploy", "web", "-n", "shop", "-o", "json")
	var d deploymentDescription
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.Deployment.Name != "web" || len(d.Revisions) != 3 || len(d.Events) != 2 || d.Spec == nil {
		t.Errorf("describe deployment -o json = %d %v\n%s", code, err, out)
	}
	// Without the revision in the history, the applied object's template.
	f.wl[0].RevisionNumber = 0
	_, out, _ = ctl(t, url, "describe", "deployment", "web", "-n", "shop")
	for _, want := range []string{
		"Revision:           template cccccccccc (not in the history yet)\n",
		"      Image:        hello:bad\n      Port:         8080/TCP\n      Environment:\n        MODE:       prod\n      Requests:\n        cpu:        100m\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe deployment lacks %q:\n%s", want, out)
		}
	}
	if code, _, errOut := ctl(t, url, "describe", "deployment", "nope", "-n", "shop"); code != 1 || !strings.Contains(errOut, "deployment shop/nope not found") {
		t.Errorf("describe of an unknown Deployment = %d %q", code, errOut)
	}
}

// TestStatusRollouts: ctl status lists the Deployments stuck or rolled
// back automatically, and nothing about the others.
func TestStatusRollouts(t *testing.T) {
	stuck := webWL(3, 6, 3, api.ProgressDeadlineExceeded)
	stuck.Name, stuck.RevisionNumber, stuck.Message = "cart", 4, "pod cart-5d9c1a2b3c-0 not available after 10m0s: Pending ErrImagePull"
	rolled := webWL(3, 3, 3, api.ProgressComplete)
	rolled.RevisionNumber, rolled.Override = 2, "progress deadline exceeded on revision 3 (commit 3333333)"
	fine := webWL(3, 3, 3, api.ProgressComplete)
	fine.Name = "api"
	f := &fakeReconciler{status: api.Status{Repo: "r", Branch: "main"}, wl: []api.Workload{fine, stuck, rolled}}
	url := startFake(t, f)
	code, out, _ := ctl(t, url, "status")
	want := `Rollouts: 2 Deployment(s) need attention:
  DEPLOYMENT   REVISION   PROBLEM                    MESSAGE
  shop/cart    4          ProgressDeadlineExceeded   pod cart-5d9c1a2b3c-0 not available after 10m0s: Pending ErrImagePull
  shop/web     2          RolledBack                 progress deadline exceeded on revision 3 (commit 3333333); Git's template does not run until a commit changes it
`
	if code != 0 || !strings.HasSuffix(out, want) || strings.Contains(out, "shop/api") {
		t.Errorf("status = %d\n%s\nwant it to end with:\n%s", code, out, want)
	}
}

// TestRolloutCompletion: rollout's subcommands complete Deployments (not
// ReplicationControllers), with the type typed, and namespaces.
func TestRolloutCompletion(t *testing.T) {
	f := &fakeReconciler{
		wl:  []api.Workload{{Kind: "Deployment", Namespace: "shop", Name: "web"}, {Kind: "Deployment", Namespace: "shop", Name: "api"}, {Kind: "ReplicationController", Namespace: "shop", Name: "cache"}},
		nss: []api.Namespace{{Name: "default"}, {Name: "shop"}},
	}
	url := startFake(t, f)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"rollout", ""}, []string{"history", "status", "undo"}},
		{[]string{"rollout", "status", "-n", "shop", ""}, []string{"api", "web"}},
		{[]string{"rollout", "history", "-n", "shop", "deployment/w"}, []string{"deployment/web"}},
		{[]string{"rollout", "status", "-n", "shop", "deploy", "a"}, []string{"api"}},
		{[]string{"rollout", "status", "-n", "shop", "web", ""}, nil},
		{[]string{"rollout", "history", "-n", "s"}, []string{"shop"}},
		{[]string{"describe", "dep"}, []string{"deployments"}},
	} {
		words, _, _ := completeWords(t, url, tc.args...)
		words = slices.DeleteFunc(words, func(w string) bool { return w == "help" || w == "" })
		if !slices.Equal(words, tc.want) {
			t.Errorf("complete %q = %q, want %q", tc.args, words, tc.want)
		}
	}
}
