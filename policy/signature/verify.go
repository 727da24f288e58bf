package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/stevedore-dev/stevedore/policy"
)

// Formats of a signature.
const (
	FormatOpenPGP = "openpgp"
	FormatSSH     = "ssh"
)

// Namespace is the SSHSIG namespace git signs commits in.
const Namespace = "git"

// Signer is who made a good signature with a trusted key.
type Signer struct {
	// User's Name is the allowed_signers line's first principal or the
	// OpenPGP key's primary user ID e-mail, lower case.
	User policy.User
	// Format is FormatOpenPGP or FormatSSH.
	Format string
	// Fingerprint names the key: "SHA256:…" for SSH, the hex fingerprint
	// of the (sub)key that signed for OpenPGP.
	Fingerprint string
}

// Reason is why a signature was not accepted.
type Reason int

// Reasons a signature is refused.
const (
	// Unsigned: the commit carries no signature.
	Unsigned Reason = iota + 1
	// Bad: the signature is malformed or does not match the commit.
	Bad
	// Untrusted: a well-formed signature by a key not in the trusted keys,
	// or one whose allowed_signers line does not allow it (namespace,
	// validity interval).
	Untrusted
)

// Error is a refused signature.
type Error struct {
	Reason Reason
	// Fingerprint names the key that signed, when known.
	Fingerprint string
	// Detail says more ("namespace \"file\" not allowed").
	Detail string
}

func (e *Error) Error() string {
	switch e.Reason {
	case Unsigned:
		return "unsigned"
	case Untrusted:
		s := "signed by an untrusted key"
		if e.Fingerprint != "" {
			s += " " + e.Fingerprint
		}
		if e.Detail != "" {
			s += " (" + e.Detail + ")"
		}
		return s
	default:
		s := "bad signature"
		if e.Fingerprint != "" {
			s += " by key " + e.Fingerprint
		}
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		return s
	}
}

// Verify checks sig (a commit's gpgsig header: an armored OpenPGP or SSH
// signature) over payload (the commit without its signature, as git
// verifies it). when is the commit's committer time, which
// allowed_signers' valid-after and valid-before are checked against, as
// git does. A refusal is an *Error.
func (k *Keys) Verify(sig string, payload []byte, when time.Time) (Signer, error) {
	sig = strings.TrimSpace(sig)
	switch {
	case sig == "":
		return Signer{}, &Error{Reason: Unsigned}
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return k.verifySSH(sig, payload, when)
	case strings.HasPrefix(sig, "-----BEGIN PGP SIGNATURE-----"):
		return k.verifyPGP(sig, payload)
	default:
		return Signer{}, &Error{Reason: Bad, Detail: "unknown signature format (x509/gitsign signatures are not supported)"}
	}
}

func (k *Keys) verifyPGP(sig string, payload []byte) (Signer, error) {
	var kr openpgp.EntityList
	if k != nil {
		kr = k.pgp
	}
	e, err := openpgp.CheckArmoredDetachedSignature(kr, bytes.NewReader(payload), strings.NewReader(sig), nil)
	if err != nil {
		fp := pgpIssuer(sig)
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return Signer{}, &Error{Reason: Untrusted, Fingerprint: fp}
		}
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: err.Error()}
	}
	fp := pgpIssuer(sig)
	if fp == "" {
		fp = fmt.Sprintf("%X", e.PrimaryKey.Fingerprint)
	}
	return Signer{User: policy.User{Name: pgpName(e)}, Format: FormatOpenPGP, Fingerprint: fp}, nil
}

// pgpIssuer names the key an armored OpenPGP signature says it was made
// with: its issuer fingerprint, else its key ID.
func pgpIssuer(sig string) string {
	b, err := armor.Decode(strings.NewReader(sig))
	if err != nil {
		return ""
	}
	p, err := packet.Read(b.Body)
	if err != nil {
		return ""
	}
	s, ok := p.(*packet.Signature)
	if !ok {
		return ""
	}
	if len(s.IssuerFingerprint) > 0 {
		return fmt.Sprintf("%X", s.IssuerFingerprint)
	}
	if s.IssuerKeyId != nil {
		return fmt.Sprintf("%016X", *s.IssuerKeyId)
	}
	return ""
}

// sshsig is a parsed SSHSIG blob (OpenSSH's PROTOCOL.sshsig).
type sshsig struct {
	PublicKey []byte
	Namespace string
	Reserved  []byte
	HashAlg   string
	Signature []byte
}

const sshsigMagic = "SSHSIG"

