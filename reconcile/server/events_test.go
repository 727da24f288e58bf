package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestEventRingFolds: repeats (same object, UID, container, type, reason,
// message and source) become one event with a count, its first and last
// times; the type follows from the reason when the recorder gave none.
func TestEventRingFolds(t *testing.T) {
	r := newEventRing(maxEvents)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	backoff := reconcile.Event{Object: "Pod/shop/web-0", UID: "u1", Container: "web", Type: agentapi.EventWarning,
		Reason: agentapi.EventBackOff, Message: "Back-off restarting failed container web", Source: "node-a"}
	for i := range 3 {
		e := backoff
		e.Time = t0.Add(time.Duration(i) * time.Minute)
		r.append([]reconcile.Event{e})
	}
	r.append([]reconcile.Event{
		{Time: t0.Add(time.Minute), Object: "Pod/shop/web-0", Reason: reconcile.EventFailedScheduling, Message: "0/1 nodes are available"},
		{Time: t0.Add(time.Minute), Object: "Pod/shop/web-0", Reason: reconcile.EventScheduled, Message: "assigned shop/web-0 to node-a"},
	})
	// Another node, another UID: not repeats.
	other := backoff
	other.Source, other.Time = "node-b", t0
	again := backoff
	again.UID, again.Time = "u2", t0
	r.append([]reconcile.Event{other, again})

	got := r.list()
	if len(got) != 5 {
		t.Fatalf("kept %d events, want 5: %+v", len(got), got)
	}
	b := got[0]
	if b.Reason != agentapi.EventBackOff || b.Count != 3 || !b.FirstTime.Equal(t0) || !b.Time.Equal(t0.Add(2*time.Minute)) || b.Type != api.EventWarning {
		t.Errorf("folded event = %+v, want count 3 from %s to %s", b, t0, t0.Add(2*time.Minute))
	}
	if got[1].Type != api.EventWarning || got[2].Type != api.EventNormal || got[1].Count != 1 || !got[1].FirstTime.Equal(got[1].Time) {
		t.Errorf("core events = %+v, %+v: want Warning then Normal, count 1", got[1], got[2])
	}
	// A repeat moves the event to the end: it was seen last.
	r.append([]reconcile.Event{backoff})
	if got := r.list(); got[len(got)-1].Reason != agentapi.EventBackOff || got[len(got)-1].Count != 4 {
		t.Errorf("after a repeat the list is %+v, want BackOff x4 last", got)
	}
	// GET /v1/events orders by last time, not arrival.
	evs := r.matching("", "")
	if !slices.IsSortedFunc(evs, func(a, b api.Event) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("events are not sorted by last time: %+v", evs)
	}
}

// TestEventRingBounds: the list and its fold index keep maxEvents events,
// the least recently seen going first; a folded event keeps its watch id;
// a long message is cut.
func TestEventRingBounds(t *testing.T) {
	r := newEventRing(5)
	for i := range 8 {
		r.add(fmt.Sprintf("Pod/shop/p-%d", i), "Created", "created")
		if i == 4 {
			r.add("Pod/shop/p-0", "Created", "created") // p-0 seen again: kept longer
		}
	}
	var objs []string
	for _, e := range r.list() {
		objs = append(objs, e.Object)
	}
	if want := []string{"Pod/shop/p-4", "Pod/shop/p-0", "Pod/shop/p-5", "Pod/shop/p-6", "Pod/shop/p-7"}; !slices.Equal(objs, want) {
		t.Errorf("kept %v, want %v", objs, want)
	}
	if r.order.Len() != 5 || len(r.index) != 5 {
		t.Errorf("list %d, index %d: want 5 each", r.order.Len(), len(r.index))
	}
	id := func(obj string) uint64 {
		for _, e := range r.snapshot() {
			if e.Object == obj {
				return e.id
			}
		}
		return 0
	}
	before := id("Pod/shop/p-7")
	r.add("Pod/shop/p-7", "Created", "created")
	if after := id("Pod/shop/p-7"); after != before || after == 0 {
		t.Errorf("a repeat changed the event's id from %d to %d", before, after)
	}
	// 1000 distinct events through a ring of 5: the index stays at 5.
	for i := range 1000 {
		r.add("node/n", "NodeAlive", fmt.Sprintf("agent n at %d joined", i))
	}
	if r.order.Len() != 5 || len(r.index) != 5 {
		t.Errorf("after 1000 distinct events: list %d, index %d", r.order.Len(), len(r.index))
	}

	long := strings.Repeat("é", maxEventMessage)
	r.add("node/n", "NodeFailed", long)
	last := r.list()[4]
	if len(last.Message) > maxEventMessage || !utf8.ValidString(last.Message) || !strings.HasSuffix(last.Message, "…") {
		t.Errorf("long message kept as %d bytes (valid UTF-8 %v)", len(last.Message), utf8.ValidString(last.Message))
	}
}

// TestEventIngestCursor: the events of a list that follow the node's cursor
// are taken once, with the node as source; another epoch (a restarted
// agent) starts again.
func TestEventIngestCursor(t *testing.T) {
	s := &Server{events: newEventRing(maxEvents)}
	ev := func(seq uint64, reason, msg string) agentapi.Event {
		return agentapi.Event{Seq: seq, Time: time.Now(), Object: "Pod/shop/web-0", UID: "u1", Container: "web", Type: agentapi.EventNormal, Reason: reason, Message: msg}
	}
	s.ingestAgentEvents("node-a", &agentapi.PodStatusList{Epoch: "e1", Events: []agentapi.Event{ev(1, "Pulling", "pulling"), ev(2, "Pulled", "pulled")}})
	if ep, after := s.cursors.cursor("node-a"); ep != "e1" || after != 2 {
		t.Errorf("cursor = %s/%d, want e1/2", ep, after)
	}
	// A stream that sends again what was taken (a reconnect without the
	// cursor) adds only what is new.
	s.ingestAgentEvents("node-a", &agentapi.PodStatusList{Epoch: "e1", Events: []agentapi.Event{ev(1, "Pulling", "pulling"), ev(2, "Pulled", "pulled"), ev(3, "Started", "started")}})
	got := s.events.list()
	if len(got) != 3 || got[0].Count != 1 || got[1].Count != 1 || got[2].Reason != "Started" || got[2].Source != "node-a" || got[2].UID != "u1" || got[2].Container != "web" {
		t.Errorf("events = %+v, want Pulling, Pulled, Started once each from node-a", got)
	}
	// The agent restarted: its numbering starts again, and a repeat of a
	// kept event folds into it.
	s.ingestAgentEvents("node-a", &agentapi.PodStatusList{Epoch: "e2", Events: []agentapi.Event{ev(1, "Pulling", "pulling")}})
	if got := s.events.list(); len(got) != 3 || got[2].Reason != "Pulling" || got[2].Count != 2 {
		t.Errorf("after the restart events = %+v, want Pulling x2", got)
	}
	if ep, after := s.cursors.cursor("node-a"); ep != "e2" || after != 1 {
		t.Errorf("cursor = %s/%d, want e2/1", ep, after)
	}
	s.cursors.prune(map[string]member{"node-b": {}})
	if ep, _ := s.cursors.cursor("node-a"); ep != "" {
		t.Errorf("cursor of a forgotten node kept: %s", ep)
	}
}

// eventsOf returns node's events about the pod uid, as GET /v1/events
// lists them.
func eventsOf(t *testing.T, cl *api.Client, node string) []api.Event {
	t.Helper()
	evs, err := cl.EventsIn(context.Background(), "shop", "")
	if err != nil {
		t.Fatal(err)
	}
	var out []api.Event
	for _, e := range evs {
		if e.Source == node {
			out = append(out, e)
		}
	}
	return out
}

func reasons(evs []api.Event) []string {
	var out []string
	for _, e := range evs {
		r := e.Reason
		if e.Count > 1 {
			r += fmt.Sprintf("x%d", e.Count)
		}
		out = append(out, r)
	}
	return out
}

// TestAgentEventsAcrossReconnect: an agent's events reach the event list
// once each, across a watch that breaks while the agent records more; a
// restarted agent's new epoch is read from its start. describe shows the
// pod's own events (by UID), not a predecessor's.
func TestAgentEventsAcrossReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	s, a := onePodOneAgent(t, log, func(*fakeAgent) {})
	cl, _ := api.NewClient(s.APIURL(), nil)
	waitFor(t, 10*time.Second, "the pod on node-a", func() bool { return len(a.last().Pods) == 1 })
	pod := a.last().Pods[0]
	object := "Pod/shop/" + pod.Name
	ev := func(reason, msg string) agentapi.Event {
		typ := agentapi.EventNormal
		if reason == agentapi.EventBackOff {
			typ = agentapi.EventWarning
		}
		return agentapi.Event{Object: object, UID: pod.UID, Container: "web", Type: typ, Reason: reason, Message: msg}
	}
	a.record(ev(agentapi.EventPulling, "Pulling image"), ev(agentapi.EventStarted, "Started container web"))
	waitFor(t, 10*time.Second, "2 agent events", func() bool { return len(eventsOf(t, cl, "node-a")) == 2 })

	// The watch breaks, and the agent refuses watches while it records
	// more (a repeat among them).
	a.mu.Lock()
	a.watchDown = true
	a.mu.Unlock()
	n := len(a.queries())
	a.srv.CloseClientConnections()
	waitFor(t, 10*time.Second, "a refused reconnect", func() bool { return len(a.queries()) > n })
	a.record(ev(agentapi.EventBackOff, "Back-off restarting failed container web"),
		ev(agentapi.EventBackOff, "Back-off restarting failed container web"),
		ev(agentapi.EventStarted, "Started container web"))
	a.mu.Lock()
	a.watchDown = false
	a.mu.Unlock()
	waitFor(t, 10*time.Second, "the events recorded while disconnected", func() bool {
		return slices.Equal(reasons(eventsOf(t, cl, "node-a")), []string{"Pulling", "BackOffx2", "Startedx2"})
	})
	qs := a.queries()
	if qs[0] != "" || qs[len(qs)-1] != a.epoch+"/2" {
		t.Errorf("watch cursors = %q, want none first and %s/2 last", qs, a.epoch)
	}
	// Heartbeats and other lists bring nothing twice.
	a.poke()
	a.setReady(pod.Name, true)
	if got := reasons(eventsOf(t, cl, "node-a")); !slices.Equal(got, []string{"Pulling", "BackOffx2", "Startedx2"}) {
		t.Errorf("events after more lists = %v", got)
	}
	for _, e := range eventsOf(t, cl, "node-a") {
		if e.Reason == agentapi.EventBackOff && (e.Type != api.EventWarning || e.Time.Before(e.FirstTime)) {
			t.Errorf("BackOff = %+v", e)
		}
	}

	// The agent restarts: its new epoch is read from Seq 1.
	a.restartEvents("node-a-epoch-2")
	a.record(ev(agentapi.EventKilling, "Stopping container web"))
	waitFor(t, 10*time.Second, "the restarted agent's event", func() bool {
		return slices.Equal(reasons(eventsOf(t, cl, "node-a")), []string{"Pulling", "BackOffx2", "Startedx2", "Killing"})
	})

	// describe shows this incarnation's events (the reconciler's and the
	// agent's), not those of a predecessor of the same name.
	old := ev(agentapi.EventStarted, "Started container web of the old incarnation")
	old.UID = "old-uid"
	a.record(old)
	waitFor(t, 10*time.Second, "the old incarnation's event", func() bool { return len(eventsOf(t, cl, "node-a")) == 5 })
	d, err := cl.DescribePod(context.Background(), "shop", pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	var fromAgent, fromReconciler int
	for _, e := range d.Events {
		switch {
		case e.UID == "old-uid":
			t.Errorf("describe shows the old incarnation's event %+v", e)
		case e.Source == "node-a":
			fromAgent++
		case e.Source == "" && e.Reason == reconcile.EventScheduled:
			fromReconciler++
		}
	}
	if fromAgent != 4 || fromReconciler != 1 {
		t.Errorf("describe events = %+v: want 4 of the agent's and Scheduled", d.Events)
	}
	if !slices.IsSortedFunc(d.Events, func(a, b api.Event) int { return a.Time.Compare(b.Time) }) {
		t.Errorf("describe events not sorted by time: %+v", d.Events)
	}
}

// TestAgentEventsAfterFailover: a reconciler that starts (as a new leader
// does) has no cursor and reads every event the agent keeps, once.
func TestAgentEventsAfterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("one pod", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(1, "img:1")})
	dir := t.TempDir()
	s := startServer(t, repo.dir, dir, log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "the pod on node-a", func() bool { return len(a.last().Pods) == 1 })
	pod := a.last().Pods[0]
	for _, r := range []string{agentapi.EventPulling, agentapi.EventPulled, agentapi.EventCreated, agentapi.EventStarted} {
		a.record(agentapi.Event{Object: "Pod/shop/" + pod.Name, UID: pod.UID, Type: agentapi.EventNormal, Reason: r, Message: r + " web"})
	}
	cl, _ := api.NewClient(s.APIURL(), nil)
	waitFor(t, 10*time.Second, "4 agent events", func() bool { return len(eventsOf(t, cl, "node-a")) == 4 })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	a.leave()

	s2 := startServer(t, repo.dir, dir, log)
	a.join(s2.GossipAddr())
	cl2, _ := api.NewClient(s2.APIURL(), nil)
	waitFor(t, 10*time.Second, "the agent's kept events on the new leader", func() bool {
		return slices.Equal(reasons(eventsOf(t, cl2, "node-a")), []string{"Pulling", "Pulled", "Created", "Started"})
	})
	if qs := a.queries(); qs[len(qs)-1] != "" {
		t.Errorf("the new leader asked with cursor %q, want none", qs[len(qs)-1])
	}
}

