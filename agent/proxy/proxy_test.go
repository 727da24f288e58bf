package proxy

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

const reqTimeout = 2 * time.Second

func endpointOf(h *host, ready bool) api.Endpoint {
	return api.Endpoint{IP: h.ip.String(), Node: "n1", Pod: h.name, Ready: ready, Ports: []int32{tcpPort, udpPort}}
}

// webService is a NodePort Service over p1..p3, TCP 80 → 8080 and UDP 53 →
// 8081; notReady names the pods that are not Ready.
func (tp *topo) webService(notReady ...string) api.Service {
	s := api.Service{
		Namespace: "default", Name: "web", Type: api.ServiceTypeNodePort, ClusterIP: tp.clusterIP(10),
		Ports: []api.ServicePort{
			{Name: "http", Protocol: "TCP", Port: 80, NodePort: 30080},
			{Name: "dns", Protocol: "UDP", Port: 53, NodePort: 30053},
		},
	}
	for _, p := range tp.pods[:3] {
		ready := true
		for _, n := range notReady {
			ready = ready && n != p.name
		}
		s.Endpoints = append(s.Endpoints, endpointOf(p, ready))
	}
	return s
}

func (tp *topo) service(name string, ip int, typ string, eps ...api.Endpoint) api.Service {
	return api.Service{
		Namespace: "default", Name: name, Type: typ, ClusterIP: tp.clusterIP(ip),
		Ports: []api.ServicePort{
			{Name: "http", Protocol: "TCP", Port: 80, NodePort: int32(30100 + ip)},
			{Name: "dns", Protocol: "UDP", Port: 53, NodePort: int32(30100 + ip)},
		},
		Endpoints: eps,
	}
}

// reachAll asks get until every backend in want answered (at most 100
// requests: the chance that random choice misses one of 3 that long is
// ~1e-17) and fails on an error or an answer from outside want.
func reachAll(t *testing.T, get func() (reply, error), want ...string) {
	t.Helper()
	seen := map[string]bool{}
	for i := 0; i < 100 && len(seen) < len(want); i++ {
		r, err := get()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !contains(want, r.name) {
			t.Fatalf("request %d reached %s, want one of %v", i, r.name, want)
		}
		seen[r.name] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("100 requests reached %v, want all of %v", seen, want)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// proxyEnv is TestProxy's network and proxy, shared by its subtests.
type proxyEnv struct {
	tp        *topo
	p         *Proxy
	cip       string
	clientGet func() (reply, error)
}

func TestProxy(t *testing.T) {
	tp := newTopo(t)
	p := newProxy(t, tp.node, Config{ClusterCIDR: tp.clusterCIDR(), PodCIDR: tp.cidr(16), Bridge: "br0"})
	cip := net.JoinHostPort(tp.clusterIP(10), "80")
	clientGet := func() (reply, error) { return getTCP(tp.client.ns, cip, reqTimeout) }
	must(t, p.Apply([]api.Service{tp.webService()}))
	e := &proxyEnv{tp: tp, p: p, cip: cip, clientGet: clientGet}
	t.Run("ClusterIPSpreadsOverEndpoints", func(t *testing.T) { testClusterIPSpreadsOverEndpoints(t, e) })
	t.Run("FromTheNodeItself", func(t *testing.T) { testFromTheNodeItself(t, e) })
	t.Run("NotReadyStopsImmediately", func(t *testing.T) { testNotReadyStopsImmediately(t, e) })
	t.Run("ReapplyIsNoop", func(t *testing.T) { testReapplyIsNoop(t, e) })
	t.Run("UpdatesUnderTrafficLoseNothing", func(t *testing.T) { testUpdatesUnderTrafficLoseNothing(t, e) })
	t.Run("NoEndpointsRefused", func(t *testing.T) { testNoEndpointsRefused(t, e) })
	t.Run("NodePort", func(t *testing.T) { testNodePort(t, e) })
	t.Run("NodePortToOtherNodeIsMasqueraded", func(t *testing.T) { testNodePortToOtherNodeIsMasqueraded(t, e) })
	t.Run("SessionAffinity", func(t *testing.T) { testSessionAffinity(t, e) })
	t.Run("UDP", func(t *testing.T) { testUDP(t, e) })
	t.Run("Hairpin", func(t *testing.T) { testHairpin(t, e) })
	t.Run("BadServiceSkippedOthersServed", func(t *testing.T) { testBadServiceSkippedOthersServed(t, e) })
	t.Run("HeadlessAndNoClusterIPGetNoRules", func(t *testing.T) { testHeadlessAndNoClusterIPGetNoRules(t, e) })
}

func testClusterIPSpreadsOverEndpoints(t *testing.T, e *proxyEnv) {
	tp, clientGet := e.tp, e.clientGet
	reachAll(t, clientGet, "p1", "p2", "p3")
	r, err := clientGet()
	must(t, err)
	if r.from != tp.client.ip.String() {
		t.Errorf("backend saw client %s, want %s (no masquerading inside the cluster)", r.from, tp.client.ip)
	}
}

func testFromTheNodeItself(t *testing.T, e *proxyEnv) {
	tp, cip := e.tp, e.cip
	reachAll(t, func() (reply, error) { return getTCP(tp.node, cip, reqTimeout) }, "p1", "p2", "p3")
}

func testNotReadyStopsImmediately(t *testing.T, e *proxyEnv) {
	tp, p, clientGet := e.tp, e.p, e.clientGet
	must(t, p.Apply([]api.Service{tp.webService("p2")}))
	for i := 0; i < 40; i++ {
		r, err := clientGet()
		must(t, err)
		if r.name == "p2" {
			t.Fatalf("request %d reached not-Ready p2", i)
		}
	}
	must(t, p.Apply([]api.Service{tp.webService()}))
	reachAll(t, clientGet, "p1", "p2", "p3")
}

// blocks sorts the chains, maps and sets of an nft listing of one table:
// the order of chains is the order they were created in.
func blocks(listing string) string {
	var bs []string
	var cur []string
	for _, l := range strings.Split(listing, "\n") {
		if strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t\t") && l != "\t}" {
			cur = []string{l} // "\tchain x {", "\tmap y {"
			continue
		}
		if cur == nil {
			continue
		}
		cur = append(cur, l)
		if l == "\t}" {
			bs = append(bs, strings.Join(cur, "\n"))
			cur = nil
		}
	}
	sort.Strings(bs)
	return strings.Join(bs, "\n")
}

