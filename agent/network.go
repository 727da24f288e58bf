package agent

// The node's network, as the leader sends it in every PodSet: the agent
// hands it to four pieces, in this order, before it syncs the pods:
//
//  1. the runtime's pod network (bridge, pod IPs, resolv.conf), whose
//     failure fails the apply: pods must not get addresses from a subnet
//     the leader did not assign;
//  2. the routes to other nodes and the masquerade (NodeNetwork);
//  3. the Services' nftables rules (ServiceProxy);
//  4. the node's DNS server, started on the bridge address once the pod
//     CIDR is known and restarted when it changes (DNSServer).
//
// A failure of 2-4 is logged and kept (Agent.NetworkError) but does not stop
// the pods from syncing: a pod that cannot reach a Service is better than a
// node that cannot stop or start any pod. The agent retries the whole
// network every Config.NetworkRetryInterval until it succeeds.
//
// The last network accepted is persisted (DataDir/network.json) and applied
// again at Start, before the agent joins the cluster: an agent restarted
// after a kill has its routes, rules and DNS back while the pods it adopts
// keep running. Shutdown stops the DNS server and leaves routes and rules
// in place for the same reason; TeardownNetwork removes everything.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/atomicfile"
)

// NodeNetwork is the node's share of the cluster network: routes to every
// other node's pods and egress masquerade (agent/netnode.Node). Apply is
// level-triggered and idempotent; Teardown removes what Apply installed.
// The agent calls them from one goroutine at a time.
type NodeNetwork interface {
	Apply(n api.Network) error
	Teardown() error
}

// ServiceProxy programs Services' virtual IPs and node ports
// (agent/proxy.Proxy). Apply takes the whole set and replaces the rules
// atomically; Close removes the rules, so the agent calls it only from
// TeardownNetwork. Called from one goroutine at a time.
type ServiceProxy interface {
	Apply(services []api.Service) error
	Close() error
}

// DNSServer is the node's DNS server (agent/dns.Server). Update may be
// called at any time after Start; Shutdown must be safe to call twice.
type DNSServer interface {
	Start(ctx context.Context) error
	Update(services []api.Service)
	Shutdown(ctx context.Context) error
}

// ProxyConfig is what the agent learns from the leader for a proxy: the
// node's pod CIDR and the cluster CIDR. The bridge, table and logger are
// the constructor's.
type ProxyConfig struct {
	PodCIDR, ClusterCIDR string
}

// DNSConfig is what the agent decides about a DNS server: where it listens
// (the bridge address, port Config.DNSPort, UDP and TCP) and the cluster
// domain. Everything else (upstreams, logger) is the constructor's.
type DNSConfig struct {
	Listen []string
	Domain string
}

// Networking are the networking pieces cmd/agent builds. Each may be nil:
// the agent then skips that piece (tests, or a node run without networking).
type Networking struct {
	Node NodeNetwork
	// NewProxy builds the Service proxy once the agent learns its CIDRs
	// from the leader (or the persisted network), and again when they
	// change; the new one's first Apply replaces the old one's rules, which
	// is not closed (Close would remove them meanwhile).
	NewProxy func(ProxyConfig) (ServiceProxy, error)
	// NewDNS builds a DNS server; the agent starts it when it learns the pod
	// CIDR and builds a new one when the CIDR or the domain changes.
	NewDNS func(DNSConfig) (DNSServer, error)
	// LeaseListen opens the listener of the pods' lease endpoint (lease.go)
	// on addr, the bridge address at Config.LeasePort, when the DNS
	// server starts; nil: no lease endpoint.
	LeaseListen func(addr string) (net.Listener, error)
}

// Option changes how New builds an Agent.
type Option func(*Agent)

// WithNetworking gives the agent its networking pieces.
func WithNetworking(n Networking) Option { return func(a *Agent) { a.net = n } }

// WithListener makes the agent serve its API on ln instead of listening on
// Config.APIAddr (hollow agents count the bytes through it). The agent
// closes it at Shutdown.
func WithListener(ln net.Listener) Option { return func(a *Agent) { a.ln = ln } }

// WithEvents makes the agent serve the events of l (its watch stream
// carries them) instead of a log of its own: create l first, give its
// Record to the runtime as runtime.Config.Events, then l to New.
func WithEvents(l *EventLog) Option { return func(a *Agent) { a.evlog = l } }

// networkFile is the name, under Config.DataDir, of the last network accepted.
const networkFile = "network.json"

// DefaultClusterDomain is used when a Network carries no domain.
const DefaultClusterDomain = "cluster.local"

// loadNetwork reads the persisted network; nil when there is none. A corrupt
// file is reported and ignored: the leader sends the network again.
func (a *Agent) loadNetwork() *api.Network {
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, networkFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var n api.Network
	if err == nil {
		err = json.Unmarshal(b, &n)
	}
	if err != nil {
		a.log.Error("failed to read the persisted network; waiting for the leader's", "err", err)
		return nil
	}
	a.netSaved = b
	return &n
}

