package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// TestWireConstants: reconcile/api repeats the core's reasons, actions and
// progress values (it does not import the core); they must not drift.
func TestWireConstants(t *testing.T) {
	for _, c := range [][2]string{
		{api.ReasonUnschedulable, reconcile.ReasonUnschedulable},
		{api.ReasonNodeUnknown, reconcile.ReasonNodeUnknown},
		{api.ReasonNodeLost, reconcile.ReasonNodeLost},
		{api.ActionCreated, reconcile.ActionCreated},
		{api.ActionChanged, reconcile.ActionChanged},
		{api.ActionDeleted, reconcile.ActionDeleted},
		{api.ProgressComplete, reconcile.ProgressComplete},
		{api.ProgressProgressing, reconcile.ProgressProgressing},
		{api.ProgressDeadlineExceeded, reconcile.ProgressDeadlineExceeded},
		{api.ProgressPaused, reconcile.ProgressPaused},
		{api.EventCreated, reconcile.EventCreated},
		{api.EventReplaced, reconcile.EventReplaced},
		{api.EventDeleted, reconcile.EventDeleted},
		{api.EventScheduled, reconcile.EventScheduled},
		{api.EventFailedScheduling, reconcile.EventFailedScheduling},
		{api.EventNodeLost, reconcile.EventNodeLost},
		{api.EventEvicted, reconcile.EventEvicted},
	} {
		if c[0] != c[1] {
			t.Errorf("reconcile/api says %q where the core says %q", c[0], c[1])
		}
	}
}

// jsonKeys returns the sorted member names of v encoded as a JSON object.
func jsonKeys(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestWireShapes pins the /v1 JSON member names of what the core's views
// become: the views have no JSON tags, so these come from reconcile/api
// alone, and are what they were when the wire types were the core's.
func TestWireShapes(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	pod := wirePod(reconcile.PodView{
		UID: "u", Namespace: "ns", Name: "p", Owner: "Deployment/ns/d", Labels: map[string]string{"a": "b"}, Node: "n",
		Phase: "Running", Reason: "r", Message: "m", PodIP: "10.0.0.2", Status: &agentapi.PodStatus{}, Created: now,
	})
	wl := wireWorkloads([]reconcile.WorkloadView{{
		Kind: "Deployment", Namespace: "ns", Name: "d", Replicas: 1, Current: 1, Running: 1, Ready: 1, UpToDate: 1, Available: 1,
		Revision: "h", Selector: map[string]string{"a": "b"}, Containers: []string{"c"}, Images: []string{"i"}, Created: now,
		Progress: reconcile.ProgressComplete, Message: "m",
	}})
	ev := wireEvents([]reconcile.Event{{Time: now, Object: "Pod/ns/p", Reason: "Created", Message: "m"}})
	ch := wireChanges([]reconcile.ObjectChange{{Key: spec.ObjectKey{Kind: "Pod", Namespace: "ns", Name: "p"}, Action: reconcile.ActionChanged,
		Diff: "d", PodsStarted: []string{"ns/p"}, PodsStopped: []string{"ns/q"}}})
	for _, c := range []struct {
		name string
		v    any
		want []string
	}{
		{"Pod", pod, []string{"created", "labels", "message", "name", "namespace", "node", "owner", "phase", "podIP", "reason", "spec", "status", "uid"}},
		{"Workload", wl[0], []string{"available", "containers", "created", "current", "images", "kind", "message", "name", "namespace",
			"progress", "ready", "replicas", "revision", "running", "selector", "upToDate"}},
		{"Event", ev[0], []string{"message", "object", "reason", "time"}},
		{"ObjectChange", ch[0], []string{"action", "diff", "key", "podsStarted", "podsStopped"}},
	} {
		if got := jsonKeys(t, c.v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s members = %v, want %v", c.name, got, c.want)
		}
	}
	if wireWorkloads(nil) != nil || wireEvents(nil) == nil || wireChanges(nil) == nil {
		t.Error("nil views: workloads stay nil, events and changes become empty lists")
	}
}

// TestWriteErrors: the category of an error decides its status and code
// (internal/errs), and the client reads the category back.
func TestWriteErrors(t *testing.T) {
	for _, c := range []struct {
		write  func(http.ResponseWriter)
		status int
		code   string
		is     error
	}{
		{func(w http.ResponseWriter) { errs.WriteHTTP(w, errInvalid("bad")) }, 400, api.CodeInvalid, api.ErrInvalid},
		{func(w http.ResponseWriter) { errs.WriteHTTP(w, errNotFound("bad")) }, 404, api.CodeNotFound, api.ErrNotFound},
		{func(w http.ResponseWriter) { errs.WriteHTTP(w, errUnavailable("bad")) }, 503, api.CodeUnavailable, api.ErrUnavailable},
		{func(w http.ResponseWriter) { errs.WriteHTTP(w, errs.Mark(errors.New("bad"), errs.ErrUnavailable)) }, 503, api.CodeUnavailable, api.ErrUnavailable},
		{func(w http.ResponseWriter) { errs.WriteHTTP(w, errors.New("bad")) }, 500, api.CodeInternal, errdefs.ErrInternal},
		{func(w http.ResponseWriter) { writeUpstreamError(w, errUnavailable("bad")) }, 502, api.CodeUnavailable, api.ErrUnavailable},
		{func(w http.ResponseWriter) { writeNotScheduled(w, "ns/p") }, 409, api.CodeUnavailable, api.ErrUnavailable},
		// An agent's answer keeps its category through the proxy.
		{func(w http.ResponseWriter) {
			errs.WriteHTTP(w, errs.Mark(errors.New("node n: bad"), errs.FromHTTP(404, []byte(`{"error":"bad","code":"not_found"}`))))
		}, 404, api.CodeNotFound, api.ErrNotFound},
	} {
		rec := httptest.NewRecorder()
		c.write(rec)
		var body api.Error
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body.Code != c.code || body.Error == "" {
			t.Errorf("answered %d %+v, want %d %s", rec.Code, body, c.status, c.code)
		}
		if got := errs.FromHTTP(rec.Code, rec.Body.Bytes()); !errors.Is(got, c.is) {
			t.Errorf("%d %s reads back as %v, not %v", rec.Code, body.Code, got, c.is)
		}
	}
}
