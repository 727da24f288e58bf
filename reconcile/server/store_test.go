package server

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/sync/source"
)

const podYAML = `apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  containers:
  - name: c
    image: img:1
`

func applyCmd(t *testing.T, s *store, index uint64, c *command) {
	t.Helper()
	b, err := encodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if res := s.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b}); res != nil {
		t.Fatalf("apply %s: %v", c.Op, res)
	}
}

func rec(ns, name, node string) reconcile.PodRecord {
	return reconcile.PodRecord{UID: "uid-" + name, Namespace: ns, Name: name, Node: node, Created: time.Unix(1000, 0).UTC()}
}

// TestStoreApplySnapshotRestore applies every kind of entry, checks the
// state, snapshots it and restores the snapshot into a new store.
func TestStoreApplySnapshotRestore(t *testing.T) {
	s := newStore()
	applyCmd(t, s, 1, &command{Op: opCluster, ClusterID: "c1"})
	applyCmd(t, s, 2, &command{Op: opCluster, ClusterID: "c2"}) // the first ID stays
	applyCmd(t, s, 3, &command{Op: opRevision, Revision: &savedRevision{Commit: api.Commit{Hash: "abc"}, Files: map[string][]byte{"pod.yaml": []byte(podYAML)}}})
	applyCmd(t, s, 4, &command{Op: opPods, Upsert: []reconcile.PodRecord{rec("default", "a", "n1"), rec("default", "b", "n2")}})
	held := s.read() // a reader holds the inventory: the next delta must not write to it
	applyCmd(t, s, 5, &command{Op: opPods, Upsert: []reconcile.PodRecord{rec("default", "c", "n1")}, Delete: []string{"default/a"}})
	applyCmd(t, s, 6, &command{Op: opTermBase, TermBase: 7})
	applyCmd(t, s, 7, &command{Op: opTermBase, TermBase: 3}) // never lowered
	applyCmd(t, s, 8, &command{Op: opNode, Node: "n1", Override: &nodeOverride{Cordoned: true}})
	applyCmd(t, s, 9, &command{Op: opNode, Node: "n2", Override: &nodeOverride{Drained: true, Cordoned: true}})
	applyCmd(t, s, 10, &command{Op: opNode, Node: "n2", Override: &nodeOverride{}}) // uncordon
	// Actions are computed from the current mark when they apply.
	applyCmd(t, s, 11, &command{Op: opNode, Node: "n3", Action: "drain"})
	applyCmd(t, s, 12, &command{Op: opNode, Node: "n3", Action: "cordon"}) // still drained
	applyCmd(t, s, 13, &command{Op: opNode, Node: "n4", Action: "cordon"})
	applyCmd(t, s, 14, &command{Op: opNode, Node: "n4", Action: "uncordon"})

	if len(held.Pods) != 2 || held.Pods["default/a"].UID != "uid-a" {
		t.Errorf("a held read changed under its reader: %v", held.Pods)
	}
	v := s.read()
	if o := v.Overrides["n3"]; !o.Drained || !o.Cordoned {
		t.Errorf("n3 after drain then cordon = %+v, want drained", o)
	}
	if _, ok := v.Overrides["n4"]; ok {
		t.Errorf("n4 after uncordon still marked")
	}
	if v.ClusterID != "c1" || v.TermBase != 7 || v.Index != 14 || v.Revision.Commit.Hash != "abc" || v.Set == nil || len(v.Set.Objects) != 1 {
		t.Errorf("state = %+v", v)
	}
	if len(v.Pods) != 2 || v.Pods["default/b"].Node != "n2" || v.Pods["default/c"].Node != "n1" {
		t.Errorf("pods = %v", v.Pods)
	}
	if len(v.Overrides) != 2 || !v.Overrides["n1"].Cordoned {
		t.Errorf("overrides = %v", v.Overrides)
	}

	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got := r.read()
	if got.ClusterID != "c1" || got.TermBase != 7 || len(got.Pods) != 2 || !recordEqual(ptr(got.Pods["default/c"]), ptr(v.Pods["default/c"])) ||
		got.Set == nil || !got.Overrides["n1"].Cordoned || !got.Overrides["n3"].Drained || got.Revision.Commit.Hash != "abc" {
		t.Errorf("restored = %+v", got)
	}
}