// saveNetwork persists n atomically when it differs from what is saved.
func (a *Agent) saveNetwork(n api.Network) error {
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("failed to encode network: %w", err)
	}
	if bytes.Equal(b, a.netSaved) {
		return nil
	}
	if err := atomicfile.WriteFile(filepath.Join(a.cfg.DataDir, networkFile), b, 0o600); err != nil {
		return fmt.Errorf("failed to save network: %w", err)
	}
	a.netSaved = b
	return nil
}

// applyNetwork persists and applies n; the caller holds applyMu. Its error
// is the pod network's (which must stop the pods from syncing); the other
// pieces' errors are kept for NetworkError and retried.
func (a *Agent) applyNetwork(ctx context.Context, n api.Network) error {
	if a.cfg.PodCIDR != "" && n.PodCIDR != a.cfg.PodCIDR {
		a.log.Warn("the leader assigned another pod CIDR than --pod-cidr; using the leader's", "podCIDR", n.PodCIDR, "override", a.cfg.PodCIDR)
	}
	if err := a.saveNetwork(n); err != nil {
		// Not fatal: only a restart would miss it, and the leader resends.
		a.log.Error("failed to persist the network", "err", err)
	}
	a.mu.Lock()
	a.netCur = &n
	a.mu.Unlock()
	start := time.Now()
	a.netAt = start
	if err := a.rt.SetNetwork(ctx, n); err != nil {
		err = fmt.Errorf("failed to set up the pod network %s: %w", n.PodCIDR, err)
		a.setNetworkErr(err)
		return err
	}
	err := a.applyHostNetwork(n)
	a.setNetworkErr(err)
	a.log.Debug("applied network", "podCIDR", n.PodCIDR, "nodes", len(n.Nodes), "services", len(n.Services), "took", time.Since(start))
	return nil
}

// applyHostNetwork applies routes, Services rules and DNS, all of them
// even when one fails.
func (a *Agent) applyHostNetwork(n api.Network) error {
	var errs []error
	if a.net.Node != nil {
		// Most sets change only Services; the routes are applied again when
		// their part of the network changes, and every NetworkRepairInterval
		// to repair what someone else removed.
		key := nodeKey(n)
		if key != a.nodeKey || time.Since(a.nodeAt) >= a.cfg.NetworkRepairInterval {
			a.nodeKey = ""
			if err := a.net.Node.Apply(n); err != nil {
				errs = append(errs, fmt.Errorf("failed to apply routes between nodes: %w", err))
			} else {
				a.nodeKey, a.nodeAt = key, time.Now()
			}
		}
	}
	if err := a.ensureProxy(n); err != nil {
		errs = append(errs, err)
	} else if a.proxy != nil {
		if err := a.proxy.Apply(n.Services); err != nil {
			errs = append(errs, fmt.Errorf("failed to apply Service rules: %w", err))
		}
	}
	if err := a.ensureServices(n); err != nil {
		errs = append(errs, err)
	}
	if a.dns != nil {
		a.dns.Update(n.Services)
	}
	return errors.Join(errs...)
}

// nodeKey is the part of n the node network depends on.
func nodeKey(n api.Network) string {
	b, _ := json.Marshal([]any{n.PodCIDR, n.ClusterCIDR, n.Nodes})
	return string(b)
}

// setNetworkErr records the outcome of a network apply, logging a failure
// when it is new and a recovery.
func (a *Agent) setNetworkErr(err error) {
	a.mu.Lock()
	prev := a.netErr
	a.netErr = err
	a.mu.Unlock()
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		a.log.Error("network not fully applied; pods still sync, retrying", "err", err, "retry", a.cfg.NetworkRetryInterval)
	case err != nil:
		a.log.Debug("network still failing", "err", err)
	case prev != nil:
		a.log.Info("network applied after earlier failure")
	}
}

// pathNetwork serves NetworkStatus (GET). It belongs with agent/api's
// paths once a client needs it.
const pathNetwork = "/v1/network"

// NetworkStatus is what GET /v1/network answers: the last network accepted
// and, while any of it is not in place, why.
type NetworkStatus struct {
	Network *api.Network `json:"network,omitempty"`
	Error   string       `json:"error,omitempty"`
}

func (a *Agent) handleNetwork(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	st := NetworkStatus{Network: a.netCur}
	if a.netErr != nil {
		st.Error = a.netErr.Error()
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, st)
}

// NetworkError is the error of the last network apply, nil once the whole
// network (pod network, routes, Services, DNS) is in place.
func (a *Agent) NetworkError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.netErr
}

// proxyConfig is the proxy configuration n implies.
func proxyConfig(n api.Network) ProxyConfig {
	return ProxyConfig{PodCIDR: n.PodCIDR, ClusterCIDR: n.ClusterCIDR}
}

// ensureProxy builds a proxy for n's CIDRs unless one exists.
func (a *Agent) ensureProxy(n api.Network) error {
	if a.net.NewProxy == nil {
		return nil
	}
	cfg := proxyConfig(n)
	if a.proxy != nil && a.proxyCfg == cfg {
		return nil
	}
	p, err := a.net.NewProxy(cfg)
	if err != nil {
		return fmt.Errorf("failed to create Service proxy: %w", err)
	}
	a.proxy, a.proxyCfg = p, cfg
	return nil
}

