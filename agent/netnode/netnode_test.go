package netnode

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// A test world is a "switch" namespace holding a bridge, and hosts: each a
// namespace with eth0 on the switch, a pod bridge cbr0 holding its pod
// CIDR's .1, and one pod namespace behind it at .2. Nothing is created in
// the test process's own namespace; every namespace has a name unique to
// the test run, and is deleted (with everything in it) at cleanup.

type world struct {
	t       *testing.T
	prefix  string
	sw      netns.NsHandle
	swNL    *netlink.Handle
	cluster netip.Prefix // 10.A.4k.0/22
	lan     netip.Prefix // 10.A.4k+4.0/24, the hosts' network
	hosts   []*host
}

type host struct {
	name    string
	nsPath  string
	ns      netns.NsHandle
	nl      *netlink.Handle
	ip      netip.Addr
	podCIDR netip.Prefix
	pod     netns.NsHandle
	podIP   netip.Addr
}

func randInt(t *testing.T, n int64) int {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return int(v.Int64())
}

func newWorld(t *testing.T, hosts int) *world {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests create network namespaces and need root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	a, k := 200+randInt(t, 50), randInt(t, 62)
	w := &world{
		t:       t,
		prefix:  "nn" + hex.EncodeToString(b),
		cluster: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(a), byte(4 * k), 0}), 22),
		lan:     netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(a), byte(4*k + 4), 0}), 24),
	}
	w.sw = w.newNS("sw")
	w.swNL = w.handle(w.sw)
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "sw"}}
	w.must(w.swNL.LinkAdd(br))
	w.must(w.swNL.AddrAdd(br, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(w.lanAddr(254), 24))}))
	w.must(w.swNL.LinkSetUp(br))
	for i := range hosts {
		w.addHost(i)
	}
	return w
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) lanAddr(n byte) netip.Addr {
	x := w.lan.Addr().As4()
	x[3] = n
	return netip.AddrFrom4(x)
}

// newNS creates a named namespace and deletes it at cleanup.
func (w *world) newNS(short string) netns.NsHandle {
	w.t.Helper()
	name := w.prefix + "-" + short
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	orig, err := netns.Get()
	w.must(err)
	defer orig.Close()
	ns, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		panic(serr) // this thread is in the wrong namespace: do not let the test go on
	}
	w.must(err)
	w.t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			w.t.Errorf("failed to delete namespace %s: %v", name, err)
		}
	})
	return ns
}

func (w *world) handle(ns netns.NsHandle) *netlink.Handle {
	w.t.Helper()
	h, err := netlink.NewHandleAt(ns)
	w.must(err)
	w.t.Cleanup(h.Close)
	return h
}

// addHost adds host i on the switch.
func (w *world) addHost(i int) {
	h := w.newHost(i, w.lanAddr(byte(10+i)))
	sw, err := w.swNL.LinkByName("sw")
	w.must(err)
	w.must(w.swNL.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("h%d", i), MasterIndex: sw.Attrs().Index},
		PeerName:  "eth0", PeerNamespace: netlink.NsFd(int(h.ns)),
	}))
	w.up(w.swNL, fmt.Sprintf("h%d", i))
	w.addr(h.nl, "eth0", netip.PrefixFrom(h.ip, 24))
	w.up(h.nl, "eth0")
	w.addPod(h)
}

// addRoutedHost adds host i on a /26 of its own behind the switch
// namespace, which then routes between such hosts: hosts that share no
// network.
func (w *world) addRoutedHost(i int) {
	x := w.lan.Addr().As4()
	x[2]++
	x[3] = byte(64*i + 1)
	router := netip.AddrFrom4(x)
	h := w.newHost(i, router.Next())
	name := fmt.Sprintf("r%d", i)
	w.must(w.swNL.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: name},
		PeerName:  "eth0", PeerNamespace: netlink.NsFd(int(h.ns)),
	}))
	w.addr(w.swNL, name, netip.PrefixFrom(router, 26))
	w.up(w.swNL, name)
	w.addr(h.nl, "eth0", netip.PrefixFrom(h.ip, 26))
	w.up(h.nl, "eth0")
	w.must(h.nl.RouteAdd(&netlink.Route{Gw: net.IP(router.AsSlice())}))
	w.must(inNS(w.sw, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) }))
	w.addPod(h)
}

