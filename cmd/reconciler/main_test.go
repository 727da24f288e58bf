package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestFlagsDocumented checks that every flag exists and is in
// docs/reconciler.md, and that the required ones are enforced.
func TestFlagsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/reconciler.md")
	if err != nil {
		t.Fatal(err)
	}
	cmd := newCommand()
	want := []string{"repo", "branch", "path", "data-dir", "api", "gossip", "gossip-profile", "raft", "join", "bootstrap-expect", "name", "webhook-secret", "commit-url",
		"poll-interval", "node-loss-grace", "ssh-key", "known-hosts", "token-file", "log-level", "pprof-addr", "raft-log-level", "app-name", "sync-concurrency",
		"naming-webhook", "naming-webhook-secret-file", "naming-exec",
		"cluster-cidr", "service-cidr", "cluster-domain", "service-node-port-range", "sops-age-key-file", "sops-pgp-key-file",
		"log-file", "log-max-size", "log-max-files",
		"max-revision-objects", "max-revision-bytes", "max-file-bytes", "max-repo-bytes",
		"verify-commits", "trusted-keys", "allow-force-push", "verify-max-commits",
		"bootstrap-token-file", "server", "tls-san"}
	for _, name := range want {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("flag --%s missing", name)
		}
		if !bytes.Contains(doc, []byte("`--"+name)) {
			t.Errorf("flag --%s not documented in docs/reconciler.md", name)
		}
	}
	if n := len(want); countFlags(cmd) != n {
		t.Errorf("command has %d flags, want %d (document new ones)", countFlags(cmd), n)
	}

	cmd = newCommand()
	cmd.SetArgs([]string{"--repo", "/x"})
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "data-dir") {
		t.Errorf("missing --data-dir: %v", err)
	}
	cmd = newCommand()
	cmd.SetArgs([]string{"--repo", "/x", "--data-dir", t.TempDir(), "--log-level", "loud"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "log-level") {
		t.Errorf("bad --log-level: %v", err)
	}
}

func countFlags(cmd *cobra.Command) int {
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			n++
		}
	})
	return n
}
