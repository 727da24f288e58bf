package netnode

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// vtepMACPrefix starts every VTEP's MAC: 0e is a locally administered
// unicast octet, 5d marks Stevedore's; the last four bytes are the pod
// CIDR's network address. Deriving the MAC from the pod CIDR means nodes
// never need to exchange it: the leader's Network already says everything.
var vtepMACPrefix = []byte{0x0e, 0x5d}

// vtepMAC is the VXLAN MAC of the node owning podCIDR.
func vtepMAC(podCIDR netip.Prefix) net.HardwareAddr {
	a := podCIDR.Masked().Addr().As4()
	return append(bytes.Clone(vtepMACPrefix), a[:]...)
}

// vtepIP is the VXLAN address of the node owning podCIDR: the pod CIDR's
// network address, which no pod or bridge uses (flannel's choice).
func vtepIP(podCIDR netip.Prefix) netip.Addr { return podCIDR.Masked().Addr() }

// route is one peer's route as this node installs it.
type route struct {
	peer  peer
	vxlan bool
	local bool       // the peer's address is this host's
	link  int        // outgoing link for direct routes
	src   netip.Addr // this host's address towards the peer
}

// applyRoutes installs a route to every peer and removes this package's
// routes to anything else, then the VXLAN device's neighbours and
// forwarding entries likewise.
func (n *Node) applyRoutes(p plan) error {
	var errs []error
	var routes []route
	for _, pr := range p.peers {
		r, err := n.classify(pr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.local {
			// Another agent in this same network namespace (several
			// agents on one host, as `make run` without namespaces): its
			// bridge already routes its pod CIDR here.
			n.log.Debug("no route to a node on this host", "peer", pr.name, "ip", pr.ip)
			continue
		}
		routes = append(routes, r)
	}
	var vx netlink.Link
	if anyVXLAN(routes) {
		l, err := n.ensureVXLAN(p.podCIDR, routes)
		if err != nil {
			// Without the device no overlay route can be installed; the
			// direct ones still can.
			errs = append(errs, err)
		}
		vx = l
	} else if err := n.deleteVXLAN(); err != nil {
		errs = append(errs, err)
	}
	keep := map[netip.Prefix]bool{}
	for _, r := range routes {
		if r.vxlan && vx == nil {
			continue
		}
		if err := n.installRoute(r, vx); err != nil {
			errs = append(errs, err)
			continue
		}
		keep[r.peer.podCIDR] = true
	}
	if err := n.removeRoutes(keep); err != nil {
		errs = append(errs, err)
	}
	if vx != nil {
		if err := n.pruneVXLAN(vx, routes); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func anyVXLAN(rs []route) bool {
	for _, r := range rs {
		if r.vxlan {
			return true
		}
	}
	return false
}

// classify decides how to reach a peer: a peer whose address the kernel
// reaches without a gateway is on a connected subnet and gets a direct
// route, unless VXLAN is forced.
func (n *Node) classify(pr peer) (route, error) {
	rs, err := n.nl.RouteGet(net.IP(pr.ip.AsSlice()))
	if err != nil || len(rs) == 0 {
		return route{}, fmt.Errorf("failed to find the route to node %s (%s): %w", pr.name, pr.ip, err)
	}
	if rs[0].Type == unix.RTN_LOCAL {
		return route{peer: pr, local: true}, nil
	}
	r := route{peer: pr, link: rs[0].LinkIndex, vxlan: n.cfg.ForceVXLAN || rs[0].Gw != nil}
	if src, ok := netip.AddrFromSlice(rs[0].Src); ok {
		r.src = src.Unmap()
	}
	return r, nil
}

// installRoute replaces the route to the peer's pod CIDR and, for the
// overlay, its neighbour and forwarding entries.
func (n *Node) installRoute(r route, vx netlink.Link) error {
	nr := &netlink.Route{
		Dst:      prefixNet(r.peer.podCIDR),
		Protocol: netlink.RouteProtocol(n.cfg.RouteProtocol),
	}
	if !r.vxlan {
		nr.LinkIndex, nr.Gw = r.link, net.IP(r.peer.ip.AsSlice())
		if err := n.nl.RouteReplace(nr); err != nil {
			return fmt.Errorf("failed to route %s via node %s (%s): %w", r.peer.podCIDR, r.peer.name, r.peer.ip, err)
		}
		return nil
	}
	idx := vx.Attrs().Index
	mac, gw := vtepMAC(r.peer.podCIDR), net.IP(vtepIP(r.peer.podCIDR).AsSlice())
	// The neighbour and forwarding entries first: a route without them
	// would send into the void.
	if err := n.nl.NeighSet(&netlink.Neigh{
		LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
		IP: gw, HardwareAddr: mac,
	}); err != nil {
		return fmt.Errorf("failed to set the VXLAN neighbour of node %s: %w", r.peer.name, err)
	}
	if err := n.nl.NeighSet(&netlink.Neigh{
		LinkIndex: idx, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF, State: netlink.NUD_PERMANENT,
		IP: net.IP(r.peer.ip.AsSlice()), HardwareAddr: mac,
	}); err != nil {
		return fmt.Errorf("failed to set the VXLAN forwarding entry of node %s: %w", r.peer.name, err)
	}
	nr.LinkIndex, nr.Gw, nr.Flags = idx, gw, int(netlink.FLAG_ONLINK)
	if err := n.nl.RouteReplace(nr); err != nil {
		return fmt.Errorf("failed to route %s over VXLAN to node %s (%s): %w", r.peer.podCIDR, r.peer.name, r.peer.ip, err)
	}
	return nil
}

// removeRoutes deletes this package's routes whose destination keep does
// not hold (all of them when keep is nil).
func (n *Node) removeRoutes(keep map[netip.Prefix]bool) error {
	rs, err := n.nl.RouteListFiltered(unix.AF_INET, &netlink.Route{
		Protocol: netlink.RouteProtocol(n.cfg.RouteProtocol), Table: unix.RT_TABLE_MAIN,
	}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("failed to list routes: %w", err)
	}
	var errs []error
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, _ := netip.AddrFromSlice(r.Dst.IP)
		if keep[netip.PrefixFrom(a.Unmap(), ones)] {
			continue
		}
		if err := n.nl.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("failed to delete route to %s: %w", r.Dst, err))
			continue
		}
		n.log.Info("removed route to a node no longer in the cluster", "dst", r.Dst.String())
	}
	return errors.Join(errs...)
}

