package dns

import (
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func endpoint(a, b, c, d int) api.Endpoint {
	return api.Endpoint{IP: fmt.Sprintf("%d.%d.%d.%d", a, b, c, d), Ready: true, Ports: []int32{5432}}
}

// version is one of two cluster states that differ in every answer: the
// Service's cluster IP and a headless Service's whole endpoint set.
func version(v int) (services []api.Service, clusterIP string, headless []string) {
	clusterIP = fmt.Sprintf("10.96.%d.1", v)
	svc := api.Service{
		Namespace: "default", Name: "db", ClusterIP: api.ClusterIPNone,
		Ports: []api.ServicePort{{Name: "pg", Protocol: "TCP", Port: 5432}},
	}
	// Version 1 has 3 endpoints, version 2 has 5: a torn read would mix them.
	for i := range 1 + 2*v {
		ep := endpoint(10, 200+v, 0, i+1)
		svc.Endpoints = append(svc.Endpoints, ep)
		headless = append(headless, ep.IP)
	}
	services = []api.Service{
		{Namespace: "default", Name: "web", ClusterIP: clusterIP, Ports: []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}}},
		svc,
	}
	return services, clusterIP, headless
}

// TestUpdateIsAtomic switches between two versions while clients query, in
// process and over UDP: every answer belongs wholly to one version (run
// with -race: the index is shared by every response without a lock).
func TestUpdateIsAtomic(t *testing.T) {
	s := startServer(t, nil, nil)
	v1, ip1, h1 := version(1)
	v2, ip2, h2 := version(2)
	s.Update(v1)

	var stop atomic.Bool
	var answers, errs atomic.Int64
	var wg sync.WaitGroup
	check := func(r *dns.Msg, qtype uint16) error {
		var got []string
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				got = append(got, rr.A.String())
			case *dns.SRV:
				got = append(got, rr.Target)
			}
		}
		slices.Sort(got)
		var ok bool
		switch qtype {
		case dns.TypeA:
			if r.Question[0].Name == "web.default.svc.cluster.local." {
				ok = slices.Equal(got, []string{ip1}) || slices.Equal(got, []string{ip2})
			} else {
				ok = slices.Equal(got, sorted(h1)) || slices.Equal(got, sorted(h2))
			}
		case dns.TypeSRV:
			// One SRV per endpoint of one version, and the additional
			// section from the same version.
			ok = (len(got) == len(h1) || len(got) == len(h2)) && len(r.Extra) == len(got)
		}
		if !ok {
			return fmt.Errorf("torn answer %v", got)
		}
		return nil
	}
	queries := []struct {
		name  string
		qtype uint16
	}{
		{"web.default.svc.cluster.local.", dns.TypeA},
		{"db.default.svc.cluster.local.", dns.TypeA},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV},
	}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp"}
			for i := 0; !stop.Load(); i++ {
				q := queries[(i+g)%len(queries)]
				m := new(dns.Msg)
				m.SetQuestion(q.name, q.qtype)
				var r *dns.Msg
				var err error
				if g%2 == 0 {
					r = s.handle(m, false)
					_, err = r.Pack()
				} else {
					r, _, err = c.Exchange(m, s.Addrs()[0])
				}
				if err == nil {
					err = check(r, q.qtype)
				}
				if err != nil {
					if errs.Add(1) < 5 {
						t.Error(q.name, err)
					}
					continue
				}
				answers.Add(1)
			}
		}()
	}
	// Update until enough answers were checked across many switches
	// (bounded: the clients are slow only when the machine is very busy).
	updates := 0
	deadline := time.Now().Add(20 * time.Second)
	for ; updates < 400 || answers.Load() < 5000 && time.Now().Before(deadline); updates++ {
		if updates%2 == 0 {
			s.Update(v2)
		} else {
			s.Update(v1)
		}
		runtime.Gosched()
	}
	stop.Store(true)
	wg.Wait()
	if answers.Load() == 0 {
		t.Fatal("no query answered")
	}
	t.Logf("%d answers checked across %d updates", answers.Load(), updates)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestBuildIndexSkipsAndDedups: host-network pods share an address (one A
// record), an invalid entry is skipped and counted, not fatal.
func TestBuildIndexSkipsAndDedups(t *testing.T) {
	svcs := []api.Service{
		{
			Namespace: "default", Name: "hn", ClusterIP: api.ClusterIPNone,
			Endpoints: []api.Endpoint{
				{IP: "192.0.2.10", Pod: "a", Ready: true},
				{IP: "192.0.2.10", Pod: "b", Ready: true},
				{IP: "not-an-ip", Pod: "c", Ready: true},
				{IP: "192.0.2.11", Pod: "d", Hostname: "Bad_Host", Ready: true},
			},
		},
		{Namespace: "default", Name: "Bad_Name", ClusterIP: "10.96.0.1"},
		{Namespace: "default", Name: "vip", ClusterIP: "10.96.0.999"},
	}
	seed := maphash.MakeSeed()
	var hashes []uint64
	for i := range svcs {
		hashes = append(hashes, hashService(seed, &svcs[i]))
	}
	ix, skipped, _ := buildIndex("cluster.local.", DefaultTTL, 1, svcs, hashes, nil, nil)
	if skipped != 3 {
		t.Errorf("skipped %d entries, want 3 (bad IP, bad Service name, bad cluster IP)", skipped)
	}
	got := rrStrings(ix.names["hn.default.svc.cluster.local."].get(dns.TypeA))
	want := []string{"hn.default.svc.cluster.local.\t5\tIN\tA\t192.0.2.10", "hn.default.svc.cluster.local.\t5\tIN\tA\t192.0.2.11"}
	if !slices.Equal(got, want) {
		t.Errorf("A records %q, want %q", got, want)
	}
	if ix.names["192-0-2-11.hn.default.svc.cluster.local."] == nil {
		t.Error("an endpoint with an invalid hostname lost its dashed-IP name")
	}
	if ptr := ix.reverse["11.2.0.192.in-addr.arpa."]; ptr == nil || ptr.all[0].(*dns.PTR).Ptr != "192-0-2-11.hn.default.svc.cluster.local." {
		t.Errorf("PTR of an endpoint with an invalid hostname: %v", ptr)
	}
}

// TestUpdateReusesUnchangedServices: an Update rebuilds only the Services
// that changed, and a pod behind two Services has both PTRs.
func TestUpdateReusesUnchangedServices(t *testing.T) {
	s := startServer(t, nil, nil)
	svcs := fixture()
	svcs = append(svcs, api.Service{Namespace: "default", Name: "web2", ClusterIP: "10.96.0.11",
		Endpoints: []api.Endpoint{{IP: "10.244.1.5", Ready: true}}})
	s.Update(svcs)
	before := s.idx.Load()
	s.Update(slices.Clone(svcs))
	if s.idx.Load() != before {
		t.Error("an Update that changed nothing built a new index")
	}
	svcs[1].Endpoints[1].Ready = false // db loses 10.244.2.8
	s.Update(svcs)
	after := s.idx.Load()
	const web, db = "web.default.svc.cluster.local.", "db.default.svc.cluster.local."
	if before.names[web] != after.names[web] {
		t.Error("the unchanged Service web was rebuilt")
	}
	if before.names[db] == after.names[db] {
		t.Error("the changed Service db was reused")
	}
	if r := ask(t, s, "udp", db, dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("db after its endpoint turned unready: %v", r.Answer)
	}
	if r := ask(t, s, "udp", "10-244-2-8."+db, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("the unready endpoint's name: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	r := ask(t, s, "udp", "5.1.244.10.in-addr.arpa.", dns.TypePTR)
	want := []string{
		"5.1.244.10.in-addr.arpa.\t5\tIN\tPTR\t10-244-1-5.web.default.svc.cluster.local.",
		"5.1.244.10.in-addr.arpa.\t5\tIN\tPTR\t10-244-1-5.web2.default.svc.cluster.local.",
	}
	if got := rrStrings(r.Answer); !slices.Equal(got, want) {
		t.Errorf("PTR of a pod behind two Services: %q, want %q", got, want)
	}
	// The shared PTR set is new: each Service's own set still holds one.
	if n := len(after.reverse["5.1.244.10.in-addr.arpa."].all); n != 2 {
		t.Errorf("merged PTR set holds %d records", n)
	}
	for h, rec := range s.records {
		if set := rec.reverse["5.1.244.10.in-addr.arpa."]; set != nil && len(set.all) != 1 {
			t.Errorf("Service %x's own PTR set was written by the merge: %d records", h, len(set.all))
		}
	}
}
