//go:build !linux

package dns

import "net"

// listenConfig is the plain one where IP_FREEBIND does not exist.
func listenConfig() net.ListenConfig { return net.ListenConfig{} }
