package server

import (
	"fmt"
	"maps"
	"net/netip"
	"sort"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/render"
)

// Address allocations in the store.
//
// The store keeps three allocations beside the inventory: a pod CIDR per
// node, a cluster IP per Service and a node port per NodePort Service
// port. Every one is made inside Apply, from the committed state only
// (the address plan of opNetConfig, the previous allocations and the
// desired objects), so every reconciler replaying the log reaches the same
// addresses, and a Service's cluster IP is committed in the same entry as
// the revision that declares it: no follower or new leader sees the
// Service without it. Snapshots and entries from before allocations decode
// with empty maps, and Restore allocates for a restored revision's
// Services, so an old store comes up with addresses.

// Operations of the network's raft entries.
const (
	// opNetConfig (Net) records the leader's address plan when it differs
	// from the store's.
	opNetConfig = "netConfig"
	// opNodeCIDR (PodCIDRs) gives nodes pod CIDRs, in the order of their
	// names: the lowest free one to a node whose entry is empty (nothing
	// when it has one), else its agent's override. A node the entry cannot
	// serve (an override overlapping another node's CIDR, no CIDR left)
	// is skipped alike on every store; the leader checks beforehand and
	// afterwards, and shows why on the node.
	opNodeCIDR = "nodeCIDR"
)

// netState is the read side of the allocations. Its maps are never written
// once handed out (Apply replaces them).
type netState struct {
	cfg        NetworkConfig
	podCIDRs   map[string]string // by node
	clusterIPs map[string]string // by namespace/name
	nodePorts  map[string]int32  // by nodePortKey
}

// netConfigLocked is the committed address plan, the defaults before one
// is committed. s.mu must be held.
func (s *store) netConfigLocked() NetworkConfig {
	if s.st.Net != nil {
		return *s.st.Net
	}
	return DefaultNetworkConfig()
}

// network returns the allocations and the plan they come from.
func (s *store) network() netState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return netState{cfg: s.netConfigLocked(), podCIDRs: s.st.PodCIDRs, clusterIPs: s.st.ClusterIPs, nodePorts: s.st.NodePorts}
}

// applyNetLocked applies an opNetConfig or opNodeCIDR entry. s.mu must be
// held.
func (s *store) applyNetLocked(c *command, index uint64) error {
	switch c.Op {
	case opNetConfig:
		if c.Net == nil {
			return fmt.Errorf("raft entry %d: network entry without a plan", index)
		}
		n := *c.Net
		s.st.Net = &n
		// Services without an address (say, the range was exhausted) may
		// get one from the new plan.
		s.reallocServicesLocked()
	case opNodeCIDR:
		if next, _ := s.assignNodeCIDRsLocked(c.PodCIDRs); next != nil {
			s.st.PodCIDRs = next
		}
	}
	return nil
}

// assignNodeCIDRsLocked computes what an opNodeCIDR entry asking req (node
// → its override, "" for an allocation) does: the new allocations (nil
// when nothing changes) and why nodes get none. Nodes are served in the
// order of their names, each seeing the ones before. It writes nothing.
// s.mu must be held.
func (s *store) assignNodeCIDRsLocked(req map[string]string) (map[string]string, map[string]error) {
	nodes := make([]string, 0, len(req))
	for n := range req {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	cfg := s.netConfigLocked()
	cur := s.st.PodCIDRs
	var next map[string]string // copied on the first change
	var alloc *cidrAllocator   // built on the first allocation
	var errs map[string]error
	fail := func(node string, err error) {
		if errs == nil {
			errs = map[string]error{}
		}
		errs[node] = err
	}
	for _, node := range nodes {
		want := req[node]
		var cidr netip.Prefix
		if want == "" {
			if cur[node] != "" {
				continue
			}
			if alloc == nil {
				var err error
				if alloc, err = newNodeAllocator(cfg, cur); err != nil {
					fail(node, fmt.Errorf("node %s gets no pod CIDR: %w", node, err))
					continue
				}
			}
			p, err := alloc.alloc()
			if err != nil {
				fail(node, fmt.Errorf("node %s gets no pod CIDR: %w", node, err))
				continue
			}
			cidr = p
		} else {
			p, err := overrideCIDR(node, want, cfg, cur)
			if err != nil {
				fail(node, err)
				continue
			}
			if p.String() == cur[node] {
				continue
			}
			cidr = p
			if alloc != nil {
				alloc.take(p)
			}
		}
		if next == nil {
			next = make(map[string]string, len(cur)+1)
			maps.Copy(next, cur)
			cur = next
		}
		next[node] = cidr.String()
	}
	return next, errs
}

// newNodeAllocator is an allocator of the plan's node CIDRs that avoids
// every allocation and the service CIDR.
func newNodeAllocator(cfg NetworkConfig, cidrs map[string]string) (*cidrAllocator, error) {
	cluster, err := parseCIDR(cfg.ClusterCIDR)
	if err != nil {
		return nil, err
	}
	taken := make([]netip.Prefix, 0, len(cidrs)+1)
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil {
			taken = append(taken, p)
		}
	}
	if p, err := netip.ParsePrefix(cfg.ServiceCIDR); err == nil {
		taken = append(taken, p)
	}
	return newCIDRAllocator(cluster, cfg.NodeCIDRMaskSize, taken)
}

