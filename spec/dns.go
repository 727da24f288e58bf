package spec

import (
	"net/netip"
	"strings"
)

// DNS policies of a pod (PodSpec.DNSPolicy).
const (
	// DNSClusterFirst resolves through the node's cluster DNS server, which
	// answers cluster names and forwards the rest upstream. It is what an
	// empty DNSPolicy means.
	DNSClusterFirst = "ClusterFirst"
	// DNSClusterFirstWithHostNet is ClusterFirst for host-network pods,
	// whose ClusterFirst means Default as in Kubernetes (the kubelet's
	// getPodDNSType); for other pods it is ClusterFirst.
	DNSClusterFirstWithHostNet = "ClusterFirstWithHostNet"
	// DNSDefault uses the node's own resolvers: no cluster names.
	DNSDefault = "Default"
	// DNSNone uses only the pod's DNSConfig.
	DNSNone = "None"
)

// Limits of a pod's DNS configuration, Kubernetes' (and glibc's).
const (
	MaxDNSNameservers     = 3
	MaxDNSSearchPaths     = 32
	MaxDNSSearchListChars = 2048
)

// EffectiveDNSPolicy returns the pod's DNS policy with the empty value
// spelled out: ClusterFirst, Default or None. Loading stores ClusterFirst
// (and ClusterFirstWithHostNet of a pod without hostNetwork) as empty, see
// normalizeDNSPolicy. A host-network pod's ClusterFirst is Default, as the
// kubelet has it: only ClusterFirstWithHostNet gives it the cluster's DNS.
func (s *PodSpec) EffectiveDNSPolicy() string {
	switch s.DNSPolicy {
	case "", DNSClusterFirst:
		if s.HostNetwork {
			return DNSDefault
		}
		return DNSClusterFirst
	case DNSClusterFirstWithHostNet:
		return DNSClusterFirst
	}
	return s.DNSPolicy
}

// normalizeDNSPolicy stores Kubernetes' default policy, and the host-network
// variant that means the same here, as empty. A pod template's hash (which
// names its pods) is taken over the stored spec, and templates written
// before dnsPolicy was a field loaded `dnsPolicy: ClusterFirst` as nothing:
// storing it as ClusterFirst would change the hash of every such template
// and restart every pod on upgrade, and a template with and without the
// default must stay the same template.
//
// A host-network pod keeps ClusterFirstWithHostNet: for it the two differ.
func normalizeDNSPolicy(s *PodSpec) {
	if s.DNSPolicy == DNSClusterFirst || (s.DNSPolicy == DNSClusterFirstWithHostNet && !s.HostNetwork) {
		s.DNSPolicy = ""
	}
}

// podDNS checks a pod's dnsPolicy, dnsConfig and subdomain as Kubernetes'
// validateDNSPolicy and validatePodDNSConfig do.
func (v *validator) podDNS(s *PodSpec, p fieldPath) {
	if s.Subdomain != "" {
		v.check(p.child("subdomain"), s.Subdomain, isDNS1123Label(s.Subdomain))
	}
	switch s.DNSPolicy {
	case "", DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault:
	case DNSNone:
		if s.DNSConfig == nil {
			v.add(p.child("dnsConfig"), "required: must provide `dnsConfig` when `dnsPolicy` is None")
		} else if len(s.DNSConfig.Nameservers) == 0 {
			v.add(p.child("dnsConfig.nameservers"), "required: must provide at least one DNS nameserver when `dnsPolicy` is None")
		}
	default:
		v.add(p.child("dnsPolicy"), "unsupported value %q: supported values: %q, %q, %q, %q", s.DNSPolicy,
			DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault, DNSNone)
	}
	c := s.DNSConfig
	if c == nil {
		return
	}
	cp := p.child("dnsConfig")
	if len(c.Nameservers) > MaxDNSNameservers {
		v.add(cp.child("nameservers"), "too many: %d: must not have more than %d nameservers", len(c.Nameservers), MaxDNSNameservers)
	}
	for i, ns := range c.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil || strings.Contains(ns, "%") {
			v.add(cp.child("nameservers").index(i), "invalid value %q: must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)", ns)
		}
	}
	if len(c.Searches) > MaxDNSSearchPaths {
		v.add(cp.child("searches"), "too many: %d: must not have more than %d search paths", len(c.Searches), MaxDNSSearchPaths)
	}
	// resolv.conf's search line: the domains and a space between each.
	if n := len(strings.Join(c.Searches, " ")); n > MaxDNSSearchListChars {
		v.add(cp.child("searches"), "too long: %d characters: must not have more than %d characters (including spaces) in the search list", n, MaxDNSSearchListChars)
	}
	for i, d := range c.Searches {
		// A trailing dot (an absolute name) is fine, and so is "." alone
		// (the root: no search).
		if d != "." {
			v.check(cp.child("searches").index(i), d, isDNSSearchDomain(strings.TrimSuffix(d, ".")))
		}
	}
	for i, o := range c.Options {
		if o.Name == "" {
			v.add(cp.child("options").index(i).child("name"), "required: Option.Name must not be empty")
		}
	}
}
