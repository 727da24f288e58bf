// Package pki is the cluster's certificate authority and its credentials
// (docs/security.md): a self-signed ECDSA P-256 CA the first reconciler
// generates, the certificates it issues to reconcilers, agents and the
// admin (CommonName the user, Organization the groups, as Kubernetes
// names client certificates), the bootstrap token a joiner presents, and
// the key serf's gossip is encrypted with.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/stevedore-dev/stevedore/policy"
)

// Validity of what the CA issues. There is no rotation yet
// (docs/security.md): the CA lasts ten years, the certificates it issues
// five.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 5 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so a peer whose clock is a little
	// behind accepts a fresh certificate.
	clockSkew = 5 * time.Minute
)

// CA is the cluster's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// CertPEM and KeyPEM are Cert and Key encoded (PEM "CERTIFICATE" and
	// "EC PRIVATE KEY").
	CertPEM, KeyPEM []byte
}

// NewCA generates a self-signed CA named "stevedore-ca <cluster>".
func NewCA(cluster string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("failed to generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "stevedore-ca " + cluster, Organization: []string{"stevedore"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("failed to create CA certificate: %w", err)
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return nil, err
	}
	return LoadCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// LoadCA parses a CA's certificate and key; keyPEM may be nil for a CA
// that only verifies.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("failed to parse CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("failed to parse CA certificate: not a CA")
	}
	ca := &CA{Cert: cert, CertPEM: certPEM}
	if keyPEM != nil {
		key, err := ParseKey(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("failed to parse CA key: %w", err)
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			return nil, errors.New("failed to parse CA key: it does not match the CA certificate")
		}
		ca.Key, ca.KeyPEM = key, keyPEM
	}
	return ca, nil
}

// Pool is a certificate pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Hash is the hex SHA-256 of the CA certificate's DER, which the bootstrap
// token carries so a joiner can pin the CA before it trusts anything.
func (ca *CA) Hash() string { return CertHash(ca.Cert) }

// CertHash is the hex SHA-256 of a certificate's DER.
func CertHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// Request is what a certificate is issued for.
type Request struct {
	// User is the certificate's identity: CommonName User.Name,
	// Organization User.Groups.
	User policy.User
	// IPs and DNSNames are the server names it is valid for; none makes a
	// client-only certificate.
	IPs      []net.IP
	DNSNames []string
	// PublicKey is the key to certify (from a CSR); nil generates a key,
	// returned PEM-encoded by Issue.
	PublicKey crypto.PublicKey
	// Validity zero means CertValidity.
	Validity time.Duration
}

// Issue signs a certificate for req with the client usage, and the server
// usage too when it names IPs or DNS names. It returns the certificate and,
// when it generated the key, the key (nil otherwise), PEM-encoded.
func (ca *CA) Issue(req Request) (certPEM, keyPEM []byte, err error) {
	if ca.Key == nil {
		return nil, nil, errors.New("failed to issue certificate: this CA has no private key")
	}
	if req.User.Name == "" {
		return nil, nil, errors.New("failed to issue certificate: no user name")
	}
	pub := req.PublicKey
	if pub == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to generate key: %w", err)
		}
		if keyPEM, err = EncodeKey(key); err != nil {
			return nil, nil, err
		}
		pub = &key.PublicKey
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	validity := req.Validity
	if validity <= 0 {
		validity = CertValidity
	}
	now := time.Now()
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	usages := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if len(req.IPs) > 0 || len(req.DNSNames) > 0 {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.User.Name, Organization: req.User.Groups},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usages,
		IPAddresses:  req.IPs,
		DNSNames:     req.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to issue certificate for %s: %w", req.User.Name, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// Identities of the cluster's own members.

// ReconcilerUser is reconciler name's certificate identity.
func ReconcilerUser(name string) policy.User {
	return policy.User{Name: policy.ReconcilerUserPrefix + name, Groups: []string{policy.GroupReconcilers}}
}

// NodeUser is node name's (its agent's) certificate identity.
func NodeUser(name string) policy.User {
	return policy.User{Name: policy.NodeUserPrefix + name, Groups: []string{policy.GroupNodes}}
}

// AdminUser is the admin credential's identity.
func AdminUser() policy.User {
	return policy.User{Name: policy.UserAdmin, Groups: []string{policy.GroupMasters}}
}

// UserOf is the identity a verified certificate names: CommonName and
// Organizations.
func UserOf(c *x509.Certificate) policy.User {
	return policy.User{Name: c.Subject.CommonName, Groups: append([]string(nil), c.Subject.Organization...)}
}

// Verify checks that c was issued by ca for client use (server use too when
// server is set) and is valid now, and returns its identity.
func (ca *CA) Verify(c *x509.Certificate, server bool) (policy.User, error) {
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return policy.User{}, fmt.Errorf("failed to verify certificate of %q: %w", c.Subject.CommonName, err)
	}
	return UserOf(c), nil
}

// ParseCert parses the first PEM certificate of b.
func ParseCert(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no PEM certificate")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// ParseKey parses a PEM ECDSA private key (SEC 1 or PKCS #8).
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM private key")
	}
	switch blk.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("private key is a %T, want ECDSA", k)
		}
		return ek, nil
	}
	return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
}

// EncodeKey encodes key as PEM "EC PRIVATE KEY".
func EncodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("failed to encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// NewCSR generates a key and a certificate request for user; the key never
// leaves the caller, the request goes to the CA.
func NewCSR(user policy.User) (csrPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: user.Name, Organization: user.Groups},
	}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to create certificate request: %w", err)
	}
	if keyPEM, err = EncodeKey(key); err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), keyPEM, nil
}

// ParseCSR parses and checks the signature of a PEM certificate request
// and returns its public key. Its subject is not trusted: the CA names
// the certificate's identity itself.
func ParseCSR(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("failed to parse certificate request: no PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("failed to parse certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("failed to check certificate request's signature: %w", err)
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("failed to parse certificate request: want an ECDSA P-256 key")
	}
	return k, nil
}

// SameKey reports whether certPEM certifies keyPEM's public key.
func SameKey(certPEM, keyPEM []byte) bool {
	c, err := ParseCert(certPEM)
	if err != nil {
		return false
	}
	k, err := ParseKey(keyPEM)
	if err != nil {
		return false
	}
	return k.PublicKey.Equal(c.PublicKey)
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("failed to generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
