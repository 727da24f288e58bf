package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeAgent answers the lease endpoint as the agent does, with a holder
// and a switch to stop answering.
type fakeAgent struct {
	mu     sync.Mutex
	holder string // who holds the lease
	down   bool
	calls  []string
}

func (f *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	if f.down {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	me := "me"
	switch {
	case r.Method == http.MethodDelete && f.holder == me:
		f.holder = ""
	case r.Method == http.MethodPut && (f.holder == "" || f.holder == me):
		f.holder = me
	}
	w.Header().Set("Content-Type", "application/json")
	if f.holder != me && r.Method != http.MethodGet {
		w.WriteHeader(http.StatusConflict)
	}
	_, _ = w.Write([]byte(`{"holding":` + map[bool]string{true: "true", false: "false"}[f.holder == me] + `,"holder":"` + f.holder + `","identity":"me"}`))
}

func (f *fakeAgent) set(fn func(*fakeAgent)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func leading(st *state) (bool, string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.leading, st.leader
}

func waitState(t *testing.T, st *state, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if l, _ := leading(st); l == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leading never became %v within %s", want, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCampaign: the program leads while it holds the lease, stops when
// another pod holds it, stops by itself when it cannot renew within the
// deadline (before the lease could lapse), and releases it on the way out.
func TestCampaign(t *testing.T) {
	f := &fakeAgent{holder: "other"}
	srv := httptest.NewServer(f)
	defer srv.Close()
	st := &state{identity: "me"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := srv.URL + "/lease/elect?duration=1"
	go campaign(ctx, srv.Client(), url, 20*time.Millisecond, 300*time.Millisecond, st)

	time.Sleep(100 * time.Millisecond)
	if l, leader := leading(st); l || leader != "other" {
		t.Fatalf("while another holds it: leading %v, leader %q", l, leader)
	}
	f.set(func(f *fakeAgent) { f.holder = "" })
	waitState(t, st, true, time.Second)

	// The agent stops answering: still leading within the deadline, not
	// after it.
	f.set(func(f *fakeAgent) { f.down = true })
	downAt := time.Now()
	waitState(t, st, false, 2*time.Second)
	if d := time.Since(downAt); d < 250*time.Millisecond {
		t.Errorf("stopped leading %s after the agent went away, want about the 300ms deadline", d)
	}
	f.set(func(f *fakeAgent) { f.down = false })
	waitState(t, st, true, time.Second)

	// Another takes it (say, the lease lapsed meanwhile): this one stops.
	f.set(func(f *fakeAgent) { f.holder = "other" })
	waitState(t, st, false, time.Second)
	f.set(func(f *fakeAgent) { f.holder = "" })
	waitState(t, st, true, time.Second)

	cancel()
	release(srv.Client(), url, st)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holder != "" || f.calls[len(f.calls)-1] != "DELETE /lease/elect?duration=1" {
		t.Errorf("after release: holder %q, last call %q", f.holder, f.calls[len(f.calls)-1])
	}
}

func TestNameserver(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("search patterns.svc.cluster.local\nnameserver 10.244.1.1\nnameserver 8.8.8.8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ns, err := nameserver(p); err != nil || ns != "10.244.1.1" {
		t.Errorf("nameserver = %q, %v", ns, err)
	}
}
