package proxy

import (
	"bufio"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// The test network lives entirely in unnamed network namespaces: nothing is
// created in the host's namespace, so parallel test runs (of this package or
// of other helpers) cannot collide on names, and everything disappears when
// the last handle and socket of a namespace are closed.
//
//	ext ns (10.X.1.2) ──veth── node ns: ext0 10.X.1.1 (cluster IPs 10.X.2.0/24 routed there), br0 10.X.16.1/24
//	                                     │ br0: p1 .11, p2 .12, p3 .13, client .20 (each its own ns)
//	                                     └─ link0 10.X.3.1 ──veth── node2 ns: 10.X.3.2, br0 10.X.17.1/24: p4 .11
const (
	tcpPort = 8080
	udpPort = 8081
)

// inNS runs fn on a locked OS thread switched to ns. If switching back
// fails, the thread stays locked and dies with its goroutine.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func newNS(t testing.TB) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in the new ns and dies
		var err error
		ns, err = netns.New()
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("failed to create netns: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	must(t, inNS(ns, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}))
	return ns
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		t.Fatalf("%s:%d: %v", filepath.Base(file), line, err)
	}
}

func sysctl(ns netns.NsHandle, path, value string) error {
	return inNS(ns, func() error {
		return os.WriteFile("/proc/sys/"+path, []byte(value), 0o644)
	})
}

// host is one namespace of the test network.
type host struct {
	name string
	ns   netns.NsHandle
	ip   net.IP
}

type topo struct {
	t       testing.TB
	x       int // second octet, random in 200..243 (never the defaults 10.244/10.96)
	node    netns.NsHandle
	node2   netns.NsHandle
	ext     *host
	pods    []*host // p1, p2, p3 on node; p4 on node2
	client  *host
	nodeExt net.IP
}

func (tp *topo) ip(third, fourth int) net.IP {
	return net.IPv4(10, byte(tp.x), byte(third), byte(fourth)).To4()
}

func (tp *topo) cidr(third int) string { return fmt.Sprintf("10.%d.%d.0/24", tp.x, third) }

// clusterCIDR covers both nodes' pod subnets (10.X.16-17) but not the
// external client (10.X.1).
func (tp *topo) clusterCIDR() string { return fmt.Sprintf("10.%d.16.0/20", tp.x) }

func (tp *topo) clusterIP(n int) string { return tp.ip(2, n).String() }

func newTopo(t testing.TB) *topo {
	t.Helper()
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		// bridge-nf-call-iptables comes with br_netfilter.
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			t.Fatalf("failed to load br_netfilter: %v: %s", err, out)
		}
	}
	tp := &topo{t: t, x: 200 + rand.IntN(44), node: newNS(t), node2: newNS(t)}
	for _, ns := range []netns.NsHandle{tp.node, tp.node2} {
		must(t, sysctl(ns, "net/ipv4/ip_forward", "1"))
		if err := sysctl(ns, "net/bridge/bridge-nf-call-iptables", "1"); err != nil {
			t.Fatalf("failed to set bridge-nf-call-iptables: %v", err)
		}
	}
	tp.bridge(tp.node, tp.ip(16, 1))
	tp.bridge(tp.node2, tp.ip(17, 1))
	for i := 1; i <= 3; i++ {
		tp.pods = append(tp.pods, tp.pod(tp.node, fmt.Sprintf("p%d", i), tp.ip(16, 10+i), tp.ip(16, 1)))
	}
	tp.pods = append(tp.pods, tp.pod(tp.node2, "p4", tp.ip(17, 11), tp.ip(17, 1)))
	tp.client = tp.pod(tp.node, "client", tp.ip(16, 20), tp.ip(16, 1))
	for _, p := range tp.pods {
		tp.serve(p)
	}
	tp.serve(tp.client)

	// The external client, outside the node.
	tp.nodeExt = tp.ip(1, 1)
	tp.ext = &host{name: "ext", ns: newNS(t), ip: tp.ip(1, 2)}
	tp.veth(tp.node, "ext0", tp.nodeExt, 24, tp.ext.ns, tp.ext.ip, nil)
	must(t, inNS(tp.ext.ns, func() error { return defaultVia(tp.nodeExt) }))

	// node ↔ node2: routes between the pod subnets; node2 knows nothing
	// of the external client's subnet, so replies to it only work if the
	// node masqueraded.
	tp.veth(tp.node, "link0", tp.ip(3, 1), 24, tp.node2, tp.ip(3, 2), nil)
	must(t, inNS(tp.node, func() error { return routeVia(tp.cidr(17), tp.ip(3, 2)) }))
	must(t, inNS(tp.node2, func() error { return routeVia(tp.cidr(16), tp.ip(3, 1)) }))

	// Cluster IPs are routed somewhere (a real node has a default
	// route), so that a packet nothing DNATs reaches the forward hook and
	// its reject rule; here, towards the external namespace.
	must(t, inNS(tp.node, func() error { return routeVia(tp.cidr(2), tp.ext.ip) }))
	return tp
}

func (tp *topo) bridge(ns netns.NsHandle, ip net.IP) {
	must(tp.t, inNS(ns, func() error {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("failed to add bridge: %w", err)
		}
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(24, 32)}}); err != nil {
			return err
		}
		return netlink.LinkSetUp(br)
	}))
}

