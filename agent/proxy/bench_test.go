package proxy

import (
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// benchServices is 100 Services of 10 endpoints each (1,000 endpoints), every
// other one a NodePort; flip makes one endpoint not Ready, so that
// alternating sets is a real update each time.
func benchServices(flip bool) []api.Service {
	var svcs []api.Service
	for i := 0; i < 100; i++ {
		s := api.Service{
			Namespace: "bench", Name: fmt.Sprintf("svc-%03d", i), Type: api.ServiceTypeClusterIP,
			ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, i%250+1),
			Ports:     []api.ServicePort{{Name: "http", Protocol: "TCP", Port: 80}},
		}
		if i%2 == 0 {
			s.Type = api.ServiceTypeNodePort
			s.Ports[0].NodePort = int32(30000 + i)
		}
		for j := 0; j < 10; j++ {
			s.Endpoints = append(s.Endpoints, api.Endpoint{
				IP: fmt.Sprintf("10.244.%d.%d", i/25, (i%25)*10+j+1), Ready: !(flip && i == 0 && j == 0),
				Ports: []int32{8080},
			})
		}
		svcs = append(svcs, s)
	}
	return svcs
}

// BenchmarkApply1000Endpoints measures one whole-set Apply (plan, one
// netlink transaction, its acknowledgement) for 1,000 endpoints, in a
// namespace of its own: "same" re-applies an unchanged set (the
// level-triggered caller's most frequent call: no transaction), "update" is
// one endpoint changing readiness (only its Service's chains are rewritten),
// "full" rewrites every chain, as the first Apply of an agent (taking over
// its table) does.
func BenchmarkApply1000Endpoints(b *testing.B) {
	for _, c := range []struct {
		name                 string
		affinity, full, same bool
	}{
		{name: "same"}, {name: "update"}, {name: "update-affinity", affinity: true},
		{name: "full", full: true}, {name: "full-affinity", affinity: true, full: true},
	} {
		affinity := c.affinity
		b.Run(c.name, func(b *testing.B) {
			p := newProxy(b, newNS(b), Config{ClusterCIDR: "10.244.0.0/16", Bridge: "br0",
				Logger: slog.New(slog.DiscardHandler)})
			sets := [2][]api.Service{benchServices(false), benchServices(true)}
			for _, set := range sets {
				for i := range set {
					if affinity {
						set[i].SessionAffinity, set[i].AffinityTimeoutSeconds = api.AffinityClientIP, 600
					}
				}
			}
			must(b, p.Apply(sets[1]))
			i := 0
			// CPU time (user and system: the kernel processes the
			// transaction in the sending thread) says more than wall
			// time on a shared machine.
			cpu0 := cpuTime(b)
			for b.Loop() {
				if c.full {
					p.written = nil
				}
				set := sets[i%2]
				if c.same {
					set = sets[1]
				}
				if err := p.Apply(set); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/1000/float64(i), "cpu-ms/op")
			rules, _ := p.Stats()
			b.ReportMetric(float64(rules), "rules")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
