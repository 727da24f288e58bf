package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestTokenCommands creates, lists and revokes API tokens against a real
// reconciler: the secret is printed once, the list never shows it.
func TestTokenCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler; not a -short test")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "ns", map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"})
	_, url := startReconciler(t, repo, nil)

	code, out, errOut := ctl(t, url, "create", "token", "ci@example.com", "--group", "deployers", "--group", "ops", "--ttl", "24h")
	m := regexp.MustCompile(`(?s)^token ([0-9a-f]{16}) created for user "ci@example.com" \(groups deployers, ops\), expires \S+; it is shown only now:\n(sdt_[0-9a-f]{16}_\S+)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("create token = %d %q %q", code, out, errOut)
	}
	id, secret := m[1], m[2]
	code, out, _ = ctl(t, url, "get", "tokens")
	if code != 0 || !strings.HasPrefix(out, "ID ") || !strings.Contains(out, id) || !strings.Contains(out, "deployers,ops") || strings.Contains(out, secret) {
		t.Fatalf("get tokens = %d\n%s", code, out)
	}
	code, out, _ = ctl(t, url, "get", "tokens", "-o", "json")
	if code != 0 || !strings.Contains(out, `"id": "`+id) || strings.Contains(out, secret) {
		t.Fatalf("get tokens -o json = %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, url, "create", "token", "x", "--ttl", "-1h"); code == 0 || !strings.Contains(errOut, "--ttl") {
		t.Fatalf("negative ttl: %d %q", code, errOut)
	}
	code, out, _ = ctl(t, url, "delete", "token", id)
	if code != 0 || out != "token "+id+" revoked\n" {
		t.Fatalf("delete token = %d %q", code, out)
	}
	if code, _, errOut := ctl(t, url, "delete", "token", id); code == 0 || !strings.Contains(errOut, "not found") || strings.Contains(errOut, secret) {
		t.Fatalf("delete again = %d %q", code, errOut)
	}
	if code, out, _ := ctl(t, url, "get", "tokens"); code != 0 || strings.Contains(out, id) {
		t.Fatalf("after revoke: %d\n%s", code, out)
	}
}
