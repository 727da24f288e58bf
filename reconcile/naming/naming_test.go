package naming

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// logBuffer is a slog destination tests can read while hooks write.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// snapshot is a set with one Service whose single endpoint has ip.
func snapshot(rev, ip string) *Snapshot {
	return FromServices(rev, []agentapi.Service{{
		Namespace: "shop", Name: "web", Type: "ClusterIP", ClusterIP: "10.96.0.10",
		Ports:     []agentapi.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}},
		Endpoints: []agentapi.Endpoint{{IP: ip, Node: "node-a", Pod: "web-1", Ready: true, Ports: []int32{8080}}},
	}})
}

func TestFromServicesJSON(t *testing.T) {
	s := FromServices("c0ffee", []agentapi.Service{
		{Namespace: "shop", Name: "web", Type: "NodePort", ClusterIP: "10.96.0.10",
			Ports: []agentapi.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, NodePort: 30080}},
			Endpoints: []agentapi.Endpoint{
				{IP: "10.244.2.5", Node: "node-b", Pod: "web-2", Ready: false, Ports: []int32{8080}},
				{IP: "10.244.1.5", Node: "node-a", Pod: "web-1", Ready: true, Ports: []int32{8080}},
			}},
		{Namespace: "data", Name: "db", Type: "ClusterIP", ClusterIP: "None"},
	})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"revision":"c0ffee","services":[` +
		`{"namespace":"data","name":"db","type":"ClusterIP","clusterIP":"None","ports":[],"endpoints":[]},` +
		`{"namespace":"shop","name":"web","type":"NodePort","clusterIP":"10.96.0.10","ports":[{"name":"http","protocol":"TCP","port":80,"nodePort":30080}],"endpoints":[` +
		`{"ip":"10.244.1.5","node":"node-a","pod":"web-1","ready":true,"ports":[8080]},` +
		`{"ip":"10.244.2.5","node":"node-b","pod":"web-2","ready":false,"ports":[8080]}]}]}`
	if string(b) != want {
		t.Errorf("snapshot JSON\n got %s\nwant %s", b, want)
	}
}

// receiver is a loopback webhook receiver that records the snapshots it
// gets and answers with status(snapshot).
type receiver struct {
	t      *testing.T
	secret []byte
	status func(*Snapshot) int

	mu   sync.Mutex
	got  []*Snapshot
	sigs []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var s Snapshot
	if err := json.Unmarshal(body, &s); err != nil || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("bad request %q (%s): %v", body, req.Header.Get("Content-Type"), err)
	}
	sig := req.Header.Get(HeaderSignature)
	if r.secret != nil && !hmac.Equal([]byte(sig), []byte(Sign(r.secret, body))) {
		r.t.Errorf("signature %q does not sign the body", sig)
	}
	r.mu.Lock()
	r.got = append(r.got, &s)
	r.sigs = append(r.sigs, sig)
	r.mu.Unlock()
	code := http.StatusNoContent
	if r.status != nil {
		code = r.status(&s)
	}
	w.WriteHeader(code)
}

func (r *receiver) received() []*Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Snapshot{}, r.got...)
}

func (r *receiver) start() string {
	srv := httptest.NewServer(r)
	r.t.Cleanup(srv.Close)
	return srv.URL
}

// TestWebhookSignedAndRetried: the payload arrives whole and signed, and a
// receiver failing twice gets it on the third attempt.
func TestWebhookSignedAndRetried(t *testing.T) {
	secret := []byte("s3cret")
	calls := 0
	r := &receiver{t: t, secret: secret, status: func(*Snapshot) int {
		calls++ // under the receiver's handler: one request at a time here
		if calls <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	url := r.start()
	log, logs := testLogger()
	h := NewWebhook(WebhookConfig{URL: url, Secret: secret, Retry: Retry{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: log}})
	s := snapshot("c1", "10.244.1.5")
	if err := h.Notify(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := r.received()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	if d := cmp.Diff(s, got[2]); d != "" {
		t.Errorf("payload (-sent +received):\n%s", d)
	}
	if !strings.HasPrefix(r.sigs[0], "sha256=") {
		t.Errorf("signature %q", r.sigs[0])
	}
	if l := logs.String(); strings.Count(l, "naming hook failed; retrying") != 2 || !strings.Contains(l, "503 Service Unavailable") {
		t.Errorf("log does not show the two failed attempts:\n%s", l)
	}
}

// TestWebhookUnsignedAndTimeout: no secret, no signature header; a
// receiver that hangs is given up on after Timeout, and the call ends when
// its context does.
func TestWebhookUnsignedAndTimeout(t *testing.T) {
	release := make(chan struct{})
	var hung sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Read the body first: only then does the server notice the
		// client going away (and cancel req.Context()).
		io.ReadAll(req.Body)
		if req.Header.Get(HeaderSignature) != "" {
			t.Errorf("unsigned webhook sent %s", req.Header.Get(HeaderSignature))
		}
		hung.Do(func() {
			select {
			case <-release:
			case <-req.Context().Done():
			}
		})
	}))
	defer srv.Close()
	defer close(release)
	log, logs := testLogger()
	h := NewWebhook(WebhookConfig{URL: srv.URL, Retry: Retry{Timeout: 50 * time.Millisecond, MinBackoff: time.Millisecond, Logger: log}})
	if err := h.Notify(context.Background(), snapshot("c1", "10.244.1.5")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "deadline exceeded") {
		t.Errorf("the hung attempt was not logged as timed out:\n%s", logs)
	}

	// A receiver that always fails: Notify returns when ctx ends.
	bad := &receiver{t: t, status: func(*Snapshot) int { return http.StatusBadRequest }}
	h = NewWebhook(WebhookConfig{URL: bad.start(), Retry: Retry{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Logger: log}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Notify(ctx, snapshot("c1", "10.244.1.5")) }()
	waitFor(t, "three failed attempts", func() bool { return len(bad.received()) >= 3 })
	cancel()
	// The last failure, or the attempt the cancel cut short.
	if err := <-done; err == nil || !strings.Contains(err.Error(), "400 Bad Request") && !errors.Is(err, context.Canceled) {
		t.Errorf("Notify after cancel = %v, want the last failure", err)
	}
}

// TestNotifierSupersedesFailingWebhook: a webhook failing on one set is
// given the next set as soon as there is one; an unchanged set (a new
// revision only) is not sent again.
func TestNotifierSupersedesFailingWebhook(t *testing.T) {
	r := &receiver{t: t, status: func(s *Snapshot) int {
		if s.Revision == "c1" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}}
	log, _ := testLogger()
	h := NewWebhook(WebhookConfig{URL: r.start(), Retry: Retry{MinBackoff: 2 * time.Millisecond, MaxBackoff: 5 * time.Millisecond, Logger: log}})
	n := NewNotifier([]Hook{h}, log)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { n.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	n.Update(snapshot("c1", "10.244.1.5"))
	waitFor(t, "c1 retried", func() bool { return len(r.received()) >= 2 })
	n.Update(snapshot("c2", "10.244.1.6"))
	waitFor(t, "c2 delivered", func() bool { got := r.received(); return got[len(got)-1].Revision == "c2" })
	n.Update(snapshot("c3", "10.244.1.6")) // same set: dropped
	n.Update(snapshot("c4", "10.244.1.7"))
	waitFor(t, "c4 delivered", func() bool { got := r.received(); return got[len(got)-1].Revision == "c4" })
	var revs []string
	for _, s := range r.received() {
		revs = append(revs, s.Revision)
	}
	tail := strings.Join(revs, ",")
	tail = tail[strings.Index(tail, "c2"):]
	if tail != "c2,c4" {
		t.Errorf("deliveries %v: after c2, want only c4 (no c1 retry, no unchanged c3)", revs)
	}
}

// blockingHook records its calls and blocks each until released.
type blockingHook struct {
	calls   chan *Snapshot
	release chan struct{}
	causes  chan error
}

func (h *blockingHook) Notify(ctx context.Context, s *Snapshot) error {
	h.calls <- s
	<-h.release
	h.causes <- context.Cause(ctx)
	return nil
}

// TestNotifierCoalesces: while a hook is busy, Update never blocks, the
// call in flight is told it is superseded, and only the latest of the
// snapshots that arrived meanwhile is delivered next. A second hook is not
// held up by the first.
func TestNotifierCoalesces(t *testing.T) {
	slow := &blockingHook{calls: make(chan *Snapshot, 10), release: make(chan struct{}), causes: make(chan error, 10)}
	fast := &blockingHook{calls: make(chan *Snapshot, 10), release: make(chan struct{}), causes: make(chan error, 10)}
	close(fast.release)
	log, _ := testLogger()
	n := NewNotifier([]Hook{slow, fast}, log)
	n.Update(snapshot("c1", "10.244.1.1")) // before Run: kept until it starts
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { n.Run(ctx); close(stopped) }()

	if s := <-slow.calls; s.Revision != "c1" {
		t.Fatalf("first call %s", s.Revision)
	}
	for i, ip := range []string{"10.244.1.2", "10.244.1.3", "10.244.1.4"} {
		n.Update(snapshot("c"+string(rune('2'+i)), ip)) // returns although slow is blocked
	}
	waitFor(t, "the fast hook to get c4", func() bool {
		for {
			select {
			case s := <-fast.calls:
				if s.Revision == "c4" {
					return true
				}
			default:
				return false
			}
		}
	})
	slow.release <- struct{}{}
	if c := <-slow.causes; !errors.Is(c, ErrSuperseded) {
		t.Errorf("the superseded call's cause = %v, want ErrSuperseded", c)
	}
	if s := <-slow.calls; s.Revision != "c4" {
		t.Errorf("after c1 the slow hook got %s, want c4 (c2 and c3 coalesced away)", s.Revision)
	}
	cancel()
	close(slow.release)
	<-stopped
	select {
	case s := <-slow.calls:
		t.Errorf("unexpected call with %s", s.Revision)
	default:
	}
}

// TestExec runs a shell command that fails once (stderr logged), then
// writes its standard input to a file; and one that outlives its timeout.
func TestExec(t *testing.T) {
	dir := t.TempDir()
	out, marker := filepath.Join(dir, "out.json"), filepath.Join(dir, "failed-once")
	script := `if [ -e ` + marker + ` ]; then cat > ` + out + `; else touch ` + marker + `; echo "registry unreachable" >&2; exit 3; fi`
	log, logs := testLogger()
	h := NewExec(ExecConfig{Command: script, Retry: Retry{MinBackoff: time.Millisecond, Logger: log}})
	s := snapshot("c1", "10.244.1.5")
	if err := h.Notify(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got Snapshot
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, &got); d != "" {
		t.Errorf("stdin (-sent +written):\n%s", d)
	}
	if l := logs.String(); !strings.Contains(l, "exit status 3") || !strings.Contains(l, "registry unreachable") {
		t.Errorf("the failed run is not logged with its status and stderr:\n%s", l)
	}

	// The revision is in the environment.
	h = NewExec(ExecConfig{Command: `echo "$STEVEDORE_NAMING_REVISION" > ` + out, Retry: Retry{Logger: log}})
	if err := h.Notify(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); string(b) != "c1\n" {
		t.Errorf("STEVEDORE_NAMING_REVISION = %q", b)
	}

	// A command that hangs is killed at its timeout (with its children),
	// and retried until the context ends.
	h = NewExec(ExecConfig{Command: "sleep 30 & sleep 30", Retry: Retry{Timeout: 50 * time.Millisecond, MinBackoff: time.Millisecond, Logger: log}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- h.Notify(ctx, s) }()
	waitFor(t, "a timed-out run", func() bool { return strings.Contains(logs.String(), "timed out after 50ms") })
	cancel()
	if err := <-done; err == nil {
		t.Error("Notify of a hanging command succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the hanging command held Notify %s", d)
	}
}

func TestConfigHooks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("  s3cret\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)

	if hooks, err := (Config{}).Hooks(); err != nil || len(hooks) != 0 {
		t.Errorf("no config: %v, %v", hooks, err)
	}
	hooks, err := Config{WebhookURL: "https://dns.example.com/hook", WebhookSecretFile: secret, Exec: "true"}.Hooks()
	if err != nil || len(hooks) != 2 {
		t.Fatalf("hooks = %v, %v", hooks, err)
	}
	if w := hooks[0].(*Webhook); string(w.cfg.Secret) != "s3cret" || w.cfg.Timeout != 10*time.Second {
		t.Errorf("webhook config %+v", w.cfg)
	}
	for _, c := range []Config{
		{WebhookURL: "dns.example.com/hook"},
		{WebhookURL: "https://dns.example.com/hook", WebhookSecretFile: empty},
		{WebhookURL: "https://dns.example.com/hook", WebhookSecretFile: filepath.Join(dir, "missing")},
		{WebhookSecretFile: secret},
	} {
		if _, err := c.Hooks(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if _, err := (Config{WebhookURL: "ftp://user:pw@x/"}).Hooks(); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("bad URL error %v leaks its password or is missing", err)
	}
}
