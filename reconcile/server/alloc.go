package server

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Address allocation: pure functions the store's Apply calls, so that
// every reconciler replaying the same log reaches the same addresses.
// Allocation is lowest-free: deterministic, and what a reader of the
// allocations expects to find.

// NetworkConfig is the cluster's address plan. The leader commits it to
// raft when it differs from the store's (opNetConfig); allocations are made
// from the committed one, so that a reconciler started with other flags
// does not make the replicas disagree. Allocations already made stay
// when it changes, even outside the new ranges.
type NetworkConfig struct {
	// ClusterCIDR holds every node's pod CIDR; empty means 10.244.0.0/16.
	ClusterCIDR string `json:"clusterCIDR"`
	// NodeCIDRMaskSize is the prefix length of a node's pod CIDR; zero
	// means 24.
	NodeCIDRMaskSize int `json:"nodeCIDRMaskSize"`
	// ServiceCIDR holds the Services' cluster IPs; empty means
	// 10.96.0.0/16. It must not overlap ClusterCIDR.
	ServiceCIDR string `json:"serviceCIDR"`
	// ClusterDomain is the DNS suffix; empty means cluster.local.
	ClusterDomain string `json:"clusterDomain"`
	// NodePortRange is "first-last" of the node ports NodePort Services
	// get; empty means 30000-32767.
	NodePortRange string `json:"nodePortRange"`
}

// DefaultNetworkConfig returns Kubernetes' usual address plan.
func DefaultNetworkConfig() NetworkConfig {
	return NetworkConfig{
		ClusterCIDR:      "10.244.0.0/16",
		NodeCIDRMaskSize: 24,
		ServiceCIDR:      "10.96.0.0/16",
		ClusterDomain:    "cluster.local",
		NodePortRange:    "30000-32767",
	}
}

// validate fills zero values and checks the ranges: CIDRs that parse, do
// not overlap, and leave room for node CIDRs and Service IPs.
func (n *NetworkConfig) validate() error {
	d := DefaultNetworkConfig()
	if n.ClusterCIDR == "" {
		n.ClusterCIDR = d.ClusterCIDR
	}
	if n.NodeCIDRMaskSize == 0 {
		n.NodeCIDRMaskSize = d.NodeCIDRMaskSize
	}
	if n.ServiceCIDR == "" {
		n.ServiceCIDR = d.ServiceCIDR
	}
	if n.ClusterDomain == "" {
		n.ClusterDomain = d.ClusterDomain
	}
	n.ClusterDomain = strings.Trim(n.ClusterDomain, ".")
	if n.NodePortRange == "" {
		n.NodePortRange = d.NodePortRange
	}
	cluster, err := parseCIDR(n.ClusterCIDR)
	if err != nil {
		return fmt.Errorf("cluster CIDR (--cluster-cidr): %w", err)
	}
	svc, err := parseCIDR(n.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("service CIDR (--service-cidr): %w", err)
	}
	if cluster.Overlaps(svc) {
		return fmt.Errorf("cluster CIDR %s and service CIDR %s overlap", cluster, svc)
	}
	if n.NodeCIDRMaskSize < cluster.Bits() || n.NodeCIDRMaskSize > 30 {
		return fmt.Errorf("node CIDR mask size %d: want %d (the cluster CIDR's) to 30", n.NodeCIDRMaskSize, cluster.Bits())
	}
	if svc.Bits() > 30 {
		return fmt.Errorf("service CIDR %s is too small: want /30 or larger", svc)
	}
	if _, _, err := parsePortRange(n.NodePortRange); err != nil {
		return fmt.Errorf("node port range (--service-node-port-range): %w", err)
	}
	if !domainRE.MatchString(n.ClusterDomain) {
		return fmt.Errorf("cluster domain (--cluster-domain) %q: want a DNS name such as cluster.local", n.ClusterDomain)
	}
	return nil
}

var domainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// parseCIDR parses an IPv4 CIDR that names its network (10.244.0.0/16, not
// 10.244.1.0/16).
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("failed to parse %q: %w", s, err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%q is not IPv4: Stevedore is IPv4 only", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q is not a network address (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// parsePortRange parses "first-last".
func parsePortRange(s string) (int32, int32, error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return 0, 0, fmt.Errorf("%q: want first-last, within 1-65535", s)
	}
	return int32(first), int32(last), nil
}