// ensureDNS runs a DNS server on the bridge address of n's pod CIDR,
// replacing one that listens elsewhere or serves another domain.
func (a *Agent) ensureDNS(n api.Network) error {
	if a.net.NewDNS == nil {
		return nil
	}
	ip, err := bridgeIP(n.PodCIDR)
	if err != nil {
		return err
	}
	cfg := DNSConfig{
		Listen: []string{net.JoinHostPort(ip.String(), strconv.Itoa(a.cfg.DNSPort))},
		Domain: n.ClusterDomain,
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultClusterDomain
	}
	key := cfg.Listen[0] + " " + cfg.Domain
	if a.dns != nil && a.dnsKey == key {
		return nil
	}
	if err := a.stopDNS(); err != nil {
		a.log.Warn("failed to stop the DNS server", "err", err)
	}
	s, err := a.net.NewDNS(cfg)
	if err != nil {
		return fmt.Errorf("failed to create DNS server on %s: %w", cfg.Listen[0], err)
	}
	ctx := a.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if err := s.Start(ctx); err != nil {
		_ = s.Shutdown(context.Background())
		return fmt.Errorf("failed to start DNS server on %s: %w", cfg.Listen[0], err)
	}
	a.dns, a.dnsKey = s, key
	a.log.Info("DNS server started", "listen", cfg.Listen, "domain", cfg.Domain)
	return nil
}

// ensureServices runs the servers pods reach on the bridge address: the
// DNS server, and the lease endpoint beside it.
func (a *Agent) ensureServices(n api.Network) error {
	if err := a.ensureDNS(n); err != nil {
		return err
	}
	if a.dns == nil {
		return nil
	}
	ip, err := bridgeIP(n.PodCIDR)
	if err != nil {
		return err
	}
	return a.ensureLease(ip)
}

// stopDNS shuts the DNS server down, if any, within 5 seconds.
func (a *Agent) stopDNS() error {
	a.stopLease()
	if a.dns == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.dns.Shutdown(ctx)
	a.dns, a.dnsKey = nil, ""
	return err
}

// bridgeIP is the first address of a pod CIDR: the bridge's, and the DNS
// server's.
func bridgeIP(podCIDR string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("failed to parse pod CIDR %q: %w", podCIDR, err)
	}
	return p.Masked().Addr().Next(), nil
}

// restoreNetwork applies the persisted network at Start, before the leader
// is contacted. Failures are logged and retried, never fatal: the leader's
// next set carries the network anyway.
func (a *Agent) restoreNetwork() {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	n := a.loadNetwork()
	if n == nil {
		return
	}
	a.log.Info("restoring the persisted network", "podCIDR", n.PodCIDR, "nodes", len(n.Nodes), "services", len(n.Services))
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	_ = a.applyNetwork(ctx, *n)
}

// retryNetwork re-applies the current network while its last apply failed,
// and every NetworkRepairInterval when it succeeded: the leader sends
// nothing while nothing changes, and an unchanged set is not applied
// again, so without this a bridge, route or Service rule removed behind
// the agent's back would stay missing until the next change.
func (a *Agent) retryNetwork() {
	t := time.NewTicker(a.cfg.NetworkRetryInterval)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		a.applyMu.Lock()
		a.mu.Lock()
		n, failed := a.netCur, a.netErr != nil
		a.mu.Unlock()
		if n != nil && (failed || time.Since(a.netAt) >= a.cfg.NetworkRepairInterval) {
			ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
			_ = a.applyNetwork(ctx, *n)
			cancel()
		}
		a.applyMu.Unlock()
	}
}

// TeardownNetwork removes everything the agent's networking installed on
// this node: routes and the VXLAN device, the Services' rules, the DNS
// server and the persisted network. The pods' own network (bridge, pod
// IPs) is the runtime's Teardown. Call it on an agent that is not running
// (after Shutdown, or built with New and never started), as the dev
// harness and `agent --teardown` do.
func (a *Agent) TeardownNetwork() error {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	var errs []error
	if err := a.stopDNS(); err != nil {
		errs = append(errs, fmt.Errorf("failed to stop DNS server: %w", err))
	}
	if a.proxy == nil && a.net.NewProxy != nil {
		// Not started: a proxy only to remove the rules an earlier run
		// left, with the CIDRs that run persisted when there are any.
		var n api.Network
		if p := a.loadNetwork(); p != nil {
			n = *p
		}
		if err := a.ensureProxy(n); err != nil {
			errs = append(errs, err)
		}
	}
	if a.proxy != nil {
		if err := a.proxy.Close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove Service rules: %w", err))
		}
		a.proxy = nil
	}
	if a.net.Node != nil {
		if err := a.net.Node.Teardown(); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove routes between nodes: %w", err))
		}
	}
	if err := os.Remove(filepath.Join(a.cfg.DataDir, networkFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("failed to remove the persisted network: %w", err))
	}
	a.netSaved, a.nodeKey = nil, ""
	a.mu.Lock()
	a.netCur, a.netErr = nil, nil
	a.mu.Unlock()
	return errors.Join(errs...)
}
