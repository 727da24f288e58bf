package agent

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	goruntime "runtime"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/netnode"
)

// realNS creates a named network namespace with an "eth0" holding
// 10.A.B.1/24, and deletes it at cleanup. It returns its path, a netlink
// handle in it and A.B.
func realNS(t *testing.T) (string, *netlink.Handle, [2]byte) {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	name := "nnag" + hex.EncodeToString(b)
	ab := [2]byte{byte(200 + randN(t, 50)), byte(randN(t, 250))}
	goruntime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.NewNamed(name)
	if serr := netns.Set(orig); serr != nil {
		panic(serr) // this thread is in the wrong namespace: stop here
	}
	orig.Close()
	goruntime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("failed to delete namespace %s: %v", name, err)
		}
	})
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	// A veth pair inside the namespace: a link with carrier and nothing
	// behind it (this kernel has no dummy links).
	d := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0p"}
	if err := h.LinkAdd(d); err != nil {
		t.Fatal(err)
	}
	if p, err := h.LinkByName("eth0p"); err != nil || h.LinkSetUp(p) != nil {
		t.Fatalf("failed to bring eth0p up: %v", err)
	}
	if err := h.AddrAdd(d, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, ab[0], ab[1], 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
	return "/var/run/netns/" + name, h, ab
}

func randN(t *testing.T, n int64) int {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return int(v.Int64())
}

func realNode(t *testing.T, path string) *netnode.Node {
	t.Helper()
	n, err := netnode.New(netnode.Config{NodeName: "n1", NetNSPath: path, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// stvRoutes are the node network's routes in h, by destination.
func stvRoutes(t *testing.T, h *netlink.Handle) map[string]string {
	t.Helper()
	rs, err := h.RouteListFiltered(unix.AF_INET, &netlink.Route{Protocol: netnode.DefaultRouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range rs {
		m[r.Dst.String()] = r.Gw.String()
	}
	return m
}

func hasTable(t *testing.T, path string) bool {
	t.Helper()
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == netnode.DefaultTable {
			return true
		}
	}
	return false
}

// With the real node network in a namespace: a set's network puts routes
// and the table in place; after a kill, and with both lost meanwhile, the
// restarted agent puts them back from the persisted network before any
// leader calls; TeardownNetwork removes them.
func TestRealNodeNetworkSurvivesRestart(t *testing.T) {
	path, h, ab := realNS(t)
	cfg := testConfig(t, "n1")
	rt := newFakeRuntime()
	a := startAgent(t, cfg, rt, WithNetworking(Networking{Node: realNode(t, path)}))
	peerCIDR := fmt.Sprintf("10.%d.%d.0/24", ab[0], (int(ab[1])+2)%256)
	ps := podSet(1, 1, "a")
	ps.Network = &api.Network{
		PodCIDR:     fmt.Sprintf("10.%d.%d.0/24", ab[0], (int(ab[1])+1)%256),
		ClusterCIDR: fmt.Sprintf("10.%d.0.0/16", ab[0]),
		Nodes: []api.NodeRoute{
			{Name: "n1", IP: fmt.Sprintf("10.%d.%d.1", ab[0], ab[1])},
			{Name: "n2", IP: fmt.Sprintf("10.%d.%d.2", ab[0], ab[1]), PodCIDR: peerCIDR},
		},
	}
	if _, err := a.apply(ctxT(t), ps); err != nil {
		t.Fatal(err)
	}
	if err := a.NetworkError(); err != nil {
		t.Fatalf("NetworkError: %v", err)
	}
	want := map[string]string{peerCIDR: fmt.Sprintf("10.%d.%d.2", ab[0], ab[1])}
	if got := stvRoutes(t, h); fmt.Sprint(got) != fmt.Sprint(want) || !hasTable(t, path) {
		t.Fatalf("after apply: routes %v (want %v), table %v", got, want, hasTable(t, path))
	}

	if err := a.shutdown(ctxT(t), false); err != nil {
		t.Fatal(err)
	}
	// Routes and rules outlive the agent…
	if got := stvRoutes(t, h); len(got) != 1 || !hasTable(t, path) {
		t.Fatalf("after shutdown: routes %v, table %v", got, hasTable(t, path))
	}
	// …unless someone removes them while it is down.
	teardownNode := realNode(t, path)
	if err := teardownNode.Teardown(); err != nil {
		t.Fatal(err)
	}
	if got := stvRoutes(t, h); len(got) != 0 || hasTable(t, path) {
		t.Fatalf("after removing by hand: routes %v, table %v", got, hasTable(t, path))
	}

	b := startAgent(t, cfg, rt.restarted(), WithNetworking(Networking{Node: realNode(t, path)}))
	if got := stvRoutes(t, h); fmt.Sprint(got) != fmt.Sprint(want) || !hasTable(t, path) {
		t.Fatalf("after restart, before any set: routes %v (want %v), table %v", got, want, hasTable(t, path))
	}
	if err := b.Shutdown(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.TeardownNetwork(); err != nil {
		t.Fatal(err)
	}
	if got := stvRoutes(t, h); len(got) != 0 || hasTable(t, path) {
		t.Fatalf("after TeardownNetwork: routes %v, table %v", got, hasTable(t, path))
	}
}