// errExhausted is wrapped when a range has no free address or port left.
var errExhausted = errors.New("range exhausted")

// cidrAllocator gives out the lowest free subnets of one size in the
// cluster CIDR. Taken subnets of that size are a set, others (overrides of
// another size, the service CIDR) a list checked for overlap; the cursor
// only moves forward, since subnets are only ever taken: a batch of n
// allocations costs one pass over the cluster CIDR, not n.
type cidrAllocator struct {
	cluster netip.Prefix
	bits    int
	exact   map[netip.Prefix]bool
	other   []netip.Prefix
	next    uint64 // index of the next candidate
	count   uint64
}

func newCIDRAllocator(cluster netip.Prefix, bits int, taken []netip.Prefix) (*cidrAllocator, error) {
	if bits < cluster.Bits() || bits > 32 {
		return nil, fmt.Errorf("node CIDR mask size %d does not fit the cluster CIDR %s", bits, cluster)
	}
	a := &cidrAllocator{cluster: cluster, bits: bits, exact: make(map[netip.Prefix]bool, len(taken)), count: uint64(1) << (bits - cluster.Bits())}
	for _, t := range taken {
		a.take(t)
	}
	return a, nil
}

// take marks p as taken.
func (a *cidrAllocator) take(p netip.Prefix) {
	p = p.Masked()
	if p.Bits() == a.bits {
		a.exact[p] = true
	} else if p.Overlaps(a.cluster) {
		a.other = append(a.other, p)
	}
}

