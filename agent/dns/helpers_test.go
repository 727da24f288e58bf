package dns

import (
	"context"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fixture is the cluster most tests answer from.
func fixture() []api.Service {
	return []api.Service{
		{
			Namespace: "default", Name: "web", Type: api.ServiceTypeClusterIP, ClusterIP: "10.96.0.10",
			Ports: []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "metrics", Protocol: "TCP", Port: 9090}},
			Endpoints: []api.Endpoint{
				{IP: "10.244.1.5", Pod: "web-1", Ready: true, Ports: []int32{8080, 9091}},
				{IP: "10.244.2.6", Pod: "web-2", Ready: false, Ports: []int32{8080, 9091}},
			},
		},
		{
			Namespace: "default", Name: "db", Type: api.ServiceTypeClusterIP, ClusterIP: api.ClusterIPNone,
			Ports: []api.ServicePort{{Name: "pg", Protocol: "TCP", Port: 5432}, {Name: "", Protocol: "UDP", Port: 9}},
			Endpoints: []api.Endpoint{
				{IP: "10.244.1.7", Pod: "db-0", Hostname: "db-0", Ready: true, Ports: []int32{5432, 9}},
				{IP: "10.244.2.8", Pod: "db-x", Ready: true, Ports: []int32{5433, 0}},
				{IP: "10.244.3.9", Pod: "db-y", Ready: false, Ports: []int32{5432, 9}},
			},
		},
		{
			Namespace: "default", Name: "pnr", Type: api.ServiceTypeClusterIP, ClusterIP: api.ClusterIPNone,
			PublishNotReadyAddresses: true,
			Endpoints:                []api.Endpoint{{IP: "10.244.4.4", Pod: "pnr-0", Ready: false}},
		},
		{Namespace: "default", Name: "empty", Type: api.ServiceTypeClusterIP, ClusterIP: api.ClusterIPNone},
		{
			Namespace: "other", Name: "web", Type: api.ServiceTypeNodePort, ClusterIP: "10.96.5.5",
			Ports: []api.ServicePort{{Name: "dns", Protocol: "UDP", Port: 53, NodePort: 30053}},
		},
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// upstream is a fake resolver on loopback (UDP and TCP on one port) that
// records what it was asked.
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	seen []seenQuery
}

type seenQuery struct {
	name  string
	proto string
	id    uint16
	rd    bool
}

func (u *fakeUpstream) queries() []seenQuery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.seen)
}

// startUpstream answers example.com. A 192.0.2.1, any PTR with
// upstream.example., and big.example. with 40 A records, truncated (empty,
// TC) over UDP as a real server does past 512 bytes.
func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		_, tcp := w.LocalAddr().(*net.TCPAddr)
		q := r.Question[0]
		proto := "udp"
		if tcp {
			proto = "tcp"
		}
		u.mu.Lock()
		u.seen = append(u.seen, seenQuery{name: q.Name, proto: proto, id: r.Id, rd: r.RecursionDesired})
		u.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		switch {
		case q.Name == "example.com." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, mustRR(t, "example.com. 60 IN A 192.0.2.1"))
		case q.Qtype == dns.TypePTR:
			m.Answer = append(m.Answer, mustRR(t, q.Name+" 60 IN PTR upstream.example."))
		case q.Name == "big.example.":
			if !tcp {
				m.Truncated = true
				break
			}
			for i := range 40 {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(192, 0, 2, byte(i+1)),
				})
			}
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	pc, ln, err := listenBoth(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = srv.ActivateAndServe()
		}()
		<-started
		t.Cleanup(func() {
			_ = srv.Shutdown()
			<-done
		})
	}
	return u
}

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// startServer starts a server on a random loopback port, forwarding to
// upstreams, with the fixture loaded unless noUpdate.
func startServer(t *testing.T, upstreams []string, edit func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		Listen:         []string{"127.0.0.1:0"},
		Upstreams:      upstreams,
		ForwardTimeout: 300 * time.Millisecond,
		Logger:         quietLogger(),
	}
	if len(upstreams) == 0 {
		// No upstream at all: never read this host's resolv.conf in tests.
		cfg.ResolvConf = "/nonexistent"
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// ask sends one query to the server over proto ("udp" or "tcp").
func ask(t *testing.T, s *Server, proto, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return exchange(t, s, proto, m)
}

func exchange(t *testing.T, s *Server, proto string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, s.Addrs()[0])
	if err != nil {
		t.Fatalf("%s %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], proto, err)
	}
	if resp.Id != m.Id {
		t.Fatalf("answer id %d, query id %d", resp.Id, m.Id)
	}
	return resp
}

// rrStrings renders records without their TTLs' variation, sorted.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}
