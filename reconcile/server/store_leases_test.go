package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

func TestDecideLease(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	req := func(holder string) agentapi.LeaseRequest {
		return agentapi.LeaseRequest{HolderIdentity: holder, LeaseDurationSeconds: 10}
	}
	// A new lease goes to the first asker, without a transition.
	r, err := decideLease(leaseRecord{}, false, req("a"), t0)
	if err != nil || r.Holder != "a" || !r.Acquire.Equal(t0) || !r.Renew.Equal(t0) || r.Transitions != 0 || r.Duration != 10 {
		t.Fatalf("acquire = %+v, %v", r, err)
	}
	r.Version = 7
	// Another asker is refused while it is held...
	if _, err := decideLease(r, true, req("b"), t0.Add(9*time.Second)); !errors.As(err, new(errLeaseHeld)) {
		t.Fatalf("b while a holds: %v, want errLeaseHeld", err)
	}
	// ...its holder renews it (acquireTime and count kept)...
	r2, err := decideLease(r, true, req("a"), t0.Add(9*time.Second))
	if err != nil || !r2.Acquire.Equal(t0) || !r2.Renew.Equal(t0.Add(9*time.Second)) || r2.Transitions != 0 {
		t.Fatalf("renew = %+v, %v", r2, err)
	}
	// ...and once it lapsed (renewTime + duration, the boundary included)
	// another takes it, counting a transition.
	r3, err := decideLease(r2, true, req("b"), t0.Add(19*time.Second))
	if err != nil || r3.Holder != "b" || r3.Transitions != 1 || !r3.Acquire.Equal(t0.Add(19*time.Second)) {
		t.Fatalf("take over = %+v, %v", r3, err)
	}
	// The old holder coming back after the lapse re-acquires as a new
	// holder would: a transition, a new acquireTime.
	r4, err := decideLease(r2, true, req("a"), t0.Add(30*time.Second))
	if err != nil || r4.Transitions != 0 || !r4.Acquire.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("lapsed holder again = %+v, %v", r4, err)
	}
	// Release: only by the holder; the lease is then free at once.
	if _, err := decideLease(r3, true, agentapi.LeaseRequest{HolderIdentity: "a", Release: true}, t0.Add(20*time.Second)); !errors.As(err, new(errLeaseNotHolder)) {
		t.Fatalf("release by a non-holder: %v", err)
	}
	rel, err := decideLease(r3, true, agentapi.LeaseRequest{HolderIdentity: "b", Release: true}, t0.Add(20*time.Second))
	if err != nil || rel.Holder != "" || rel.held(t0.Add(20*time.Second)) || rel.Transitions != 1 {
		t.Fatalf("release = %+v, %v", rel, err)
	}
	if r5, err := decideLease(rel, true, req("c"), t0.Add(20*time.Second)); err != nil || r5.Holder != "c" || r5.Transitions != 2 {
		t.Fatalf("after release = %+v, %v", r5, err)
	}
	// The ResourceVersion precondition.
	bad := req("a")
	bad.ResourceVersion = "6"
	if _, err := decideLease(r, true, bad, t0); !errors.As(err, new(errLeaseVersion)) {
		t.Fatalf("stale resourceVersion: %v", err)
	}
	bad.ResourceVersion = "0"
	if _, err := decideLease(leaseRecord{}, false, bad, t0); err != nil {
		t.Fatalf("resourceVersion 0 for a new lease: %v", err)
	}
	// The default duration.
	if r, _ := decideLease(leaseRecord{}, false, agentapi.LeaseRequest{HolderIdentity: "a"}, t0); r.Duration != agentapi.DefaultLeaseDurationSeconds {
		t.Errorf("default duration = %d", r.Duration)
	}
}

// TestLeaseCompareAndSwap: an entry decided from an old version is refused
// by the store (every store alike), and the lease survives a snapshot.
func TestLeaseCompareAndSwap(t *testing.T) {
	s := newStore()
	apply := func(index uint64, c *command) any {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return s.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: b})
	}
	now := time.Now().UTC().Truncate(time.Second)
	a := leaseRecord{Holder: "a", Duration: 10, Acquire: now, Renew: now}
	if err := apply(5, &command{Op: opLease, Lease: &leaseCommand{Key: "ns/l", Expect: 0, Record: &a}}); err != nil {
		t.Fatalf("first acquire: %v", err)
	}
	// Decided concurrently from the same (absent) lease: refused.
	b := leaseRecord{Holder: "b", Duration: 10, Acquire: now, Renew: now}
	err, _ := apply(6, &command{Op: opLease, Lease: &leaseCommand{Key: "ns/l", Expect: 0, Record: &b}}).(error)
	var rej *rejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("second acquire from version 0: %v, want a rejection", err)
	}
	if got, _ := s.lease("ns/l"); got.Holder != "a" || got.Version != 5 {
		t.Fatalf("lease = %+v", got)
	}
	if s.failed() != nil {
		t.Fatalf("a refused CAS broke the store: %v", s.failed())
	}
	// A renewal from version 5 applies.
	a.Renew = now.Add(5 * time.Second)
	if err := apply(7, &command{Op: opLease, Lease: &leaseCommand{Key: "ns/l", Expect: 5, Record: &a}}); err != nil {
		t.Fatalf("renew: %v", err)
	}

	// Snapshot and restore keep it.
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	s2 := newStore()
	if err := s2.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	got, ok := s2.lease("ns/l")
	if !ok || got.Holder != "a" || got.Version != 7 || !got.Renew.Equal(now.Add(5*time.Second)) {
		t.Fatalf("restored lease = %+v, %v", got, ok)
	}
	// Delete from the current version.
	if err := apply(8, &command{Op: opLease, Lease: &leaseCommand{Key: "ns/l", Expect: 7}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, ok := s.lease("ns/l"); ok {
		t.Fatal("lease still there after delete")
	}
}
