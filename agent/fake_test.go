package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fakeRuntime is a hand-written PodRuntime: Sync records the set and reports
// every pod Running; tests change statuses with setStatus.
type fakeRuntime struct {
	mu      sync.Mutex
	pods    []api.Pod // desired, as the real runtime's records keep them
	syncs   [][]api.Pod
	status  []api.PodStatus
	syncErr error
	logs    map[string]string // namespace/pod/container → log text
	lastLog struct {
		ns, pod, ctr string
		tail         int
		opts         api.LogOptions
	}
	changes chan struct{}
	// networks are the SetNetwork calls; netErr fails them.
	networks []api.Network
	netErr   error
	// events, when set, records "network" and "sync" calls in order, shared
	// with the networking fakes.
	events *eventLog
}

var _ PodRuntime = (*fakeRuntime)(nil)

func (f *fakeRuntime) SetNetwork(ctx context.Context, n api.Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.add("runtime.SetNetwork " + n.PodCIDR)
	f.networks = append(f.networks, n)
	return f.netErr
}

func (f *fakeRuntime) networkCalls() []api.Network {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.networks)
}

// eventLog is an ordered record of calls across fakes; a nil log records
// nothing.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) add(e string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
}

// take returns the events so far and forgets them.
func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.evs
	l.evs = nil
	return e
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{changes: make(chan struct{}, 1), logs: map[string]string{}}
}

func (f *fakeRuntime) Sync(ctx context.Context, pods []api.Pod) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.add(fmt.Sprintf("runtime.Sync %d", len(pods)))
	f.syncs = append(f.syncs, pods)
	if f.syncErr != nil {
		return f.syncErr
	}
	f.pods = slices.Clone(pods)
	f.status = f.status[:0:0]
	for _, p := range pods {
		f.status = append(f.status, api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Phase: api.PodRunning})
	}
	f.changed()
	return nil
}

func (f *fakeRuntime) Status() []api.PodStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.PodStatus(nil), f.status...)
}

func (f *fakeRuntime) Pods() []api.Pod {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.pods)
}

// restarted is a new runtime over the same "disk": it adopts the pods of
// f's last successful Sync, as the real runtime adopts its pod records.
func (f *fakeRuntime) restarted() *fakeRuntime {
	g := newFakeRuntime()
	g.pods = f.Pods()
	for _, p := range g.pods {
		g.status = append(g.status, api.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Phase: api.PodRunning})
	}
	return g
}

func (f *fakeRuntime) Changes() <-chan struct{} { return f.changes }

func (f *fakeRuntime) Logs(ctx context.Context, ns, pod string, o api.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ctr := o.Container
	f.lastLog.ns, f.lastLog.pod, f.lastLog.ctr, f.lastLog.tail, f.lastLog.opts = ns, pod, ctr, o.Tail, o
	s, ok := f.logs[ns+"/"+pod+"/"+ctr]
	if !ok {
		return nil, fmt.Errorf("no container %s/%s/%s: %w", ns, pod, ctr, api.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(s)), nil
}

// setStatus replaces the observed state and signals a change the way the
// real runtime does: a non-blocking send on a one-slot channel.
func (f *fakeRuntime) setStatus(st []api.PodStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
	f.changed()
}

func (f *fakeRuntime) changed() {
	select {
	case f.changes <- struct{}{}:
	default:
	}
}

func (f *fakeRuntime) syncCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.syncs)
}

func (f *fakeRuntime) setSyncErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncErr = err
}

// testLogger writes warnings to stderr under -v and nothing otherwise.
func testLogger() *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testConfig is a loopback agent on free ports with a private data dir.
func testConfig(t *testing.T, name string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = name
	cfg.APIAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Logger = testLogger()
	return cfg
}

// startAgent starts an agent and shuts it down when the test ends.
func startAgent(t *testing.T, cfg Config, rt PodRuntime, opts ...Option) *Agent {
	t.Helper()
	a, err := New(cfg, rt, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return a
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
