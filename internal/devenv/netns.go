package devenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/innetns"
)

// A cluster with ClusterConfig.Netns runs every reconciler and agent in a
// network namespace of its own, as if each were a host: one veth pair per
// process, whose root end is a port of one bridge in the root namespace.
// The bridge holds the subnet's .1, so the tests, ctl, the post-receive hook
// and the registry (which listens on that address) reach every process from
// the root namespace; a partition is a root-side veth taken down.
//
// Names derive from the node prefix, so clusters with different prefixes
// never touch each other's: namespaces are sdev-<prefix>-r<i> (reconciler
// i) and sdev-<prefix>-a<i> (agent i), links are sd<6 hex of the prefix's
// hash> followed by "br" (the bridge) or the namespace's short name (the
// root end of its veth; the other end is eth0 inside). Interface names are
// limited to 15 bytes, hence the hash.

// netnsDir is where `ip netns` keeps named namespaces.
const netnsDir = "/var/run/netns"

// Host addresses inside a cluster's /24: the bridge, then reconciler i at
// firstReconcilerHost+i and agent i at firstAgentHost+i (0-based).
const (
	firstReconcilerHost = 11
	firstAgentHost      = 101
	maxReconcilers      = firstAgentHost - firstReconcilerHost
	maxAgents           = 254 - firstAgentHost
)

// Fixed ports inside a namespace: every process has an address of its own,
// so there is no need to hunt for free ports.
const (
	nsAPIPort    = 7070
	nsGossipPort = 7946
	nsRaftPort   = 7947
	nsAgentPort  = 7071
)

// hostNet is the bridge and the namespaces of one cluster.
type hostNet struct {
	prefix string
	tag    string // sd + 6 hex digits: the prefix of every link name
	subnet netip.Prefix
}

func newHostNet(prefix string, subnet netip.Prefix) *hostNet {
	sum := sha256.Sum256([]byte(prefix))
	return &hostNet{prefix: prefix, tag: "sd" + hex.EncodeToString(sum[:])[:6], subnet: subnet}
}

func (h *hostNet) bridge() string { return h.tag + "br" }

// nsName is the namespace of the process with short name ("r1", "a3").
func (h *hostNet) nsName(short string) string { return "sdev-" + h.prefix + "-" + short }

// veth is the root end of the process's veth pair.
func (h *hostNet) veth(short string) string { return h.tag + short }

// host returns the subnet's address number n (1 is the bridge).
func (h *hostNet) host(n int) netip.Addr {
	a := h.subnet.Addr().As4()
	a[3] = byte(n)
	return netip.AddrFrom4(a)
}

func (h *hostNet) gateway() netip.Addr { return h.host(1) }

// ip runs the ip command; an error carries its output.
func ip(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("failed to run ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// create removes what a killed run with the same prefix left, then creates
// the bridge holding the gateway address.
func (h *hostNet) create(ctx context.Context) error {
	if err := h.remove(ctx); err != nil {
		return fmt.Errorf("failed to remove leftovers of an earlier run: %w", err)
	}
	br := h.bridge()
	for _, args := range [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", netip.PrefixFrom(h.gateway(), h.subnet.Bits()).String(), "dev", br},
		{"link", "set", br, "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// addHost creates namespace short's namespace, its veth pair on the bridge
// and the address addr on its eth0.
func (h *hostNet) addHost(ctx context.Context, short string, addr netip.Addr) error {
	ns, veth := h.nsName(short), h.veth(short)
	for _, args := range [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", h.bridge(), "up"},
		{"-n", ns, "addr", "add", netip.PrefixFrom(addr, h.subnet.Bits()).String(), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// routePods lets the root namespace reach the pods of the agent at addr,
// whose pod bridge lives inside its namespace: a route to its pod CIDR (the
// leader's allocation) through it. Pods have a default route through their
// node's bridge, so their answers find the way back.
func (h *hostNet) routePods(ctx context.Context, addr netip.Addr, podCIDR string) error {
	return ip(ctx, "route", "replace", podCIDR, "via", addr.String(), "dev", h.bridge())
}

// setLink takes short's root-side veth up or down.
func (h *hostNet) setLink(ctx context.Context, short string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	return ip(ctx, "link", "set", h.veth(short), state)
}

// names lists the namespaces and links of this prefix that exist now.
func (h *hostNet) names(ctx context.Context) (nss, links []string, err error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to list network namespaces: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], "sdev-"+h.prefix+"-") {
			nss = append(nss, f[0])
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to list links: %w", err)
	}
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, h.tag) {
			links = append(links, i.Name)
		}
	}
	return nss, links, nil
}

// remove deletes every namespace and link of this prefix: deleting a
// namespace deletes its veth pair (and whatever bridge an agent made in it),
// deleting the bridge its routes. Safe to call when nothing exists.
func (h *hostNet) remove(ctx context.Context) error {
	nss, _, err := h.names(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, ns := range nss {
		if err := ip(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	_, links, err := h.names(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, l := range links {
		if err := ip(ctx, "link", "del", l); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
			errs = append(errs, err)
		}
	}
	// The kernel dismantles a deleted namespace in the background: wait
	// (bounded) until its veths are gone too, so that a check right after
	// Stop, or the next start, sees a clean host.
	if err := waitFor(ctx, 10*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		nss, links, err := h.names(ctx)
		if err == nil && len(nss)+len(links) > 0 {
			err = fmt.Errorf("still present: %v %v", nss, links)
		}
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// leftovers lists the namespaces and links of this prefix still present.
func (h *hostNet) leftovers(ctx context.Context) ([]string, error) {
	nss, links, err := h.names(ctx)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, n := range nss {
		left = append(left, "network namespace "+n)
	}
	for _, l := range links {
		left = append(left, "link "+l)
	}
	return left, nil
}

// freeHostSubnet picks 10.X.0.0/24 with X in 200–249 (the pod CIDRs use
// 100–199) that no route or address on the host overlaps yet.
func freeHostSubnet() (netip.Prefix, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("failed to list routes (install iproute2): %w", err)
	}
	used := string(out)
	for range 50 {
		n, _ := rand.Int(rand.Reader, big.NewInt(50))
		x := 200 + int(n.Int64())
		if !strings.Contains(used, fmt.Sprintf("10.%d.", x)) {
			return netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/24", x)), nil
		}
	}
	return netip.Prefix{}, errors.New("failed to find a free 10.X.0.0/24 for the cluster's bridge")
}

// dialInNetns returns a DialContext that connects from inside the named
// network namespace, so a process can be reached while its link is cut
// (innetns.Run says how the thread is switched, and why back).
func dialInNetns(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := filepath.Join(netnsDir, name)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return innetns.Run(path, func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, network, addr) })
	}
}

// DialInNetns returns a DialContext that connects from inside the network
// namespace at /var/run/netns/<name>: a pod's (stv-…) or a host's. Tests use
// it to call a Service from inside a pod, as the pod itself would.
func DialInNetns(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return dialInNetns(name)
}

// InsideHTTPClient is an HTTP client whose connections start inside the
// named network namespace.
func InsideHTTPClient(name string) *http.Client { return insideHTTPClient(name) }

// insideHTTPClient is an HTTP client whose connections start inside the
// named namespace.
func insideHTTPClient(name string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: dialInNetns(name), DisableKeepAlives: true}}
}