// TestStoreRefusesBadEntries: an entry that does not decode or names an
// unknown operation is an error to its proposer, and changes nothing.
func TestStoreRefusesBadEntries(t *testing.T) {
	s := newStore()
	if res := s.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte("{nope")}); res == nil {
		t.Error("garbage entry applied")
	}
	if res := s.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte(`{"op":"explode"}`)}); res == nil || !strings.Contains(res.(error).Error(), "explode") {
		t.Errorf("unknown op: %v", res)
	}
	bad := &command{Op: opRevision, Revision: &savedRevision{Commit: api.Commit{Hash: "x"}, Files: map[string][]byte{"p.yaml": []byte("kind: Pod\nnope: 1\n")}}}
	b, _ := encodeCommand(bad)
	if res := s.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: b}); res == nil {
		t.Error("a revision that does not load was applied")
	}
	if v := s.read(); v.Revision != nil || v.Index != 0 {
		t.Errorf("state changed: %+v", v)
	}
	if err := newStore().Restore(io.NopCloser(strings.NewReader(`{"pods": {"x": `))); err == nil {
		t.Error("truncated snapshot restored")
	}
}

// TestPodDelta: the delta of a plan names exactly what changed.
func TestPodDelta(t *testing.T) {
	old := map[string]reconcile.PodRecord{"d/a": rec("d", "a", "n1"), "d/b": rec("d", "b", "n1")}
	if d := podDelta(old, old); d != nil {
		t.Errorf("no change gave %+v", d)
	}
	moved := rec("d", "b", "n2")
	d := podDelta(old, map[string]reconcile.PodRecord{"d/b": moved, "d/c": rec("d", "c", "")})
	if d == nil || len(d.Upsert) != 2 || len(d.Delete) != 1 || d.Delete[0] != "d/a" {
		t.Errorf("delta = %+v", d)
	}
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

// TestCorruptRaftStateIsAnError: a corrupt or truncated raft log, or a
// corrupt snapshot, is a startup error naming the file, never a silent
// reset to an empty inventory (which would stop every pod).
func TestCorruptRaftStateIsAnError(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("one pod", map[string]string{"pod.yaml": podYAML})
	newCfg := func(dir string) Config {
		cfg := DefaultConfig()
		cfg.Source = source.Config{URL: repo.dir}
		cfg.DataDir, cfg.Logger = dir, log
		cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		cfg.PollInterval = -1
		cfg.Raft.SnapshotThreshold = 1
		return cfg
	}
	// A reconciler that synced once and took a snapshot.
	good := t.TempDir()
	s := startServer(t, repo.dir, good, log)
	cl, _ := api.NewClient(s.APIURL(), nil)
	if _, err := cl.Sync(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if err := s.el.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	copyDir := func() string {
		dst := t.TempDir()
		if err := os.CopyFS(dst, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	// Truncated log store.
	dir := copyDir()
	db := filepath.Join(dir, fileRaftDB)
	if err := os.Truncate(db, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := New(newCfg(dir)); err == nil || !strings.Contains(err.Error(), db) {
		t.Errorf("truncated raft.db: err = %v, want one naming %s", err, db)
	}
	// Garbage log store.
	dir = copyDir()
	db = filepath.Join(dir, fileRaftDB)
	if err := os.WriteFile(db, bytes.Repeat([]byte{0xAB}, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(newCfg(dir)); err == nil || !strings.Contains(err.Error(), db) {
		t.Errorf("garbage raft.db: err = %v, want one naming %s", err, db)
	}
	// Corrupt snapshot: raft's own CRC check refuses it.
	dir = copyDir()
	snaps, _ := filepath.Glob(filepath.Join(dir, dirSnapshots, "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Fatal("no snapshot written")
	}
	if err := os.WriteFile(snaps[0], []byte(`{"pods": {"x": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(newCfg(dir)); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, dirRaft)) {
		t.Errorf("corrupt snapshot: err = %v, want one naming the raft dir", err)
	}
}

func ptr[T any](v T) *T { return &v }
