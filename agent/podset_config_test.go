package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// configFake is the fake runtime with SetConfig, recording each call and
// how many Syncs came before it.
type configFake struct {
	*fakeRuntime
	mu    sync.Mutex
	calls []configCall
}

type configCall struct {
	objs        []api.ConfigObject
	pvs         []api.PersistentVolume
	syncsBefore int
}

func (f *configFake) SetConfig(objs []api.ConfigObject, pvs []api.PersistentVolume) error {
	n := f.syncCount()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, configCall{objs, pvs, n})
	return nil
}

func (f *configFake) configCalls() []configCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]configCall(nil), f.calls...)
}

// lockedBuffer is a log sink for the agent's handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPodSetConfig: the set's ConfigMaps, Secrets and volumes reach the
// runtime before its Sync; a set whose only change is a ConfigMap's
// Version is applied; GET /v1/podset and the agent's log never show them.
func TestPodSetConfig(t *testing.T) {
	const plaintext = "pl41ntext-s3cret"
	rt := &configFake{fakeRuntime: newFakeRuntime()}
	cfg := testConfig(t, "n1")
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := startAgent(t, cfg, rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)

	ps := podSet(1, 1, "a")
	ps.Config = []api.ConfigObject{
		{Kind: "ConfigMap", Namespace: "default", Name: "cfg", Data: map[string][]byte{"k": []byte("v")}, Version: "c1"},
		{Kind: "Secret", Namespace: "default", Name: "sec", Data: map[string][]byte{"password": []byte(plaintext)}, Version: "s1"},
	}
	ps.Volumes = []api.PersistentVolume{{Name: "pvc-1", Claim: "default/data", Driver: "stevedore.dev/local-dir", Handle: "h1"}}
	if _, err := c.Apply(ctx, ps); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	calls := rt.configCalls()
	if len(calls) != 1 || len(calls[0].objs) != 2 || len(calls[0].pvs) != 1 || calls[0].syncsBefore != 0 {
		t.Fatalf("SetConfig calls %+v: want one, with 2 objects and 1 volume, before the Sync", calls)
	}
	// Only a ConfigMap's Version changes: a new set, applied.
	ps.Generation = 2
	ps.Config[0].Version, ps.Config[0].Data = "c2", map[string][]byte{"k": []byte("w")}
	if _, err := c.Apply(ctx, ps); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if calls := rt.configCalls(); len(calls) != 2 || calls[1].objs[0].Version != "c2" {
		t.Fatalf("SetConfig calls %+v: want the new Version", calls)
	}
	// The same generation with another Version is a different set.
	ps.Config[0].Version = "c3"
	if _, err := c.Apply(ctx, ps); !errors.Is(err, api.ErrStale) {
		t.Errorf("same generation, other config: %v, want stale", err)
	}

	resp, err := http.Get(a.APIURL() + api.PathPodSet)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	enc := base64.StdEncoding.EncodeToString([]byte(plaintext))
	for _, bad := range []string{`"config"`, plaintext, enc, "password"} {
		if strings.Contains(string(body), bad) {
			t.Errorf("GET %s has %q: %s", api.PathPodSet, bad, body)
		}
	}
	for _, bad := range []string{plaintext, enc} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("the agent's log has a Secret's value:\n%s", logs.String())
		}
	}

	// Config objects it could not look up are refused.
	bad := podSet(1, 9, "a")
	bad.Config = []api.ConfigObject{{Kind: "Pod", Namespace: "default", Name: "x"}}
	if _, err := c.Apply(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `config[0]: kind "Pod"`) {
		t.Errorf("bad kind: %v", err)
	}
}