func testReapplyIsNoop(t *testing.T, e *proxyEnv) {
	tp, p, clientGet := e.tp, e.p, e.clientGet
	before, err := nft(t, tp.node, "list", "table", "ip", DefaultTable)
	must(t, err)
	must(t, p.Apply([]api.Service{tp.webService()}))
	after, err := nft(t, tp.node, "list", "table", "ip", DefaultTable)
	must(t, err)
	if before != after {
		t.Errorf("re-Apply changed the table:\n--- before\n%s\n--- after\n%s", before, after)
	}
	if p.rewritten != 0 {
		t.Errorf("re-Apply rewrote %d chains, want none", p.rewritten)
	}
	reachAll(t, clientGet, "p1", "p2", "p3")

	// Someone deletes the table: the next Apply, even of the same set,
	// puts it back.
	nftAll(t, tp.node, []string{"delete", "table", "ip", DefaultTable})
	must(t, p.Apply([]api.Service{tp.webService()}))
	again, err := nft(t, tp.node, "list", "table", "ip", DefaultTable)
	must(t, err)
	if bb := blocks(before); !strings.Contains(bb, "chain services {") || blocks(again) != bb {
		t.Errorf("table not restored:\n--- want\n%s\n--- got\n%s", before, again)
	}
	reachAll(t, clientGet, "p1", "p2", "p3")
}

// testUpdatesUnderTrafficLoseNothing applies changing sets while a client
// keeps connecting: each Apply is one transaction, so no connection ever
// meets a half-written table (refused, or sent nowhere).
func testUpdatesUnderTrafficLoseNothing(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	other := tp.service("other", 19, api.ServiceTypeClusterIP, endpointOf(tp.pods[3], true))
	sets := [][]api.Service{
		{tp.webService()},
		{tp.webService("p2"), other},
		{tp.webService("p1", "p3")},
	}
	done := make(chan error, 1)
	stop := make(chan struct{})
	var applies atomic.Int64
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.Apply(sets[i%len(sets)]); err != nil {
				done <- err
				return
			}
			applies.Add(1)
		}
	}()
	// At least 200 requests, and on until 20 updates happened meanwhile.
	// Known, not yet understood (docs/networking-proxy.md): about one
	// connection in a thousand opened while an update commits fails with
	// EHOSTUNREACH. A few are tolerated (at most 1% of the requests, or
	// 2); any other failure fails the test.
	missed, total := 0, 0
	for i := 0; i < 2000 && (i < 200 || applies.Load() < 20); i++ {
		total++
		if _, err := e.clientGet(); err != nil {
			if errors.Is(err, syscall.EHOSTUNREACH) {
				missed++
				t.Logf("request %d during updates: %v (the known issue)", i, err)
				continue
			}
			t.Errorf("request %d during updates: %v", i, err)
			break
		}
	}
	// A broken update loses far more than this.
	if missed > max(2, total/100) {
		t.Errorf("%d of %d requests during updates failed with EHOSTUNREACH, more than the known rare case", missed, total)
	}
	close(stop)
	must(t, <-done)
	if n := applies.Load(); n < 20 {
		t.Errorf("only %d updates during the requests", n)
	}
	rules, took := p.Stats()
	t.Logf("%d updates; %d rules, last Apply %v", applies.Load(), rules, took)
	must(t, p.Apply([]api.Service{tp.webService()}))
}

