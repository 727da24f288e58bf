package devenv

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// fakeReconcilers returns a cluster whose reconcilers are HTTP servers
// answering /v1/status with the given leader names, each "running" as a
// sleep process, so Leader's vote counting runs without the binaries.
func fakeReconcilers(t *testing.T, leaders ...string) *Cluster {
	t.Helper()
	c := &Cluster{log: slog.Default()}
	for i, l := range leaders {
		name := []string{"reconciler-1", "reconciler-2", "reconciler-3"}[i]
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(api.Status{Name: name, Leader: l})
		}))
		t.Cleanup(srv.Close)
		p, err := startProcess(name, t.TempDir()+"/log", nil, "sleep", "60")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.kill)
		c.Reconcilers = append(c.Reconcilers, &Reconciler{Name: name, URL: srv.URL, proc: p})
	}
	return c
}

func TestLeader(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := fakeReconcilers(t, "reconciler-2", "reconciler-2", "reconciler-1")
	if i, name, err := c.Leader(ctx); err != nil || i != 1 || name != "reconciler-2" {
		t.Errorf("Leader = %d %q %v, want the majority's reconciler-2", i, name, err)
	}
	// The leader killed: no running majority names a running leader.
	c.KillReconciler(1)
	if _, _, err := c.Leader(ctx); err == nil {
		t.Error("a killed leader was reported")
	}

	// No majority: one says 1, one says 2, one says none.
	c = fakeReconcilers(t, "reconciler-1", "reconciler-2", "")
	if _, _, err := c.Leader(ctx); err == nil {
		t.Error("a leader without a majority was reported")
	}
	// A single reconciler without raft reports no leader: it leads.
	c = fakeReconcilers(t, "")
	if i, name, err := c.Leader(ctx); err != nil || i != 0 || name != "reconciler-1" {
		t.Errorf("single reconciler: Leader = %d %q %v", i, name, err)
	}
	// WaitLeader with a condition that never holds times out.
	if _, _, err := c.WaitLeader(ctx, 300*time.Millisecond, func(int, string) bool { return false }); err == nil {
		t.Error("WaitLeader returned a leader the condition refused")
	}
}
