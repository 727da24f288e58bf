package agent

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// fakeLeases is a reconciler's lease API in memory: the first holder
// wins, its holder renews or releases.
type fakeLeases struct {
	mu     sync.Mutex
	holder map[string]string
	reqs   []string // "PUT ns/name holder node release"
}

func (f *fakeLeases) handler() http.Handler {
	mux := http.NewServeMux()
	lease := func(key, holder string) api.Lease {
		ns, name, _ := strings.Cut(key, "/")
		return api.Lease{Metadata: api.LeaseMetadata{Namespace: ns, Name: name},
			Spec: api.LeaseSpec{HolderIdentity: holder}, Status: api.LeaseStatus{Held: holder != ""}}
	}
	mux.HandleFunc("GET "+api.PathLease, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		key := r.PathValue("namespace") + "/" + r.PathValue("name")
		h, ok := f.holder[key]
		if !ok {
			errs.WriteHTTP(w, errs.Mark(errBadPodName, errs.ErrNotFound))
			return
		}
		writeJSON(w, http.StatusOK, lease(key, h))
	})
	mux.HandleFunc("PUT "+api.PathLease, func(w http.ResponseWriter, r *http.Request) {
		var req api.LeaseRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			errs.WriteHTTP(w, invalid(err.Error()))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		key := r.PathValue("namespace") + "/" + r.PathValue("name")
		f.reqs = append(f.reqs, strings.Join([]string{"PUT", key, req.HolderIdentity, req.Node, map[bool]string{true: "release", false: "campaign"}[req.Release]}, " "))
		cur := f.holder[key]
		switch {
		case cur != "" && cur != req.HolderIdentity:
			errs.WriteHTTP(w, errs.WithFields(errs.Mark(errBadPodName, errs.ErrConflict), map[string]any{"lease": lease(key, cur)}))
			return
		case req.Release:
			f.holder[key] = ""
		default:
			f.holder[key] = req.HolderIdentity
		}
		writeJSON(w, http.StatusOK, lease(key, f.holder[key]))
	})
	return mux
}

var errBadPodName = errs.ToNative(http.StatusConflict, errs.CodeConflict)

// podClient sends requests from source address ip (loopback addresses
// other than 127.0.0.1 work on Linux without configuration).
func podClient(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 10 * time.Second}
}

func podCall(t *testing.T, ip, method, url, body string) (int, api.PodLease, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := podClient(ip).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, url, ip, err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	var pl api.PodLease
	_ = json.Unmarshal(raw, &pl)
	return resp.StatusCode, pl, string(raw)
}

