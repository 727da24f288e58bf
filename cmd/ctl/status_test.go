package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

func TestStatus(t *testing.T) {
	f := &fakeReconciler{status: api.Status{
		Repo: "https://git.example.com/ops/config.git", Branch: "main", Term: 4,
		Applied:   &api.Commit{Hash: "1111111111111111111111111111111111111111", Author: "Ada Lovelace", AuthorEmail: "ada@example.com", Message: "web: 3 replicas\n\nbody"},
		AppliedAt: t0.Add(-2 * time.Minute),
		Fetched:   &api.Commit{Hash: "2222222222222222222222222222222222222222", Author: "Bob", Message: "typo"},
		LastSync:  t0.Add(-time.Second),
		LastError: &api.SyncError{
			Commit:  &api.Commit{Hash: "2222222222222222222222222222222222222222", Author: "Bob", Message: "typo"},
			Stage:   api.StageLoad,
			Entries: []api.ErrorEntry{{File: "apps/web.yaml", Line: 7, Object: "Deployment shop/web", Field: "spec.replicaz", Message: `unknown field "replicaz"`}},
		},
		Name: "r2", Leader: "r1",
		Peers: []api.Peer{
			{Name: "r1", API: "http://10.0.0.1:7070", RaftAddr: "10.0.0.1:7071", State: api.RaftLeader, Voter: true, AppliedIndex: 42, Applied: "1111111111111111111111111111111111111111"},
			{Name: "r2", API: "http://10.0.0.2:7070", RaftAddr: "10.0.0.2:7071", State: api.RaftFollower, Voter: true, LastContact: t0.Add(-2 * time.Second), AppliedIndex: 41, Applied: "1111111111111111111111111111111111111111"},
			{Name: "r3", RaftAddr: "10.0.0.3:7071", State: api.RaftUnknown},
		},
		NodeErrors: []api.NodeError{{Node: "node-b", Message: "pod set of term 3 refused: the agent has seen term 4", Since: t0.Add(-time.Minute)}},
	}}
	url := startFake(t, f)
	code, out, _ := ctl(t, url, "status")
	want := `Reconciler:  r2 (URL)
Leader:      r1
Repository:  https://git.example.com/ops/config.git
Branch:      main
Applied:     111111111111 by Ada Lovelace <ada@example.com>: web: 3 replicas
Applied at:  2026-11-25 11:58:00 UTC (2m0s ago)
Branch head: 222222222222 by Bob: typo
Last sync:   1s ago
Term:        4
Peers:
  NAME   STATE                 API                    LAST CONTACT   APPLIED        INDEX
  r1     Leader                http://10.0.0.1:7070   -              111111111111   42
  r2     Follower              http://10.0.0.2:7070   2s ago         111111111111   41
  r3     Unknown (non-voter)   <none>                 -              -              -
Last error: commit 222222222222 by Bob (typo) failed to load:
  apps/web.yaml:7: Deployment shop/web: spec.replicaz: unknown field "replicaz"
The last good revision 111111111111 keeps running.
Node errors: 1 node(s) did not apply their pod set:
  NODE     SINCE   ERROR
  node-b   60s     pod set of term 3 refused: the agent has seen term 4
`
	if out = strings.ReplaceAll(out, url, "URL"); code != 0 || out != want {
		t.Errorf("status = %d\n%s\nwant:\n%s", code, out, want)
	}

	code, out, _ = ctl(t, url, "status", "-o", "json")
	var raw map[string]json.RawMessage
	var st api.Status
	if err := json.Unmarshal([]byte(out), &raw); code != 0 || err != nil || string(raw["leader"]) != `"r1"` || raw["peers"] == nil {
		t.Errorf("status -o json = %d %v\n%s", code, err, out)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Peers) != 3 || st.Peers[1].LastContact.IsZero() || len(st.NodeErrors) != 1 {
		t.Errorf("status -o json decodes to %+v, %v", st, err)
	}
	if code, out, _ := ctl(t, url, "status", "-o", "yaml"); code != 0 || !strings.Contains(out, "leader: r1\n") {
		t.Errorf("status -o yaml = %d\n%s", code, out)
	}
	if code, _, errOut := ctl(t, url, "status", "-o", "wide"); code != 2 || !strings.Contains(errOut, "unknown output format") {
		t.Errorf("status -o wide = %d %q", code, errOut)
	}

	// No leader, this reconciler leading, no error: said so.
	f.mu.Lock()
	f.status.Leader, f.status.LastError, f.status.NodeErrors = "", nil, nil
	f.status.ClusterError = "reconciler r3 was started with --bootstrap-expect 5 and this one (r2) with 3: start every reconciler of a new cluster with the same value"
	f.mu.Unlock()
	code, out, _ = ctl(t, url, "status")
	if !strings.Contains(out, "Cluster error: reconciler r3 was started with --bootstrap-expect 5") {
		t.Errorf("status does not show the cluster error:\n%s", out)
	}
	if code != 0 || !strings.Contains(out, "Leader:      <none> (no leader elected") || !strings.Contains(out, "Last error: <none>\n") || strings.Contains(out, "Node errors") {
		t.Errorf("status without a leader = %d\n%s", code, out)
	}
	f.mu.Lock()
	f.status.Leader = "r2"
	f.mu.Unlock()
	if code, out, _ = ctl(t, url, "status"); code != 0 || !strings.Contains(out, "Leader:      r2 (this reconciler)\n") {
		t.Errorf("status of the leader = %d\n%s", code, out)
	}
}

