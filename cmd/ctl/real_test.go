package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// gitCommit writes files into the work tree dir and commits them with the
// git CLI.
func gitCommit(t *testing.T, dir, msg string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", msg}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
			"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

// gitInit makes an empty repository with branch main in a temp dir.
func gitInit(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	return repo
}

// startReconciler starts a real single reconciler (no agents, no polling,
// loopback addresses) tracking repo, with edit's changes to its config,
// stopped when the test ends. It returns its API URL.
func startReconciler(t *testing.T, repo string, edit func(*server.Config)) (*server.Server, string) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Security.Disabled = true // ctl's commands against a plain server; security_test.go secures one
	cfg.Source.URL, cfg.DataDir = repo, t.TempDir()
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PollInterval = -1
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, s.APIURL()
}

// TestAgainstRealServer runs ctl against a real reconciler (no agents)
// tracking a real Git repository: the wire types of both ends must agree.
func TestAgainstRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "shop: web with 2 replicas", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1)})

	_, url := startReconciler(t, repo, nil)

	code, out, errOut := ctl(t, url, "sync")
	if code != 0 || !strings.Contains(out, "by Ada: shop: web with 2 replicas") {
		t.Fatalf("sync = %d %q %q", code, out, errOut)
	}
	code, out, _ = ctl(t, url, "get", "pods", "-n", "shop")
	if code != 0 || strings.Count(out, "Unschedulable") != 2 {
		t.Errorf("get pods with no nodes = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "deployments", "-A")
	if code != 0 || !strings.Contains(out, "shop        web    0/2") {
		t.Errorf("get deployments = %d\n%s", code, out)
	}
	// Kubernetes-shaped objects from the real API: the Deployment's spec
	// comes from the applied revision, the pods' conditions from the view.
	code, out, errOut = ctl(t, url, "get", "deploy", "web", "-n", "shop", "-o",
		"jsonpath={.apiVersion} {.spec.replicas} {.spec.template.spec.containers[0].image} {.status.conditions[0].type}={.status.conditions[0].status}")
	if code != 0 || out != "apps/v1 2 hello:1 Available=False" {
		t.Errorf("get deploy web -o jsonpath = %d %q %q", code, out, errOut)
	}
	code, out, _ = ctl(t, url, "get", "pods", "-n", "shop", "-o", "jsonpath={range .items[*]}{.status.phase}/{.status.conditions[0].reason};{end}")
	if code != 0 || out != "Pending/Unschedulable;Pending/Unschedulable;" {
		t.Errorf("get pods -o jsonpath = %d %q", code, out)
	}
	code, out, _ = ctl(t, url, "get", "all", "-n", "shop", "-o", "name")
	if code != 0 || strings.Count(out, "pod/web-") != 2 || !strings.Contains(out, "deployment.apps/web\n") {
		t.Errorf("get all -o name = %d\n%s", code, out)
	}
	if code, out, _ = ctl(t, url, "diff"); code != 0 {
		t.Errorf("diff at the applied head = %d\n%s", code, out)
	}
	local := writeDir(t, map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "3", 1)})
	if code, out, _ = ctl(t, url, "diff", "--local", local); code != 1 || !strings.Contains(out, "changed Deployment/shop/web") ||
		!strings.Contains(out, "  + pod shop/web-") ||
		!strings.Contains(out, " → Pending: no nodes available to schedule pods\n") {
		t.Errorf("diff --local = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "pods", "-n", "shop", "-o", "json")
	var l struct {
		Items []struct{ Metadata struct{ Name string } }
	}
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || len(l.Items) != 2 {
		t.Fatalf("get pods -o json = %d %v\n%s", code, err, out)
	}
	pod0 := l.Items[0].Metadata.Name
	code, out, errOut = ctl(t, url, "describe", "pod", pod0, "-n", "shop")
	if code != 0 || !strings.Contains(out, "Name:               "+pod0+"\n") || !strings.Contains(out, "Reason:             Unschedulable\n") ||
		!strings.Contains(out, "Scheduling:\n  no nodes available to schedule pods\n") || !strings.Contains(out, "FailedScheduling") {
		t.Errorf("describe pending pod = %d %q\n%s", code, errOut, out)
	}
	if code, _, errOut = ctl(t, url, "describe", "pod", "nope", "-n", "shop"); code != 1 || !strings.Contains(errOut, "pod shop/nope not found") {
		t.Errorf("describe unknown pod = %d %q", code, errOut)
	}

	gitCommit(t, repo, "oops", map[string]string{"apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "-1", 1)})
	code, out, errOut = ctl(t, url, "diff")
	if code != 2 || !strings.Contains(errOut, "apps/web.yaml:7: Deployment shop/web: spec.replicas:") {
		t.Errorf("diff of a bad head = %d %q %q", code, out, errOut)
	}
	code, _, errOut = ctl(t, url, "sync", "--wait", "--timeout", "10s")
	if code != 1 || !strings.Contains(errOut, "failed to load") || !strings.Contains(errOut, "apps/web.yaml:7:") {
		t.Errorf("sync of a bad commit = %d %q", code, errOut)
	}
	code, out, _ = ctl(t, url, "status")
	if code != 0 || !strings.Contains(out, "Applied:     ") || !strings.Contains(out, "shop: web with 2 replicas") ||
		!strings.Contains(out, "by Ada (oops) failed to load:") || !strings.Contains(out, "keeps running") {
		t.Errorf("status = %d\n%s", code, out)
	}
	// Fixed, but no node to run on: a clear failure, exit 1 with the reason.
	gitCommit(t, repo, "fix", map[string]string{"apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "1", 1)})
	code, out, errOut = ctl(t, url, "sync", "--wait", "--timeout", "10s")
	if code != 1 || !strings.Contains(out, "0/1 pods running") || !strings.Contains(errOut, ": Unschedulable: ") {
		t.Errorf("sync --wait with no nodes = %d %q %q", code, out, errOut)
	}
}
