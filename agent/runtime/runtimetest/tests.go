package runtimetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// testSyncRunsPods: every pod of a set runs, Ready, with its own IP from
// the pod CIDR, a start time, its containers in spec order, and the Owner
// and Hash it was given.
func testSyncRunsPods(s *suite) {
	pods := []api.Pod{s.pod("one"), s.pod("two", "app", "sidecar"), s.pod("three")}
	before := time.Now().Add(-time.Second) // clocks in records are truncated
	st := s.start(pods...)
	ips := map[string]string{}
	for _, p := range pods {
		ps := st[p.UID]
		if ps.Namespace != p.Namespace || ps.Name != p.Name {
			s.t.Errorf("pod %s reported as %s/%s", p.UID, ps.Namespace, ps.Name)
		}
		if ps.Owner != p.Owner || ps.Hash != p.Hash {
			s.t.Errorf("pod %s: owner/hash = %q/%q, want %q/%q", p.Name, ps.Owner, ps.Hash, p.Owner, p.Hash)
		}
		s.inCIDR(ps)
		if other, dup := ips[ps.PodIP]; dup {
			s.t.Errorf("pods %s and %s share IP %s", other, p.Name, ps.PodIP)
		}
		ips[ps.PodIP] = p.Name
		if ps.StartTime == nil || ps.StartTime.Before(before) {
			s.t.Errorf("pod %s: StartTime = %v, want one after %v", p.Name, ps.StartTime, before)
		}
		if len(ps.Containers) != len(p.Spec.Containers) {
			s.t.Fatalf("pod %s: %d container statuses for %d containers", p.Name, len(ps.Containers), len(p.Spec.Containers))
		}
		for i, c := range p.Spec.Containers {
			cs := ps.Containers[i]
			if cs.Name != c.Name || cs.ContainerID == "" {
				s.t.Errorf("pod %s container %d: name %q id %q, want %q with an ID", p.Name, i, cs.Name, cs.ContainerID, c.Name)
			}
		}
	}
}

// testResyncChangesNothing: Pods is the set as given, and syncing the same
// set again (as the daemon does on every PodSet) touches no pod: not at
// once, nor by the time a pod synced after it runs.
func testResyncChangesNothing(s *suite) {
	pods := []api.Pod{s.pod("a"), s.pod("b", "x", "y")}
	st := s.start(pods...)
	s.samePods(s.rt.Pods(), pods)

	again := []api.Pod{pods[1], pods[0]} // order carries no meaning
	s.sync(again...)
	s.untouched("right after a re-Sync", st, s.rt.Status())
	s.samePods(s.rt.Pods(), pods)

	marker := s.pod("marker")
	s.sync(append(again, marker)...)
	s.waitReady(marker)
	s.untouched("once a later pod runs", st, s.rt.Status())
	s.samePods(s.rt.Pods(), append(pods, marker))
}

// testRemovedPodLeaves: a pod that leaves the set leaves Pods at once and
// Status once stopped (within its grace), and the others run on as they
// were.
func testRemovedPodLeaves(s *suite) {
	gone, stay := s.pod("gone"), s.pod("stay")
	st := s.start(gone, stay)
	delete(st, gone.UID)
	s.sync(stay)
	s.samePods(s.rt.Pods(), []api.Pod{stay})
	final := s.wait("the removed pod to leave Status", func(st []api.PodStatus) bool {
		_, ok := find(st, gone.UID)
		return !ok
	})
	s.untouched("after the removal", st, final)
	_, err := s.rt.Logs(context.Background(), gone.Namespace, gone.Name, api.LogOptions{Container: "main"})
	s.isNotFound("Logs of a removed pod", err)
}

// testNewUIDIsNewIncarnation: the same name with a new UID is another pod:
// new containers, and the old incarnation leaves.
func testNewUIDIsNewIncarnation(s *suite) {
	old := s.pod("web")
	st := s.start(old)
	next := s.pod("web")
	s.sync(next)
	s.samePods(s.rt.Pods(), []api.Pod{next})
	final := s.wait("the new incarnation ready and the old one gone", func(st []api.PodStatus) bool {
		ps, ok := find(st, next.UID)
		_, oldThere := find(st, old.UID)
		return ok && ready(ps) && !oldThere
	})
	ps, _ := find(final, next.UID)
	was := st[old.UID]
	s.inCIDR(ps)
	if ps.Owner != next.Owner || ps.Hash != next.Hash {
		s.t.Errorf("new incarnation reports owner/hash %q/%q, want %q/%q", ps.Owner, ps.Hash, next.Owner, next.Hash)
	}
	if ps.Containers[0].ContainerID == was.Containers[0].ContainerID {
		s.t.Errorf("new incarnation kept the old container %s", ps.Containers[0].ContainerID)
	}
	if ps.Containers[0].RestartCount != 0 {
		s.t.Errorf("new incarnation counts %d restarts, want 0", ps.Containers[0].RestartCount)
	}
	if ps.StartTime == nil || ps.StartTime.Before(*was.StartTime) {
		s.t.Errorf("new incarnation's StartTime %v is before the old one's %v", ps.StartTime, was.StartTime)
	}
}

