package dns

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// schemaVersion is the Kubernetes DNS schema answered at dns-version.<domain>.
const schemaVersion = "1.1.0"

// rrset is everything one owner name holds. Its slices are shared by every
// response that uses them and never written after the index is built:
// responses reslice them with cap == len so that an append copies.
type rrset struct {
	// all is grouped by type once built, so that get returns a subslice.
	all []dns.RR
	// extra holds the address records of the SRV targets at this name, for
	// the additional section.
	extra []dns.RR
}

// get returns the records of type qtype (all of them for ANY).
func (s *rrset) get(qtype uint16) []dns.RR {
	if qtype == dns.TypeANY {
		return s.all
	}
	for i, rr := range s.all {
		if rr.Header().Rrtype != qtype {
			continue
		}
		j := i + 1
		for j < len(s.all) && s.all[j].Header().Rrtype == qtype {
			j++
		}
		return s.all[i:j]
	}
	return nil
}

func (s *rrset) append(rr dns.RR) { s.all = append(s.all, rr) }

// group orders the records by type, keeping each type's order.
func (s *rrset) group() {
	if len(s.all) < 2 {
		return
	}
	grouped := true
	for i := 1; i < len(s.all) && grouped; i++ {
		grouped = s.all[i].Header().Rrtype == s.all[i-1].Header().Rrtype
	}
	if !grouped {
		slices.SortStableFunc(s.all, func(a, b dns.RR) int {
			return int(a.Header().Rrtype) - int(b.Header().Rrtype)
		})
	}
}

// index is an immutable view of the cluster's names, built by Update and
// swapped in whole, so a query reads one consistent version without locks.
type index struct {
	domain string // "cluster.local.", lower case
	// podSuffix is ".pod.<domain>".
	podSuffix string
	// names holds every name under the domain that has records, and every
	// ancestor of one down to the domain (empty non-terminals answer NODATA,
	// not NXDOMAIN, as RFC 8020 asks).
	names map[string]*rrset
	// reverse holds the PTR records of cluster IPs and endpoint IPs.
	reverse map[string]*rrset
	soa     []dns.RR
	ttl     uint32
}

// svcRecords are the records of one Service: every name under
// <svc>.<ns>.svc.<domain> and its PTRs. They depend on nothing else, so an
// Update reuses those of an unchanged Service (records are immutable once
// built, so two index versions may share them).
type svcRecords struct {
	names   map[string]*rrset
	reverse map[string]*rrset
	skipped int
}

// buildIndex turns the node's Services into an index, reusing the records
// of prev (keyed by Service hash, hashes[i] that of services[i]) for
// Services that did not change. It
// returns the index, the entries skipped as invalid (an unparsable IP, a
// name that is no DNS label), and the records to reuse next time.
func buildIndex(domain string, ttl time.Duration, serial uint32, services []api.Service,
	hashes []uint64, prev map[uint64]*svcRecords, last *index) (*index, int, map[uint64]*svcRecords) {
	var names, reverse int
	if last != nil {
		// Sized as last time: the maps are most of an Update's cost when
		// few Services changed.
		names, reverse = len(last.names), len(last.reverse)
	}
	ix := &index{
		domain:    domain,
		podSuffix: ".pod." + domain,
		names:     make(map[string]*rrset, names),
		reverse:   make(map[string]*rrset, reverse),
		ttl:       uint32(ttl / time.Second),
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ix.ttl}
	}
	soa := &dns.SOA{
		Hdr:     hdr(domain, dns.TypeSOA),
		Ns:      "ns.dns." + domain,
		Mbox:    "hostmaster." + domain,
		Serial:  serial,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ix.ttl,
	}
	ix.soa = []dns.RR{soa}
	ix.names[domain] = &rrset{all: ix.soa}
	ix.names["dns-version."+domain] = &rrset{all: []dns.RR{
		&dns.TXT{Hdr: hdr("dns-version."+domain, dns.TypeTXT), Txt: []string{schemaVersion}},
	}}
	ix.names["svc."+domain] = &rrset{}
	ix.names["pod."+domain] = &rrset{}
	next := make(map[uint64]*svcRecords, len(services))
	skipped := 0
	for i := range services {
		svc := &services[i]
		h := hashes[i]
		rec := prev[h]
		if rec == nil {
			rec = buildService(domain, ix.ttl, svc)
		}
		next[h] = rec
		skipped += rec.skipped
		ix.merge(rec, strings.ToLower(svc.Namespace))
	}
	return ix, skipped, next
}

