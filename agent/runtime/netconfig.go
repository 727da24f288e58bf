package runtime

// The node's pod network, as the agent configures it.
//
// API (for the agent; the netnode helper wires it):
//
//	runtime.Config{
//	    // NetworkPlugin picks how pods are attached: runtime.NetworkBuiltin
//	    // ("builtin", the zero value: an in-process veth + IPAM over
//	    // netlink, no process per pod) or runtime.NetworkCNI ("cni": the
//	    // CNI bridge + host-local plugins from CNIBinDirs).
//	    NetworkPlugin string
//	    // PodCIDR, when set, configures the pod network at New as if
//	    // SetNetwork had been called with it (tests, a --pod-cidr override).
//	    // Zero (DefaultConfig no longer sets it) means pods wait for
//	    // SetNetwork. A later SetNetwork with another CIDR wins.
//	    PodCIDR string
//	    // ClusterDomain is used with Config.PodCIDR, and when SetNetwork's
//	    // ClusterDomain is empty; zero means "cluster.local".
//	    ClusterDomain string
//	    BridgeName string // as before; zero: "stv-" + hash of NodeName
//	}
//
//	// SetNetwork configures (or re-configures) the node's pod network from
//	// the leader's api.Network: it uses n.PodCIDR, n.ClusterDomain and
//	// n.Services (kept for the Service environment variables of containers
//	// started from then on; the rest of api.Network is for the proxy,
//	// routes and DNS). It ensures the
//	// bridge exists, is up and holds exactly the gateway address (the first
//	// IP of n.PodCIDR), repairing a bridge an earlier run left with another
//	// address; sets net.ipv4.ip_forward=1; and remembers the cluster domain
//	// and DNS address (the gateway IP) for pods' resolv.conf. Idempotent and
//	// cheap when nothing changed (two netlink dumps and a sysctl read): call
//	// it on every PodSet that carries a Network, BEFORE Sync with that
//	// PodSet's pods. An empty n.PodCIDR is a no-op. Until a CIDR is known
//	// new pods stay Pending with reason "NetworkNotReady" and message
//	// "waiting for the node's pod CIDR from the leader"; adopted running
//	// pods are untouched. Should the CIDR change (a fault: the leader keeps
//	// it), it logs an error, moves the bridge to the new gateway and
//	// re-creates the pods whose IP is outside the new CIDR.
//	func (r *Runtime) SetNetwork(ctx context.Context, n api.Network) error
//
//	// Gateway returns the bridge's address (where the node's DNS server
//	// must listen, port 53), "" until the network is configured;
//	// BridgeName the bridge's name (for agent/proxy's Config.Bridge).
//	func (r *Runtime) Gateway() string
//	func (r *Runtime) BridgeName() string

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Network plugins (Config.NetworkPlugin).
const (
	NetworkBuiltin = "builtin"
	NetworkCNI     = "cni"
)

// DefaultClusterDomain is Kubernetes' default cluster domain.
const DefaultClusterDomain = "cluster.local"

// Why a pod waits before its sandbox is made, until the network is known.
const (
	reasonNetworkNotReady = "NetworkNotReady"
	msgNetworkNotReady    = "waiting for the node's pod CIDR from the leader"
)

// netConf is the node's pod network as pods are attached to it.
type netConf struct {
	cidr    *net.IPNet // the network (host bits zero)
	gateway net.IP     // its first address: the bridge's, and the DNS server's
	domain  string
}

// parseNetConf checks an IPv4 pod CIDR (at most a /30, so that it has
// room for a gateway and a pod) and derives the gateway.
func parseNetConf(podCIDR, domain string) (*netConf, error) {
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return nil, fmt.Errorf("invalid pod CIDR %q: %w", podCIDR, err)
	}
	if _, _, err := ipv4Range(cidr); err != nil {
		return nil, fmt.Errorf("invalid pod CIDR %q: %w", podCIDR, err)
	}
	gw := make(net.IP, 4)
	copy(gw, cidr.IP.To4())
	gw[3]++
	if domain == "" {
		domain = DefaultClusterDomain
	}
	return &netConf{cidr: cidr, gateway: gw, domain: strings.TrimSuffix(domain, ".")}, nil
}

func (c *netConf) gatewayNet() *net.IPNet { return &net.IPNet{IP: c.gateway, Mask: c.cidr.Mask} }

func (c *netConf) equal(o *netConf) bool {
	return o != nil && c.cidr.String() == o.cidr.String() && c.domain == o.domain
}

