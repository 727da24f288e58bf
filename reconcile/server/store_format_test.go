package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/stevedore-dev/stevedore/internal/version"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// persist snapshots s and returns the bytes raft would store.
func persist(t *testing.T, s *store) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

// format1Snapshot is a snapshot as v0.15.0 wrote it: the state as one
// JSON document, with no format anywhere.
func format1Snapshot(t *testing.T, pods int) []byte {
	t.Helper()
	st := map[string]any{
		"clusterID": "c1",
		"revision":  map[string]any{"commit": map[string]any{"hash": "abc"}, "files": map[string][]byte{"pod.yaml": []byte(podYAML)}},
		"termBase":  4,
	}
	recs := map[string]json.RawMessage{}
	for i := range pods {
		r := rec("default", fmt.Sprintf("p%d", i), "n1")
		r.Labels = map[string]string{"app": "web", "pod-template-hash": "5d8f9c7b"}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		recs[r.Key()] = b
	}
	st["pods"] = recs
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestStoreFormat1RestoredAndUpgraded: a v0.15.0 snapshot and log entries
// are read by this binary (format 1), which goes on writing format 1
// (readable by v0.15.0) until an opFormat entry moves the store to format
// 2: gzipped snapshots behind their header, restored with every record.
func TestStoreFormat1RestoredAndUpgraded(t *testing.T) {
	const pods = 300
	s := newStore()
	var formats []int
	s.onFormat = func(f int, _ string) { formats = append(formats, f) }
	old := format1Snapshot(t, pods)
	if err := s.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatalf("restore a v0.15.0 snapshot: %v", err)
	}
	if f, _ := s.format(); f != storeFormatJSON {
		t.Fatalf("format of a v0.15.0 store = %d, want 1", f)
	}
	// A log entry as v0.15.0 proposed it.
	entry := []byte(`{"op":"pods","upsert":[{"uid":"uid-x","namespace":"default","name":"x","node":"n2","created":"2026-11-01T10:00:00Z"}],"delete":["default/p0"]}`)
	if res := s.Apply(&raft.Log{Index: 10, Type: raft.LogCommand, Data: entry}); res != nil {
		t.Fatalf("apply a v0.15.0 entry: %v", res)
	}
	v := s.read()
	if v.ClusterID != "c1" || v.TermBase != 4 || len(v.Pods) != pods || v.Pods["default/x"].Node != "n2" || v.Revision.Commit.Hash != "abc" || v.Set == nil {
		t.Fatalf("state after a v0.15.0 snapshot and entry: cluster %q, termBase %d, %d pods", v.ClusterID, v.TermBase, len(v.Pods))
	}

	// Still format 1: one JSON document with no format, as v0.15.0 reads it.
	f1 := persist(t, s)
	var asOld map[string]json.RawMessage
	if err := json.Unmarshal(f1, &asOld); err != nil {
		t.Fatalf("a format-1 snapshot is not plain JSON: %v", err)
	}
	if _, ok := asOld["format"]; ok {
		t.Errorf("a format-1 snapshot records a format: v0.15.0 wrote none")
	}

	applyCmd(t, s, 11, &command{Op: opFormat, Format: storeFormatGzip, Release: version.Release})
	if f, rel := s.format(); f != storeFormatGzip || rel != version.Release {
		t.Fatalf("format after opFormat = %d %q", f, rel)
	}
	applyCmd(t, s, 12, &command{Op: opFormat, Format: storeFormatJSON}) // never back
	if f, _ := s.format(); f != storeFormatGzip {
		t.Fatalf("format after an opFormat to 1 = %d, want 2 (formats only move forward)", f)
	}
	if fmt.Sprint(formats) != "[1 2 2]" {
		t.Errorf("onFormat calls = %v, want [1 2 2]", formats)
	}
	f2 := persist(t, s)
	header := "stevedore-store format=2 release=v0.16.0\n"
	if !bytes.HasPrefix(f2, []byte(header)) {
		t.Fatalf("format-2 snapshot starts %q, want %q", f2[:min(len(f2), 60)], header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(f2[len(header):]))
	if err != nil {
		t.Fatalf("format-2 snapshot body is not gzip: %v", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	if len(f2)*4 > len(f1) {
		t.Errorf("format-2 snapshot is %d bytes, format 1 %d: want at most a quarter", len(f2), len(f1))
	}

	r := newStore()
	if err := r.Restore(io.NopCloser(bytes.NewReader(f2))); err != nil {
		t.Fatalf("restore a format-2 snapshot: %v", err)
	}
	got := r.read()
	if f, rel := r.format(); f != storeFormatGzip || rel != version.Release {
		t.Errorf("restored format = %d %q", f, rel)
	}
	if len(got.Pods) != pods || got.Pods["default/x"].UID != "uid-x" || got.TermBase != 4 || got.Set == nil {
		t.Errorf("restored %d pods, termBase %d", len(got.Pods), got.TermBase)
	}
}

// TestStoreRefusesNewerFormat: a snapshot or an entry of a format this
// binary does not read is refused with a message that says what to do;
// the store keeps what it had, applies nothing more, and is broken (its
// reconciler does not lead).
func TestStoreRefusesNewerFormat(t *testing.T) {
	want := []string{"format 3", "written by v0.17.0", "this reconciler (v0.16.0) reads store formats 1 to 2",
		"run v0.17.0 or newer, or restore the backup taken before the upgrade"}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: accepted", what)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", what, err, w)
			}
		}
	}
	seeded := func() *store {
		s := newStore()
		s.dataDir = "/var/lib/stevedore"
		applyCmd(t, s, 1, &command{Op: opCluster, ClusterID: "c1"})
		applyCmd(t, s, 2, &command{Op: opPods, Upsert: []reconcile.PodRecord{rec("default", "a", "n1")}})
		return s
	}

	// A snapshot (InstallSnapshot from a newer leader, or at start).
	s := seeded()
	var recorded []int
	s.onFormat = func(f int, _ string) { recorded = append(recorded, f) }
	var body bytes.Buffer
	if err := writeSnapshot(&body, &fsmState{ClusterID: "c1", FormatRelease: "v0.17.0"}, 3); err != nil {
		t.Fatal(err)
	}
	err := s.Restore(io.NopCloser(bytes.NewReader(body.Bytes())))
	check("a format-3 snapshot", err)
	if !strings.Contains(err.Error(), "/var/lib/stevedore") {
		t.Errorf("%q does not name the data dir", err)
	}
	if s.failed() == nil || len(s.read().Pods) != 1 {
		t.Errorf("after a refused snapshot: failed %v, %d pods (want broken, the pod kept)", s.failed(), len(s.read().Pods))
	}
	if fmt.Sprint(recorded) != "[3]" {
		t.Errorf("onFormat calls = %v, want [3] (the data dir's marker)", recorded)
	}

	// An entry.
	s = seeded()
	b, _ := encodeCommand(&command{Op: opFormat, Format: 3, Release: "v0.17.0"})
	res := s.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: b})
	resErr, _ := res.(error)
	check("a format-3 entry", resErr)
	b, _ = encodeCommand(&command{Op: opPods, Delete: []string{"default/a"}})
	if res := s.Apply(&raft.Log{Index: 4, Type: raft.LogCommand, Data: b}); res == nil {
		t.Error("an entry after the refused format was applied")
	}
	if v := s.read(); len(v.Pods) != 1 || v.Index != 2 || s.failed() == nil {
		t.Errorf("after a refused entry: %d pods, index %d, failed %v", len(v.Pods), v.Index, s.failed())
	}
	if f, _ := s.format(); f != storeFormatJSON {
		t.Errorf("format after a refused entry = %d, want 1", f)
	}
}

