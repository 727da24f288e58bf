package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// nodeAction answers POST /v1/nodes/{name}/{cordon,uncordon,drain} on
// f.nodes.
func (f *fakeReconciler) nodeAction(w http.ResponseWriter, rest string) {
	name, verb, _ := strings.Cut(rest, "/")
	for i := range f.nodes {
		n := &f.nodes[i]
		if n.Name != name {
			continue
		}
		switch verb {
		case "cordon":
			n.Cordoned = true
		case "drain":
			n.Cordoned, n.Drained, n.Pods = true, true, 0
		case "uncordon":
			n.Cordoned, n.Drained = false, false
		default:
			w.WriteHeader(http.StatusNotFound)
			return
		}
		n.Status = api.NodeReady
		if n.Cordoned {
			n.Status = api.NodeSchedulingDisabled
		}
		f.actions = append(f.actions, verb+" "+name)
		json.NewEncoder(w).Encode(n)
		return
	}
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(api.Error{Error: "node " + name + " not found", Code: api.CodeNotFound})
}

func TestNodeActions(t *testing.T) {
	f := &fakeReconciler{nodes: []api.Node{
		{Name: "node-a", State: api.NodeAlive, Status: api.NodeReady, Pods: 2, Allocatable: agentapi.Resources{MilliCPU: 2000, Memory: 1 << 30, Pods: 110}},
	}}
	url := startFake(t, f)
	for _, c := range []struct{ verb, want, status string }{
		{"cordon", "node/node-a cordoned\n", api.NodeSchedulingDisabled},
		{"uncordon", "node/node-a uncordoned\n", api.NodeReady},
		{"drain", "node/node-a drained\n", api.NodeSchedulingDisabled},
	} {
		code, out, errOut := ctl(t, url, c.verb, "node-a")
		if code != 0 || out != c.want {
			t.Errorf("%s = %d %q %q, want %q", c.verb, code, out, errOut, c.want)
		}
		if f.lastPath != "/v1/nodes/node-a/"+c.verb || f.nodes[0].Status != c.status {
			t.Errorf("%s asked %s; node status %q", c.verb, f.lastPath, f.nodes[0].Status)
		}
	}
	if want := []string{"cordon node-a", "uncordon node-a", "drain node-a"}; !slices.Equal(f.actions, want) {
		t.Errorf("actions = %q, want %q", f.actions, want)
	}
	code, out, _ := ctl(t, url, "get", "nodes")
	if code != 0 || !strings.Contains(out, "node-a   Ready,SchedulingDisabled") || !strings.Contains(out, "0/110") {
		t.Errorf("get nodes after drain = %d\n%s", code, out)
	}
	// An unknown node: the server's message, exit 1.
	if code, out, errOut := ctl(t, url, "drain", "nope"); code != 1 || out != "" || !strings.Contains(errOut, "node nope not found") {
		t.Errorf("drain of an unknown node = %d %q %q", code, out, errOut)
	}
	if code, _, errOut := ctl(t, url, "cordon"); code != 2 || !strings.Contains(errOut, "cordon takes one node name") {
		t.Errorf("cordon without a node = %d %q", code, errOut)
	}
	// A leader that cannot be reached (the answering reconciler says 503): exit 2.
	f.mu.Lock()
	f.unavailable = true
	f.mu.Unlock()
	if code, _, errOut := ctl(t, url, "uncordon", "node-a"); code != 2 || !strings.Contains(errOut, "503") {
		t.Errorf("uncordon with no leader = %d %q", code, errOut)
	}
}