func (w *world) newHost(i int, ip netip.Addr) *host {
	h := &host{name: fmt.Sprintf("node%d", i), ip: ip}
	x := w.cluster.Addr().As4()
	x[2] += byte(i)
	h.podCIDR = netip.PrefixFrom(netip.AddrFrom4(x), 24)
	x[3] = 2
	h.podIP = netip.AddrFrom4(x)
	h.ns = w.newNS(h.name)
	h.nsPath = "/var/run/netns/" + w.prefix + "-" + h.name
	h.nl = w.handle(h.ns)
	w.up(h.nl, "lo")
	w.hosts = append(w.hosts, h)
	return h
}

// addPod gives h a pod bridge cbr0 and a pod behind it.
func (w *world) addPod(h *host) {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cbr0"}}
	w.must(h.nl.LinkAdd(br))
	gw := h.podCIDR.Addr().Next()
	w.addr(h.nl, "cbr0", netip.PrefixFrom(gw, 24))
	w.up(h.nl, "cbr0")
	h.pod = w.newNS(h.name + "p")
	pnl := w.handle(h.pod)
	w.must(h.nl.LinkAdd(&netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: "vpod", MasterIndex: br.Attrs().Index},
		PeerName:  "eth0", PeerNamespace: netlink.NsFd(int(h.pod)),
	}))
	w.up(h.nl, "vpod")
	w.addr(pnl, "eth0", netip.PrefixFrom(h.podIP, 24))
	w.up(pnl, "eth0")
	w.up(pnl, "lo")
	w.must(pnl.RouteAdd(&netlink.Route{Gw: net.IP(gw.AsSlice())}))
}

func (w *world) up(h *netlink.Handle, name string) {
	w.t.Helper()
	l, err := h.LinkByName(name)
	w.must(err)
	w.must(h.LinkSetUp(l))
}

func (w *world) addr(h *netlink.Handle, name string, p netip.Prefix) {
	w.t.Helper()
	l, err := h.LinkByName(name)
	w.must(err)
	w.must(h.AddrAdd(l, &netlink.Addr{IPNet: prefixNet(p)}))
}

// network is what the leader would send host i, listing the given nodes.
func (w *world) network(i int, nodes ...int) api.Network {
	n := api.Network{PodCIDR: w.hosts[i].podCIDR.String(), ClusterCIDR: w.cluster.String()}
	for _, j := range nodes {
		h := w.hosts[j]
		n.Nodes = append(n.Nodes, api.NodeRoute{Name: h.name, IP: h.ip.String(), PodCIDR: h.podCIDR.String()})
	}
	return n
}

func (w *world) node(i int, force bool) *Node {
	w.t.Helper()
	n, err := New(Config{
		NodeName: w.hosts[i].name, Bridge: "cbr0", ForceVXLAN: force,
		NetNSPath: w.hosts[i].nsPath, Logger: testLogger(),
	})
	w.must(err)
	w.t.Cleanup(func() { n.Close() })
	return n
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// inNS runs fn on a thread inside ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	n := &Node{ns: ns}
	return n.inNS(fn)
}