// overrideCIDR checks the pod CIDR an agent advertises (its --pod-cidr):
// taken if it overlaps neither the service CIDR nor another node's CIDR
// (the first such node by name is named).
func overrideCIDR(node, want string, cfg NetworkConfig, cidrs map[string]string) (netip.Prefix, error) {
	p, err := parseCIDR(want)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr): %w", node, want, err)
	}
	if svc, err := netip.ParsePrefix(cfg.ServiceCIDR); err == nil && svc.Overlaps(p) {
		return netip.Prefix{}, fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr), which overlaps the service CIDR %s", node, want, svc)
	}
	other := ""
	for n, c := range cidrs {
		if o, err := netip.ParsePrefix(c); err == nil && n != node && o.Overlaps(p) && (other == "" || n < other) {
			other = n
		}
	}
	if other != "" {
		return netip.Prefix{}, fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr), which overlaps node %s's %s: node %s gets no pod CIDR, and no pods, until one of them changes", node, want, other, cidrs[other], node)
	}
	return p, nil
}

// nodeCIDRPlan is the leader's dry run of an opNodeCIDR entry asking req:
// the CIDR each node whose allocation would change gets, and why the
// others get none.
func (s *store) nodeCIDRPlan(req map[string]string) (map[string]string, map[string]error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	next, errs := s.assignNodeCIDRsLocked(req)
	changes := map[string]string{}
	for n := range req {
		if next != nil && next[n] != s.st.PodCIDRs[n] {
			changes[n] = next[n]
		}
	}
	return changes, errs
}

// nodeCIDRChange is nodeCIDRPlan for one node: the CIDR it would have,
// whether that is a change, and why it gets none.
func (s *store) nodeCIDRChange(node, want string) (string, bool, error) {
	changes, errs := s.nodeCIDRPlan(map[string]string{node: want})
	if err := errs[node]; err != nil {
		return "", false, err
	}
	if c, ok := changes[node]; ok {
		return c, true, nil
	}
	return s.network().podCIDRs[node], false, nil
}

// reallocServicesLocked brings the Service allocations in line with the
// desired state: new Services get addresses, deleted ones release theirs.
// Errors leave a Service without the address (the leader refuses such a
// revision before proposing it; see serviceErrors). s.mu must be held.
func (s *store) reallocServicesLocked() {
	prev := svcAllocs{ClusterIPs: s.st.ClusterIPs, NodePorts: s.st.NodePorts}
	next, _ := allocServices(prev, servicesOf(s.union), s.netConfigLocked())
	if !maps.Equal(prev.ClusterIPs, next.ClusterIPs) {
		s.st.ClusterIPs = nilIfEmpty(next.ClusterIPs)
	}
	if !maps.Equal(prev.NodePorts, next.NodePorts) {
		s.st.NodePorts = nilIfEmpty(next.NodePorts)
	}
}

func nilIfEmpty[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	return m
}

// serviceErrorsLocked lists what app's next revision set asks of addresses
// that cannot be given (a cluster IP or node port another Service holds,
// one outside its range, a range exhausted), one error per field, with the
// Service's file and line. s.mu must be held (read).
func (s *store) serviceErrorsLocked(app string, set *spec.Set) spec.ErrorList {
	if len(set.OfKind(spec.KindService)) == 0 {
		return nil
	}
	union := s.replaceAppLocked(app, set)
	prev := svcAllocs{ClusterIPs: s.st.ClusterIPs, NodePorts: s.st.NodePorts}
	_, errs := allocServices(prev, servicesOf(union), s.netConfigLocked())
	var list spec.ErrorList
	for _, e := range errs {
		var key spec.ObjectKey
		for _, s := range servicesOf(set) {
			if serviceKey(s) == e.Service {
				key = spec.KeyOf(s)
			}
		}
		if key.Name == "" {
			continue // another application's Service: not this revision's fault
		}
		src := set.Sources[key]
		list = append(list, &spec.Error{File: src.File, Line: src.Line, Object: "Service " + e.Service, Field: e.Field, Message: e.Message})
	}
	return list
}

// serviceErrors is serviceErrorsLocked for the leader's check before it
// proposes a revision: refused there, the commit is reported like any
// other invalid one, with file and line, and never reaches the log.
func (s *store) serviceErrors(app string, set *spec.Set) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if list := s.serviceErrorsLocked(app, set); len(list) > 0 {
		return list
	}
	return nil
}

// serviceAddrs returns every allocated Service's addresses for
// reconcile.ResolveServices.
func serviceAddrs(services []*spec.Service, n netState) map[string]reconcile.ServiceAddrs {
	out := make(map[string]reconcile.ServiceAddrs, len(services))
	for _, s := range services {
		k := serviceKey(s)
		a := reconcile.ServiceAddrs{ClusterIP: n.clusterIPs[k]}
		if s.Spec.Type == "NodePort" {
			a.NodePorts = make([]int32, len(s.Spec.Ports))
			for i, p := range s.Spec.Ports {
				a.NodePorts[i] = n.nodePorts[nodePortKey(k, p)]
			}
		}
		out[k] = a
	}
	return out
}

// revisionLoader loads revisions in the reconciler: the leader's check of
// a new one, raft entries and snapshots. It checks no address range, only
// what a revision says on its own: the ranges are the cluster's committed
// ones (--service-cidr, --service-node-port-range), which allocServices
// checks (serviceErrors) and which may change after a revision was
// accepted. With spec's defaults instead, a cluster started with
// --service-cidr 10.100.0.0/16 refused `clusterIP: 10.100.0.50` as "not in
// the cluster's service CIDR 10.96.0.0/16"; and a store that refused to
// load an accepted entry would be broken.
var revisionLoader = render.Loader{Network: spec.Network{
	ServiceCIDR: netip.PrefixFrom(netip.IPv4Unspecified(), 0),
	NodePortMin: 1, NodePortMax: 65535,
}}