// TestStoreFormatGate: the store moves to a format only when every server
// of the configuration reads it; a server that is not a member, or
// advertises nothing (v0.15.0), reads format 1.
func TestStoreFormatGate(t *testing.T) {
	servers := []raft.Server{{ID: "r1"}, {ID: "r2"}, {ID: "r3", Suffrage: raft.Nonvoter}}
	tags := map[string]map[string]string{"r1": {tagStoreFormat: "2"}, "r2": {tagStoreFormat: "2"}, "r3": {}}
	reads := func(id string) (int, bool) {
		tg, ok := tags[id]
		return readsFormat(tg), ok
	}
	if gate, behind := formatGate(servers, 2, reads); gate != 1 || fmt.Sprint(behind) != "[r3 reads 1]" {
		t.Errorf("with r3 advertising nothing: gate %d, behind %v", gate, behind)
	}
	tags["r3"][tagStoreFormat] = "2"
	if gate, behind := formatGate(servers, 2, reads); gate != 2 || len(behind) != 0 {
		t.Errorf("with every server reading 2: gate %d, behind %v", gate, behind)
	}
	tags["r3"][tagStoreFormat] = "3" // a newer one: the gate is what this leader writes
	delete(tags, "r2")
	if gate, behind := formatGate(servers, 2, reads); gate != 1 || fmt.Sprint(behind) != "[r2 reads 1]" {
		t.Errorf("with r2 gone from membership: gate %d, behind %v", gate, behind)
	}
}

