package api

import "testing"

func TestEventObjects(t *testing.T) {
	for _, c := range []struct {
		obj, kind, ns, name, listedIn string
	}{
		{"Pod/shop/web-0", "Pod", "shop", "web-0", "shop"},
		{"Deployment/shop/web", "Deployment", "shop", "web", "shop"},
		{"node/node-a", "node", "", "node-a", "default"},
		{"commit/c0ffee", "commit", "", "c0ffee", "default"},
		{"application/shop/commit/c0ffee", "application", "", "shop/commit/c0ffee", "default"},
		{"repo", "repo", "", "", "default"},
	} {
		kind, ns, name := SplitEventObject(c.obj)
		if kind != c.kind || ns != c.ns || name != c.name || EventNamespace(c.obj) != c.listedIn {
			t.Errorf("%s = %q %q %q in %q, want %q %q %q in %q", c.obj, kind, ns, name, EventNamespace(c.obj), c.kind, c.ns, c.name, c.listedIn)
		}
	}
}

func TestEventAbout(t *testing.T) {
	for _, c := range []struct {
		obj, filter string
		want        bool
	}{
		{"Pod/shop/web-0", "Pod/shop/web-0", true},
		{"Pod/shop/web-0", "Pod/shop/web-1", false},
		{"Deployment/shop/web", "Deployment/shop/web", true},
		{"Pod/shop/web-5d9c1a2b3c-0", "Deployment/shop/web", true},
		{"Pod/shop/web-5d9c1a2b3c-12", "ReplicationController/shop/web", true},
		{"Pod/other/web-5d9c1a2b3c-0", "Deployment/shop/web", false},
		{"Pod/shop/web-api-5d9c1a2b3c-0", "Deployment/shop/web", false}, // Deployment web-api's
		{"Pod/shop/web-5d9c1a2b3c-x", "Deployment/shop/web", false},
		{"Pod/shop/web-0", "Deployment/shop/web", false},
		{"Pod/shop/web-5d9c1a2b3c-0", "Pod/shop/web", false},
		{"node/node-a", "node/node-a", true},
		{"Pod/shop/web-5d9c1a2b3c-0", "ReplicaSet/shop/web", true},
		{"Pod/shop/db-0", "StatefulSet/shop/db", true},
		{"Pod/shop/db-12", "StatefulSet/shop/db", true},
		{"Pod/shop/db-x", "StatefulSet/shop/db", false},
		{"Pod/shop/db-", "StatefulSet/shop/db", false},
		{"Pod/shop/db-api-0", "StatefulSet/shop/db", false}, // StatefulSet db-api's
		{"Pod/other/db-0", "StatefulSet/shop/db", false},
		{"Pod/shop/agent-5d9c1a2b3c-node-a", "DaemonSet/shop/agent", true},
		{"Pod/shop/agent-5d9c1a2b3c-0a1b2c3d4e", "DaemonSet/shop/agent", true}, // a hashed node name
		{"Pod/shop/agent-x-5d9c1a2b3c-node-a", "DaemonSet/shop/agent", false},  // DaemonSet agent-x's
		{"Pod/shop/agent-5d9c1a2b3c", "DaemonSet/shop/agent", false},
		{"Pod/other/agent-5d9c1a2b3c-node-a", "DaemonSet/shop/agent", false},
		{"DaemonSet/shop/agent", "DaemonSet/shop/agent", true},
	} {
		if got := EventAbout(c.obj, c.filter); got != c.want {
			t.Errorf("EventAbout(%s, %s) = %v", c.obj, c.filter, got)
		}
	}
	e := Event{Object: "node/node-a"}
	if !EventMatches(&e, "", "") || !EventMatches(&e, "default", "node/node-a") || EventMatches(&e, "shop", "") {
		t.Errorf("node events are listed in default only")
	}
	if EventType("FailedScheduling") != EventWarning || EventType("BackOff") != EventWarning || EventType("Scheduled") != EventNormal {
		t.Errorf("EventType misclassifies")
	}
}
