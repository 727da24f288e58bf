package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// builtinNet is the default pod network, done in process over netlink: per
// pod a veth pair made in one request with its pod end already in the pod's
// netns (named eth0 there), the host end on the bridge with hairpin on, and
// an IP from the in-process IPAM. No plugin process is started per pod,
// which is most of what the CNI chain costs on the start path.
type builtinNet struct {
	ipam *ipam
	dir  string
}

func newBuiltinNet(dataDir string) (*builtinNet, error) {
	dir := filepath.Join(dataDir, "network")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create %s: %w", dir, err)
	}
	a, err := loadIPAM(filepath.Join(dir, "ipam.json"))
	if err != nil {
		return nil, err
	}
	return &builtinNet{ipam: a, dir: dir}, nil
}

// hostVeth names the host end of a pod's veth pair: "stv" and the pod ID
// (12 hex digits), 15 bytes, the kernel's limit. Derived from the ID, so
// teardown needs no state to find it.
func hostVeth(id string) string {
	n := "stv" + id
	if len(n) > 15 {
		n = n[:15]
	}
	return n
}

func (b *builtinNet) setup(ctx context.Context, id string, p podMeta, nc *netConf, br netlink.Link) (string, error) {
	_, _ = ctx, p
	// The IP is allocated, and so durably recorded as this pod's, before
	// anything exists in the kernel: whatever a killed run leaves is then
	// found through the IPAM file.
	ip, err := b.ipam.allocate(id, nc.cidr, nc.gateway)
	if err != nil {
		return "", err
	}
	// Left by a failed attempt or a sandbox being rebuilt: start afresh.
	if err := removePodLinks(id); err != nil {
		return "", err
	}
	host := hostVeth(id)
	mtu := br.Attrs().MTU
	_, err = createNetns(id, func(hostNS netns.NsHandle) error {
		// In the pod's netns: eth0 here, its peer created straight in
		// the host's netns.
		veth := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: host, PeerNamespace: netlink.NsFd(hostNS)}
		veth.Name = "eth0"
		veth.MTU = mtu
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("failed to create veth pair: %w", err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: nc.cidr.Mask}}
		if err := netlink.AddrAdd(veth, addr); err != nil {
			return fmt.Errorf("failed to set pod address %s: %w", addr.IPNet, err)
		}
		if err := netlink.LinkSetUp(veth); err != nil {
			return fmt.Errorf("failed to bring up eth0: %w", err)
		}
		route := &netlink.Route{LinkIndex: veth.Index, Gw: nc.gateway}
		if err := netlink.RouteAdd(route); err != nil {
			return fmt.Errorf("failed to add default route via %s: %w", nc.gateway, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	link, err := netlink.LinkByName(host)
	if err != nil {
		return "", fmt.Errorf("failed to find veth %s: %w", host, err)
	}
	if err := netlink.LinkSetMasterByIndex(link, br.Attrs().Index); err != nil {
		return "", fmt.Errorf("failed to attach veth %s to bridge: %w", host, err)
	}
	// Hairpin: a pod reaching itself through a Service's virtual IP gets
	// its packets back through the port they came from.
	if err := netlink.LinkSetHairpin(link, true); err != nil {
		return "", fmt.Errorf("failed to set hairpin on %s: %w", host, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return "", fmt.Errorf("failed to bring up veth %s: %w", host, err)
	}
	return ip.String(), nil
}

// hostPorts names the host veth of every pod holding an IP.
func (b *builtinNet) hostPorts() []string {
	ids := b.ipam.ids()
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, hostVeth(id))
	}
	return out
}

// removePodLinks deletes the pod's host veth (and so its peer) and netns.
func removePodLinks(id string) error {
	var errs []error
	if err := deleteLink(hostVeth(id)); err != nil {
		errs = append(errs, err)
	}
	if err := deleteNetns(id); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteLink deletes a link by name; a missing one is fine.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to find link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to delete link %s: %w", name, err)
	}
	return nil
}

// teardownPod removes the veth and netns, then releases the IP: the IP
// stays recorded until nothing of the pod is left, so that a failure here
// is retried at the next start.
func (b *builtinNet) teardownPod(ctx context.Context, id string, p podMeta) error {
	_, _ = ctx, p
	if err := removePodLinks(id); err != nil {
		return err
	}
	return b.ipam.release(id)
}

// adopt drops the IPAM entries of pods that are gone, with their veth and
// netns, and removes veths on the bridge that belong to no adopted pod
// (made by a run killed between creating the pair and recording the pod,
// or by hand). Only veths on this node's own bridge and namespaces in this
// node's IPAM file are touched: other agents on the same host keep theirs.
func (b *builtinNet) adopt(ctx context.Context, live map[string]string, bridge string) error {
	_ = ctx
	stale, err := b.ipam.retain(live)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range stale {
		if err := removePodLinks(id); err != nil {
			errs = append(errs, err)
		}
	}
	br, err := netlink.LinkByName(bridge)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return errors.Join(errs...)
	}
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("failed to find bridge %s: %w", bridge, err))...)
	}
	ports := map[string]bool{}
	for id := range live {
		ports[hostVeth(id)] = true
	}
	links, err := netlink.LinkList()
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("failed to list links: %w", err))...)
	}
	for _, l := range links {
		a := l.Attrs()
		if a.MasterIndex != br.Attrs().Index || l.Type() != "veth" || ports[a.Name] {
			continue
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("failed to delete stray veth %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (b *builtinNet) teardown(ctx context.Context) error {
	_ = ctx
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("failed to remove %s: %w", b.dir, err)
	}
	// A later Sync allocates again (Teardown keeps the Runtime usable).
	b.ipam.mu.Lock()
	b.ipam.st = ipamState{Pods: map[string]string{}}
	b.ipam.mu.Unlock()
	return os.MkdirAll(b.dir, 0o700)
}