// TestPodLeaseEndpoint: the agent's lease endpoint starts with the DNS
// server on the bridge address, names the caller by its source address,
// campaigns in the caller's namespace with the caller as holder and the
// node's name, and refuses unknown callers, host-network pods (whose
// address is the node's) and named holders.
func TestPodLeaseEndpoint(t *testing.T) {
	fl := &fakeLeases{holder: map[string]string{}}
	rec := httptest.NewServer(fl.handler())
	defer rec.Close()

	ev := &eventLog{}
	rt := newFakeRuntime()
	rt.events = ev
	fn := newFakeNet(ev)
	nw := fn.networking()
	var mu sync.Mutex
	var asked []string
	var bound string
	nw.LeaseListen = func(addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			mu.Lock()
			asked, bound = append(asked, addr), ln.Addr().String()
			mu.Unlock()
		}
		return ln, err
	}
	cfg := testConfig(t, "n1")
	a, err := New(cfg, rt, WithNetworking(nw))
	if err != nil {
		t.Fatal(err)
	}
	a.leaseReconcilers = func() []string { return []string{"http://127.0.0.1:1", rec.URL} } // the first is down
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())

	ps := podSet(1, 1, "a")
	ps.Network = testNetwork("10.244.1.0/24")
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	rt.setStatus([]api.PodStatus{
		{UID: "1", Namespace: "patterns", Name: "elect-a", Phase: api.PodRunning, PodIP: "127.0.0.1"},
		{UID: "2", Namespace: "patterns", Name: "elect-b", Phase: api.PodRunning, PodIP: "127.0.0.2"},
		{UID: "3", Namespace: "other", Name: "done", Phase: api.PodSucceeded, PodIP: "127.0.0.3"},
		{UID: "6", Namespace: "patterns", Name: "hostnet", Phase: api.PodRunning, PodIP: "127.0.0.6"},
	})
	// A host-network pod's IP is the node's: anything on the host has it.
	hostNet := api.Pod{UID: "6", Namespace: "patterns", Name: "hostnet"}
	hostNet.Spec.HostNetwork = true
	rt.mu.Lock()
	rt.pods = append(rt.pods, hostNet)
	rt.mu.Unlock()
	mu.Lock()
	if len(asked) != 1 || asked[0] != "10.244.1.1:7702" {
		t.Fatalf("lease endpoint asked to listen on %v, want the bridge address at 7702", asked)
	}
	base := "http://" + bound
	mu.Unlock()

	// Nobody holds it yet.
	if code, pl, raw := podCall(t, "127.0.0.1", "GET", base+"/lease/leader", ""); code != 200 || pl.Holding || pl.Identity != "elect-a_1" {
		t.Fatalf("GET before any campaign = %d %s", code, raw)
	}
	// elect-a campaigns and wins; the reconciler heard its name, its
	// namespace and this node.
	if code, pl, raw := podCall(t, "127.0.0.1", "PUT", base+"/lease/leader?duration=10", ""); code != 200 || !pl.Holding || pl.Holder != "elect-a_1" {
		t.Fatalf("elect-a campaign = %d %s", code, raw)
	}
	// elect-b loses and hears who leads.
	if code, pl, raw := podCall(t, "127.0.0.2", "POST", base+"/lease/leader", ""); code != 409 || pl.Holding || pl.Holder != "elect-a_1" || pl.Identity != "elect-b_2" {
		t.Fatalf("elect-b campaign = %d %s", code, raw)
	}
	if code, pl, _ := podCall(t, "127.0.0.2", "GET", base+"/lease/leader", ""); code != 200 || pl.Holding || pl.Holder != "elect-a_1" {
		t.Fatalf("elect-b GET = %d %+v", code, pl)
	}
	// elect-b cannot campaign as elect-a: naming a holder is refused.
	if code, _, raw := podCall(t, "127.0.0.2", "PUT", base+"/lease/leader?holder=elect-a", ""); code != 400 {
		t.Fatalf("forged holder in the query = %d %s", code, raw)
	}
	if code, _, raw := podCall(t, "127.0.0.2", "PUT", base+"/lease/leader", `{"holderIdentity":"elect-a"}`); code != 400 {
		t.Fatalf("forged holder in the body = %d %s", code, raw)
	}
	// elect-b cannot release elect-a's lease either.
	if code, _, raw := podCall(t, "127.0.0.2", "DELETE", base+"/lease/leader", ""); code != 409 {
		t.Fatalf("elect-b release = %d %s", code, raw)
	}
	// An address that is no running pod's is refused: a finished pod's,
	// a host-network pod's (the node's address) or any other.
	for _, ip := range []string{"127.0.0.3", "127.0.0.6", "127.0.0.4"} {
		if code, _, raw := podCall(t, ip, "PUT", base+"/lease/leader", ""); code != 403 {
			t.Fatalf("campaign from %s = %d %s", ip, code, raw)
		}
	}
	// Bad input.
	if code, _, raw := podCall(t, "127.0.0.1", "PUT", base+"/lease/Leader", ""); code != 400 {
		t.Fatalf("bad lease name = %d %s", code, raw)
	}
	if code, _, raw := podCall(t, "127.0.0.1", "PUT", base+"/lease/leader?duration=0", ""); code != 400 {
		t.Fatalf("duration 0 = %d %s", code, raw)
	}
	// elect-a releases; elect-b wins next.
	if code, pl, raw := podCall(t, "127.0.0.1", "DELETE", base+"/lease/leader", ""); code != 200 || pl.Holding {
		t.Fatalf("elect-a release = %d %s", code, raw)
	}
	if code, pl, raw := podCall(t, "127.0.0.2", "PUT", base+"/lease/leader", ""); code != 200 || !pl.Holding {
		t.Fatalf("elect-b after release = %d %s", code, raw)
	}
	// elect-b re-created under its name (a new UID, the same address) is
	// another candidate: the old incarnation's lease is not its own.
	rt.setStatus([]api.PodStatus{
		{UID: "1", Namespace: "patterns", Name: "elect-a", Phase: api.PodRunning, PodIP: "127.0.0.1"},
		{UID: "5", Namespace: "patterns", Name: "elect-b", Phase: api.PodRunning, PodIP: "127.0.0.2"},
	})
	if code, pl, raw := podCall(t, "127.0.0.2", "PUT", base+"/lease/leader", ""); code != 409 || pl.Holding || pl.Holder != "elect-b_2" || pl.Identity != "elect-b_5" {
		t.Fatalf("re-created elect-b campaign = %d %s", code, raw)
	}
	fl.mu.Lock()
	want := []string{
		"PUT patterns/leader elect-a_1 n1 campaign", "PUT patterns/leader elect-b_2 n1 campaign",
		"PUT patterns/leader elect-b_2 n1 release", "PUT patterns/leader elect-a_1 n1 release",
		"PUT patterns/leader elect-b_2 n1 campaign", "PUT patterns/leader elect-b_5 n1 campaign",
	}
	got := append([]string(nil), fl.reqs...)
	fl.mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reconciler heard:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The endpoint stops with the DNS server.
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := podClient("127.0.0.1").Get(base + "/lease/leader"); err == nil {
		t.Error("lease endpoint still answers after Shutdown")
	}
}
