package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fakeNet is every networking piece at once: the node network, the proxy
// and a DNS factory whose servers record their lifecycle. Calls go to an
// eventLog shared with the fake runtime, so tests check the order.
type fakeNet struct {
	mu       sync.Mutex
	events   *eventLog
	nodeErr  error
	proxyErr error
	dnsErr   error // fails Start
	nodes    []api.Network
	services [][]api.Service
	dns      []*fakeDNS // every server built, in order
	teardown int
	closed   int
	proxies  []ProxyConfig // every proxy built
}

var (
	_ NodeNetwork  = (*fakeNet)(nil)
	_ ServiceProxy = (*fakeProxy)(nil)
	_ DNSServer    = (*fakeDNS)(nil)
)

func newFakeNet(events *eventLog) *fakeNet { return &fakeNet{events: events} }

func (f *fakeNet) Apply(n api.Network) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.add("node.Apply " + n.PodCIDR)
	f.nodes = append(f.nodes, n)
	return f.nodeErr
}

func (f *fakeNet) Teardown() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.add("node.Teardown")
	f.teardown++
	return nil
}

// fakeProxy is fakeNet's proxy face (Apply clashes with the node's).
type fakeProxy struct{ f *fakeNet }

func (p fakeProxy) Apply(svcs []api.Service) error {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.events.add(fmt.Sprintf("proxy.Apply %d", len(svcs)))
	p.f.services = append(p.f.services, slices.Clone(svcs))
	return p.f.proxyErr
}

func (p fakeProxy) Close() error {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	p.f.events.add("proxy.Close")
	p.f.closed++
	return nil
}

type fakeDNS struct {
	f        *fakeNet
	cfg      DNSConfig
	started  bool
	stopped  bool
	services []api.Service
}

func (f *fakeNet) newDNS(cfg DNSConfig) (DNSServer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := &fakeDNS{f: f, cfg: cfg}
	f.dns = append(f.dns, d)
	return d, nil
}

func (d *fakeDNS) Start(ctx context.Context) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	d.f.events.add("dns.Start " + strings.Join(d.cfg.Listen, ","))
	if d.f.dnsErr != nil {
		return d.f.dnsErr
	}
	d.started = true
	return nil
}

func (d *fakeDNS) Update(svcs []api.Service) {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	d.f.events.add(fmt.Sprintf("dns.Update %d", len(svcs)))
	d.services = slices.Clone(svcs)
}

func (d *fakeDNS) Shutdown(ctx context.Context) error {
	d.f.mu.Lock()
	defer d.f.mu.Unlock()
	d.f.events.add("dns.Shutdown " + strings.Join(d.cfg.Listen, ","))
	d.stopped = true
	return nil
}

func (f *fakeNet) newProxy(cfg ProxyConfig) (ServiceProxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events.add("proxy.New " + cfg.PodCIDR + " " + cfg.ClusterCIDR)
	f.proxies = append(f.proxies, cfg)
	return fakeProxy{f}, nil
}

func (f *fakeNet) networking() Networking {
	return Networking{Node: f, NewProxy: f.newProxy, NewDNS: f.newDNS}
}

func (f *fakeNet) set(fn func(f *fakeNet)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// running returns the DNS servers started and not stopped.
func (f *fakeNet) running() []*fakeDNS {
	f.mu.Lock()
	defer f.mu.Unlock()
	var r []*fakeDNS
	for _, d := range f.dns {
		if d.started && !d.stopped {
			r = append(r, d)
		}
	}
	return r
}
