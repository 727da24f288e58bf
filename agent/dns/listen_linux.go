package dns

import (
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// udpReceiveBuffer is the UDP socket's receive buffer. The default (about
// 208 KiB) holds a few hundred queries: a burst from pods starting
// together overflowed it and the lost queries cost their clients a 5 s
// retry (glibc's timeout).
const udpReceiveBuffer = 4 << 20

// listenConfig binds with IP_FREEBIND: the agent may start its DNS server
// before its bridge holds the address (or while a restart recreates it),
// and the socket receives as soon as the address appears. UDP sockets get
// a large receive buffer (forced past rmem_max where the agent may, as
// root; else as large as rmem_max allows).
func listenConfig() net.ListenConfig {
	return net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
			if serr != nil || !strings.HasPrefix(network, "udp") {
				return
			}
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpReceiveBuffer) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, udpReceiveBuffer)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
}
