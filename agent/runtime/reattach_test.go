package runtime

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A bridge deleted while pods run is recreated by ensureBridge, but the
// pods' veths were on no bridge any more: attachPorts puts the ones that
// exist back, with hairpin, and leaves alone those already there and
// those that are gone. Runs in a network namespace of its own.
func TestAttachPortsAfterBridgeRecreated(t *testing.T) {
	runtime.LockOSThread() // the thread stays in the test's netns: not unlocked
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("failed to create netns: %v", err)
	}
	t.Cleanup(func() {
		_ = netns.Set(orig)
		ns.Close()
		orig.Close()
	})
	nc, err := parseNetConf(fmt.Sprintf("10.%d.%d.0/24", 200+rand.IntN(50), rand.IntN(250)), "")
	if err != nil {
		t.Fatal(err)
	}
	const bridge = "br-reattach"
	br, err := ensureBridge(bridge, nc)
	if err != nil {
		t.Fatal(err)
	}
	b := &builtinNet{ipam: &ipam{st: ipamState{Pods: map[string]string{"aaaaaaaaaaaa": "x", "bbbbbbbbbbbb": "y", "cccccccccccc": "z"}}}}
	for _, id := range []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"} { // c's veth is gone
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostVeth(id), MasterIndex: br.Attrs().Index}, PeerName: "p" + id[:8]}
		if err := netlink.LinkAdd(v); err != nil {
			t.Fatalf("failed to add veth: %v", err)
		}
	}
	if n, err := attachPorts(br, b.hostPorts()); n != 0 || err != nil {
		t.Fatalf("ports already on the bridge: moved %d, %v", n, err)
	}
	if err := deleteBridge(bridge); err != nil {
		t.Fatal(err)
	}
	br, err = ensureBridge(bridge, nc)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := attachPorts(br, b.hostPorts()); n != 2 || err != nil {
		t.Fatalf("after the bridge was recreated: moved %d, %v; want 2", n, err)
	}
	for _, id := range []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"} {
		l, err := netlink.LinkByName(hostVeth(id))
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index {
			t.Errorf("%s not on the new bridge", l.Attrs().Name)
		}
		if pi, err := netlink.LinkGetProtinfo(l); err != nil || !pi.Hairpin {
			t.Errorf("%s: hairpin not set: %+v %v", l.Attrs().Name, pi, err)
		}
	}
}