// parseSSHSig decodes an armored SSH signature.
func parseSSHSig(armored string) (*sshsig, error) {
	const begin, end = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"
	body, ok := strings.CutPrefix(strings.TrimSpace(armored), begin)
	if !ok {
		return nil, errors.New("missing " + begin)
	}
	body, ok = strings.CutSuffix(strings.TrimSpace(body), end)
	if !ok {
		return nil, errors.New("missing " + end)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return nil, fmt.Errorf("failed to decode base64: %w", err)
	}
	rest, ok := bytes.CutPrefix(raw, []byte(sshsigMagic))
	if !ok {
		return nil, errors.New("missing SSHSIG magic")
	}
	var blob struct {
		Version   uint32
		PublicKey []byte
		Namespace string
		Reserved  []byte
		HashAlg   string
		Signature []byte
	}
	if err := ssh.Unmarshal(rest, &blob); err != nil {
		return nil, fmt.Errorf("failed to parse SSHSIG: %w", err)
	}
	if blob.Version != 1 {
		return nil, fmt.Errorf("unsupported SSHSIG version %d", blob.Version)
	}
	return &sshsig{PublicKey: blob.PublicKey, Namespace: blob.Namespace, Reserved: blob.Reserved, HashAlg: blob.HashAlg, Signature: blob.Signature}, nil
}

// signedData is what an SSHSIG signature signs: the magic, namespace,
// reserved field, hash algorithm and the message's hash.
func (s *sshsig) signedData(msg []byte) ([]byte, error) {
	var h hash.Hash
	switch s.HashAlg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return nil, fmt.Errorf("unsupported hash algorithm %q", s.HashAlg)
	}
	h.Write(msg)
	return append([]byte(sshsigMagic), ssh.Marshal(struct {
		Namespace string
		Reserved  []byte
		HashAlg   string
		Hash      []byte
	}{s.Namespace, s.Reserved, s.HashAlg, h.Sum(nil)})...), nil
}

func (k *Keys) verifySSH(armored string, payload []byte, when time.Time) (Signer, error) {
	s, err := parseSSHSig(armored)
	if err != nil {
		return Signer{}, &Error{Reason: Bad, Detail: err.Error()}
	}
	pub, err := ssh.ParsePublicKey(s.PublicKey)
	if err != nil {
		return Signer{}, &Error{Reason: Bad, Detail: fmt.Sprintf("failed to parse the signature's key: %s", err)}
	}
	fp := ssh.FingerprintSHA256(pub)
	if _, ok := pub.(*ssh.Certificate); ok {
		return Signer{}, &Error{Reason: Untrusted, Fingerprint: fp, Detail: "signed with a certificate; certificates are not trusted"}
	}
	if s.Namespace != Namespace {
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: fmt.Sprintf("namespace %q, want %q", s.Namespace, Namespace)}
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(s.Signature, &sig); err != nil {
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: fmt.Sprintf("failed to parse the signature: %s", err)}
	}
	if sig.Format == ssh.KeyAlgoRSA {
		// PROTOCOL.sshsig: RSA signatures must use SHA-2.
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: "ssh-rsa (SHA-1) signatures are not accepted"}
	}
	data, err := s.signedData(payload)
	if err != nil {
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: err.Error()}
	}
	// The signature is checked before trust, as ssh-keygen -Y verify does,
	// so that a forged signature claiming a trusted key reads as bad.
	if err := pub.Verify(data, &sig); err != nil {
		return Signer{}, &Error{Reason: Bad, Fingerprint: fp, Detail: err.Error()}
	}
	lines := k.sshByKey(pub.Marshal())
	if len(lines) == 0 {
		return Signer{}, &Error{Reason: Untrusted, Fingerprint: fp}
	}
	var why string
	for _, l := range lines {
		switch {
		case l.namespaces != "" && !matchList(Namespace, l.namespaces):
			why = fmt.Sprintf("%s does not allow namespace %q", l.where, Namespace)
		case !l.after.IsZero() && when.Before(l.after):
			why = fmt.Sprintf("%s is valid after %s, the commit is of %s", l.where, l.after.UTC().Format(time.RFC3339), when.UTC().Format(time.RFC3339))
		case !l.before.IsZero() && !when.Before(l.before):
			why = fmt.Sprintf("%s is valid before %s, the commit is of %s", l.where, l.before.UTC().Format(time.RFC3339), when.UTC().Format(time.RFC3339))
		default:
			return Signer{User: policy.User{Name: l.name}, Format: FormatSSH, Fingerprint: fp}, nil
		}
	}
	return Signer{}, &Error{Reason: Untrusted, Fingerprint: fp, Detail: why}
}