// alloc takes and returns the lowest free subnet.
func (a *cidrAllocator) alloc() (netip.Prefix, error) {
	step := uint64(1) << (32 - a.bits)
	base := addrToUint(a.cluster.Addr())
	for ; a.next < a.count; a.next++ {
		cand := netip.PrefixFrom(uintToAddr(uint32(base+a.next*step)), a.bits)
		if a.exact[cand] {
			continue
		}
		free := true
		for _, t := range a.other {
			if t.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			a.take(cand)
			return cand, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /%d left in the cluster CIDR %s: %w", a.bits, a.cluster, errExhausted)
}

// allocPodCIDR returns the lowest subnet of size bits in cluster that
// overlaps none of taken.
func allocPodCIDR(cluster netip.Prefix, bits int, taken []netip.Prefix) (netip.Prefix, error) {
	a, err := newCIDRAllocator(cluster, bits, taken)
	if err != nil {
		return netip.Prefix{}, err
	}
	return a.alloc()
}

func addrToUint(a netip.Addr) uint64 {
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
}

func uintToAddr(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

// allocations are the addresses the store keeps, beside the pod CIDRs.
type svcAllocs struct {
	// ClusterIPs by "namespace/name".
	ClusterIPs map[string]string
	// NodePorts by nodePortKey.
	NodePorts map[string]int32
}

// nodePortKey names one port of a Service: its name and protocol, so that
// reordering a Service's ports keeps their node ports.
func nodePortKey(svc string, p spec.ServicePort) string {
	proto := p.Protocol
	if proto == "" {
		proto = spec.ProtocolTCP
	}
	return svc + "/" + p.Name + "/" + proto
}

// serviceKey is a Service's allocation key.
func serviceKey(s *spec.Service) string { return s.Namespace + "/" + s.Name }

// allocError is one Service the allocator could not serve as its manifest
// asks.
type allocError struct {
	Service string // namespace/name
	Field   string // spec.clusterIP, spec.ports[1].nodePort
	Message string
}

// allocServices computes the Services' allocations from the previous ones:
// an existing Service keeps its cluster IP and node ports (unless its
// manifest now asks for others, which it gets if free); a manifest's
// explicit address is taken if no other Service holds it; the others get
// the lowest free one; deleted Services' are released. services must be
// sorted (by key) for the result to be deterministic. The errors name what
// could not be done; those Services get no address for it.
func allocServices(prev svcAllocs, services []*spec.Service, cfg NetworkConfig) (svcAllocs, []allocError) {
	next := svcAllocs{ClusterIPs: map[string]string{}, NodePorts: map[string]int32{}}
	var errs []allocError
	svcCIDR, _ := parseCIDR(cfg.ServiceCIDR)
	portMin, portMax, _ := parsePortRange(cfg.NodePortRange)
	live := map[string]*spec.Service{}
	for _, s := range services {
		live[serviceKey(s)] = s
	}
	// Held by a Service that exists and keeps it in this revision, so
	// explicit requests of others see them as taken. What a Service lets
	// go in this same revision (it asks for another address, turns
	// headless or ClusterIP, drops the port) is free for the others: two
	// Services may swap addresses in one commit, and one may take the
	// node port another gives up, whatever their order.
	heldIP := map[string]string{}
	for k, ip := range prev.ClusterIPs {
		if s := live[k]; s != nil && keepsClusterIP(s, ip) {
			heldIP[ip] = k
		}
	}
	heldPort := map[int32]string{}
	for k, p := range prev.NodePorts {
		if s := live[svcOfPortKey(k)]; s != nil && keepsNodePort(s, k, p) {
			heldPort[p] = k
		}
	}
	var autoIP []*spec.Service
	type portReq struct {
		svc   *spec.Service
		index int
	}
	var autoPort []portReq
	for _, s := range services {
		k := serviceKey(s)
		want := wantedClusterIP(s)
		switch {
		case want == agentapi.ClusterIPNone:
		case want == "":
			if ip, ok := prev.ClusterIPs[k]; ok {
				next.ClusterIPs[k] = ip
			} else {
				autoIP = append(autoIP, s)
			}
		default:
			addr, err := netip.ParseAddr(want)
			switch {
			case err != nil || !addr.Is4():
				errs = append(errs, allocError{k, "spec.clusterIP", fmt.Sprintf("%q is not an IPv4 address", want)})
			case prev.ClusterIPs[k] == want:
				// Its own already: kept even if the service CIDR changed
				// since (allocations stay when the ranges change).
				heldIP[want] = k
				next.ClusterIPs[k] = want
			case !svcCIDR.Contains(addr) || addr == svcCIDR.Addr() || addrToUint(addr) == broadcast(svcCIDR):
				errs = append(errs, allocError{k, "spec.clusterIP", fmt.Sprintf("%s is not a host address of the service CIDR %s", want, svcCIDR)})
			case heldIP[want] != "" && heldIP[want] != k:
				errs = append(errs, allocError{k, "spec.clusterIP", fmt.Sprintf("%s is already allocated to Service %s", want, heldIP[want])})
				// Its old address until the manifest is fixed, unless
				// another Service took it in this revision.
				if old, ok := prev.ClusterIPs[k]; ok && (heldIP[old] == "" || heldIP[old] == k) {
					heldIP[old] = k
					next.ClusterIPs[k] = old
				}
			default:
				if old, ok := prev.ClusterIPs[k]; ok && old != want {
					delete(heldIP, old)
				}
				heldIP[want] = k
				next.ClusterIPs[k] = want
			}
		}
		if s.Spec.Type != agentapi.ServiceTypeNodePort {
			continue
		}
		for i, p := range s.Spec.Ports {
			pk := nodePortKey(k, p)
			switch {
			case p.NodePort == 0:
				if n, ok := prev.NodePorts[pk]; ok {
					next.NodePorts[pk] = n
				} else {
					autoPort = append(autoPort, portReq{s, i})
				}
			case prev.NodePorts[pk] == p.NodePort:
				heldPort[p.NodePort] = pk // its own already, kept as above
				next.NodePorts[pk] = p.NodePort
			case p.NodePort < portMin || p.NodePort > portMax:
				errs = append(errs, allocError{k, fmt.Sprintf("spec.ports[%d].nodePort", i), fmt.Sprintf("%d is not in the node port range %s", p.NodePort, cfg.NodePortRange)})
			case heldPort[p.NodePort] != "" && svcOfPortKey(heldPort[p.NodePort]) != k:
				errs = append(errs, allocError{k, fmt.Sprintf("spec.ports[%d].nodePort", i), fmt.Sprintf("%d is already allocated to Service %s", p.NodePort, svcOfPortKey(heldPort[p.NodePort]))})
			default:
				if old, ok := prev.NodePorts[pk]; ok && old != p.NodePort {
					delete(heldPort, old)
				}
				heldPort[p.NodePort] = pk
				next.NodePorts[pk] = p.NodePort
			}
		}
	}
	// Automatic addresses last, so that they never take one a manifest
	// asks for in the same revision.
	used := map[string]bool{}
	for _, ip := range next.ClusterIPs {
		used[ip] = true
	}
	ipCursor := svcCIDR.Addr().Next() // skips the network address
	for _, s := range autoIP {
		ip, ok := lowestFreeIP(svcCIDR, &ipCursor, used)
		if !ok {
			errs = append(errs, allocError{serviceKey(s), "spec.clusterIP", fmt.Sprintf("no free address left in the service CIDR %s", svcCIDR)})
			continue
		}
		used[ip] = true
		next.ClusterIPs[serviceKey(s)] = ip
	}
	usedPort := map[int32]bool{}
	for _, p := range next.NodePorts {
		usedPort[p] = true
	}
	cursor := portMin
	for _, r := range autoPort {
		for cursor <= portMax && usedPort[cursor] {
			cursor++
		}
		if cursor > portMax {
			errs = append(errs, allocError{serviceKey(r.svc), fmt.Sprintf("spec.ports[%d].nodePort", r.index), fmt.Sprintf("no free node port left in %s", cfg.NodePortRange)})
			continue
		}
		usedPort[cursor] = true
		next.NodePorts[nodePortKey(serviceKey(r.svc), r.svc.Spec.Ports[r.index])] = cursor
	}
	return next, errs
}

// wantedClusterIP is the cluster IP s's manifest asks for: "" (any),
// None (headless) or an address.
func wantedClusterIP(s *spec.Service) string {
	if s.Spec.ClusterIP == "" && len(s.Spec.ClusterIPs) > 0 {
		return s.Spec.ClusterIPs[0] // as Kubernetes defaults clusterIP
	}
	return s.Spec.ClusterIP
}

// keepsClusterIP reports whether s, holding ip, still holds it in this
// revision: it asks for any address or for ip itself.
func keepsClusterIP(s *spec.Service, ip string) bool {
	want := wantedClusterIP(s)
	return want == "" || want == ip
}

// keepsNodePort reports whether s, holding node port n under key pk,
// still holds it in this revision: it is a NodePort Service with that
// port, which asks for any node port or for n itself.
func keepsNodePort(s *spec.Service, pk string, n int32) bool {
	if s.Spec.Type != agentapi.ServiceTypeNodePort {
		return false
	}
	for _, p := range s.Spec.Ports {
		if nodePortKey(serviceKey(s), p) == pk {
			return p.NodePort == 0 || p.NodePort == n
		}
	}
	return false
}

// lowestFreeIP returns the lowest address from *cursor on in cidr, short of
// its broadcast address, that used does not hold, and moves the cursor.
func lowestFreeIP(cidr netip.Prefix, cursor *netip.Addr, used map[string]bool) (string, bool) {
	last := broadcast(cidr)
	for a := *cursor; cidr.Contains(a) && addrToUint(a) < last; a = a.Next() {
		if !used[a.String()] {
			*cursor = a.Next()
			return a.String(), true
		}
	}
	return "", false
}

// broadcast is the last address of cidr, as a number.
func broadcast(cidr netip.Prefix) uint64 {
	return addrToUint(cidr.Addr()) + (uint64(1) << (32 - cidr.Bits())) - 1
}

// svcOfPortKey returns the Service key of a node port key.
func svcOfPortKey(k string) string {
	parts := strings.SplitN(k, "/", 3)
	if len(parts) < 2 {
		return k
	}
	return parts[0] + "/" + parts[1]
}

// servicesOf returns a set's Services sorted by key.
func servicesOf(set *spec.Set) []*spec.Service {
	if set == nil {
		return nil
	}
	var out []*spec.Service
	for _, o := range set.OfKind(spec.KindService) {
		if s, ok := o.(*spec.Service); ok {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return serviceKey(out[i]) < serviceKey(out[j]) })
	return out
}