// merge adds one Service's records. Its names are its own; its namespace
// becomes an empty non-terminal; PTRs of an address several Services share
// (a pod behind two Services) are concatenated into a new set, leaving the
// Services' own sets untouched.
func (ix *index) merge(rec *svcRecords, ns string) {
	if len(rec.names) == 0 {
		return
	}
	for name, set := range rec.names {
		ix.names[name] = set
	}
	if n := ns + ".svc." + ix.domain; ix.names[n] == nil {
		ix.names[n] = &rrset{}
	}
	for name, set := range rec.reverse {
		cur := ix.reverse[name]
		if cur == nil {
			ix.reverse[name] = set
			continue
		}
		ix.reverse[name] = &rrset{all: append(cur.all[:len(cur.all):len(cur.all)], set.all...)}
	}
}

// hashService hashes what DNS answers from a Service, to find it unchanged.
func hashService(seed maphash.Seed, svc *api.Service) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	str := func(s string) {
		h.WriteString(s)
		h.WriteByte(0)
	}
	num := func(n int64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	flag := func(b bool) {
		if b {
			h.WriteByte(1)
		} else {
			h.WriteByte(0)
		}
	}
	str(svc.Namespace)
	str(svc.Name)
	str(svc.ClusterIP)
	flag(svc.PublishNotReadyAddresses)
	num(int64(len(svc.Ports)))
	for _, p := range svc.Ports {
		str(p.Name)
		str(p.Protocol)
		num(int64(p.Port))
	}
	num(int64(len(svc.Endpoints)))
	for i := range svc.Endpoints {
		ep := &svc.Endpoints[i]
		str(ep.IP)
		str(ep.Hostname)
		flag(ep.Ready)
		num(int64(len(ep.Ports)))
		for _, p := range ep.Ports {
			num(int64(p))
		}
	}
	return h.Sum64()
}

// builder makes one Service's records.
type builder struct {
	ttl  uint32
	root string // <svc>.<ns>.svc.<domain>
	rec  *svcRecords
	// seen dedups records: the same endpoint IP twice (host-network
	// pods), an endpoint's hostname equal to its dashed IP.
	seen map[dedupKey]struct{}
	// srvTargets are the names each SRV owner points at, in order.
	srvTargets map[string][]string
}

func buildService(domain string, ttl uint32, svc *api.Service) *svcRecords {
	rec := &svcRecords{names: map[string]*rrset{}, reverse: map[string]*rrset{}}
	ns, name := strings.ToLower(svc.Namespace), strings.ToLower(svc.Name)
	if !isLabel(ns) || !isLabel(name) {
		rec.skipped = 1
		return rec
	}
	b := &builder{ttl: ttl, root: name + "." + ns + ".svc." + domain, rec: rec, seen: map[dedupKey]struct{}{}}
	rec.skipped = b.service(svc)
	b.finish()
	return rec
}

func (b *builder) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: b.ttl}
}

// ensure returns name's set, creating it and its ancestors up to the
// Service's name as empty non-terminals.
func (b *builder) ensure(name string) *rrset {
	s, ok := b.rec.names[name]
	if ok {
		return s
	}
	s = &rrset{}
	b.rec.names[name] = s
	if name != b.root {
		if i := strings.IndexByte(name, '.'); i >= 0 && len(name[i+1:]) >= len(b.root) {
			b.ensure(name[i+1:])
		}
	}
	return s
}

// dedupKey identifies a record: its owner, and its address or its target
// and port.
type dedupKey struct {
	name   string
	addr   netip.Addr
	target string
	port   int32
}

// add appends an address record at the forward name, once per address.
func (b *builder) add(name string, ip netip.Addr) {
	if b.dup(dedupKey{name: name, addr: ip}) {
		return
	}
	b.ensure(name).append(b.addrRR(name, ip))
}

// addPTR appends a PTR record at a reverse name, once per target.
func (b *builder) addPTR(ip netip.Addr, target string) {
	name, err := dns.ReverseAddr(ip.String())
	if err != nil || b.dup(dedupKey{name: name, target: target}) {
		return
	}
	s := b.rec.reverse[name]
	if s == nil {
		s = &rrset{}
		b.rec.reverse[name] = s
	}
	s.append(&dns.PTR{Hdr: b.hdr(name, dns.TypePTR), Ptr: target})
}

func (b *builder) dup(k dedupKey) bool {
	if _, ok := b.seen[k]; ok {
		return true
	}
	b.seen[k] = struct{}{}
	return false
}

