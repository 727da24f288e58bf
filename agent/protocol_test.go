package agent

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// TestProtocolRefusedKeepsPods is a reconciler speaking a protocol this
// agent does not: every request is refused with 400 and a message naming
// both sides, and the pods the agent runs are left alone. A request
// without the header (a v0.15 reconciler) is protocol 1, which this
// release still speaks.
func TestProtocolRefusedKeepsPods(t *testing.T) {
	rt := newFakeRuntime()
	a := startAgent(t, testConfig(t, "n1"), rt)
	ctx := ctxT(t)

	// A v0.15 reconciler: no header.
	old := api.NewClient(a.APIURL(), nil)
	if _, err := old.Apply(ctx, podSet(1, 1, "a", "b")); err != nil {
		t.Fatalf("Apply without a protocol header: %v", err)
	}
	cur := api.NewClient(a.APIURL(), nil)
	cur.Protocol = api.ProtocolMax
	if _, err := cur.Pods(ctx); err != nil {
		t.Fatalf("Pods in protocol %d: %v", api.ProtocolMax, err)
	}
	syncs := rt.syncCount()

	future := api.NewClient(a.APIURL(), nil)
	future.Protocol = 7
	_, err := future.Apply(ctx, podSet(2, 1))
	want := "the reconciler speaks protocol 7; agent n1 runs " + a.Info().Version + " (protocol 1..2): upgrade the agent (docs/compatibility.md)"
	var se *api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadRequest || !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Apply in protocol 7 = %v; want 400 with %q", err, want)
	}
	if r, ok := api.RefusedRange(err); !ok || r != api.Supported() {
		t.Errorf("RefusedRange = %v, %v; want the agent's %v", r, ok, api.Supported())
	}
	for name, call := range map[string]func() error{
		"watch": func() error {
			return future.Watch(ctx, func(api.PodStatusList) { t.Error("watch streamed in protocol 7") })
		},
		"podset": func() error { _, err := future.PodSet(ctx); return err },
		"logs":   func() error { _, err := future.Logs(ctx, "default", "a", api.LogOptions{}); return err },
		"exec": func() error {
			_, err := future.Exec(ctx, api.ExecOptions{Namespace: "default", Pod: "a", Command: []string{"true"}})
			return err
		},
	} {
		if err := call(); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "protocol 7") {
			t.Errorf("%s in protocol 7 = %v; want the refusal", name, err)
		}
	}
	// Nothing was synced, and the pods are still there.
	if n := rt.syncCount(); n != syncs {
		t.Errorf("runtime synced %d times after refusals, want %d", n, syncs)
	}
	if pods := rt.Pods(); len(pods) != 2 {
		t.Errorf("runtime holds %d pods after refusals, want the 2 it ran", len(pods))
	}

	// The answer names the protocol used and the agent's release.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.APIURL()+api.PathPods, nil)
	req.Header.Set(api.HeaderProtocol, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(api.HeaderProtocol) != "2" || resp.Header.Get(api.HeaderVersion) != a.Info().Version {
		t.Errorf("answer %d with %s=%q %s=%q", resp.StatusCode, api.HeaderProtocol, resp.Header.Get(api.HeaderProtocol),
			api.HeaderVersion, resp.Header.Get(api.HeaderVersion))
	}
}