// veth links name (in ns a, with address aIP) to eth0 in ns b; master, when
// set, enslaves the a side to it instead of addressing it.
func (tp *topo) veth(a netns.NsHandle, name string, aIP net.IP, bits int, b netns.NsHandle, bIP net.IP, master *string) {
	must(tp.t, inNS(a, func() error {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p", PeerNamespace: netlink.NsFd(int(b))}
		if err := netlink.LinkAdd(v); err != nil {
			return fmt.Errorf("failed to add veth %s: %w", name, err)
		}
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		if master != nil {
			br, err := netlink.LinkByName(*master)
			if err != nil {
				return err
			}
			if err := netlink.LinkSetMaster(l, br); err != nil {
				return err
			}
			// As the CNI bridge plugin's hairpinMode and the agent's
			// bridge do: with bridge-nf-call-iptables, br_netfilter
			// DNATs a hairpin packet at the bridge and sends it back out
			// of the port it came in by, which a bridge port only allows
			// in hairpin mode.
			if err := netlink.LinkSetHairpin(l, true); err != nil {
				return err
			}
		} else if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: aIP, Mask: net.CIDRMask(bits, 32)}}); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	}))
	must(tp.t, inNS(b, func() error {
		l, err := netlink.LinkByName(name + "p")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetName(l, "eth0"); err != nil {
			return err
		}
		if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: bIP, Mask: net.CIDRMask(bits, 32)}}); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	}))
}

func defaultVia(gw net.IP) error {
	return netlink.RouteAdd(&netlink.Route{Gw: gw})
}

func routeVia(cidr string, gw net.IP) error {
	_, dst, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	return netlink.RouteAdd(&netlink.Route{Dst: dst, Gw: gw})
}

func (tp *topo) pod(node netns.NsHandle, name string, ip, gw net.IP) *host {
	h := &host{name: name, ns: newNS(tp.t), ip: ip}
	br := "br0"
	tp.veth(node, "v"+name, nil, 24, h.ns, ip, &br)
	must(tp.t, inNS(h.ns, func() error { return defaultVia(gw) }))
	return h
}

// serve starts a TCP server on 8080 and a UDP one on 8081 in h's namespace,
// both answering with h's name and the address the request came from:
// "p1 10.x.16.20".
func (tp *topo) serve(h *host) {
	var tl net.Listener
	var ul net.PacketConn
	must(tp.t, inNS(h.ns, func() error {
		var err error
		if tl, err = net.Listen("tcp4", fmt.Sprintf(":%d", tcpPort)); err != nil {
			return err
		}
		ul, err = net.ListenPacket("udp4", fmt.Sprintf(":%d", udpPort))
		return err
	}))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			remote := c.RemoteAddr().(*net.TCPAddr).IP
			fmt.Fprintf(c, "%s %s\n", h.name, remote)
			c.Close()
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			n, addr, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			_ = n
			remote := addr.(*net.UDPAddr).IP
			_, _ = ul.WriteTo(fmt.Appendf(nil, "%s %s\n", h.name, remote), addr)
		}
	}()
	tp.t.Cleanup(func() {
		tl.Close()
		ul.Close()
		wg.Wait()
	})
}

// reply is what a server answered: its name and the client address it saw.
type reply struct{ name, from string }

func parseReply(s string) (reply, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return reply{}, fmt.Errorf("unexpected answer %q", s)
	}
	return reply{name: f[0], from: f[1]}, nil
}

// getTCP connects from h's namespace to addr and reads the answer.
func getTCP(ns netns.NsHandle, addr string, timeout time.Duration) (reply, error) {
	var line string
	err := inNS(ns, func() error {
		c, err := net.DialTimeout("tcp4", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		line, err = bufio.NewReader(c).ReadString('\n')
		return err
	})
	if err != nil {
		return reply{}, err
	}
	return parseReply(line)
}

// getUDP sends one datagram from ns to addr and waits for the answer; port,
// when non-zero, is the local port (a fixed one makes every request the
// same conntrack flow).
func getUDP(ns netns.NsHandle, addr string, localPort int, timeout time.Duration) (reply, error) {
	var line string
	err := inNS(ns, func() error {
		raddr, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		c, err := net.DialUDP("udp4", &net.UDPAddr{Port: localPort}, raddr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if _, err := c.Write([]byte("hi")); err != nil {
			return err
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		line = string(buf[:n])
		return err
	})
	if err != nil {
		return reply{}, err
	}
	return parseReply(line)
}

// nft runs the nft CLI in ns (tests only: the proxy never shells out),
// installing Debian's package if the machine lacks it.
func nft(t testing.TB, ns netns.NsHandle, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		if out, err := exec.Command("apt-get", "install", "-y", "nftables").CombinedOutput(); err != nil {
			t.Fatalf("failed to install nftables: %v: %s", err, out)
		}
	}
	var out []byte
	err := inNS(ns, func() error {
		var err error
		// The child is forked from this locked thread, so it runs in ns.
		out, err = exec.Command("nft", args...).CombinedOutput()
		return err
	})
	if err != nil {
		return string(out), fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func newProxy(t testing.TB, ns netns.NsHandle, cfg Config) *Proxy {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var p *Proxy
	must(t, inNS(ns, func() error {
		var err error
		p, err = New(cfg)
		return err
	}))
	t.Cleanup(func() { _ = p.Close() })
	return p
}
