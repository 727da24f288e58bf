package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/stevedore-dev/stevedore/policy"
)

// KeyPair is a certificate and its key, PEM-encoded.
type KeyPair struct {
	CertPEM, KeyPEM []byte
}

// TLSCertificate is kp with the CA appended to its chain, so a joiner that
// pinned the CA's hash finds the CA in the handshake.
func (ca *CA) TLSCertificate(kp KeyPair) (tls.Certificate, error) {
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("failed to load certificate: %w", err)
	}
	c.Certificate = append(c.Certificate, ca.Cert.Raw)
	return c, nil
}

// ServerTLS serves with kp and asks for client certificates from ca:
// required (the handshake fails without one) when require is set, else
// verified when given (tls.VerifyClientCertIfGiven).
func (ca *CA) ServerTLS(kp KeyPair, require bool) (*tls.Config, error) {
	c, err := ca.TLSCertificate(kp)
	if err != nil {
		return nil, err
	}
	auth := tls.VerifyClientCertIfGiven
	if require {
		auth = tls.RequireAndVerifyClientCert
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c},
		ClientAuth:   auth,
		ClientCAs:    ca.Pool(),
	}, nil
}

// ClientTLS presents kp (none when its CertPEM is empty) and accepts a
// server whose certificate ca issued to one of groups (any group when none
// is named), whatever address it was dialled at: members reach each other
// at addresses gossip advertises, and what matters is that the peer is a
// member of the cluster in the right role.
func (ca *CA) ClientTLS(kp KeyPair, groups ...string) (*tls.Config, error) {
	conf := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return ca.verifyPeer(cs, true, groups)
		},
	}
	if len(kp.CertPEM) > 0 {
		c, err := ca.TLSCertificate(kp)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{c}
	}
	return conf, nil
}

// RequireGroups makes a server config refuse, in the handshake, a client
// whose verified certificate is in none of groups.
func (ca *CA) RequireGroups(conf *tls.Config, groups ...string) {
	conf.ClientAuth = tls.RequireAndVerifyClientCert
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		return ca.verifyPeer(cs, false, groups)
	}
}

// verifyPeer checks the peer's leaf against ca, for the usage its side
// needs, and its groups.
func (ca *CA) verifyPeer(cs tls.ConnectionState, server bool, groups []string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("peer presented no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("peer certificate %q is not the cluster's: %w", leaf.Subject.CommonName, err)
	}
	if len(groups) == 0 {
		return nil
	}
	u := UserOf(leaf)
	for _, g := range groups {
		if u.InGroup(g) {
			return nil
		}
	}
	return fmt.Errorf("peer %s is not in %v", u, groups)
}

// ErrWrongCA is a join server whose CA is not the one the bootstrap token
// names.
var ErrWrongCA = errors.New("the server's certificate chain does not hold the CA the bootstrap token names (wrong token, or not this cluster)")

// PinnedTLS is what a joiner dials with before it has the CA: the server
// must present a certificate chain holding a CA whose SHA-256 is caHash
// and a server certificate that CA issued.
func PinnedTLS(caHash string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			i := slices.IndexFunc(cs.PeerCertificates, func(c *x509.Certificate) bool { return CertHash(c) == caHash })
			if i < 0 {
				return ErrWrongCA
			}
			ca := &CA{Cert: cs.PeerCertificates[i]}
			return ca.verifyPeer(cs, true, []string{policy.GroupReconcilers})
		},
	}
}