// ensureVXLAN creates the overlay device, or recreates one whose settings
// differ (a leftover of another configuration), and gives it this node's
// VTEP address.
func (n *Node) ensureVXLAN(podCIDR netip.Prefix, routes []route) (netlink.Link, error) {
	// The local address is this host's source address towards the first
	// overlay peer: where peers send their VXLAN packets. Its link is the
	// device's lower link, from which the kernel derives the MTU (50 bytes
	// less); without one the device would claim 1500 and every full-size
	// packet would leave as two fragments.
	var src netip.Addr
	lower := 0
	for _, r := range routes {
		if r.vxlan && r.src.IsValid() {
			src, lower = r.src, r.link
			break
		}
	}
	mac := vtepMAC(podCIDR)
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: n.cfg.VXLANName, HardwareAddr: mac},
		VxlanId:      n.cfg.VNI,
		VtepDevIndex: lower,
		Port:         n.cfg.VXLANPort,
		Learning:     false,
	}
	if src.IsValid() {
		want.SrcAddr = net.IP(src.AsSlice())
	}
	l, err := n.nl.LinkByName(n.cfg.VXLANName)
	if err == nil {
		if old, ok := l.(*netlink.Vxlan); !ok || !sameVXLAN(old, want) {
			n.log.Info("recreating a VXLAN device with other settings", "device", n.cfg.VXLANName)
			if err := n.nl.LinkDel(l); err != nil {
				return nil, fmt.Errorf("failed to delete VXLAN device %s: %w", n.cfg.VXLANName, err)
			}
			l = nil
		}
	} else {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("failed to look up VXLAN device %s: %w", n.cfg.VXLANName, err)
		}
		l = nil
	}
	if l == nil {
		if err := n.nl.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("failed to create VXLAN device %s: %w", n.cfg.VXLANName, err)
		}
		if l, err = n.nl.LinkByName(n.cfg.VXLANName); err != nil {
			return nil, fmt.Errorf("failed to look up VXLAN device %s: %w", n.cfg.VXLANName, err)
		}
	}
	if err := n.setVTEPAddr(l, podCIDR); err != nil {
		return nil, err
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("failed to bring VXLAN device %s up: %w", n.cfg.VXLANName, err)
	}
	return l, nil
}

