package dns

import (
	"net"
	"strings"

	"github.com/miekg/dns"
)

// serveDNS is the dns.Handler of every listener.
func (s *Server) serveDNS(w dns.ResponseWriter, r *dns.Msg) {
	_, tcp := w.LocalAddr().(*net.TCPAddr)
	m := s.handle(r, tcp)
	if m == nil {
		return
	}
	if tcp {
		// Past 64 KiB even TCP cannot carry it (a headless Service with
		// thousands of pods): send what fits rather than nothing.
		m.Truncate(dns.MaxMsgSize)
	} else {
		// Large answers are cut to what the client can take, with TC set
		// so that it retries over TCP.
		m.Truncate(udpSize(r))
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("failed to write DNS response", "client", w.RemoteAddr().String(), "err", err)
	}
}

// handle answers one query: cluster names from the index, the PTRs of
// cluster addresses, everything else from the upstreams. A nil answer means
// none should be sent.
func (s *Server) handle(r *dns.Msg, tcp bool) *dns.Msg {
	if r.Response {
		return nil
	}
	if r.Opcode != dns.OpcodeQuery {
		return reply(r, dns.RcodeNotImplemented)
	}
	if len(r.Question) != 1 {
		return reply(r, dns.RcodeFormatError)
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	ix := s.idx.Load()
	if name == s.cfg.Domain || strings.HasSuffix(name, s.dotDomain) {
		// Names under the domain are never forwarded: the search path makes
		// clients ask many that do not exist (web.default.svc.cluster.local
		// .default.svc.cluster.local), and those must fail at once.
		if ix == nil {
			// Not synced yet: an NXDOMAIN now would be cached as the truth.
			return reply(r, dns.RcodeServerFailure)
		}
		return withEdns(ix.answer(r, q.Qtype, name), r)
	}
	if ix != nil && (q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY) {
		if set := ix.reverse[name]; set != nil {
			m := reply(r, dns.RcodeSuccess)
			m.Authoritative = true
			m.Answer = set.all[:len(set.all):len(set.all)]
			return withEdns(m, r)
		}
	}
	return s.fwd.forward(r, tcp)
}

// answer answers a question about name, a lower-case name under the
// domain.
func (ix *index) answer(r *dns.Msg, qtype uint16, name string) *dns.Msg {
	m := reply(r, dns.RcodeSuccess)
	m.Authoritative = true
	set := ix.names[name]
	if set == nil {
		set = ix.pod(name)
	}
	if set == nil {
		m.Rcode = dns.RcodeNameError
		m.Ns = ix.soa
		return m
	}
	rrs := set.get(qtype)
	if len(rrs) == 0 {
		// NODATA: the name exists with other types (AAAA of a Service
		// with an IPv4 address, or an empty non-terminal).
		m.Ns = ix.soa
		return m
	}
	m.Answer = rrs[:len(rrs):len(rrs)]
	if qtype == dns.TypeSRV || qtype == dns.TypeANY {
		m.Extra = set.extra[:len(set.extra):len(set.extra)]
	}
	return m
}

// pod answers <a-b-c-d>.<ns>.pod.<domain> with a.b.c.d for any namespace
// and any address (CoreDNS's "pods insecure", the spec's deprecated but
// required record), and <ns>.pod.<domain> as an empty non-terminal.
func (ix *index) pod(name string) *rrset {
	rest, ok := strings.CutSuffix(name, ix.podSuffix)
	if !ok || rest == "" {
		return nil
	}
	label, ns, ok := strings.Cut(rest, ".")
	if !ok {
		// <ns>.pod.<domain>
		return &rrset{}
	}
	if strings.Contains(ns, ".") {
		return nil
	}
	ip, ok := podIP(label)
	if !ok {
		return nil
	}
	s := &rrset{}
	var rr dns.RR
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ix.ttl}
	if ip.Is4() {
		hdr.Rrtype = dns.TypeA
		rr = &dns.A{Hdr: hdr, A: ip.AsSlice()}
	} else {
		hdr.Rrtype = dns.TypeAAAA
		rr = &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()}
	}
	s.append(rr)
	return s
}

// reply is an empty answer to r with rcode, recursion offered.
func reply(r *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	m.RecursionAvailable = true
	return m
}

// ednsSize is the UDP payload this server offers (DNS flag day 2020).
const ednsSize = 1232

// withEdns adds an OPT record when the query had one (RFC 6891).
func withEdns(m, r *dns.Msg) *dns.Msg {
	if r.IsEdns0() != nil {
		m.SetEdns0(ednsSize, false)
	}
	return m
}

// udpSize is the largest UDP answer the client of r accepts.
func udpSize(r *dns.Msg) int {
	if o := r.IsEdns0(); o != nil && int(o.UDPSize()) > dns.MinMsgSize {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}
