package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Raft over mutual TLS: every raft connection, both ways, presents a
// reconciler certificate of the cluster's CA and accepts only one.

// raftTLS is the raft transport's TLS config, nil when security is off.
func raftTLS(sec *security) *tls.Config {
	if sec == nil {
		return nil
	}
	return sec.raft
}

// newRaftTransport is raft's TCP transport, over TLS when tlsConf is set.
func newRaftTransport(bind string, adv net.Addr, tlsConf *tls.Config, hlog hclog.Logger) (*raft.NetworkTransport, error) {
	if tlsConf == nil {
		return raft.NewTCPTransportWithLogger(bind, adv, 3, 10*time.Second, hlog)
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	l := &tlsStreamLayer{Listener: tls.NewListener(ln, tlsConf), conf: tlsConf}
	bound := ln.Addr().(*net.TCPAddr)
	l.adv = bound
	if a, ok := adv.(*net.TCPAddr); ok && a != nil {
		l.adv = a
	} else if a, err := net.ResolveTCPAddr("tcp", bind); err == nil && a.IP != nil && !a.IP.IsUnspecified() {
		// Port 0: the bound port on the configured IP.
		l.adv = &net.TCPAddr{IP: a.IP, Port: bound.Port}
	}
	return raft.NewNetworkTransportWithLogger(l, 3, 10*time.Second, hlog), nil
}

// tlsStreamLayer is a raft.StreamLayer over TLS.
type tlsStreamLayer struct {
	net.Listener
	adv  net.Addr
	conf *tls.Config
}

// Addr is the address other reconcilers dial.
func (l *tlsStreamLayer) Addr() net.Addr { return l.adv }

// Dial connects to a peer and completes the handshake, so that a peer
// that is not a reconciler of this cluster fails the dial.
func (l *tlsStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", string(address), l.clientConf())
	if err != nil {
		return nil, fmt.Errorf("failed to dial raft peer %s over TLS: %w", address, err)
	}
	return c, nil
}

// clientConf dials with the same certificate and the same peer check
// (a reconciler of the cluster's CA) as the listener's.
func (l *tlsStreamLayer) clientConf() *tls.Config {
	c := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       l.conf.Certificates,
		InsecureSkipVerify: true, // VerifyConnection checks the chain and the role
	}
	verify := l.conf.VerifyConnection
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify == nil {
			return errors.New("raft TLS: no peer verification configured")
		}
		return verify(cs)
	}
	return c
}
