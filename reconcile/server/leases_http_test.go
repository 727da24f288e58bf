package server

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestLeaseAPI drives the lease API of one reconciler: acquire, renew,
// conflict (with the current lease in the answer), expiry by the leader's
// clock, release, the precondition, and an agent's request for a pod that
// is not on its node refused.
func TestLeaseAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	_, _, s, _, _ := webOnTwoAgents(t, log)
	var offset atomic.Int64 // the leader's clock runs ahead by this
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s.leaseClock.Store(&now)
	ctx := context.Background()
	c, _ := api.NewClient(s.APIURL(), nil)
	waitFor(t, 15*time.Second, "2 pods placed", func() bool {
		pods, err := c.Pods(ctx, "shop")
		return err == nil && len(pods) == 2 && pods[0].Node != "" && pods[1].Node != ""
	})
	pods, _ := c.Pods(ctx, "shop")
	p0, p1 := pods[0], pods[1]

	// Unknown lease.
	if _, err := c.Lease(ctx, "shop", "leader"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("unknown lease: %v", err)
	}
	// An agent asking for a pod placed elsewhere is refused: it cannot
	// campaign for another node's pod.
	other := "node-a"
	if p0.Node == "node-a" {
		other = "node-b"
	}
	_, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p0.Name, Node: other, LeaseDurationSeconds: 10})
	if !errdefs.IsPermissionDenied(err) {
		t.Fatalf("forged holder: %v, want permission denied", err)
	}
	if _, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: "nosuchpod", Node: p0.Node}); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("holder that is no pod: %v, want permission denied", err)
	}
	// Acquire, as p0's agent asks for it.
	l, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p0.Name, Node: p0.Node, LeaseDurationSeconds: 10})
	if err != nil || l.Spec.HolderIdentity != p0.Name || !l.Status.Held || l.Spec.LeaseTransitions != 0 || l.Spec.AcquireTime == nil {
		t.Fatalf("acquire = %+v, %v", l, err)
	}
	acquired := *l.Spec.AcquireTime
	// p1 is refused while p0 holds it, and hears who does.
	_, err = c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p1.Name, Node: p1.Node, LeaseDurationSeconds: 10})
	var fe *errs.Error
	var cur agentapi.Lease
	if !errors.Is(err, errs.ErrConflict) || !errors.As(err, &fe) || !fe.Field("lease", &cur) || cur.Spec.HolderIdentity != p0.Name {
		t.Fatalf("conflict = %v (lease %+v)", err, cur)
	}
	// p0 renews: same acquireTime, later renewTime.
	offset.Store(int64(5 * time.Second))
	l2, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p0.Name, Node: p0.Node, LeaseDurationSeconds: 10})
	if err != nil || !l2.Spec.AcquireTime.Equal(acquired) || !l2.Spec.RenewTime.After(*l.Spec.RenewTime) || l2.Metadata.ResourceVersion == l.Metadata.ResourceVersion {
		t.Fatalf("renew = %+v, %v", l2, err)
	}
	// A stale precondition is a conflict.
	if _, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p0.Name, ResourceVersion: l.Metadata.ResourceVersion}); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("stale resourceVersion: %v", err)
	}
	// By the leader's clock the lease lapses 10 s after the renewal: p1
	// takes it, one transition.
	offset.Store(int64(16 * time.Second))
	got, err := c.Lease(ctx, "shop", "leader")
	if err != nil || got.Status.Held {
		t.Fatalf("lapsed lease = %+v, %v", got, err)
	}
	l3, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p1.Name, Node: p1.Node, LeaseDurationSeconds: 10})
	if err != nil || l3.Spec.HolderIdentity != p1.Name || l3.Spec.LeaseTransitions != 1 {
		t.Fatalf("take over = %+v, %v", l3, err)
	}
	// p0 cannot release what it no longer holds; p1 can, and the lease is
	// free at once.
	if _, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p0.Name, Release: true}); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("release by the old holder: %v", err)
	}
	if l4, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{HolderIdentity: p1.Name, Release: true}); err != nil || l4.Status.Held {
		t.Fatalf("release = %+v, %v", l4, err)
	}
	// Bad input names the field.
	if _, err := c.PutLease(ctx, "shop", "leader", api.LeaseRequest{}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("no holder: %v", err)
	}
	if _, err := c.PutLease(ctx, "Shop", "leader", api.LeaseRequest{HolderIdentity: "x"}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("bad namespace: %v", err)
	}
	if list, err := c.Leases(ctx, "shop"); err != nil || len(list) != 1 {
		t.Errorf("leases = %+v, %v", list, err)
	}
	if err := c.DeleteLease(ctx, "shop", "leader"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lease(ctx, "shop", "leader"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("deleted lease: %v", err)
	}
}

// TestLeaseFailover: a lease taken through a follower survives the
// leader's death: the new leader knows its holder, refuses others and
// lets the holder renew.
func TestLeaseFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts raft, serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("ns", map[string]string{"ns.yaml": nsYAML})
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	r1 := startPeer(t, "r1", repo.dir, dirs[0], 3, nil, log)
	r2 := startPeer(t, "r2", repo.dir, dirs[1], 3, []string{r1.GossipAddr()}, log)
	r3 := startPeer(t, "r3", repo.dir, dirs[2], 3, []string{r2.GossipAddr()}, log)
	servers := []*Server{r1, r2, r3}
	waitFor(t, 15*time.Second, "a leader among three", func() bool { return leaderOf(servers...) != nil })
	lead := leaderOf(servers...)
	var follower *Server
	for _, s := range servers {
		if s != lead {
			follower = s
		}
	}
	ctx := context.Background()
	fc, _ := api.NewClient(follower.APIURL(), nil)
	l, err := fc.PutLease(ctx, "shop", "db", api.LeaseRequest{HolderIdentity: "db-0", LeaseDurationSeconds: 60})
	if err != nil || l.Spec.HolderIdentity != "db-0" {
		t.Fatalf("acquire through a follower = %+v, %v", l, err)
	}
	if err := lead.el.shutdown(); err != nil {
		t.Fatal(err)
	}
	_ = lead.Shutdown(ctx)
	for i, s := range servers {
		if s == lead {
			servers[i] = nil
		}
	}
	waitFor(t, 15*time.Second, "a new leader", func() bool { return leaderOf(servers...) != nil })
	nc, _ := api.NewClient(leaderOf(servers...).APIURL(), nil)
	got, err := nc.Lease(ctx, "shop", "db")
	if err != nil || got.Spec.HolderIdentity != "db-0" || !got.Status.Held || got.Metadata.ResourceVersion != l.Metadata.ResourceVersion {
		t.Fatalf("lease after failover = %+v, %v", got, err)
	}
	if _, err := nc.PutLease(ctx, "shop", "db", api.LeaseRequest{HolderIdentity: "db-1", LeaseDurationSeconds: 60}); !errors.Is(err, errs.ErrConflict) {
		t.Fatalf("another holder after failover: %v, want conflict", err)
	}
	if r, err := nc.PutLease(ctx, "shop", "db", api.LeaseRequest{HolderIdentity: "db-0", LeaseDurationSeconds: 60}); err != nil || !r.Spec.AcquireTime.Equal(*l.Spec.AcquireTime) {
		t.Fatalf("renew after failover = %+v, %v", r, err)
	}
}