// podNetwork attaches pods to the node's bridge: the built-in network or
// the CNI plugin chain.
type podNetwork interface {
	// setup attaches the pod, in netns stv-<id> (created here), to br
	// and returns its IP.
	setup(ctx context.Context, id string, p podMeta, nc *netConf, br netlink.Link) (string, error)
	// teardownPod detaches the pod and deletes its netns; idempotent,
	// also after a partial setup.
	teardownPod(ctx context.Context, id string, p podMeta) error
	// adopt removes what a killed run left for pods that no longer exist,
	// given the adopted pods (ID → recorded IP).
	adopt(ctx context.Context, live map[string]string, bridge string) error
	// teardown removes the node-wide state (not the bridge).
	teardown(ctx context.Context) error
}

// SetNetwork configures, or re-configures, the node's pod network from the
// leader's: see the API comment at the top of this file.
func (r *Runtime) SetNetwork(ctx context.Context, n api.Network) error {
	_ = ctx // netlink calls do not block
	r.setServices(n.Services)
	if n.PodCIDR == "" {
		// Not allocated yet: nothing to configure, pods keep waiting.
		return nil
	}
	domain := n.ClusterDomain
	if domain == "" {
		domain = r.cfg.ClusterDomain
	}
	nc, err := parseNetConf(n.PodCIDR, domain)
	if err != nil {
		return fmt.Errorf("failed to set pod network: %w", err)
	}
	return r.configureNetwork(nc)
}

// Gateway returns the bridge's address, where pods' resolv.conf points
// (ClusterFirst), or "" before the network is configured.
func (r *Runtime) Gateway() string {
	r.netMu.RLock()
	defer r.netMu.RUnlock()
	if r.netConf == nil {
		return ""
	}
	return r.netConf.gateway.String()
}

// BridgeName returns the node's bridge name (Config.BridgeName, defaulted).
func (r *Runtime) BridgeName() string { return r.cfg.BridgeName }

// configureNetwork makes the bridge and forwarding match nc and makes nc
// the network new pods are attached to. When nothing changed it costs two
// netlink dumps and a sysctl read, and writes nothing.
func (r *Runtime) configureNetwork(nc *netConf) error {
	// The usual case, nothing changed, under the read lock: it must not
	// wait for pods being attached (seconds for 30 pods through CNI).
	r.netMu.RLock()
	if nc.equal(r.netConf) {
		br, err := ensureBridge(r.cfg.BridgeName, nc)
		if err == nil {
			r.reattachPods(br)
			err = enableForwarding()
		}
		r.netMu.RUnlock()
		return err
	}
	r.netMu.RUnlock()
	r.netMu.Lock()
	defer r.netMu.Unlock()
	br, err := ensureBridge(r.cfg.BridgeName, nc)
	if err != nil {
		return err
	}
	r.reattachPods(br)
	if err := enableForwarding(); err != nil {
		return err
	}
	old := r.netConf
	if nc.equal(old) {
		return nil
	}
	// Pods attached by an earlier run (or an older version) get hairpin
	// too; new ones get it when attached.
	if err := hairpinPorts(br); err != nil {
		r.log.Warn("failed to enable hairpin on bridge ports", "bridge", r.cfg.BridgeName, "err", err)
	}
	r.netConf = nc
	r.netReadyOnce.Do(func() { close(r.netReady) })
	if old == nil {
		r.log.Info("pod network configured", "podCIDR", nc.cidr.String(), "gateway", nc.gateway.String(), "bridge", r.cfg.BridgeName, "plugin", r.cfg.NetworkPlugin)
		return nil
	}
	if old.cidr.String() == nc.cidr.String() {
		r.log.Info("cluster domain changed; new pods use it", "domain", nc.domain)
		return nil
	}
	// The leader keeps a node's pod CIDR for the node's life, so this is
	// a fault (a lost raft state, an operator's override). Pods of the
	// old CIDR lost their gateway with the bridge's old address: they are
	// re-created in the new one, as a changed spec would be.
	r.log.Error("POD CIDR CHANGED while pods run: re-creating the pods outside the new CIDR", "old", old.cidr.String(), "new", nc.cidr.String())
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	for uid, w := range r.pods {
		ip := net.ParseIP(w.ip)
		if w.stopping() || ip == nil || nc.cidr.Contains(ip) || w.hostNetwork() {
			continue
		}
		w.stop()
		nw := newPodWorker(r, w.pod, w)
		r.pods[uid] = nw
		r.startWorker(nw)
	}
	r.notifyLocked()
	return nil
}

// hostPorter is a podNetwork that knows the host end of its pods' links.
type hostPorter interface {
	// hostPorts names the bridge port of every pod it holds an IP for.
	hostPorts() []string
}

