package dns

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// benchServices is a cluster of n Services with 3 Ready endpoints and two
// named ports each; every tenth is headless.
func benchServices(n int) []api.Service {
	svcs := make([]api.Service, 0, n)
	for i := range n {
		svc := api.Service{
			Namespace: fmt.Sprintf("ns%d", i%20), Name: fmt.Sprintf("svc%d", i),
			ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, i%250+1),
			Ports:     []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "grpc", Protocol: "TCP", Port: 9000}},
		}
		if i%10 == 0 {
			svc.ClusterIP = api.ClusterIPNone
		}
		for e := range 3 {
			svc.Endpoints = append(svc.Endpoints, api.Endpoint{
				IP: fmt.Sprintf("10.244.%d.%d", (i*3+e)/250, (i*3+e)%250+1), Ready: true, Ports: []int32{8080, 9000},
			})
		}
		svcs = append(svcs, svc)
	}
	return svcs
}

// benchQueries is a pod's mix: Service lookups, one through the search path
// first (NXDOMAIN), a headless Service, an SRV, a pod name.
func benchQueries() []*dns.Msg {
	var qs []*dns.Msg
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"svc17.ns17.svc.cluster.local.", dns.TypeA},
		{"svc17.ns17.svc.cluster.local.ns3.svc.cluster.local.", dns.TypeA},
		{"svc17.ns17.svc.cluster.local.", dns.TypeAAAA},
		{"svc40.ns0.svc.cluster.local.", dns.TypeA},
		{"_http._tcp.svc40.ns0.svc.cluster.local.", dns.TypeSRV},
		{"10-244-1-5.ns3.pod.cluster.local.", dns.TypeA},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		qs = append(qs, m)
	}
	return qs
}

func benchServer(b *testing.B, upstreams []string) *Server {
	b.Helper()
	cfg := Config{Listen: []string{"127.0.0.1:0"}, Upstreams: upstreams, ResolvConf: "/nonexistent", Logger: quietLogger()}
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	s.Update(benchServices(1000))
	return s
}

// BenchmarkQueryInProcess is the cost of answering and packing one cluster
// query, no network: the server's own ceiling.
func BenchmarkQueryInProcess(b *testing.B) {
	s := benchServer(b, nil)
	qs := benchQueries()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			m := s.handle(qs[i%len(qs)], false)
			if _, err := m.Pack(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU this process used so far (user and system, every
// thread, GC included): on a shared machine it measures the work where wall
// time measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkQueryUDP is cluster queries over loopback UDP from 4 clients per
// CPU, each waiting for its answer (as resolvers do); it reports the
// throughput and the latency percentiles a client sees.
func BenchmarkQueryUDP(b *testing.B) {
	s := benchServer(b, nil)
	benchUDP(b, s.Addrs()[0], benchQueries())
}

// BenchmarkForwardUDP is names outside the cluster over loopback UDP,
// through the server to a fake upstream; BenchmarkUpstreamUDP is the same
// queries straight to that upstream, the floor.
func BenchmarkForwardUDP(b *testing.B) {
	up := startBenchUpstream(b)
	s := benchServer(b, []string{up})
	benchUDP(b, s.Addrs()[0], forwardQueries())
}

func BenchmarkUpstreamUDP(b *testing.B) {
	benchUDP(b, startBenchUpstream(b), forwardQueries())
}

func forwardQueries() []*dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	return []*dns.Msg{m}
}

func startBenchUpstream(b *testing.B) string { return startUpstream(b).addr }

func benchUDP(b *testing.B, addr string, qs []*dns.Msg) {
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ResetTimer()
	cpu := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		var mine []time.Duration
		for i := 0; pb.Next(); i++ {
			q := qs[i%len(qs)].Copy()
			q.Id = dns.Id()
			start := time.Now()
			if _, _, err := c.ExchangeWithConn(q, conn); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	cpuPerQuery := float64((cpuTime() - cpu).Microseconds()) / float64(b.N)
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	// Client, server (and fake upstream) together: the whole loop's cost.
	b.ReportMetric(cpuPerQuery, "cpu-µs/op")
}

// BenchmarkUpdate is one Update of 1,000 Services with 3 endpoints and 2
// ports each: from nothing (the agent's first), when one endpoint of one
// Service changed (the usual one: a pod turned Ready), and when nothing did.
func BenchmarkUpdate(b *testing.B) {
	for _, tc := range []struct {
		name   string
		before func(s *Server, svcs []api.Service, i int)
	}{
		{"cold", func(s *Server, _ []api.Service, _ int) { s.records = nil }},
		{"one-endpoint-changed", func(_ *Server, svcs []api.Service, i int) {
			ep := &svcs[i%len(svcs)].Endpoints[0]
			ep.Ready = !ep.Ready
		}},
		{"unchanged", func(*Server, []api.Service, int) {}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := New(Config{Listen: []string{"127.0.0.1:0"}, ResolvConf: "/nonexistent", Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			svcs := benchServices(1000)
			s.Update(svcs)
			b.ReportAllocs()
			cpu := cpuTime()
			i := 0
			for b.Loop() {
				tc.before(s, svcs, i)
				s.Update(svcs)
				i++
			}
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
		})
	}
}
