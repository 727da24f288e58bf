package dns

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

// TestClusterNames asks every kind of cluster name over UDP and checks the
// whole answer: rcode, answer and additional sections, the SOA on negative
// answers.
func TestClusterNames(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, nil)
	s.Update(fixture())

	const web = "web.default.svc.cluster.local."
	const db = "db.default.svc.cluster.local."
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
	}{
		// A Service with a cluster IP: its address; AAAA exists as NODATA.
		{name: web, qtype: dns.TypeA, answer: []string{web + " 5 IN A 10.96.0.10"}},
		{name: "WEB.Default.SVC.cluster.LOCAL.", qtype: dns.TypeA, answer: []string{web + " 5 IN A 10.96.0.10"}},
		{name: web, qtype: dns.TypeAAAA},
		{name: "web.other.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"web.other.svc.cluster.local. 5 IN A 10.96.5.5"}},
		// SRV: per named port, and every port at the Service's name; the
		// target's address in the additional section.
		{
			name: "_http._tcp." + web, qtype: dns.TypeSRV,
			answer: []string{"_http._tcp." + web + " 5 IN SRV 0 100 80 " + web},
			extra:  []string{web + " 5 IN A 10.96.0.10"},
		},
		{
			name: web, qtype: dns.TypeSRV,
			answer: []string{web + " 5 IN SRV 0 50 80 " + web, web + " 5 IN SRV 0 50 9090 " + web},
			extra:  []string{web + " 5 IN A 10.96.0.10"},
		},
		{
			name: "_dns._udp.web.other.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.web.other.svc.cluster.local. 5 IN SRV 0 100 53 web.other.svc.cluster.local."},
			extra:  []string{"web.other.svc.cluster.local. 5 IN A 10.96.5.5"},
		},
		{name: "_http._udp." + web, qtype: dns.TypeSRV, rcode: dns.RcodeNameError},
		{name: "_tcp." + web, qtype: dns.TypeSRV}, // an empty non-terminal
		// A ClusterIP Service's Ready endpoints have names too (CoreDNS).
		{name: "10-244-1-5." + web, qtype: dns.TypeA, answer: []string{"10-244-1-5." + web + " 5 IN A 10.244.1.5"}},
		{name: "10-244-2-6." + web, qtype: dns.TypeA, rcode: dns.RcodeNameError},
		// Headless: the Ready endpoints, their names, SRV per endpoint with
		// its target port.
		{name: db, qtype: dns.TypeA, answer: []string{db + " 5 IN A 10.244.1.7", db + " 5 IN A 10.244.2.8"}},
		{name: "db-0." + db, qtype: dns.TypeA, answer: []string{"db-0." + db + " 5 IN A 10.244.1.7"}},
		{name: "10-244-1-7." + db, qtype: dns.TypeA, answer: []string{"10-244-1-7." + db + " 5 IN A 10.244.1.7"}},
		{name: "10-244-2-8." + db, qtype: dns.TypeA, answer: []string{"10-244-2-8." + db + " 5 IN A 10.244.2.8"}},
		{name: "10-244-3-9." + db, qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{
			name: "_pg._tcp." + db, qtype: dns.TypeSRV,
			answer: []string{
				"_pg._tcp." + db + " 5 IN SRV 0 50 5432 db-0." + db,
				"_pg._tcp." + db + " 5 IN SRV 0 50 5433 10-244-2-8." + db,
			},
			extra: []string{"db-0." + db + " 5 IN A 10.244.1.7", "10-244-2-8." + db + " 5 IN A 10.244.2.8"},
		},
		{
			name: db, qtype: dns.TypeSRV,
			answer: []string{
				db + " 5 IN SRV 0 33 5432 db-0." + db,
				db + " 5 IN SRV 0 33 9 db-0." + db,
				db + " 5 IN SRV 0 33 5433 10-244-2-8." + db,
			},
			extra: []string{"db-0." + db + " 5 IN A 10.244.1.7", "10-244-2-8." + db + " 5 IN A 10.244.2.8"},
		},
		{name: "pnr.default.svc.cluster.local.", qtype: dns.TypeA, answer: []string{"pnr.default.svc.cluster.local. 5 IN A 10.244.4.4"}},
		// A headless Service without a ready endpoint: NXDOMAIN, as the
		// spec (2.4.1) and CoreDNS answer.
		{name: "empty.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		// Pods, any namespace ("pods insecure").
		{name: "10-244-1-5.default.pod.cluster.local.", qtype: dns.TypeA, answer: []string{"10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5"}},
		{name: "10-1-2-3.Nowhere.pod.cluster.local.", qtype: dns.TypeA, answer: []string{"10-1-2-3.nowhere.pod.cluster.local. 5 IN A 10.1.2.3"}},
		{name: "10-244-1-5.default.pod.cluster.local.", qtype: dns.TypeAAAA},
		{name: "fd00--1.default.pod.cluster.local.", qtype: dns.TypeAAAA, answer: []string{"fd00--1.default.pod.cluster.local. 5 IN AAAA fd00::1"}},
		{name: "10-244-1.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "10-244-1-5.a.b.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "default.pod.cluster.local.", qtype: dns.TypeA},
		// The zone's structure: empty non-terminals are NODATA, the rest
		// NXDOMAIN, never forwarded; the search path's long names fail at once.
		{name: "default.svc.cluster.local.", qtype: dns.TypeA},
		{name: "svc.cluster.local.", qtype: dns.TypeA},
		{name: "nobody.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "nope.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: web + "default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: web + "cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "example.com.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "dns-version.cluster.local.", qtype: dns.TypeTXT, answer: []string{`dns-version.cluster.local. 5 IN TXT "1.1.0"`}},
		{name: "cluster.local.", qtype: dns.TypeSOA, answer: []string{"cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}},
		// PTRs of cluster IPs and of published endpoints; the hostname
		// is an endpoint's canonical name.
		{name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"10.0.96.10.in-addr.arpa. 5 IN PTR " + web}},
		{name: "7.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"7.1.244.10.in-addr.arpa. 5 IN PTR db-0." + db}},
		{name: "8.2.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"8.2.244.10.in-addr.arpa. 5 IN PTR 10-244-2-8." + db}},
		{name: "5.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"5.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-5." + web}},
		// An address the cluster does not publish goes upstream.
		{name: "6.2.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"6.2.244.10.in-addr.arpa. 60 IN PTR upstream.example."}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			resp := ask(t, s, "udp", tt.name, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode], resp)
			}
			if diff := cmp.Diff(canon(t, tt.answer), rrStrings(resp.Answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(canon(t, tt.extra), rrStrings(resp.Extra)); diff != "" {
				t.Errorf("additional (-want +got):\n%s", diff)
			}
			if resp.Question[0].Name != tt.name {
				t.Errorf("question %q, want it echoed as asked, %q", resp.Question[0].Name, tt.name)
			}
			if len(tt.answer) == 0 {
				if len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA || resp.Ns[0].(*dns.SOA).Minttl != 5 {
					t.Errorf("negative answer without the zone's SOA: %v", resp.Ns)
				}
			}
			if forwarded := len(tt.answer) == 1 && strings.Contains(tt.answer[0], "upstream.example"); !forwarded && !resp.RecursionAvailable || !resp.RecursionDesired {
				t.Errorf("RA %v RD %v, want both", resp.RecursionAvailable, resp.RecursionDesired)
			}
		})
	}
	for _, q := range up.queries() {
		if q.name != "6.2.244.10.in-addr.arpa." {
			t.Errorf("upstream was asked %s; only the unknown PTR should be forwarded", q.name)
		}
	}
}

// canon renders zone-file records as miekg prints them, sorted.
func canon(t *testing.T, rrs []string) []string {
	t.Helper()
	var out []string
	for _, s := range rrs {
		out = append(out, mustRR(t, s).String())
	}
	slices.Sort(out)
	return out
}

func TestNotSyncedIsServfail(t *testing.T) {
	s := startServer(t, nil, nil)
	if r := ask(t, s, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first Update: %s, want SERVFAIL (an NXDOMAIN would be cached)", dns.RcodeToString[r.Rcode])
	}
	s.Update(nil)
	if r := ask(t, s, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("after an empty Update: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

func TestTCP(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, nil)
	s.Update(fixture())
	r := ask(t, s, "tcp", "_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV)
	if len(r.Answer) != 2 || len(r.Extra) != 2 {
		t.Fatalf("SRV over TCP: %v", r)
	}
	r = ask(t, s, "tcp", "example.com.", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Fatalf("forwarded over TCP: %v", r)
	}
	if q := up.queries(); len(q) != 1 || q[0].proto != "tcp" {
		t.Fatalf("a TCP query is forwarded over TCP; upstream saw %+v", q)
	}
}

// TestLargeAnswerTruncatesOnUDP: a headless Service with many pods is cut
// to the client's UDP size with TC set, and whole over TCP.
func TestLargeAnswerTruncatesOnUDP(t *testing.T) {
	s := startServer(t, nil, nil)
	svcs := fixture()
	big := &svcs[1]
	big.Endpoints = nil
	for i := range 200 {
		big.Endpoints = append(big.Endpoints, endpoint(10, 200, i/250, i%250+1))
	}
	s.Update(svcs)
	const name = "db.default.svc.cluster.local."
	r := ask(t, s, "udp", name, dns.TypeA)
	if !r.Truncated || len(r.Answer) == 0 || len(r.Answer) >= 200 {
		t.Fatalf("UDP without EDNS: TC %v, %d answers; want TC and a partial answer", r.Truncated, len(r.Answer))
	}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(4096, false)
	if r := exchange(t, s, "udp", m); r.Truncated || len(r.Answer) != 200 || r.IsEdns0() == nil {
		t.Fatalf("UDP with EDNS 4096: TC %v, %d answers, OPT %v; want all 200 and an OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	if r := ask(t, s, "tcp", name, dns.TypeA); r.Truncated || len(r.Answer) != 200 {
		t.Fatalf("TCP: TC %v, %d answers; want all 200", r.Truncated, len(r.Answer))
	}

	// Past 64 KiB, TCP gets what fits, with TC, rather than no answer.
	big.Endpoints = nil
	for i := range 6000 {
		big.Endpoints = append(big.Endpoints, endpoint(10, 200+i/62500, i/250%250, i%250+1))
	}
	s.Update(svcs)
	if r := ask(t, s, "tcp", name, dns.TypeA); !r.Truncated || len(r.Answer) < 1000 || len(r.Answer) >= 6000 {
		t.Fatalf("TCP past 64 KiB: TC %v, %d answers; want TC and thousands", r.Truncated, len(r.Answer))
	}
}

func TestForward(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, nil)
	s.Update(fixture())
	for _, rd := range []bool{true, false} {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeA)
		m.RecursionDesired = rd
		r := exchange(t, s, "udp", m)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
			t.Fatalf("forwarded answer: %v", r)
		}
		if r.RecursionDesired != rd {
			t.Errorf("RD %v in the answer to a query with RD %v", r.RecursionDesired, rd)
		}
		q := up.queries()
		if last := q[len(q)-1]; last.rd != rd || last.proto != "udp" {
			t.Errorf("upstream saw %+v; want the query's RD %v over UDP", last, rd)
		}
	}
	if r := ask(t, s, "udp", "nowhere.example.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("upstream's NXDOMAIN came back as %s", dns.RcodeToString[r.Rcode])
	}
	// Names outside the domain that merely look like cluster names go
	// upstream too (the search path's last, absolute try).
	if r := ask(t, s, "udp", "web.default.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("web.default.: %s, want the upstream's NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if q := up.queries(); q[len(q)-1].name != "web.default." {
		t.Errorf("web.default. was not forwarded: %+v", q)
	}
}

// TestForwardTruncatedRetriesTCP: an answer truncated on UDP is asked again
// over TCP, and reaches a UDP client whole when it fits its EDNS size.
func TestForwardTruncatedRetriesTCP(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, nil)
	m := new(dns.Msg)
	m.SetQuestion("big.example.", dns.TypeA)
	m.SetEdns0(4096, false)
	r := exchange(t, s, "udp", m)
	if r.Truncated || len(r.Answer) != 40 {
		t.Fatalf("TC %v, %d answers; want the 40 records the upstream gave over TCP", r.Truncated, len(r.Answer))
	}
	q := up.queries()
	if len(q) != 2 || q[0].proto != "udp" || q[1].proto != "tcp" {
		t.Fatalf("upstream saw %+v; want UDP then TCP", q)
	}
	if q[0].id == m.Id {
		t.Errorf("the client's id went upstream unchanged; want a fresh one")
	}
	// Without EDNS the client gets what fits in 512 bytes, with TC.
	r = ask(t, s, "udp", "big.example.", dns.TypeA)
	if !r.Truncated || len(r.Answer) >= 40 {
		t.Fatalf("UDP without EDNS: TC %v, %d answers; want TC", r.Truncated, len(r.Answer))
	}
}

func TestForwardFailover(t *testing.T) {
	up := startUpstream(t)
	// A socket that never answers: its attempt times out.
	dead, _, err := listenBoth(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	s := startServer(t, []string{dead.LocalAddr().String(), up.addr}, nil)
	start := time.Now()
	r := ask(t, s, "udp", "example.com.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("with the first upstream dead: %v", r)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("answered in %s: the dead upstream was not tried first", took)
	}

	all := startServer(t, []string{dead.LocalAddr().String()}, nil)
	if r := ask(t, all, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("every upstream dead: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	none := startServer(t, nil, nil)
	if r := ask(t, none, "tcp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("no upstream: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

// TestForwardLimit: past MaxConcurrentForwards queries waiting upstream, a
// forwarded query is REFUSED at once; cluster names still answer.
func TestForwardLimit(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, func(c *Config) { c.MaxConcurrentForwards = 1 })
	s.Update(fixture())
	s.fwd.slots <- struct{}{} // one query in flight
	if r := ask(t, s, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Fatalf("over the limit: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if r := ask(t, s, "udp", "web.default.svc.cluster.local.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("a cluster name over the forward limit: %v", r)
	}
	<-s.fwd.slots
	if r := ask(t, s, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("under the limit again: %s", dns.RcodeToString[r.Rcode])
	}
}

func TestMalformedQueries(t *testing.T) {
	s := startServer(t, nil, nil)
	s.Update(fixture())
	m := new(dns.Msg)
	m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	m.Opcode = dns.OpcodeStatus
	if r := exchange(t, s, "udp", m); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("STATUS opcode: %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
	m = new(dns.Msg)
	m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	m.Question = append(m.Question, m.Question[0])
	if r := exchange(t, s, "udp", m); r.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	rc := filepath.Join(dir, "resolv.conf")
	body := "search example\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\nnameserver fd00::1\noptions ndots:2\n"
	if err := os.WriteFile(rc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Listen: []string{"127.0.0.1:0"}, ResolvConf: rc, Logger: quietLogger()}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.1.2.3:53", "[fd00::1]:53"}; !slices.Equal(cfg.Upstreams, want) {
		t.Errorf("upstreams %v, want %v (loopback ones dropped)", cfg.Upstreams, want)
	}
	if cfg.Domain != "cluster.local." || cfg.TTL != DefaultTTL || cfg.ForwardTimeout != DefaultForwardTimeout {
		t.Errorf("defaults not filled: %+v", cfg)
	}

	cfg = Config{Listen: []string{"127.0.0.1:0"}, Domain: "Example.Internal.", Upstreams: []string{"192.0.2.53", "[2001:db8::1]:5353", "resolver:53"}}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"192.0.2.53:53", "[2001:db8::1]:5353", "resolver:53"}; !slices.Equal(cfg.Upstreams, want) || cfg.Domain != "example.internal." {
		t.Errorf("upstreams %v domain %q", cfg.Upstreams, cfg.Domain)
	}

	for _, bad := range []Config{
		{},
		{Listen: []string{"10.0.0.1"}},
		{Listen: []string{":53"}, Domain: "bad domain", Upstreams: []string{"192.0.2.1"}},
		{Listen: []string{":53"}, Domain: "a..b", Upstreams: []string{"192.0.2.1"}},
		{Listen: []string{":53"}, Domain: ".", Upstreams: []string{"192.0.2.1"}},
		{Listen: []string{":53"}, Upstreams: []string{"resolver"}},
		{Listen: []string{":53"}, TTL: time.Millisecond, Upstreams: []string{"192.0.2.1"}},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

// TestOtherDomain: the domain is configurable and names under the default
// one are then forwarded like any other.
func TestOtherDomain(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, []string{up.addr}, func(c *Config) { c.Domain = "corp.test"; c.TTL = 30 * time.Second })
	s.Update(fixture())
	r := ask(t, s, "udp", "web.default.svc.corp.test.", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 30 {
		t.Fatalf("web under corp.test with TTL 30: %v", r)
	}
	if r := ask(t, s, "udp", "web.default.svc.cluster.local.", dns.TypeA); r.Rcode != dns.RcodeNameError || len(up.queries()) != 1 {
		t.Fatalf("cluster.local under another domain: %s, upstream asked %d times", dns.RcodeToString[r.Rcode], len(up.queries()))
	}
}

func TestLifecycle(t *testing.T) {
	s, err := New(Config{Listen: []string{"127.0.0.1:0"}, ResolvConf: "/nonexistent", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	if err := s.Start(ctx); !errors.Is(err, errAlreadyStarted) {
		t.Fatalf("Start after Shutdown: %v", err)
	}

	s = startServer(t, nil, nil)
	if err := s.Start(ctx); !errors.Is(err, errAlreadyStarted) {
		t.Fatalf("second Start: %v", err)
	}
	addr := s.Addrs()[0]
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	if _, _, err := c.Exchange(m, addr); err == nil {
		t.Fatal("a stopped server still answers over TCP")
	}

	// A port taken on TCP fails Start and leaves nothing bound.
	pc, ln, err := listenBoth(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc.Close()
	defer ln.Close()
	taken, err := New(Config{Listen: []string{"127.0.0.1:0", ln.Addr().String()}, ResolvConf: "/nonexistent", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := taken.Start(ctx); err == nil {
		t.Fatal("Start on a taken port succeeded")
	}
	if err := taken.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