// reattachPods puts the pods' host veths back on br when br is not the
// bridge they were last seen on: a bridge deleted by hand (or by a
// cleanup script) while pods run, which ensureBridge then recreated,
// leaves their veths on no bridge and the pods cut off, until they are
// re-created. Seen through the bridge's ifindex, so the usual call costs
// nothing.
func (r *Runtime) reattachPods(br netlink.Link) {
	idx := int32(br.Attrs().Index)
	if r.bridgeIndex.Swap(idx) == idx {
		return
	}
	hp, ok := r.net.(hostPorter)
	if !ok {
		return // CNI: its plugins own the ports
	}
	n, err := attachPorts(br, hp.hostPorts())
	if n > 0 {
		r.log.Warn("put pods back on their bridge (it was deleted and recreated)", "bridge", br.Attrs().Name, "pods", n)
	}
	if err != nil {
		r.bridgeIndex.Store(0) // try again at the next call
		r.log.Error("failed to put pods back on their bridge", "bridge", br.Attrs().Name, "err", err)
	}
}

// attachPorts enslaves the named links that exist and are not on br to br,
// with hairpin, up; it returns how many it moved.
func attachPorts(br netlink.Link, names []string) (int, error) {
	var errs []error
	n := 0
	for _, name := range names {
		l, err := netlink.LinkByName(name)
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to find veth %s: %w", name, err))
			continue
		}
		if l.Attrs().MasterIndex == br.Attrs().Index {
			continue
		}
		if err := netlink.LinkSetMasterByIndex(l, br.Attrs().Index); err != nil {
			errs = append(errs, fmt.Errorf("failed to attach veth %s to bridge: %w", name, err))
			continue
		}
		if err := netlink.LinkSetHairpin(l, true); err != nil {
			errs = append(errs, fmt.Errorf("failed to set hairpin on %s: %w", name, err))
		}
		if err := netlink.LinkSetUp(l); err != nil {
			errs = append(errs, fmt.Errorf("failed to bring up veth %s: %w", name, err))
		}
		n++
	}
	return n, errors.Join(errs...)
}

// ensureBridge makes the bridge exist, be up and hold exactly the gateway
// address (IPv4). A bridge a previous run left with another address is
// repaired rather than refused: the agent owns its bridge. Safe to call
// concurrently (a lost creation race is an existing bridge).
func ensureBridge(name string, nc *netConf) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
		br.Name = name
		// A fixed MAC: otherwise the bridge takes its lowest port's, and
		// the gateway's MAC changes under the pods whenever a pod with a
		// lower one comes or goes.
		br.HardwareAddr = bridgeMAC(name)
		if aerr := netlink.LinkAdd(br); aerr != nil && !errors.Is(aerr, os.ErrExist) {
			return nil, fmt.Errorf("failed to create bridge %s: %w", name, aerr)
		}
		link, err = netlink.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to find bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return nil, fmt.Errorf("failed to use bridge %s: it is a %s link", name, link.Type())
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("failed to list addresses of bridge %s: %w", name, err)
	}
	want := nc.gatewayNet()
	has := false
	for _, a := range addrs {
		if a.IPNet.String() == want.String() {
			has = true
			continue
		}
		if err := netlink.AddrDel(link, &a); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.EADDRNOTAVAIL) {
			return nil, fmt.Errorf("failed to remove stale address %s from bridge %s: %w", a.IPNet, name, err)
		}
	}
	if !has {
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: want}); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("failed to set address %s on bridge %s: %w", want, name, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("failed to bring up bridge %s: %w", name, err)
		}
	}
	return link, nil
}

// hairpinPorts turns hairpin mode on for every veth on the bridge.
func hairpinPorts(br netlink.Link) error {
	links, err := netlink.LinkList()
	if err != nil {
		return fmt.Errorf("failed to list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index && l.Type() == "veth" {
			if err := netlink.LinkSetHairpin(l, true); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("failed to set hairpin on %s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// bridgeMAC is a locally administered unicast MAC derived from the name.
func bridgeMAC(name string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("bridge/" + name))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

// deleteBridge removes the bridge; a missing one is fine.
func deleteBridge(name string) error {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to find bridge %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to delete bridge %s: %w", name, err)
	}
	return nil
}

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableForwarding sets net.ipv4.ip_forward=1 (pods reach other nodes and
// Services through the host), writing only when it is not set.
func enableForwarding() error {
	b, err := os.ReadFile(ipForwardPath)
	if err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("failed to enable IPv4 forwarding: %w", err)
	}
	return nil
}

// ensureBridgeFast returns the bridge when it exists, and otherwise makes
// it: one netlink lookup on a pod's start path.
func ensureBridgeFast(name string, nc *netConf) (netlink.Link, error) {
	if link, err := netlink.LinkByName(name); err == nil && link.Attrs().Flags&net.FlagUp != 0 {
		return link, nil
	}
	return ensureBridge(name, nc)
}