// testChangesSignalled: Changes is a one-slot channel (signals coalesce,
// nothing blocks on a slow reader), and a change of status fills it.
func testChangesSignalled(s *suite) {
	ch := s.rt.Changes()
	if cap(ch) != 1 {
		s.t.Errorf("cap(Changes()) = %d, want 1 (coalesced signals)", cap(ch))
	}
	s.setNetwork()
	drain(ch)
	p := s.pod("p")
	s.sync(p)
	s.await(ch, "a signal after Sync of a new pod")
	s.waitReady(p)
	drain(ch)
	s.sync()
	s.await(ch, "a signal after the pod left the set")
	s.wait("the pod to leave Status", func(st []api.PodStatus) bool { return len(st) == 0 })
	if len(ch) > 1 {
		s.t.Errorf("Changes holds %d signals", len(ch))
	}
}

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// await fails unless ch is signalled within the timeout.
func (s *suite) await(ch <-chan struct{}, what string) {
	s.t.Helper()
	select {
	case <-ch:
	case <-time.After(s.cfg.timeout):
		s.t.Fatalf("timed out after %v waiting for %s", s.cfg.timeout, what)
	}
}

// testLogs: an unknown pod or container is api.ErrNotFound; a running
// container's log can be read (its text is the runtime's business).
func testLogs(s *suite) {
	p := s.pod("logged", "app", "sidecar")
	s.start(p)
	ctx := context.Background()
	_, err := s.rt.Logs(ctx, "default", "nope", api.LogOptions{Container: "app"})
	s.isNotFound("Logs of an unknown pod", err)
	_, err = s.rt.Logs(ctx, "other", p.Name, api.LogOptions{Container: "app"})
	s.isNotFound("Logs of a pod in another namespace", err)
	_, err = s.rt.Logs(ctx, "default", p.Name, api.LogOptions{Container: "nope"})
	s.isNotFound("Logs of an unknown container", err)
	for _, c := range []string{"app", "sidecar"} {
		rc, err := s.rt.Logs(ctx, "default", p.Name, api.LogOptions{Container: c})
		if err != nil {
			s.t.Fatalf("Logs of running container %s: %v", c, err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			s.t.Errorf("reading the log of %s: %v", c, err)
		}
		if err := rc.Close(); err != nil {
			s.t.Errorf("closing the log of %s: %v", c, err)
		}
	}
}

// testSetNetworkIdempotent: the daemon calls SetNetwork with every PodSet;
// the same network again is no error and leaves the pods alone.
func testSetNetworkIdempotent(s *suite) {
	s.setNetwork()
	s.setNetwork()
	pods := []api.Pod{s.pod("a"), s.pod("b")}
	st := s.start(pods...)
	s.setNetwork()
	s.sync(pods...)
	s.untouched("after SetNetwork with the same network", st, s.rt.Status())
	marker := s.pod("marker")
	s.sync(append(pods, marker)...)
	s.waitReady(marker)
	s.untouched("once a later pod runs", st, s.rt.Status())
}

// testPendingUntilNetwork: a pod synced before the node's pod CIDR is known
// waits, Pending with reason NetworkNotReady and no IP, then runs once
// SetNetwork gives it.
func testPendingUntilNetwork(s *suite) {
	p := s.pod("early")
	s.sync(p)
	st := s.wait("the pod Pending for its network", func(st []api.PodStatus) bool {
		ps, ok := find(st, p.UID)
		return ok && ps.Reason == "NetworkNotReady"
	})
	if ps, _ := find(st, p.UID); ps.Phase != api.PodPending || ps.PodIP != "" || ready(ps) {
		s.t.Errorf("pod waiting for its network: phase %s ip %q ready %v, want Pending, none, false", ps.Phase, ps.PodIP, ready(ps))
	}
	s.inCIDR(s.start(p)[p.UID])
}

// testStatusIsACopy: the daemon changes the statuses it gets (it fills in
// Node); that must not change the runtime's.
func testStatusIsACopy(s *suite) {
	p := s.pod("p", "a", "b")
	s.start(p)
	// Kept as JSON: a copy that shares no pointer with what the runtime
	// hands out.
	want, err := json.Marshal(s.rt.Status())
	if err != nil {
		s.t.Fatal(err)
	}
	got := s.rt.Status()
	for i := range got {
		ps := &got[i]
		ps.Node, ps.Phase, ps.PodIP, ps.Owner = "elsewhere", api.PodFailed, "192.0.2.1", "changed"
		*ps.StartTime = ps.StartTime.Add(-time.Hour)
		ps.Containers[0].Name, ps.Containers[0].Ready, ps.Containers[0].RestartCount = "renamed", false, 7
		ps.Containers = append(ps.Containers[:1], api.ContainerStatus{Name: "added"})
		ps.Conditions[0].Status = "changed"
	}
	after := s.rt.Status()
	if b, _ := json.Marshal(after); !bytes.Equal(b, want) {
		s.t.Errorf("changing a Status result changed the runtime's:\nbefore %s\nafter  %s", want, b)
	}
}
