package server

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/sops"
)

// TestSOPSKeyFileMissing: a key file the reconciler was told to use and
// cannot read stops it at start.
func TestSOPSKeyFileMissing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Source.URL = t.TempDir()
	cfg.DataDir = t.TempDir()
	cfg.SOPS.AgeKeyFiles = []string{"/nonexistent/keys.txt"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "failed to load the SOPS keys: age key file: open /nonexistent/keys.txt") {
		t.Fatalf("New: %v", err)
	}
}

// TestStoreKeepsSecretsEncrypted: the raft entry and the snapshot hold the
// revision's files as they are in Git, encrypted; the store decrypts them
// with its own keys when it applies them, and one without keys refuses.
func TestStoreKeepsSecretsEncrypted(t *testing.T) {
	enc, err := os.ReadFile("../../spec/sops/testdata/secret.enc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sops.LoadKeys([]string{"../../spec/sops/testdata/age-test-only.key"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"ns.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"), "db.yaml": enc}
	cmd := &command{Op: opRevision, Revision: &savedRevision{Commit: api.Commit{Hash: "abc"}, Files: files}}
	entry, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(entry, []byte("plaintext")) {
		t.Fatal("the raft entry holds plaintext")
	}

	s := newStore()
	s.keys = keys
	if _, err := s.loader().Load(files); err != nil && strings.Contains(err.Error(), "failed to decrypt") {
		t.Fatalf("store with keys: %v", err)
	}
	noKeys := newStore()
	if _, err := noKeys.loader().Load(files); err == nil || !strings.Contains(err.Error(), "db.yaml:2: Secret shop/db: failed to decrypt") {
		t.Fatalf("store without keys: %v", err)
	}

	// A Secret removed from Git is not retained (prune off): retained
	// objects travel through raft as JSON, which would be plaintext.
	set := spec.NewSet()
	sec := &spec.Secret{TypeMeta: spec.TypeMeta{APIVersion: "v1", Kind: spec.KindSecret}, ObjectMeta: spec.ObjectMeta{Name: "db", Namespace: "shop"},
		StringData: map[string]string{"password": "plaintext-password-1"}}
	set.Objects[spec.KeyOf(sec)] = sec
	s.apps = map[string]*appState{"": {set: set}}
	retained, err := s.retainedFor("", spec.NewSet(), false)
	if err != nil || len(retained) != 0 {
		t.Fatalf("retained %v, %v", retained, err)
	}
}