// service adds one Service's records. It returns how many entries it had to
// skip as invalid.
func (b *builder) service(svc *api.Service) (skipped int) {
	svcName := b.root
	headless := svc.ClusterIP == api.ClusterIPNone
	var vip netip.Addr
	if !headless && svc.ClusterIP != "" {
		a, err := netip.ParseAddr(svc.ClusterIP)
		if err != nil {
			skipped++
		} else {
			vip = a.Unmap()
			b.add(svcName, vip)
			b.addPTR(vip, svcName)
		}
	}
	if vip.IsValid() {
		for _, p := range svc.Ports {
			b.srv(svcName, p, p.Port, svcName)
		}
	}
	for i := range svc.Endpoints {
		ep := &svc.Endpoints[i]
		// Kubernetes' "ready": an address DNS publishes.
		if !ep.Ready && !svc.PublishNotReadyAddresses {
			continue
		}
		ip, err := netip.ParseAddr(ep.IP)
		if err != nil {
			skipped++
			continue
		}
		ip = ip.Unmap()
		if headless {
			b.add(svcName, ip)
		}
		// Every published endpoint has its own names, under any Service
		// (CoreDNS answers them for ClusterIP Services too): the pod's
		// hostname when the leader set it (spec.hostname with a subdomain
		// naming this Service) and its dashed IP. The hostname is the
		// canonical one (PTR, SRV targets), as the spec orders them.
		dashed := dashedIP(ip)
		canonical := ""
		for _, l := range []string{strings.ToLower(ep.Hostname), dashed} {
			if !isLabel(l) {
				continue
			}
			n := l + "." + svcName
			b.add(n, ip)
			if canonical == "" {
				canonical = n
			}
		}
		if canonical == "" {
			skipped++
			continue
		}
		b.addPTR(ip, canonical)
		if headless {
			for pi, p := range svc.Ports {
				// The endpoint's own (target) port, as EndpointSlices
				// carry it; 0: the pod has no such port.
				if pi < len(ep.Ports) && ep.Ports[pi] != 0 {
					b.srv(svcName, p, ep.Ports[pi], canonical)
				}
			}
		}
	}
	return skipped
}

// srv adds the SRV record for port p of svcName pointing at target: at
// _<port>._<proto>.<svc> when the port is named (the spec), and at the
// Service's own name for every port (as CoreDNS answers).
func (b *builder) srv(svcName string, p api.ServicePort, port int32, target string) {
	proto := strings.ToLower(p.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	owners := []string{svcName}
	if pn := strings.ToLower(p.Name); isLabel(pn) && isLabel(proto) {
		owners = append(owners, "_"+pn+"._"+proto+"."+svcName)
	}
	for _, o := range owners {
		if b.dup(dedupKey{name: o, target: target, port: port}) {
			continue
		}
		b.ensure(o).append(&dns.SRV{Hdr: b.hdr(o, dns.TypeSRV), Port: uint16(port), Target: target})
		if b.srvTargets == nil {
			b.srvTargets = map[string][]string{}
		}
		b.srvTargets[o] = append(b.srvTargets[o], target)
	}
}

// finish sets the SRV weights (an even spread, as CoreDNS: 100 split over
// the records of one priority) and the additional records of SRV owners.
func (b *builder) finish() {
	for _, s := range b.rec.names {
		s.group()
	}
	for owner, targets := range b.srvTargets {
		s := b.rec.names[owner]
		srvs := s.get(dns.TypeSRV)
		w := uint16(max(1, 100/len(srvs)))
		for _, rr := range srvs {
			rr.(*dns.SRV).Weight = w
		}
		done := map[string]bool{}
		for _, t := range targets {
			if done[t] {
				continue
			}
			done[t] = true
			if ts := b.rec.names[t]; ts != nil {
				s.extra = append(s.extra, ts.get(dns.TypeA)...)
				s.extra = append(s.extra, ts.get(dns.TypeAAAA)...)
			}
		}
	}
}

func (b *builder) addrRR(name string, ip netip.Addr) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: b.hdr(name, dns.TypeA), A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: b.hdr(name, dns.TypeAAAA), AAAA: ip.AsSlice()}
}

// dashedIP is an address as one label: 10-244-1-5, fd00--5.
func dashedIP(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.WithZone("").String(), ":", "-")
}

// podIP parses the first label of a pod name (a-b-c-d, or an IPv6 address
// with dashes for colons), as CoreDNS's "pods insecure" mode does.
func podIP(label string) (netip.Addr, bool) {
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// isLabel reports whether l is one lower-case DNS label (RFC 1123).
func isLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