func TestServerFlag(t *testing.T) {
	f := &fakeReconciler{nss: []api.Namespace{{Name: "default", Status: "Active"}}}
	url := startFake(t, f)
	// --server wins over the environment.
	if code, out, errOut := ctl(t, "http://127.0.0.1:1", "--server", url, "get", "ns"); code != 0 || !strings.Contains(out, "default") {
		t.Errorf("--server = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl(t, "ftp://x", "get", "ns"); code != 2 || !strings.Contains(errOut, "scheme") {
		t.Errorf("bad server URL = %d %q", code, errOut)
	}

	// A list: a dead reconciler and one shutting down (503) are passed over.
	down := &fakeReconciler{unavailable: true}
	downURL := startFake(t, down)
	f.mu.Lock()
	f.status = api.Status{Name: "r3", Leader: "r1", Branch: "main"}
	f.mu.Unlock()
	list := "http://127.0.0.1:1," + downURL + "," + url
	code, out, errOut := ctl(t, "", "--server", list, "status")
	if code != 0 || !strings.Contains(out, "Reconciler: r3 ("+url+")\n") || !strings.Contains(out, "Leader:     r1\n") {
		t.Errorf("status through a list = %d %q\n%s", code, errOut, out)
	}
	// $STEVEDORE_SERVER takes a list too.
	if code, out, errOut := ctl(t, downURL+","+url, "get", "ns"); code != 0 || !strings.Contains(out, "default") {
		t.Errorf("list in $%s = %d %q %q", EnvServer, code, out, errOut)
	}
	// An answer from the first is the answer: a 404 is not passed over.
	if code, _, errOut := ctl(t, url+","+downURL, "logs", "nope"); code != 1 || !strings.Contains(errOut, "pod not found") || down.lastPath == api.PathLogs+"?namespace=default&pod=nope" {
		t.Errorf("404 from the first of a list = %d %q (asked the second: %s)", code, errOut, down.lastPath)
	}
	// None answers: exit 2, saying why for each.
	code, _, errOut = ctl(t, "http://127.0.0.1:1,"+downURL, "status")
	if code != 2 || !strings.Contains(errOut, "no reconciler of 2 answered") || !strings.Contains(errOut, "reconciler is shutting down") {
		t.Errorf("no reconciler of a list answers = %d %q", code, errOut)
	}
	if code, _, errOut := ctl(t, url+",", "get", "ns"); code != 2 || !strings.Contains(errOut, "empty URL") {
		t.Errorf("list with an empty entry = %d %q", code, errOut)
	}
}