// startPeerReading is startPeer for a reconciler whose store reads formats
// up to maxFormat (1 plays v0.15.0's part in the gate).
func startPeerReading(t *testing.T, name, repo, dataDir string, join []string, maxFormat int) *Server {
	t.Helper()
	log, _ := testLogger(t)
	cfg := DefaultConfig()
	cfg.Name, cfg.Source.URL, cfg.DataDir = name, repo, dataDir
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.PollInterval, cfg.Raft.BootstrapExpect, cfg.Join = -1, 3, join
	cfg.NodeLossGrace = 2 * time.Second
	cfg.Logger = log.With("reconciler", name)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New %s: %v", name, err)
	}
	s.store.maxFormat = maxFormat
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

// TestStoreFormatUpgradeInPlace: three reconcilers, one of which reads
// only format 1; the leader keeps the store in format 1 while it is a
// member; once it restarts on its data dir reading format 2 (an in-place
// upgrade), the store moves to format 2 on all three, each data dir's
// marker says so, and /v1/version shows it. Then a data dir marked with a
// newer format is refused at start.
func TestStoreFormatUpgradeInPlace(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft and serf")
	}
	repo := newGitRepo(t)
	repo.commit("one pod", map[string]string{"pod.yaml": podYAML})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	r1 := startPeerReading(t, "r1", repo.dir, dirs[0], nil, 0)
	r2 := startPeerReading(t, "r2", repo.dir, dirs[1], []string{r1.GossipAddr()}, 0)
	r3 := startPeerReading(t, "r3", repo.dir, dirs[2], []string{r1.GossipAddr()}, storeFormatJSON)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	if leaderOf(servers...) == r3 {
		if err := r3.el.raft.LeadershipTransfer().Error(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 15*time.Second, "r1 or r2 to lead", func() bool { l := leaderOf(servers...); return l != nil && l != r3 })
	}
	lead := leaderOf(servers...)
	c := lead.ctrl.Load()
	// The gate has looked, with r3 a live member, at least twice.
	waitFor(t, 10*time.Second, "r3's tags and two gate checks", func() bool {
		p, ok := lead.members.peer("r3")
		return ok && p.alive && p.tags[tagStoreFormat] == "1" && c.formatChecks.Load() >= 2
	})
	start := c.formatChecks.Load()
	waitFor(t, 10*time.Second, "two more gate checks", func() bool { return c.formatChecks.Load() >= start+2 })
	for _, s := range servers {
		if f, _ := s.store.format(); f != storeFormatJSON {
			t.Fatalf("%s's store moved to format %d while r3 reads only 1", s.Name(), f)
		}
	}
	if _, err := os.Stat(filepath.Join(dirs[0], fileStoreFormat)); err == nil {
		t.Errorf("a format-1 store wrote a marker")
	}

	// r3 is upgraded in place: same name, same data dir.
	if err := r3.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	r3 = startPeerReading(t, "r3", repo.dir, dirs[2], []string{r1.GossipAddr(), r2.GossipAddr()}, 0)
	servers[2] = r3
	waitFor(t, 20*time.Second, "every store in format 2", func() bool {
		for _, s := range servers {
			if f, _ := s.store.format(); f != storeFormatGzip {
				return false
			}
		}
		return true
	})
	// The marker follows the applied entry (onFormat runs after it).
	waitFor(t, 5*time.Second, "every data dir's marker to say format 2", func() bool {
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, fileStoreFormat))
			if err != nil || !strings.Contains(string(b), `"format":2`) || !strings.Contains(string(b), version.Release) {
				return false
			}
		}
		return true
	})
	cl, _ := api.NewClient(r3.APIURL(), nil)
	v, err := cl.Version(context.Background())
	if err != nil || v.StoreFormat != storeFormatGzip || v.StoreFormatMax != maxStoreFormat {
		t.Errorf("r3's /v1/version = %+v, %v", v, err)
	}

	// A data dir whose store a newer release moved on is refused at start,
	// before raft opens it.
	if err := r3.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := saveFormatMarker(dirs[2], formatMarker{Format: 3, Release: "v0.17.0"}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Name, cfg.Source.URL, cfg.DataDir = "r3", repo.dir, dirs[2]
	cfg.APIAddr, cfg.GossipAddr, cfg.Raft.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	_, err = New(cfg)
	if err == nil || !strings.Contains(err.Error(), dirs[2]) || !strings.Contains(err.Error(), "run v0.17.0 or newer, or restore the backup taken before the upgrade") {
		t.Errorf("New on a data dir of format 3 = %v", err)
	}
}
