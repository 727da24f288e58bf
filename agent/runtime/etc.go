package runtime

import (
	"fmt"
	"github.com/stevedore-dev/stevedore/internal/resolvconf"
	"strings"

	"github.com/stevedore-dev/stevedore/spec"
)

// The files every container of a pod mounts: /etc/resolv.conf, /etc/hosts
// and /etc/hostname. They follow the kubelet (pkg/kubelet/network/dns and
// the managed hosts file), so that manifests written for Kubernetes resolve
// names the same way here.

// Kubernetes' limits on a pod's resolver configuration (kubelet's
// validation.MaxDNSNameservers, MaxDNSSearchPaths, MaxDNSSearchListChars).
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

// DNS policies (spec.PodSpec.DNSPolicy).
const (
	dnsClusterFirst            = "ClusterFirst"
	dnsClusterFirstWithHostNet = "ClusterFirstWithHostNet"
	dnsDefault                 = "Default"
	dnsNone                    = "None"
)

// resolvConf is the content of a resolv.conf, split as the kubelet does.
type resolvConf = resolvconf.File

// parseResolvConf reads a resolv.conf the way the kubelet does.
func parseResolvConf(s string) resolvConf { return resolvconf.Parse(s) }

// hostResolvConf is the host's resolver configuration as pods with
// dnsPolicy Default see it (resolvconf.Host: loopback nameservers dropped,
// systemd-resolved's upstreams behind its stub). An unreadable file is an
// empty configuration, as kubelet treats a missing one.
func hostResolvConf() resolvConf {
	rc, _ := resolvconf.Host(resolvconf.HostPath)
	return rc
}

// podResolvConf computes a pod's resolv.conf from its dnsPolicy and
// dnsConfig as the kubelet does (GetPodDNS): ClusterFirst (the default, and
// ClusterFirstWithHostNet; a host-network pod's ClusterFirst is Default,
// spec.EffectiveDNSPolicy) uses the
// cluster DNS server with the namespace's search path, the host's search
// domains after it, and ndots:5; Default is the host's configuration; None
// is only dnsConfig. dnsConfig is then appended: nameservers and searches
// deduplicated, options overriding the policy's by name. clusterDNS is the
// node's DNS server (the bridge address) and domain the cluster domain.
func podResolvConf(ps spec.PodSpec, namespace, clusterDNS, domain string, host resolvConf) resolvConf {
	var rc resolvConf
	switch ps.EffectiveDNSPolicy() {
	case dnsNone:
	case dnsDefault:
		rc = resolvConf{
			Nameservers: append([]string(nil), host.Nameservers...),
			Searches:    append([]string(nil), host.Searches...),
			Options:     append([]string(nil), host.Options...),
		}
	default: // ClusterFirst
		rc.Nameservers = []string{clusterDNS}
		rc.Searches = omitDuplicates(append([]string{
			namespace + ".svc." + domain, "svc." + domain, domain,
		}, host.Searches...))
		rc.Options = []string{"ndots:5"}
	}
	if c := ps.DNSConfig; c != nil {
		rc.Nameservers = omitDuplicates(append(rc.Nameservers, c.Nameservers...))
		rc.Searches = omitDuplicates(append(rc.Searches, c.Searches...))
		rc.Options = mergeDNSOptions(rc.Options, c.Options)
	}
	if len(rc.Nameservers) > maxDNSNameservers {
		rc.Nameservers = rc.Nameservers[:maxDNSNameservers]
	}
	rc.Searches = fitSearches(rc.Searches)
	return rc
}

// omitDuplicates keeps the first of each string, in order.
func omitDuplicates(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeDNSOptions overrides base options with the pod's by name (the part
// before ':'), as the kubelet does. Unlike the kubelet, whose map makes the
// order random, the order is kept: base options first, new ones after.
func mergeDNSOptions(base []string, opts []spec.PodDNSConfigOption) []string {
	name := func(o string) string {
		if i := strings.Index(o, ":"); i >= 0 {
			return o[:i]
		}
		return o
	}
	out := append([]string(nil), base...)
	for _, o := range opts {
		s := o.Name
		if o.Value != nil && *o.Value != "" {
			s += ":" + *o.Value
		}
		replaced := false
		for i := range out {
			if name(out[i]) == o.Name {
				out[i], replaced = s, true
			}
		}
		if !replaced {
			out = append(out, s)
		}
	}
	return omitDuplicates(out)
}

// fitSearches truncates the search list to Kubernetes' limits (32 domains,
// 2048 characters), as the kubelet's formDNSSearchFitsLimits does.
func fitSearches(s []string) []string {
	if len(s) > maxDNSSearchPaths {
		s = s[:maxDNSSearchPaths]
	}
	for len(s) > 0 && len(strings.Join(s, " ")) > maxDNSSearchListChars {
		s = s[:len(s)-1]
	}
	return s
}

// podHostsFile is the kubelet's managed /etc/hosts: localhost entries and
// the pod's own name. With a subdomain the pod's FQDN
// <hostname>.<subdomain>.<namespace>.svc.<domain> comes first.
func podHostsFile(ip, hostname, subdomain, namespace, domain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if subdomain != "" {
		fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", ip, hostname, subdomain, namespace, domain, hostname)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
	}
	return b.String()
}
