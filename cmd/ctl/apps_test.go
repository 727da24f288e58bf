package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestApplications runs ctl's application commands against a real
// reconciler whose bootstrap repository declares one more application.
func TestApplications(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	boot, team := t.TempDir(), t.TempDir()
	for _, dir := range []string{boot, team} {
		if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
			t.Fatalf("git init: %v\n%s", err, out)
		}
	}
	gitCommit(t, team, "shop: web", map[string]string{"deploy/ns.yaml": nsYAML, "deploy/web.yaml": strings.Replace(webYAML, "REPLICAS", "2", 1)})
	gitCommit(t, boot, "declare shop", map[string]string{"apps.yaml": `apiVersion: stevedore.dev/v1alpha1
kind: Application
metadata:
  name: shop
spec:
  source:
    repoURL: ` + team + `
    path: deploy
`})
	_, url := startReconciler(t, boot, nil)

	code, out, errOut := ctl(t, url, "sync")
	if code != 0 || !strings.Contains(out, "synced ") || !strings.Contains(out, "shop: synced ") || !strings.Contains(out, "by Ada: shop: web") {
		t.Fatalf("sync = %d %q %q", code, out, errOut)
	}
	code, out, _ = ctl(t, url, "get", "applications")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[0], "REPO") || !strings.Contains(lines[0], "HEALTH") ||
		!strings.HasPrefix(lines[1], "default ") || !strings.HasPrefix(lines[2], "shop ") || !strings.Contains(lines[2], team) ||
		!strings.Contains(lines[2], " deploy ") || !strings.Contains(lines[2], " Synced ") || !strings.Contains(lines[2], " Progressing ") {
		t.Errorf("get applications = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "applications", "-o", "json")
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Source struct {
					RepoURL, Path string
				} `json:"source"`
			} `json:"spec"`
			Status struct {
				Sync   struct{ Status, Revision string } `json:"sync"`
				Health struct{ Status string }           `json:"health"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Kind != "List" || len(list.Items) != 2 {
		t.Fatalf("get applications -o json = %d %v\n%s", code, err, out)
	}
	if it := list.Items[1]; it.Kind != "Application" || it.Metadata.Name != "shop" || it.Spec.Source.RepoURL != team || it.Spec.Source.Path != "deploy" ||
		it.Status.Sync.Status != "Synced" || len(it.Status.Sync.Revision) != 40 || it.Status.Health.Status != "Progressing" {
		t.Errorf("get applications -o json item = %+v", it)
	}
	code, out, _ = ctl(t, url, "status", "shop")
	if code != 0 || !strings.Contains(out, "Application shop\n") || !strings.Contains(out, "Sync:     Synced") ||
		!strings.Contains(out, "Health:   Progressing (Deployment shop/web: 0/2 replicas available") ||
		!strings.Contains(out, "  Deployment   shop        web    web.yaml:1") {
		t.Errorf("status shop = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "status")
	if code != 0 || !strings.Contains(out, "Applications:\n") || !strings.Contains(out, "  shop ") {
		t.Errorf("status with applications = %d\n%s", code, out)
	}
	local := writeDir(t, map[string]string{"ns.yaml": nsYAML, "web.yaml": strings.Replace(webYAML, "REPLICAS", "3", 1)})
	if code, out, _ = ctl(t, url, "diff", "shop", "--local", local); code != 1 || !strings.Contains(out, "changed Deployment/shop/web") || !strings.Contains(out, "1 changed, 0 deleted") {
		t.Errorf("diff shop --local = %d\n%s", code, out)
	}
	gitCommit(t, team, "broken", map[string]string{"deploy/web.yaml": strings.Replace(webYAML, "REPLICAS", "-1", 1)})
	code, _, errOut = ctl(t, url, "sync", "shop")
	if code != 1 || !strings.Contains(errOut, "web.yaml:7: Deployment shop/web: spec.replicas:") {
		t.Errorf("sync shop of a bad commit = %d %q", code, errOut)
	}
	if code, out, _ = ctl(t, url, "get", "apps", "-o", "wide"); code != 0 || !strings.Contains(out, " Failed ") || !strings.Contains(out, "PRUNE") {
		t.Errorf("get apps -o wide after a bad commit = %d\n%s", code, out)
	}
	if code, _, errOut = ctl(t, url, "sync", "nope"); code != 2 || !strings.Contains(errOut, `application "nope" not found`) {
		t.Errorf("sync nope = %d %q", code, errOut)
	}
	if code, _, errOut = ctl(t, url, "status", "nope"); code != 2 || !strings.Contains(errOut, `application "nope" not found`) {
		t.Errorf("status nope = %d %q", code, errOut)
	}
}
