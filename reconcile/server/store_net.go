package server

import (
	"fmt"
	"maps"
	"net/netip"
	"sort"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/spec"
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
		nodes := make([]string, 0, len(c.PodCIDRs))
		for n := range c.PodCIDRs {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes)
		var m map[string]string
		for _, node := range nodes {
			cidr, err := s.nodeCIDRLocked(node, c.PodCIDRs[node])
			if err != nil || s.st.PodCIDRs[node] == cidr {
				continue
			}
			if m == nil {
				m = maps.Clone(s.st.PodCIDRs)
				if m == nil {
					m = map[string]string{}
				}
			}
			m[node] = cidr
			// The next node of the entry sees this one's.
			s.st.PodCIDRs = m
		}
	}
	return nil
}

// nodeCIDRLocked is the pod CIDR node gets when it asks for want (its
// override, or "" for an allocation). s.mu must be held.
func (s *store) nodeCIDRLocked(node, want string) (string, error) {
	cfg := s.netConfigLocked()
	if want == "" {
		if cur := s.st.PodCIDRs[node]; cur != "" {
			return cur, nil
		}
		cluster, err := parseCIDR(cfg.ClusterCIDR)
		if err != nil {
			return "", fmt.Errorf("node %s: %w", node, err)
		}
		taken := make([]netip.Prefix, 0, len(s.st.PodCIDRs)+1)
		for _, c := range s.st.PodCIDRs {
			if p, err := netip.ParsePrefix(c); err == nil {
				taken = append(taken, p)
			}
		}
		if p, err := netip.ParsePrefix(cfg.ServiceCIDR); err == nil {
			taken = append(taken, p)
		}
		p, err := allocPodCIDR(cluster, cfg.NodeCIDRMaskSize, taken)
		if err != nil {
			return "", fmt.Errorf("node %s gets no pod CIDR: %w", node, err)
		}
		return p.String(), nil
	}
	p, err := parseCIDR(want)
	if err != nil {
		return "", fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr): %w", node, want, err)
	}
	if svc, err := netip.ParsePrefix(cfg.ServiceCIDR); err == nil && svc.Overlaps(p) {
		return "", fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr), which overlaps the service CIDR %s", node, want, svc)
	}
	names := make([]string, 0, len(s.st.PodCIDRs))
	for n := range s.st.PodCIDRs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, other := range names {
		o, err := netip.ParsePrefix(s.st.PodCIDRs[other])
		if other != node && err == nil && o.Overlaps(p) {
			return "", fmt.Errorf("node %s advertises pod CIDR %s (its --pod-cidr), which overlaps node %s's %s: node %s gets no pod CIDR, and no pods, until one of them changes", node, want, other, o, node)
		}
	}
	return p.String(), nil
}

// nodeCIDRChange is the leader's check before it proposes opNodeCIDR: the
// CIDR the entry would give, whether that changes anything, and the error
// Apply would refuse it with.
func (s *store) nodeCIDRChange(node, want string) (string, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cidr, err := s.nodeCIDRLocked(node, want)
	if err != nil {
		return "", false, err
	}
	return cidr, s.st.PodCIDRs[node] != cidr, nil
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