// listen starts a TCP server in ns that writes each client's address back.
func (w *world) listen(ns netns.NsHandle, addr netip.Addr) string {
	w.t.Helper()
	var ln net.Listener
	w.must(inNS(ns, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	}))
	w.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, c.RemoteAddr().String())
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// dial connects from ns to addr and returns the address the server saw.
func dial(ns netns.NsHandle, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := inNS(ns, func() (err error) {
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(c)
	return string(b), err
}

// reach asserts that pod from reaches pod to, keeping its own address.
func (w *world) reach(from, to int) {
	w.t.Helper()
	addr := w.listen(w.hosts[to].pod, w.hosts[to].podIP)
	var seen string
	var err error
	// The first packets may wait for neighbour resolution; bounded retries.
	for range 5 {
		if seen, err = dial(w.hosts[from].pod, addr, 2*time.Second); err == nil {
			break
		}
	}
	if err != nil {
		w.t.Fatalf("pod on %s cannot reach pod on %s (%s): %v", w.hosts[from].name, w.hosts[to].name, addr, err)
	}
	if host, _, _ := net.SplitHostPort(seen); host != w.hosts[from].podIP.String() {
		w.t.Fatalf("pod on %s reached %s as %s, want its own address %s (no masquerade inside the cluster)", w.hosts[from].name, addr, seen, w.hosts[from].podIP)
	}
}

// bulk sends 1 MiB from pod from to pod to and checks it arrives whole:
// full-size segments cross the overlay (MSS clamping, MTU). It returns the
// MSS the receiving side's socket has.
func (w *world) bulk(from, to int) int {
	w.t.Helper()
	var ln net.Listener
	w.must(inNS(w.hosts[to].pod, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(w.hosts[to].podIP, 0).String())
		return err
	}))
	defer ln.Close()
	got := make(chan int64, 1)
	mss := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			mss <- -1
			return
		}
		defer c.Close()
		m := -1
		if rc, err := c.(*net.TCPConn).SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { m, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG) })
		}
		mss <- m
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	var c net.Conn
	w.must(inNS(w.hosts[from].pod, func() (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
		return err
	}))
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	const size = 1 << 20
	if _, err := c.Write(make([]byte, size)); err != nil {
		w.t.Fatalf("bulk write: %v", err)
	}
	c.Close()
	if n := <-got; n != size {
		w.t.Fatalf("bulk transfer from %s to %s: %d bytes arrived, want %d", w.hosts[from].name, w.hosts[to].name, n, size)
	}
	return <-mss
}

func (w *world) applyAll(nodes []*Node) {
	w.t.Helper()
	all := make([]int, len(w.hosts))
	for i := range all {
		all[i] = i
	}
	for i, n := range nodes {
		if err := n.Apply(w.network(i, all...)); err != nil {
			w.t.Fatalf("Apply on %s: %v", w.hosts[i].name, err)
		}
	}
}

// ourRoutes lists the destinations of the package's routes in h.
func ourRoutes(t *testing.T, h *host) map[string]netlink.Route {
	t.Helper()
	rs, err := h.nl.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: DefaultRouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]netlink.Route{}
	for _, r := range rs {
		m[r.Dst.String()] = r
	}
	return m
}

func TestDirectRoutes(t *testing.T) {
	w := newWorld(t, 3)
	nodes := []*Node{w.node(0, false), w.node(1, false), w.node(2, false)}
	w.applyAll(nodes)
	// Twice: Apply is idempotent.
	w.applyAll(nodes)

	rs := ourRoutes(t, w.hosts[0])
	for _, j := range []int{1, 2} {
		r, ok := rs[w.hosts[j].podCIDR.String()]
		if !ok || !r.Gw.Equal(net.IP(w.hosts[j].ip.AsSlice())) {
			t.Fatalf("host 0 routes %v, want %s via %s", rs, w.hosts[j].podCIDR, w.hosts[j].ip)
		}
	}
	if _, err := w.hosts[0].nl.LinkByName(DefaultVXLANName); err == nil {
		t.Fatal("a VXLAN device exists although every node is on the same network")
	}
	w.reach(0, 1)
	w.reach(1, 2)
	w.reach(2, 0)
	// TCP_MAXSEG is the MSS less TCP options (timestamps: 12 bytes).
	if mss := w.bulk(0, 1); mss <= 1450-40 {
		t.Errorf("MSS %d on direct routes, want the full 1500's (nothing to clamp)", mss)
	}
	w.checkRemoval(nodes)
}

