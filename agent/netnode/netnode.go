// Package netnode connects this node's pods to every other node's: a route
// per peer pod CIDR (straight through the peer when it shares a network
// with this host, like flannel's host-gw; through a VXLAN overlay when it
// does not), masquerade for pod traffic leaving the cluster, a forward
// accept for pod traffic, and the sysctls routing needs. Everything goes
// through netlink (vishvananda/netlink, google/nftables), never through
// command-line tools.
//
// The package owns what it creates and only that: routes carry its own
// route protocol number, the VXLAN device and the nftables table are its
// own names. Apply is level-triggered: it makes the host match the network
// it is given, removing what a previous Apply (in this process or an
// earlier one) left for nodes no longer listed, so an agent restarted after
// a kill repairs instead of failing on leftovers.
//
// A Node works in the network namespace it was given (Config.NetNSPath),
// or the one the process was in when New was called: the tests run several
// "hosts" as namespaces in one process.
package netnode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Defaults used by validate for zero fields.
const (
	DefaultTable     = "stevedore-node"
	DefaultVXLANName = "stv-vxlan"
	// DefaultVXLANPort is flannel's (and the Linux kernel's historical)
	// VXLAN port rather than IANA's 4789, so a host that already runs a
	// 4789 overlay (Docker swarm, OVS) keeps it.
	DefaultVXLANPort = 8472
	// DefaultVNI is the VXLAN network identifier: one overlay per cluster.
	DefaultVNI = 1
	// DefaultRouteProtocol tags every route this package installs
	// (rtnetlink's rtm_protocol; 83 is "S", unused by the well-known
	// routing daemons in /etc/iproute2/rt_protos), so that it removes only
	// its own.
	DefaultRouteProtocol = 83
)

// Config configures a Node.
type Config struct {
	// NodeName is this node's name: its own entry in Network.Nodes is
	// skipped. Required.
	NodeName string
	// Bridge is the pods' bridge (the runtime's): traffic leaving through
	// it stays inside the node and is not masqueraded. Zero masquerades by
	// destination only.
	Bridge string
	// Table is the nftables table (family ip); zero means DefaultTable.
	Table string
	// VXLANName is the overlay device; zero means DefaultVXLANName.
	VXLANName string
	// VXLANPort is the overlay's UDP port; zero means DefaultVXLANPort.
	// Every node must use the same.
	VXLANPort int
	// VNI is the VXLAN network identifier; zero means DefaultVNI.
	VNI int
	// ForceVXLAN routes every peer through the overlay, even one on a
	// directly connected subnet (tests on one L2 network, or networks that
	// drop packets with foreign source addresses, as some clouds do).
	// Every node must use the same.
	ForceVXLAN bool
	// RouteProtocol tags this package's routes; zero means
	// DefaultRouteProtocol.
	RouteProtocol int
	// NetNSPath is the network namespace to work in (a file such as
	// /var/run/netns/NAME or /proc/PID/ns/net); zero means the namespace
	// of the thread calling New.
	NetNSPath string
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.NodeName == "" {
		return errNoNodeName
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.VXLANName == "" {
		c.VXLANName = DefaultVXLANName
	}
	if len(c.VXLANName) > 15 || (c.Bridge != "" && len(c.Bridge) > 15) {
		return errLongName
	}
	if c.VXLANPort == 0 {
		c.VXLANPort = DefaultVXLANPort
	}
	if c.VXLANPort < 1 || c.VXLANPort > 65535 {
		return fmt.Errorf("vxlan port %d: %w", c.VXLANPort, errBadPort)
	}
	if c.VNI == 0 {
		c.VNI = DefaultVNI
	}
	if c.RouteProtocol == 0 {
		c.RouteProtocol = DefaultRouteProtocol
	}
	if c.RouteProtocol < 5 || c.RouteProtocol > 255 {
		// 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
		return fmt.Errorf("route protocol %d: %w", c.RouteProtocol, errBadProtocol)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

var (
	errNoNodeName  = errors.New("node name is required")
	errLongName    = errors.New("interface names are at most 15 bytes")
	errBadPort     = errors.New("want a port between 1 and 65535")
	errBadProtocol = errors.New("want a route protocol between 5 and 255")
	errNoPodCIDR   = errors.New("network has no pod CIDR")
	errClosed      = errors.New("node network closed")
)

// Node is this node's share of the cluster network. Its methods may be
// called from several goroutines; they are serialised.
type Node struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	ns     netns.NsHandle // -1 (None) when working in the caller's namespace
	nl     *netlink.Handle
	closed bool
}

// New validates cfg and opens netlink handles in the configured namespace.
// It changes nothing on the host.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to validate node network config: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("component", "netnode"), ns: netns.None()}
	var err error
	if cfg.NetNSPath != "" {
		if n.ns, err = netns.GetFromPath(cfg.NetNSPath); err != nil {
			return nil, fmt.Errorf("failed to open network namespace %s: %w", cfg.NetNSPath, err)
		}
		n.nl, err = netlink.NewHandleAt(n.ns)
	} else {
		// The namespace is pinned now, so later calls from other threads
		// still work where New was called.
		if n.ns, err = netns.Get(); err != nil {
			return nil, fmt.Errorf("failed to open the current network namespace: %w", err)
		}
		n.nl, err = netlink.NewHandleAt(n.ns)
	}
	if err != nil {
		n.ns.Close()
		return nil, fmt.Errorf("failed to open netlink: %w", err)
	}
	return n, nil
}

// nft opens an nftables connection in the node's namespace.
func (n *Node) nft() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(n.ns)))
	if err != nil {
		return nil, fmt.Errorf("failed to open nftables: %w", err)
	}
	return c, nil
}