func testNoEndpointsRefused(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	empty := tp.service("empty", 11, api.ServiceTypeNodePort, endpointOf(tp.pods[0], false))
	must(t, p.Apply([]api.Service{tp.webService(), empty}))
	for _, c := range []struct {
		name string
		get  func() (reply, error)
	}{
		{"tcp cluster IP", func() (reply, error) { return getTCP(tp.client.ns, tp.clusterIP(11)+":80", reqTimeout) }},
		{"udp cluster IP", func() (reply, error) { return getUDP(tp.client.ns, tp.clusterIP(11)+":53", 0, reqTimeout) }},
		{"tcp node port", func() (reply, error) {
			return getTCP(tp.ext.ns, fmt.Sprintf("%s:%d", tp.nodeExt, 30111), reqTimeout)
		}},
		{"tcp from node", func() (reply, error) { return getTCP(tp.node, tp.clusterIP(11)+":80", reqTimeout) }},
	} {
		start := time.Now()
		_, err := c.get()
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: got %v, want connection refused", c.name, err)
		} else if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %v, want at once", c.name, d)
		}
	}
}

func testNodePort(t *testing.T, e *proxyEnv) {
	tp := e.tp
	np := fmt.Sprintf("%s:%d", tp.nodeExt, 30080)
	get := func() (reply, error) { return getTCP(tp.ext.ns, np, reqTimeout) }
	reachAll(t, get, "p1", "p2", "p3")
	r, err := get()
	must(t, err)
	// A local endpoint answers through this node anyway: the client
	// address is kept.
	if r.from != tp.ext.ip.String() {
		t.Errorf("local backend saw %s, want the client's %s", r.from, tp.ext.ip)
	}
	reachAll(t, func() (reply, error) {
		return getUDP(tp.ext.ns, fmt.Sprintf("%s:%d", tp.nodeExt, 30053), 0, reqTimeout)
	}, "p1", "p2", "p3")
	// From the node itself, to its own address (the output path).
	reachAll(t, func() (reply, error) { return getTCP(tp.node, np, reqTimeout) }, "p1", "p2", "p3")
	// And the node port answers on the bridge address too (any local
	// address), from a pod.
	reachAll(t, func() (reply, error) {
		return getTCP(tp.client.ns, fmt.Sprintf("%s:%d", tp.ip(16, 1), 30080), reqTimeout)
	}, "p1", "p2", "p3")
}

func testNodePortToOtherNodeIsMasqueraded(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	remote := tp.service("remote", 12, api.ServiceTypeNodePort, endpointOf(tp.pods[3], true))
	must(t, p.Apply([]api.Service{tp.webService(), remote}))
	r, err := getTCP(tp.ext.ns, fmt.Sprintf("%s:%d", tp.nodeExt, 30112), reqTimeout)
	must(t, err)
	if r.name != "p4" || r.from != tp.ip(3, 1).String() {
		t.Errorf("got %+v, want p4 seeing the node's address %s", r, tp.ip(3, 1))
	}
	// Pod to pod across nodes through the cluster IP keeps the
	// client's address.
	r, err = getTCP(tp.client.ns, tp.clusterIP(12)+":80", reqTimeout)
	must(t, err)
	if r.name != "p4" || r.from != tp.client.ip.String() {
		t.Errorf("got %+v, want p4 seeing the client %s", r, tp.client.ip)
	}
}