// nextEvent reads watch events until one satisfies ok, within d.
func nextEvent(t *testing.T, w *api.WatchStream, d time.Duration, what string, ok func(api.WatchEvent, api.Event) bool) api.Event {
	t.Helper()
	return nextWatch(t, w, d, what, ok)
}

// TestWatchEvents follows GET /v1/events?watch=1 for a Deployment (its
// pods' events included): a new event is ADDED, a repeat MODIFIED with its
// count; events of other objects are filtered out, and a refused commit's
// event names the file and line.
func TestWatchEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf members and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("one pod", map[string]string{"ns.yaml": nsYAML, "web.yaml": deploymentYAML(1, "img:1")})
	s := startServer(t, repo.dir, t.TempDir(), log)
	a := newFakeAgent(t, "node-a")
	a.join(s.GossipAddr())
	waitFor(t, 10*time.Second, "the pod on node-a", func() bool { return len(a.last().Pods) == 1 })
	pod := a.last().Pods[0]
	cl, _ := api.NewClient(s.APIURL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	w, err := cl.WatchEvents(ctx, "shop", "Deployment/shop/web")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var initial []api.Event
	nextEvent(t, w, 10*time.Second, "the BOOKMARK", func(ev api.WatchEvent, e api.Event) bool {
		if ev.Type == api.WatchAdded {
			initial = append(initial, e)
		}
		return ev.Type == api.WatchBookmark
	})
	aboutPod := 0
	for _, e := range initial {
		switch e.Object {
		case "Pod/shop/" + pod.Name:
			aboutPod++
		case "Deployment/shop/web": // its rollout steps
		default:
			t.Errorf("initial event %+v is not about web or its pod", e)
		}
	}
	if aboutPod == 0 {
		t.Errorf("no initial event about web's pod")
	}

	other := agentapi.Event{Object: "Pod/other/x-0", UID: "x", Type: agentapi.EventNormal, Reason: agentapi.EventStarted, Message: "Started container x"}
	unhealthy := agentapi.Event{Object: "Pod/shop/" + pod.Name, UID: pod.UID, Container: "web", Type: agentapi.EventWarning,
		Reason: agentapi.EventUnhealthy, Message: "Readiness probe failed: HTTP probe failed with statuscode: 503"}
	a.record(other, unhealthy)
	e := nextEvent(t, w, 10*time.Second, "Unhealthy ADDED", func(ev api.WatchEvent, e api.Event) bool {
		if e.Object == other.Object {
			t.Errorf("watch of Deployment/shop/web got %+v", e)
		}
		return ev.Type == api.WatchAdded && e.Reason == agentapi.EventUnhealthy
	})
	if e.Source != "node-a" || e.Type != api.EventWarning || e.Count != 1 || e.UID != pod.UID || e.Container != "web" {
		t.Errorf("Unhealthy = %+v", e)
	}
	a.record(unhealthy)
	e = nextEvent(t, w, 10*time.Second, "Unhealthy MODIFIED", func(ev api.WatchEvent, e api.Event) bool {
		if ev.Type != api.WatchModified && e.Object == other.Object {
			t.Errorf("watch of Deployment/shop/web got %+v", e)
		}
		return ev.Type == api.WatchModified && e.Reason == agentapi.EventUnhealthy
	})
	if e.Count != 2 || e.Time.Before(e.FirstTime) {
		t.Errorf("repeated Unhealthy = %+v, want count 2", e)
	}

	// The list answers the same filters.
	evs, err := cl.EventsIn(ctx, "other", "")
	if err != nil || len(evs) != 1 || evs[0].Object != other.Object {
		t.Errorf("events in other = %+v %v", evs, err)
	}
	evs, err = cl.EventsIn(ctx, "", "Pod/shop/"+pod.Name)
	if err != nil || len(evs) != aboutPod+1 {
		t.Errorf("events about the pod = %+v %v, want %d", evs, err, aboutPod+1)
	}
	evs, err = cl.EventsIn(ctx, "default", "")
	var synced bool
	for _, e := range evs {
		synced = synced || e.Reason == "Synced" && strings.HasPrefix(e.Object, "commit/")
	}
	if err != nil || !synced {
		t.Errorf("events in default (cluster-level) = %+v %v, want the commit's Synced", evs, err)
	}

	// A refused commit: LoadFailed, a Warning naming file and line.
	bad := repo.commit("bad replicas", map[string]string{"web.yaml": strings.Replace(deploymentYAML(1, "img:1"), "replicas: 1", "replicas: -1", 1)})
	cw, err := cl.WatchEvents(ctx, "", "commit/"+short(bad))
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	if _, err := cl.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	e = nextEvent(t, cw, 10*time.Second, "LoadFailed", func(ev api.WatchEvent, e api.Event) bool { return e.Reason == "LoadFailed" })
	if e.Type != api.EventWarning || !strings.Contains(e.Message, "web.yaml:") || !strings.Contains(e.Message, "bad replicas by Ada Lovelace") {
		t.Errorf("LoadFailed = %+v, want a Warning naming web.yaml and its line", e)
	}

	// A commit in a deprecated apiVersion applies, with a Warning event
	// per such object naming its file and line.
	old := repo.commit("old apiVersion", map[string]string{"web.yaml": strings.Replace(deploymentYAML(1, "img:1"), "apiVersion: apps/v1", "apiVersion: apps/v1beta2", 1)})
	ow, err := cl.WatchEvents(ctx, "", "commit/"+short(old))
	if err != nil {
		t.Fatal(err)
	}
	defer ow.Close()
	if _, err := cl.Sync(ctx, true); err != nil {
		t.Fatal(err)
	}
	e = nextEvent(t, ow, 10*time.Second, "DeprecatedAPIVersion", func(ev api.WatchEvent, e api.Event) bool { return e.Reason == "DeprecatedAPIVersion" })
	if e.Type != api.EventWarning || !strings.HasPrefix(e.Message, "web.yaml:1: Deployment shop/web: apps/v1beta2 Deployment is deprecated") {
		t.Errorf("DeprecatedAPIVersion = %+v, want a Warning naming web.yaml:1", e)
	}
}