func sameVXLAN(old, want *netlink.Vxlan) bool {
	return old.VxlanId == want.VxlanId && old.Port == want.Port && !old.Learning &&
		old.VtepDevIndex == want.VtepDevIndex &&
		bytes.Equal(old.HardwareAddr, want.HardwareAddr) &&
		(want.SrcAddr == nil || want.SrcAddr.Equal(old.SrcAddr))
}

// setVTEPAddr leaves exactly this node's VTEP address on the device (a
// changed pod CIDR leaves another behind otherwise).
func (n *Node) setVTEPAddr(l netlink.Link, podCIDR netip.Prefix) error {
	want := netip.PrefixFrom(vtepIP(podCIDR), 32)
	addrs, err := n.nl.AddrList(l, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("failed to list addresses of %s: %w", n.cfg.VXLANName, err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		ip, _ := netip.AddrFromSlice(a.IP)
		if netip.PrefixFrom(ip.Unmap(), ones) == want {
			return nil
		}
		if err := n.nl.AddrDel(l, &a); err != nil {
			return fmt.Errorf("failed to remove address %s from %s: %w", a.IPNet, n.cfg.VXLANName, err)
		}
	}
	if err := n.nl.AddrReplace(l, &netlink.Addr{IPNet: prefixNet(want)}); err != nil {
		return fmt.Errorf("failed to add VTEP address %s to %s: %w", want, n.cfg.VXLANName, err)
	}
	return nil
}

// pruneVXLAN removes the neighbour and forwarding entries of nodes no
// longer routed through the overlay.
func (n *Node) pruneVXLAN(vx netlink.Link, routes []route) error {
	wantNeigh, wantFDB := map[string]bool{}, map[string]string{}
	for _, r := range routes {
		if r.vxlan {
			wantNeigh[vtepIP(r.peer.podCIDR).String()] = true
			wantFDB[vtepMAC(r.peer.podCIDR).String()] = r.peer.ip.String()
		}
	}
	idx := vx.Attrs().Index
	var errs []error
	neighs, err := n.nl.NeighList(idx, unix.AF_INET)
	if err != nil {
		errs = append(errs, fmt.Errorf("failed to list VXLAN neighbours: %w", err))
	}
	for _, nb := range neighs {
		if nb.IP == nil || wantNeigh[nb.IP.String()] {
			continue
		}
		if err := n.nl.NeighDel(&nb); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to delete VXLAN neighbour %s: %w", nb.IP, err))
		}
	}
	fdb, err := n.nl.NeighList(idx, unix.AF_BRIDGE)
	if err != nil {
		errs = append(errs, fmt.Errorf("failed to list VXLAN forwarding entries: %w", err))
	}
	for _, e := range fdb {
		if !bytes.HasPrefix(e.HardwareAddr, vtepMACPrefix) {
			continue
		}
		if ip, ok := wantFDB[e.HardwareAddr.String()]; ok && e.IP != nil && e.IP.String() == ip {
			continue
		}
		e.Flags |= netlink.NTF_SELF
		if err := n.nl.NeighDel(&e); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("failed to delete VXLAN forwarding entry %s: %w", e.HardwareAddr, err))
		}
	}
	return errors.Join(errs...)
}

// deleteVXLAN removes the overlay device if it exists; its routes,
// neighbours and forwarding entries go with it.
func (n *Node) deleteVXLAN() error {
	l, err := n.nl.LinkByName(n.cfg.VXLANName)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("failed to look up VXLAN device %s: %w", n.cfg.VXLANName, err)
	}
	if err := n.nl.LinkDel(l); err != nil {
		return fmt.Errorf("failed to delete VXLAN device %s: %w", n.cfg.VXLANName, err)
	}
	return nil
}