func testSessionAffinity(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	sticky := tp.webService()
	sticky.Name, sticky.ClusterIP = "sticky", tp.clusterIP(13)
	sticky.Ports = sticky.Ports[:1]
	sticky.Ports[0].NodePort = 30113
	sticky.SessionAffinity, sticky.AffinityTimeoutSeconds = api.AffinityClientIP, 60
	must(t, p.Apply([]api.Service{tp.webService(), sticky}))
	first, err := getTCP(tp.client.ns, tp.clusterIP(13)+":80", reqTimeout)
	must(t, err)
	for i := 0; i < 30; i++ {
		r, err := getTCP(tp.client.ns, tp.clusterIP(13)+":80", reqTimeout)
		must(t, err)
		if r.name != first.name {
			t.Fatalf("request %d reached %s, want %s (ClientIP affinity)", i, r.name, first.name)
		}
	}
	// Another Service changing does not reset the affinity.
	must(t, p.Apply([]api.Service{tp.webService("p3"), sticky}))
	r, err := getTCP(tp.client.ns, tp.clusterIP(13)+":80", reqTimeout)
	must(t, err)
	if r.name != first.name {
		t.Errorf("after an unrelated update: reached %s, want %s", r.name, first.name)
	}
	// Another client gets its own choice, also sticky.
	other, err := getTCP(tp.ext.ns, fmt.Sprintf("%s:%d", tp.nodeExt, 30113), reqTimeout)
	must(t, err)
	for i := 0; i < 10; i++ {
		r, err := getTCP(tp.ext.ns, fmt.Sprintf("%s:%d", tp.nodeExt, 30113), reqTimeout)
		must(t, err)
		if r.name != other.name {
			t.Fatalf("node port request %d reached %s, want %s", i, r.name, other.name)
		}
	}
}

func testUDP(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	must(t, p.Apply([]api.Service{tp.webService()}))
	udp := tp.clusterIP(10) + ":53"
	reachAll(t, func() (reply, error) { return getUDP(tp.client.ns, udp, 0, reqTimeout) }, "p1", "p2", "p3")
	// One flow (fixed source port): conntrack pins it to its
	// endpoint; when that endpoint stops being Ready, the entry is
	// flushed and the same flow moves on at once.
	const port = 40053
	r, err := getUDP(tp.client.ns, udp, port, reqTimeout)
	must(t, err)
	must(t, p.Apply([]api.Service{tp.webService(r.name)}))
	r2, err := getUDP(tp.client.ns, udp, port, reqTimeout)
	must(t, err)
	if r2.name == r.name {
		t.Errorf("UDP flow still reaches %s after it became not Ready", r.name)
	}
	// A flow that started before its Service existed (routed out
	// un-NATed, and tracked so) is served as soon as the Service is
	// there: its conntrack entry is flushed.
	late := tp.service("late", 18, api.ServiceTypeClusterIP, endpointOf(tp.pods[0], true))
	const port2 = 40054
	if _, err := getUDP(tp.client.ns, tp.clusterIP(18)+":53", port2, 300*time.Millisecond); err == nil {
		t.Fatal("UDP to a cluster IP without a Service was answered")
	}
	must(t, p.Apply([]api.Service{tp.webService(), late}))
	if r, err := getUDP(tp.client.ns, tp.clusterIP(18)+":53", port2, reqTimeout); err != nil || r.name != "p1" {
		t.Errorf("UDP flow started before its Service: got %+v, %v; want p1", r, err)
	}
	must(t, p.Apply([]api.Service{tp.webService()}))
}

func testHairpin(t *testing.T, e *proxyEnv) {
	tp, p, cip := e.tp, e.p, e.cip
	self := tp.service("self", 14, api.ServiceTypeClusterIP, endpointOf(tp.pods[0], true))
	must(t, p.Apply([]api.Service{tp.webService(), self}))
	r, err := getTCP(tp.pods[0].ns, tp.clusterIP(14)+":80", reqTimeout)
	must(t, err)
	// Masqueraded to the bridge address: unmasqueraded, p1 would
	// answer itself directly and the reply would never be un-NATed.
	if r.name != "p1" || r.from != tp.ip(16, 1).String() {
		t.Fatalf("hairpin got %+v, want p1 seeing the bridge address %s", r, tp.ip(16, 1))
	}
	// And through a Service with several endpoints, p1 reaches
	// itself too.
	reachAll(t, func() (reply, error) { return getTCP(tp.pods[0].ns, cip, reqTimeout) }, "p1", "p2", "p3")
	ru, err := getUDP(tp.pods[0].ns, tp.clusterIP(14)+":53", 0, reqTimeout)
	must(t, err)
	if ru.name != "p1" {
		t.Fatalf("UDP hairpin reached %s, want p1", ru.name)
	}
}

