package dns

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// A burst of queries (pods starting together) is answered whole: with the
// default socket buffer a burst of a few hundred lost some, and each lost
// query cost its client a 5 s retry.
func TestBurstOfQueriesAllAnswered(t *testing.T) {
	s := startServer(t, nil, nil)
	s.Update(fixture())
	conn, err := net.Dial("udp", s.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The client's buffer must hold every answer: forced past rmem_max.
	raw, err := conn.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	const n = 3000
	m := new(dns.Msg)
	m.SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	for i := range n {
		m.Id = uint16(i)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for len(seen) < n {
		_ = conn.SetReadDeadline(deadline)
		k, err := conn.Read(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:k]) == nil && len(r.Answer) == 1 {
			seen[r.Id] = true
		}
	}
	if len(seen) != n {
		t.Errorf("%d of %d queries of a burst answered", len(seen), n)
	}
}
