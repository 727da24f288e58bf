//go:build linux

package dns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netns"
)

// inNetns runs f with the calling goroutine's thread in the named network
// namespace: sockets f creates belong to it for their whole life.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic(fmt.Sprintf("failed to return to the test's network namespace: %v", err))
		}
	}()
	f()
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// TestStartsBeforeTheAddressExists: in a network namespace of its own, the
// server starts on port 53 of an address no interface holds yet (as an
// agent may before its bridge is up) and answers once the address appears.
func TestStartsBeforeTheAddressExists(t *testing.T) {
	name := fmt.Sprintf("stv-dns-%08x", rand.Uint32())
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	addr := fmt.Sprintf("10.%d.%d.%d", 200+rand.IntN(50), rand.IntN(256), 1+rand.IntN(254))
	listen := net.JoinHostPort(addr, "53")

	s, err := New(Config{Listen: []string{listen}, ResolvConf: "/nonexistent", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	inNetns(t, name, func() {
		if err := s.Start(context.Background()); err != nil {
			t.Fatalf("Start before the address exists: %v", err)
		}
	})
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if got := s.Addrs(); len(got) != 1 || got[0] != listen {
		t.Fatalf("Addrs %v, want [%s]", got, listen)
	}
	s.Update(fixture())

	run(t, "ip", "-n", name, "addr", "add", addr+"/32", "dev", "lo")
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
		var conn *dns.Conn
		inNetns(t, name, func() { conn, err = c.Dial(listen) })
		if err != nil {
			t.Fatalf("dial %s over %s: %v", listen, proto, err)
		}
		m := new(dns.Msg)
		m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
		r, _, err := c.ExchangeWithConn(m, conn)
		conn.Close()
		if err != nil {
			t.Fatalf("query over %s once the address exists: %v", proto, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.96.0.10" {
			t.Fatalf("over %s: %v", proto, r)
		}
	}
}
