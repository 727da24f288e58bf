package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/server"
)

// TestGetEventsFor: --for asks the reconciler for one object's events (a
// Deployment's include its pods'), in the namespace of -n.
func TestGetEventsFor(t *testing.T) {
	f := goldenOthers()
	f.events = append(f.events,
		api.Event{Time: t0.Add(-3 * time.Minute), Object: "Pod/shop/web-5d9c1a2b3c-0", Reason: api.EventScheduled, Message: "assigned shop/web-5d9c1a2b3c-0 to node-a"},
		api.Event{Time: t0.Add(-2 * time.Minute), Object: "Deployment/shop/web", Reason: "ScalingReplicaSet", Message: "Scaled up revision 5d9c1a2b3c of Deployment/shop/web to 1"},
		api.Event{Time: t0.Add(-time.Minute), Object: "Pod/shop/webapp-77f0e1d2c3-0", Reason: api.EventScheduled, Message: "assigned shop/webapp-77f0e1d2c3-0 to node-a"})
	url := startFake(t, f)

	code, out, errOut := ctl(t, url, "get", "events", "-n", "shop", "--for", "deploy/web")
	want := `LAST SEEN   TYPE     REASON              OBJECT                 MESSAGE
3m0s        Normal   Scheduled           pod/web-5d9c1a2b3c-0   assigned shop/web-5d9c1a2b3c-0 to node-a
2m0s        Normal   ScalingReplicaSet   deployment/web         Scaled up revision 5d9c1a2b3c of Deployment/shop/web to 1
`
	if code != 0 || out != want {
		t.Errorf("get events --for deploy/web = %d %q\n%s\nwant:\n%s", code, errOut, out, want)
	}
	if !strings.Contains(f.lastPath, "object=Deployment%2Fshop%2Fweb") || !strings.Contains(f.lastPath, "namespace=shop") {
		t.Errorf("asked %s", f.lastPath)
	}
	code, out, _ = ctl(t, url, "get", "events", "--for", "node/node-b", "-o", "custom-columns=KIND:.involvedObject.kind,NAME:.involvedObject.name,REASON:.reason")
	if want := "KIND   NAME     REASON\nNode   node-b   NodeFailed\n"; code != 0 || out != want {
		t.Errorf("get events --for node/node-b = %d\n%s\nwant:\n%s", code, out, want)
	}
	code, out, _ = ctl(t, url, "get", "events", "-n", "shop", "--for", "pod/web-3", "-o", "yaml")
	for _, s := range []string{"count: 4", `fieldPath: spec.containers{web}`, "uid: uid-web-3", "host: node-c", "reportingInstance: node-c",
		`firstTimestamp: "2026-11-25T11:50:00Z"`, `lastTimestamp: "2026-11-25T11:58:00Z"`, "type: Warning"} {
		if code != 0 || !strings.Contains(out, s) {
			t.Errorf("get events --for pod/web-3 -o yaml = %d, lacks %q:\n%s", code, s, out)
		}
	}
	code, out, _ = ctl(t, url, "get", "events", "-A", "--field-selector", "source=stevedore-agent", "-o", "name")
	if want := "event/web-1.18eb4786a19ec00083a9\nevent/web-3.18eb476ab11010003c64\n"; code != 0 || out != want {
		t.Errorf("agent events = %d %q, want %q", code, out, want)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "events", "--for", "web"}, "want KIND/NAME"},
		{[]string{"get", "events", "--for", "widget/web"}, `unknown kind "widget"`},
		{[]string{"get", "events", "--for", "ns/shop"}, "events are about pods, deployments"},
		{[]string{"get", "pods", "--for", "pod/web-1"}, "--for is a filter of events"},
	} {
		if code, _, errOut := ctl(t, url, c.args...); code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("ctl %v = %d %q, want 2 %q", c.args, code, errOut, c.want)
		}
	}
}

func eventWatch(t *testing.T, typ string, e api.Event) api.WatchEvent {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return api.WatchEvent{Type: typ, Object: b}
}

