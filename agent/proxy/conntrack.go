package proxy

import (
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// udpKey is one UDP Service port: its cluster IP and port, and its node port
// (0 when it has none).
type udpKey struct {
	clusterIP string
	port      uint16
	nodePort  uint16
}

// udpState is, per UDP Service port, the endpoint IPs traffic goes to.
// Conntrack keeps a UDP "connection" alive as long as the client keeps
// sending, so a client of an endpoint that went away would keep reaching it
// (or nothing) forever; kube-proxy flushes those entries, and so do we.
type udpState map[udpKey]map[string]bool

func (u udpState) record(clusterIP string, port uint16, hasNodePort bool, nodePort uint16, eps []endpoint) {
	k := udpKey{clusterIP: clusterIP, port: port}
	if hasNodePort {
		k.nodePort = nodePort
	}
	set := map[string]bool{}
	for _, e := range eps {
		set[e.ip.String()] = true
	}
	u[k] = set
}

// staleFilters are the conntrack entries to delete going from old to new:
// those whose reply comes from an endpoint no longer used, and, for a port
// that had no endpoint (or no Service) and has some now, every entry to it:
// a flow tracked before it was DNATed would stay un-NATed for as long as the
// client keeps sending. (Rejected packets leave no entry: they are dropped
// before conntrack confirms them.) Nothing is known to be stale on the first
// Apply (old is nil): flushing then would move live flows for nothing.
func staleFilters(old, cur udpState) []netlink.CustomConntrackFilter {
	var fs []netlink.CustomConntrackFilter
	add := func(dst net.IP, dport uint16, replySrc net.IP) {
		f := &netlink.ConntrackFilter{}
		_ = f.AddProtocol(unix.IPPROTO_UDP)
		if dst != nil {
			_ = f.AddIP(netlink.ConntrackOrigDstIP, dst)
		}
		_ = f.AddPort(netlink.ConntrackOrigDstPort, dport)
		if replySrc != nil {
			_ = f.AddIP(netlink.ConntrackReplySrcIP, replySrc)
		}
		fs = append(fs, f)
	}
	if old == nil {
		return nil
	}
	for k, newEps := range cur {
		if oldEps, ok := old[k]; len(newEps) > 0 && (!ok || len(oldEps) == 0) {
			add(net.ParseIP(k.clusterIP), k.port, nil)
			if k.nodePort != 0 {
				add(nil, k.nodePort, nil)
			}
		}
	}
	for k, oldEps := range old {
		cip := net.ParseIP(k.clusterIP)
		newEps := cur[k]
		for ip := range oldEps {
			if newEps[ip] {
				continue
			}
			add(cip, k.port, net.ParseIP(ip))
			if k.nodePort != 0 {
				add(nil, k.nodePort, net.ParseIP(ip))
			}
		}
	}
	return fs
}

// flushStaleUDP deletes stale UDP conntrack entries (one table dump for all
// of them). Failure only costs stale flows, so it is logged, not returned.
func (p *Proxy) flushStaleUDP(cur udpState) {
	old := p.udp
	p.udp = cur
	fs := staleFilters(old, cur)
	if len(fs) == 0 {
		return
	}
	n, err := p.nl.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, fs...)
	if err != nil {
		p.log.Warn("failed to flush stale UDP conntrack entries", "err", err)
		return
	}
	p.log.Debug("flushed stale UDP conntrack entries", "entries", n)
}