// plan is one Apply's network, parsed.
type plan struct {
	podCIDR     netip.Prefix
	clusterCIDR netip.Prefix
	peers       []peer
}

// peer is another node with a pod CIDR to route to.
type peer struct {
	name    string
	ip      netip.Addr
	podCIDR netip.Prefix
}

// parse validates n. Peers with unusable addresses are skipped with a
// warning rather than failing the whole network: one bad entry must not cut
// this node off from every other.
func (n *Node) parse(nw api.Network) (plan, error) {
	var p plan
	if nw.PodCIDR == "" {
		return p, errNoPodCIDR
	}
	pc, err := netip.ParsePrefix(nw.PodCIDR)
	if err != nil || !pc.Addr().Is4() {
		return p, fmt.Errorf("failed to parse pod CIDR %q: want an IPv4 prefix", nw.PodCIDR)
	}
	p.podCIDR = pc.Masked()
	p.clusterCIDR = p.podCIDR
	if nw.ClusterCIDR != "" {
		cc, err := netip.ParsePrefix(nw.ClusterCIDR)
		if err != nil || !cc.Addr().Is4() {
			return p, fmt.Errorf("failed to parse cluster CIDR %q: want an IPv4 prefix", nw.ClusterCIDR)
		}
		p.clusterCIDR = cc.Masked()
	}
	for _, r := range nw.Nodes {
		if r.Name == n.cfg.NodeName {
			continue
		}
		if r.PodCIDR == "" {
			// Not allocated yet: nothing to route.
			n.log.Debug("skipped a node without a pod CIDR", "peer", r.Name)
			continue
		}
		ip, err1 := netip.ParseAddr(r.IP)
		cidr, err2 := netip.ParsePrefix(r.PodCIDR)
		if err1 != nil || err2 != nil || !ip.Is4() || !cidr.Addr().Is4() {
			n.log.Warn("skipped a node with an unusable address or pod CIDR", "peer", r.Name, "ip", r.IP, "podCIDR", r.PodCIDR)
			continue
		}
		cidr = cidr.Masked()
		if cidr.Overlaps(p.podCIDR) {
			n.log.Warn("skipped a node whose pod CIDR overlaps this node's", "peer", r.Name, "podCIDR", r.PodCIDR, "own", p.podCIDR)
			continue
		}
		p.peers = append(p.peers, peer{name: r.Name, ip: ip, podCIDR: cidr})
	}
	sort.Slice(p.peers, func(i, j int) bool { return p.peers[i].name < p.peers[j].name })
	return p, nil
}

// Apply makes the host match nw: sysctls, routes to every other node's pod
// CIDR (direct or VXLAN), removal of routes to nodes no longer listed, and
// the nftables table (masquerade, forward accept), replaced in one batch.
// It is idempotent. Errors of the steps are joined; a failed step does not
// stop the later ones.
func (n *Node) Apply(nw api.Network) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	p, err := n.parse(nw)
	if err != nil {
		return fmt.Errorf("failed to apply node network: %w", err)
	}
	var errs []error
	if err := n.setSysctls(); err != nil {
		errs = append(errs, err)
	}
	if err := n.applyRoutes(p); err != nil {
		errs = append(errs, err)
	}
	if err := n.applyTable(p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Teardown removes everything the Node installs: its routes, the VXLAN
// device (with its neighbours and forwarding entries) and the nftables
// table. The sysctls stay: other software may rely on forwarding.
func (n *Node) Teardown() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errClosed
	}
	var errs []error
	if err := n.removeRoutes(nil); err != nil {
		errs = append(errs, err)
	}
	if err := n.deleteVXLAN(); err != nil {
		errs = append(errs, err)
	}
	if err := n.deleteTable(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Close releases the netlink handles. It leaves routes and rules in place:
// pods keep running across an agent restart, and so must their network.
// Safe to call twice.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	n.nl.Close()
	return n.ns.Close()
}

// prefixNet converts for netlink.
func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