func TestVXLAN(t *testing.T) {
	w := newWorld(t, 3)
	nodes := []*Node{w.node(0, true), w.node(1, true), w.node(2, true)}
	w.applyAll(nodes)
	w.applyAll(nodes)

	vx, err := w.hosts[0].nl.LinkByName(DefaultVXLANName)
	if err != nil {
		t.Fatalf("no VXLAN device: %v", err)
	}
	if got, want := vx.Attrs().HardwareAddr.String(), vtepMAC(w.hosts[0].podCIDR).String(); got != want {
		t.Fatalf("VXLAN MAC %s, want %s", got, want)
	}
	rs := ourRoutes(t, w.hosts[0])
	for _, j := range []int{1, 2} {
		r, ok := rs[w.hosts[j].podCIDR.String()]
		if !ok || r.LinkIndex != vx.Attrs().Index || !r.Gw.Equal(net.IP(vtepIP(w.hosts[j].podCIDR).AsSlice())) {
			t.Fatalf("host 0 routes %v, want %s via %s on %s", rs, w.hosts[j].podCIDR, vtepIP(w.hosts[j].podCIDR), DefaultVXLANName)
		}
	}
	w.reach(0, 1)
	w.reach(1, 2)
	w.reach(2, 0)
	// The packets really crossed the overlay.
	vx1, err := w.hosts[1].nl.LinkByName(DefaultVXLANName)
	if err != nil {
		t.Fatal(err)
	}
	if st := vx1.Attrs().Statistics; st == nil || st.RxPackets == 0 || st.TxPackets == 0 {
		t.Fatalf("host 1's VXLAN device carried nothing: %+v", st)
	}
	if mtu := vx1.Attrs().MTU; mtu != 1450 {
		t.Errorf("VXLAN MTU %d, want 1450 (the lower link's less 50)", mtu)
	}
	// The SYN's MSS was clamped to the overlay's MTU on the way.
	for _, dir := range [][2]int{{0, 1}, {1, 0}} {
		if mss := w.bulk(dir[0], dir[1]); mss <= 0 || mss > 1450-40 {
			t.Errorf("MSS %d from %s to %s over VXLAN, want at most %d", mss, w.hosts[dir[0]].name, w.hosts[dir[1]].name, 1450-40)
		}
	}
	w.checkRemoval(nodes)

	// The overlay's entries for the removed node are gone too.
	fdb, err := w.hosts[0].nl.NeighList(vx.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fdb {
		if e.HardwareAddr.String() == vtepMAC(w.hosts[2].podCIDR).String() {
			t.Fatalf("forwarding entry of removed node remains: %+v", e)
		}
	}
}

// Hosts on different networks (a router between them that knows nothing
// of pods) get the overlay without being told to.
func TestVXLANAcrossRouter(t *testing.T) {
	w := newWorld(t, 0)
	w.addRoutedHost(0)
	w.addRoutedHost(1)
	nodes := []*Node{w.node(0, false), w.node(1, false)}
	w.applyAll(nodes)
	vx, err := w.hosts[0].nl.LinkByName(DefaultVXLANName)
	if err != nil {
		t.Fatalf("no VXLAN device between routed hosts: %v", err)
	}
	if got := vx.(*netlink.Vxlan).SrcAddr; !got.Equal(net.IP(w.hosts[0].ip.AsSlice())) {
		t.Fatalf("VXLAN local address %s, want %s", got, w.hosts[0].ip)
	}
	if r, ok := ourRoutes(t, w.hosts[0])[w.hosts[1].podCIDR.String()]; !ok || r.LinkIndex != vx.Attrs().Index {
		t.Fatalf("route to host 1's pods: %+v", r)
	}
	w.reach(0, 1)
	w.reach(1, 0)
}

// checkRemoval drops node 2 from node 0's network: its route goes, and
// node 0's pod no longer reaches node 2's while node 1's still does.
func (w *world) checkRemoval(nodes []*Node) {
	w.t.Helper()
	if err := nodes[0].Apply(w.network(0, 0, 1)); err != nil {
		w.t.Fatalf("Apply: %v", err)
	}
	rs := ourRoutes(w.t, w.hosts[0])
	if _, ok := rs[w.hosts[2].podCIDR.String()]; ok || len(rs) != 1 {
		w.t.Fatalf("after removing node 2, host 0 routes %v", rs)
	}
	addr := w.listen(w.hosts[2].pod, w.hosts[2].podIP)
	if _, err := dial(w.hosts[0].pod, addr, 300*time.Millisecond); err == nil {
		w.t.Fatal("pod on node 0 still reaches node 2 after its removal")
	}
	w.reach(0, 1)
}

// A node whose address is this host's (several agents in one namespace)
// gets no route: its bridge is here already.
func TestPeerOnThisHost(t *testing.T) {
	w := newWorld(t, 1)
	n := w.node(0, true)
	nw := w.network(0)
	nw.Nodes = append(nw.Nodes, api.NodeRoute{Name: "twin", IP: w.hosts[0].ip.String(), PodCIDR: "10.199.8.0/24"})
	if err := n.Apply(nw); err != nil {
		t.Fatal(err)
	}
	if rs := ourRoutes(t, w.hosts[0]); len(rs) != 0 {
		t.Fatalf("routes to a node on this host: %v", rs)
	}
	if _, err := w.hosts[0].nl.LinkByName(DefaultVXLANName); err == nil {
		t.Fatal("a VXLAN device for a node on this host")
	}
}

// TestMasquerade: a pod reaching an address outside the cluster is seen
// with its host's address (the outside has no route back to pods).
func TestMasquerade(t *testing.T) {
	w := newWorld(t, 1)
	n := w.node(0, false)
	if err := n.Apply(w.network(0)); err != nil {
		t.Fatal(err)
	}
	addr := w.listen(w.sw, w.lanAddr(254))
	seen, err := dial(w.hosts[0].pod, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("pod cannot reach outside the cluster: %v", err)
	}
	if host, _, _ := net.SplitHostPort(seen); host != w.hosts[0].ip.String() {
		t.Fatalf("outside saw the pod as %s, want the host's %s", seen, w.hosts[0].ip)
	}
}

// TestTakeOverAndTeardown: a fresh Node replaces what an earlier one left
// (a stale route, a VXLAN device with other settings, its table), and
// Teardown removes everything.
func TestTakeOverAndTeardown(t *testing.T) {
	w := newWorld(t, 2)
	h := w.hosts[0]
	old := w.node(0, true)
	stale := api.Network{PodCIDR: h.podCIDR.String(), ClusterCIDR: w.cluster.String(),
		Nodes: []api.NodeRoute{{Name: "gone", IP: w.lanAddr(99).String(), PodCIDR: "10.199.7.0/24"}}}
	if err := old.Apply(stale); err != nil {
		t.Fatal(err)
	}
	old.Close()
	if err := old.Apply(stale); !errors.Is(err, errClosed) {
		t.Fatalf("Apply after Close: %v", err)
	}

	n := w.node(0, false)
	m := w.node(1, false)
	w.applyAll([]*Node{n, m})
	rs := ourRoutes(t, h)
	if _, ok := rs["10.199.7.0/24"]; ok || len(rs) != 1 {
		t.Fatalf("routes after take-over: %v", rs)
	}
	if _, err := h.nl.LinkByName(DefaultVXLANName); err == nil {
		t.Fatal("the earlier run's VXLAN device remains")
	}
	w.reach(0, 1)

	if err := n.Teardown(); err != nil {
		t.Fatal(err)
	}
	if rs := ourRoutes(t, h); len(rs) != 0 {
		t.Fatalf("routes after Teardown: %v", rs)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h.ns)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == DefaultTable {
			t.Fatal("table remains after Teardown")
		}
	}
	// Teardown of nothing is fine.
	if err := n.Teardown(); err != nil {
		t.Fatal(err)
	}
}

func TestVTEPAddressing(t *testing.T) {
	p := netip.MustParsePrefix("10.244.3.0/24")
	if got := vtepMAC(p).String(); got != "0e:5d:0a:f4:03:00" {
		t.Fatalf("vtepMAC = %s", got)
	}
	if got := vtepIP(netip.MustParsePrefix("10.244.3.7/24")).String(); got != "10.244.3.0" {
		t.Fatalf("vtepIP = %s", got)
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "node name") {
		t.Fatalf("New without a node name: %v", err)
	}
}
