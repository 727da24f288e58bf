package hollow

import "net/netip"

// ipPool hands out the pod addresses of one pod CIDR round-robin, as the
// host-local IPAM does: the next free address after the last one given,
// wrapping around, so an address just freed is not reused at once (a
// stale endpoint would reach the wrong pod). The network address, the
// bridge's (the first) and the broadcast address are never given.
type ipPool struct {
	first, last netip.Addr // usable range, inclusive; invalid when empty
	next        netip.Addr
	used        map[netip.Addr]struct{}
	size        uint64 // usable addresses, capped at 1<<32
}

func newIPPool(p netip.Prefix) ipPool {
	p = p.Masked()
	hostBits := p.Addr().BitLen() - p.Bits()
	if hostBits < 2 { // a /31 or /32 has no address beside the bridge's
		return ipPool{}
	}
	first := p.Addr().Next().Next()
	last := lastAddr(p).Prev()
	size := uint64(1) << min(hostBits, 32)
	return ipPool{first: first, last: last, next: first, used: map[netip.Addr]struct{}{}, size: size - 3}
}

// alloc returns the next free address, or an invalid one when all are
// taken.
func (p *ipPool) alloc() netip.Addr {
	if !p.first.IsValid() || p.free() == 0 {
		return netip.Addr{}
	}
	for ip := p.next; ; {
		next := ip.Next()
		if ip == p.last {
			next = p.first
		}
		if _, taken := p.used[ip]; !taken {
			p.used[ip] = struct{}{}
			p.next = next
			return ip
		}
		ip = next
	}
}

// take marks ip held (a pod that keeps its address across a change of
// network); an address the pool never gives is left alone, and tells the
// caller so (false).
func (p *ipPool) take(ip netip.Addr) bool {
	if !p.first.IsValid() || ip.Less(p.first) || p.last.Less(ip) {
		return false
	}
	p.used[ip] = struct{}{}
	return true
}

func (p *ipPool) release(ip netip.Addr) { delete(p.used, ip) }

// free is how many addresses are left.
func (p *ipPool) free() uint64 {
	if !p.first.IsValid() {
		return 0
	}
	return p.size - uint64(len(p.used))
}

// lastAddr is the prefix's last (broadcast) address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