func testBadServiceSkippedOthersServed(t *testing.T, e *proxyEnv) {
	tp, p, clientGet := e.tp, e.p, e.clientGet
	bad := tp.service("bad", 17, api.ServiceTypeClusterIP, endpointOf(tp.pods[0], true))
	bad.Ports[0].Protocol = "SCTP"
	must(t, p.Apply([]api.Service{bad, tp.webService()}))
	reachAll(t, clientGet, "p1", "p2", "p3")
}

func testHeadlessAndNoClusterIPGetNoRules(t *testing.T, e *proxyEnv) {
	tp, p := e.tp, e.p
	headless := tp.service("headless", 15, api.ServiceTypeClusterIP, endpointOf(tp.pods[0], true))
	headless.ClusterIP = api.ClusterIPNone
	noIP := tp.service("noip", 16, api.ServiceTypeClusterIP, endpointOf(tp.pods[0], true))
	noIP.ClusterIP = ""
	must(t, p.Apply([]api.Service{headless, noIP}))
	out, err := nft(t, tp.node, "list", "table", "ip", DefaultTable)
	must(t, err)
	if strings.Contains(out, "headless") || strings.Contains(out, "noip") || strings.Contains(out, "svc-") {
		t.Errorf("rules for headless or IP-less Services:\n%s", out)
	}
}

// nftAll runs nft commands in ns, failing the test on the first error.
func nftAll(t *testing.T, ns netns.NsHandle, cmds ...[]string) {
	t.Helper()
	for _, cmd := range cmds {
		if _, err := nft(t, ns, cmd...); err != nil {
			t.Fatal(err)
		}
	}
}

// takeOver starts a new Proxy over the table an earlier one left, applies
// web with only p3 Ready, and checks that the table is whole, single and
// serving.
func takeOver(t *testing.T, tp *topo, cfg Config) *Proxy {
	t.Helper()
	p := newProxy(t, tp.node, cfg)
	must(t, p.Apply([]api.Service{tp.webService("p1", "p2")}))
	out, err := nft(t, tp.node, "list", "tables")
	must(t, err)
	if n := strings.Count(out, "table ip "+cfg.Table+"\n"); n != 1 {
		t.Fatalf("%d tables named %s after takeover, want 1:\n%s", n, cfg.Table, out)
	}
	table, err := nft(t, tp.node, "list", "table", "ip", cfg.Table)
	must(t, err)
	if strings.Contains(table, "junk") || !strings.Contains(table, "type ipv4_addr . inet_proto . inet_service : verdict") {
		t.Errorf("left-overs survived the takeover:\n%s", table)
	}
	for i := 0; i < 20; i++ {
		r, err := getTCP(tp.client.ns, tp.clusterIP(10)+":80", reqTimeout)
		must(t, err)
		if r.name != "p3" {
			t.Fatalf("request %d reached %s, want p3 (the only Ready endpoint)", i, r.name)
		}
	}
	return p
}

func TestTakeOverAndClose(t *testing.T) {
	tp := newTopo(t)
	cfg := Config{Table: "stv-takeover", ClusterCIDR: tp.clusterCIDR(), Bridge: "br0"}
	old := newProxy(t, tp.node, cfg)
	must(t, old.Apply([]api.Service{tp.webService()}))

	// The old agent dies without closing; its table stays, with whatever
	// an older version may have put in it: the new one updates it in place.
	nftAll(t, tp.node,
		[]string{"add", "chain", "ip", cfg.Table, "junk-chain"},
		[]string{"add", "rule", "ip", cfg.Table, "junk-chain", "counter"},
		[]string{"add", "set", "ip", cfg.Table, "junk-set", "{ type ipv4_addr; }"},
	)
	p := takeOver(t, tp, cfg)
	rules, took := p.Stats()
	t.Logf("%d rules, last Apply %v", rules, took)

	// A map of the right name and the wrong type cannot be updated in
	// place: Apply recreates the table.
	nftAll(t, tp.node,
		[]string{"flush", "chain", "ip", cfg.Table, "services"},
		[]string{"flush", "chain", "ip", cfg.Table, "service-endpoints-check"},
		[]string{"delete", "map", "ip", cfg.Table, mapServiceIPs},
		[]string{"add", "map", "ip", cfg.Table, mapServiceIPs, "{ type ipv4_addr : verdict; }"},
	)
	p = takeOver(t, tp, cfg)

	must(t, p.Close())
	must(t, p.Close())
	out, err := nft(t, tp.node, "list", "tables")
	must(t, err)
	if strings.Contains(out, cfg.Table) {
		t.Errorf("table %s still there after Close:\n%s", cfg.Table, out)
	}
	if err := p.Apply(nil); err == nil {
		t.Error("Apply after Close succeeded")
	}
}
