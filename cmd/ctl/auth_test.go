package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// TestAuthCommands runs ctl auth and ctl ui against a secured reconciler:
// the admin's whoami and can-i, a UI link whose token signs in as the
// admin, and a user with no bindings told no (exit 1) but yes for the
// status, who may not mint a UI token for itself.
func TestAuthCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "ns", map[string]string{"ns.yaml": nsYAML})
	var dataDir string
	_, url := startReconciler(t, repo, func(c *server.Config) { c.Security.Disabled = false; dataDir = c.DataDir })
	admin := filepath.Join(dataDir, "admin.conf")
	as := func(conf string, args ...string) (int, string, string) {
		return ctlEnv(t, map[string]string{EnvConfig: conf}, args...)
	}
	code, out, errOut := as(admin, "auth", "whoami")
	if code != 0 || !regexp.MustCompile(`(?m)^Groups\s+\[system:masters system:authenticated\]$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^Authenticated by\s+certificate$`).MatchString(out) {
		t.Fatalf("auth whoami: %d %q %q", code, out, errOut)
	}
	if code, out, _ := as(admin, "auth", "can-i", "delete", "nodes", "-A"); code != 0 || out != "yes\n" {
		t.Errorf("admin can-i delete nodes: %d %q", code, out)
	}
	code, out, errOut = as(admin, "ui", "--ttl", "1h")
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(url) + `/ui/#token=(sdt_[0-9a-f]{16}_\S+)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(errOut, "expires") {
		t.Fatalf("ui: %d %q %q", code, out, errOut)
	}
	conf, err := api.LoadClientConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	tokenConf := func(token string) string {
		p := filepath.Join(t.TempDir(), "token.conf")
		if err := api.WriteClientConfig(p, api.NewClientConfig("test", url, conf.Clusters[0].Cluster.CertificateAuthorityData, "u", api.UserConfig{Token: token})); err != nil {
			t.Fatal(err)
		}
		return p
	}
	uiConf := tokenConf(m[1])
	code, out, _ = as(uiConf, "auth", "whoami", "-o", "json")
	if code != 0 || !strings.Contains(out, `"method": "token"`) || !strings.Contains(out, "system:masters") {
		t.Fatalf("whoami with the UI's token: %d %s", code, out)
	}

	code, out, _ = as(admin, "create", "token", "carol")
	secret := regexp.MustCompile(`sdt_\S+`).FindString(out)
	if code != 0 || secret == "" {
		t.Fatalf("create token: %d %q", code, out)
	}
	carol := tokenConf(secret)
	code, out, errOut = as(carol, "auth", "can-i", "list", "pods", "-n", "shop")
	if code != exitChanges || out != "no\n" || !strings.Contains(errOut, "no RBAC rule allows user carol") || !strings.Contains(errOut, "list pods in namespace shop") {
		t.Errorf("carol can-i list pods: %d %q %q", code, out, errOut)
	}
	if code, out, _ := as(carol, "auth", "can-i", "list", "pods", "-n", "shop", "-q"); code != exitChanges || out != "" {
		t.Errorf("can-i -q: %d %q", code, out)
	}
	if code, out, _ := as(carol, "auth", "can-i", "get", "/v1/status"); code != 0 || out != "yes\n" {
		t.Errorf("carol can-i get /v1/status: %d %q", code, out)
	}
	if code, _, errOut := as(carol, "ui"); code != exitError || !strings.Contains(errOut, "impersonate") && !strings.Contains(errOut, "create tokens") {
		t.Errorf("carol's ui: %d %q", code, errOut)
	}
	if code, _, errOut := as(carol, "auth", "can-i", "list", "widgets"); code != exitError || !strings.Contains(errOut, `unknown resource "widgets"`) {
		t.Errorf("can-i list widgets: %d %q", code, errOut)
	}
}

func TestAccessCheck(t *testing.T) {
	for _, tc := range []struct {
		verb, target string
		o            canIOptions
		want         api.AccessCheck
	}{
		{"list", "pods", canIOptions{}, api.AccessCheck{Verb: "list", Resource: "pods", Namespace: "default"}},
		{"get", "po/web-0", canIOptions{namespace: "shop"}, api.AccessCheck{Verb: "get", Resource: "pods", Name: "web-0", Namespace: "shop"}},
		{"get", "pods/log", canIOptions{namespace: "shop"}, api.AccessCheck{Verb: "get", Resource: "pods", Subresource: "log", Namespace: "shop"}},
		{"get", "pods/web-0", canIOptions{subresource: "log"}, api.AccessCheck{Verb: "get", Resource: "pods", Subresource: "log", Name: "web-0", Namespace: "default"}},
		{"list", "deploy", canIOptions{all: true}, api.AccessCheck{Verb: "list", Group: "apps", Resource: "deployments"}},
		{"create", "applications/sync", canIOptions{}, api.AccessCheck{Verb: "create", Group: "stevedore.dev", Resource: "applications", Subresource: "sync"}},
		{"patch", "nodes/node-1", canIOptions{namespace: "shop"}, api.AccessCheck{Verb: "patch", Resource: "nodes", Name: "node-1"}},
		{"get", "leases.coordination.k8s.io", canIOptions{}, api.AccessCheck{Verb: "get", Group: "coordination.k8s.io", Resource: "leases", Namespace: "default"}},
		{"get", "/metrics", canIOptions{}, api.AccessCheck{Verb: "get", Path: "/metrics"}},
	} {
		got, err := accessCheck(tc.verb, tc.target, tc.o)
		if err != nil {
			t.Errorf("%s %s: %v", tc.verb, tc.target, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %s: (-want +got)\n%s", tc.verb, tc.target, diff)
		}
	}
	if _, err := accessCheck("get", "/metrics", canIOptions{namespace: "x"}); err == nil {
		t.Error("a path with a namespace: no error")
	}
}

// TestGetPodsServerFilters: -l goes to the reconciler, and
// --field-selector too when it names only fields the reconciler knows;
// the answer is filtered again here (the fake filters nothing).
func TestGetPodsServerFilters(t *testing.T) {
	web1, web4 := running("web-1", "node-a", "10.88.0.2", 0), unschedulable("web-4")
	web1.Labels, web4.Labels = map[string]string{"app": "web"}, map[string]string{"app": "web"}
	f := &fakeReconciler{pods: [][]api.Pod{{web1, web4}}}
	url := startFake(t, f)
	podQuery := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.paths {
			if strings.HasPrefix(p, api.PathPods+"?") {
				return p
			}
		}
		return ""
	}
	code, out, errOut := ctl(t, url, "get", "pods", "-n", "shop", "-l", "app=web", "--field-selector", "status.phase=Running")
	if code != 0 || !strings.Contains(out, "web-1") || strings.Contains(out, "web-4") {
		t.Fatalf("get pods -l --field-selector: %d %q %q", code, out, errOut)
	}
	if q := podQuery(); !strings.Contains(q, "labelSelector=app%3Dweb") || !strings.Contains(q, "fieldSelector=status.phase%3DRunning") {
		t.Errorf("the pod list asked %q, want both selectors", q)
	}
	f.mu.Lock()
	f.paths = nil
	f.mu.Unlock()
	code, out, _ = ctl(t, url, "get", "pods", "-n", "shop", "-l", "app=web", "--field-selector", "status.podIP=10.88.0.2")
	if code != 0 || !strings.Contains(out, "web-1") || strings.Contains(out, "web-4") {
		t.Fatalf("get pods --field-selector status.podIP: %d %q", code, out)
	}
	if q := podQuery(); !strings.Contains(q, "labelSelector=app%3Dweb") || strings.Contains(q, "fieldSelector") {
		t.Errorf("the pod list asked %q, want the label selector only (the reconciler does not know status.podIP)", q)
	}
}