// TestGetEventsWatch plays an event stream: the list, sorted by last time,
// then a new event and a repeat (a row each, the repeat with its count);
// an event dropped from the reconciler's list prints nothing, except as a
// watch event.
func TestGetEventsWatch(t *testing.T) {
	created := api.Event{Time: t0.Add(-5 * time.Minute), Object: "Pod/shop/web-1", Reason: api.EventCreated, Message: "created"}
	scheduled := api.Event{Time: t0.Add(-6 * time.Minute), Object: "Pod/shop/web-1", Reason: api.EventScheduled, Message: "assigned shop/web-1 to node-a"}
	unhealthy := api.Event{Time: t0.Add(-30 * time.Second), Object: "Pod/shop/web-1", UID: "uid-web-1", Container: "web", Type: api.EventWarning,
		Reason: "Unhealthy", Message: "Readiness probe failed: connection refused", Source: "node-a"}
	again := unhealthy
	again.Time, again.FirstTime, again.Count = t0.Add(-5*time.Second), unhealthy.Time, 3
	scripts := func() [][]api.WatchEvent {
		return [][]api.WatchEvent{{
			eventWatch(t, api.WatchAdded, created), eventWatch(t, api.WatchAdded, scheduled), {Type: api.WatchBookmark},
			eventWatch(t, api.WatchAdded, unhealthy), eventWatch(t, api.WatchModified, again), eventWatch(t, api.WatchDeleted, scheduled),
		}}
	}
	f := &fakeReconciler{watches: scripts()}
	got := watchUntil(t, startFake(t, f), []string{"get", "events", "-n", "shop", "-w"}, func(s string) bool { return strings.Count(s, "\n") >= 5 })
	want := `LAST SEEN   TYPE     REASON      OBJECT      MESSAGE
6m0s        Normal   Scheduled   pod/web-1   assigned shop/web-1 to node-a
5m0s        Normal   Created     pod/web-1   created
30s         Warning   Unhealthy   pod/web-1   Readiness probe failed: connection refused
5s (x3 over 30s)   Warning   Unhealthy   pod/web-1   Readiness probe failed: connection refused
`
	if got != want {
		t.Errorf("ctl get events -w printed:\n%s\nwant:\n%s", got, want)
	}

	f = &fakeReconciler{watches: scripts()}
	out := watchUntil(t, startFake(t, f), []string{"get", "events", "-n", "shop", "-w", "-o", "json", "--output-watch-events"},
		func(s string) bool { return strings.Count(s, `"DELETED"`) == 1 })
	dec := json.NewDecoder(strings.NewReader(out))
	var seen []string
	for {
		var ev struct {
			Type   string
			Object struct {
				Reason string
				Count  int
			}
		}
		if err := dec.Decode(&ev); err != nil {
			break
		}
		seen = append(seen, ev.Type+" "+ev.Object.Reason+" x"+string(rune('0'+ev.Object.Count)))
	}
	if want := "ADDED Scheduled x1,ADDED Created x1,ADDED Unhealthy x1,MODIFIED Unhealthy x3,DELETED Scheduled x1"; strings.Join(seen, ",") != want {
		t.Errorf("watch events = %s, want %s", strings.Join(seen, ","), want)
	}
}

// TestGetEventsAgainstReconciler follows a real reconciler's events with
// ctl get events -w while an agent joins: the reconciler's Scheduled and
// the agent's Started arrive, each once; describe shows both with where
// they come from.
func TestGetEventsAgainstReconciler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a reconciler")
	}
	repo := gitInit(t)
	gitCommit(t, repo, "web", map[string]string{"ns.yaml": nsYAML, "apps/web.yaml": strings.Replace(webYAML, "REPLICAS", "1", 1)})
	s, url := startReconciler(t, repo, func(c *server.Config) { c.NodeLossGrace = time.Second })
	if code, out, errOut := ctl(t, url, "sync", "--wait", "--timeout", "10s"); code == 2 {
		t.Fatalf("sync = %d %q %q", code, out, errOut)
	}
	var out, errOut lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"get", "events", "-n", "shop", "--for", "deployment/web", "-w"}, &out, &errOut, func(k string) string {
			if k == EnvServer {
				return url
			}
			return ""
		})
	}()
	a := newSlowAgent(t, "node-a")
	a.join(t, s.GossipAddr())
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), "Started container web") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("ctl get events -w did not print the agent's Started:\n%s\nstderr: %s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// More lists, each with every event the agent keeps: nothing twice.
	a.mu.Lock()
	st := a.status
	a.mu.Unlock()
	a.report(st)
	time.Sleep(200 * time.Millisecond)
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("ctl get events -w exited %d: %s", code, errOut.String())
	}
	printed := out.String()
	if !strings.HasPrefix(printed, "LAST SEEN ") || strings.Count(printed, "Started container web") != 1 || !strings.Contains(printed, " Scheduled ") {
		t.Errorf("ctl get events -w printed:\n%s", printed)
	}

	var pod string
	for _, l := range strings.Split(printed, "\n") {
		if strings.Contains(l, "Started") {
			for _, f := range strings.Fields(l) {
				if p, ok := strings.CutPrefix(f, "pod/"); ok {
					pod = p
				}
			}
		}
	}
	code, desc, _ := ctl(t, url, "describe", "pod", pod, "-n", "shop")
	if code != 0 || !strings.Contains(desc, "\n  Type ") || !strings.Contains(desc, "agent/node-a   Started container web") || !strings.Contains(desc, "reconciler") {
		t.Errorf("describe pod %s = %d\n%s", pod, code, desc)
	}
}
