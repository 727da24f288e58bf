package server

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// The leader's side of the cluster network: it gives joining nodes their
// pod CIDRs (committed to raft before the node is planned for), and after
// every plan computes the network every node's PodSet carries: the address
// plan, the routes to the other nodes' pods, and every Service with its
// endpoints. When that changes (a Service, an endpoint's readiness or IP, a
// node's route), every connected node is offered its set again.

// taintNoPodCIDR keeps pods off a node that has no pod CIDR yet (or whose
// override overlaps another node's): it could not give them addresses.
// Kubernetes marks a node whose routes are not set up the same way.
const taintNoPodCIDR = "node.kubernetes.io/network-unavailable"

// netPlan is the network of one plan, shared by every node's set.
type netPlan struct {
	cfg NetworkConfig
	// views are the Services as the view shows them; services what the
	// agents get (one slice, shared by every node's Network).
	views    []reconcile.ServiceView
	services []agentapi.Service
	// routes are every node with a pod CIDR and a known address, sorted
	// by name; cidrs the pod CIDRs by node.
	routes []agentapi.NodeRoute
	cidrs  map[string]string
	// key is the encoding of all of it: two plans with the same key give
	// every node the same Network.
	key string
}

// cidrFailure is why a node has no pod CIDR, for its node error.
type cidrFailure struct {
	want string // the override it advertised when this was decided
	err  api.NodeError
}

// commitNetConfig records this leader's address plan in the store when it
// differs from the committed one.
func (c *controller) commitNetConfig() error {
	st := c.s.store.network()
	if st.cfg == c.s.cfg.Network {
		return nil
	}
	n := c.s.cfg.Network
	if err := c.s.el.apply(&command{Op: opNetConfig, Net: &n}, c.s.cfg.Raft.ApplyTimeout); err != nil {
		return fmt.Errorf("failed to commit the network's address plan: %w", err)
	}
	return nil
}

// syncNodeCIDRs commits a pod CIDR for every alive agent that has none, or
// whose advertised override differs from its allocation, in one entry,
// and records why a node could not get one. A node keeps its CIDR for
// ever (failed, left, reaped alike): a returning node gets it back, and no
// other node reuses it while the first may still run pods on it.
func (c *controller) syncNodeCIDRs() {
	members := c.s.members.nodes()
	cidrs := c.s.store.network().podCIDRs
	req := map[string]string{}
	for name, m := range members {
		override := m.info.PodCIDR
		if m.state == api.NodeAlive && (cidrs[name] == "" || override != "" && override != cidrs[name]) {
			req[name] = override
		}
	}
	c.mu.Lock()
	prevFailed := c.cidrErr
	c.mu.Unlock()
	var failed map[string]cidrFailure
	if len(req) > 0 {
		changes, errs := c.s.store.nodeCIDRPlan(req)
		if len(changes) > 0 {
			ask := make(map[string]string, len(changes))
			for n := range changes {
				ask[n] = req[n]
			}
			if err := c.s.el.apply(&command{Op: opNodeCIDR, PodCIDRs: ask}, c.s.cfg.Raft.ApplyTimeout); err != nil {
				c.log.Error("failed to commit pod CIDRs; retrying at the next plan", "err", err)
			} else {
				now := c.s.store.network().podCIDRs
				for n, cidr := range changes {
					if now[n] == cidr {
						c.log.Info("pod CIDR allocated", "node", n, "pod_cidr", cidr, "override", req[n] != "")
						c.s.events.add("node/"+n, "PodCIDRAllocated", fmt.Sprintf("node %s has pod CIDR %s", n, cidr))
					}
				}
			}
		}
		for n, err := range errs {
			if failed == nil {
				failed = map[string]cidrFailure{}
			}
			failed[n] = c.cidrFailure(n, req[n], err, prevFailed)
		}
	}
	c.mu.Lock()
	c.cidrErr = failed
	c.mu.Unlock()
}

// cidrFailure makes the node error of a node that gets no pod CIDR, kept
// from the last plan (with its time) when nothing changed.
func (c *controller) cidrFailure(node, override string, err error, prev map[string]cidrFailure) cidrFailure {
	if p, ok := prev[node]; ok && p.want == override && p.err.Message == err.Error() {
		return p
	}
	c.log.Warn("node gets no pod CIDR", "node", node, "err", err)
	c.s.events.add("node/"+node, "PodCIDRRefused", err.Error())
	return cidrFailure{want: override, err: api.NodeError{Node: node, Since: time.Now(),
		Message: err.Error() + "; pods are not placed on it (taint " + taintNoPodCIDR + ")"}}
}

// planNetwork computes the network of a plan from its pods, the store's
// allocations and membership's addresses.
func (c *controller) planNetwork(pods []reconcile.PodView, members map[string]member) *netPlan {
	st := c.s.store.network()
	set := c.s.store.desired()
	svcs := servicesOf(set)
	n := &netPlan{cfg: st.cfg, cidrs: st.podCIDRs}
	n.views = reconcile.ResolveServices(svcs, serviceAddrs(svcs, st), pods)
	n.services = reconcile.Services(n.views)
	for name, cidr := range st.podCIDRs {
		m, ok := members[name]
		if !ok {
			continue // no address known
		}
		host, _, err := net.SplitHostPort(m.addr)
		if err != nil || host == "" {
			continue
		}
		n.routes = append(n.routes, agentapi.NodeRoute{Name: name, IP: host, PodCIDR: cidr})
	}
	sort.Slice(n.routes, func(i, j int) bool { return n.routes[i].Name < n.routes[j].Name })
	b, err := json.Marshal(struct {
		Cfg      NetworkConfig
		Routes   []agentapi.NodeRoute
		Services []agentapi.Service
	}{n.cfg, n.routes, n.services})
	if err == nil {
		n.key = string(b)
	}
	return n
}

// networkLocked is node's Network in the last plan's network, nil before
// the first plan or when the node has no pod CIDR (it runs no pods then).
// c.mu must be held.
func (c *controller) networkLocked(node string) *agentapi.Network {
	n := c.net
	if n == nil || n.cidrs[node] == "" {
		return nil
	}
	out := &agentapi.Network{
		PodCIDR:       n.cidrs[node],
		ClusterCIDR:   n.cfg.ClusterCIDR,
		ServiceCIDR:   n.cfg.ServiceCIDR,
		ClusterDomain: n.cfg.ClusterDomain,
		Services:      n.services,
	}
	if len(n.routes) > 1 {
		out.Nodes = make([]agentapi.NodeRoute, 0, len(n.routes)-1)
		for _, r := range n.routes {
			if r.Name != node {
				out.Nodes = append(out.Nodes, r)
			}
		}
	}
	return out
}
