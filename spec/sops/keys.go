package sops

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgparmor "github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Keys are the private keys a reconciler (or ctl) decrypts with: age
// identities and OpenPGP secret keys, read from its own configuration,
// never from the repository. A Keys is immutable once loaded and safe for
// concurrent use. The nil *Keys holds no key: every encrypted document
// fails to decrypt, saying so.
type Keys struct {
	age []age.Identity
	// ageRecipients are the public keys of age's identities, in order,
	// "" for an identity whose public key is unknown.
	ageRecipients []string
	pgp           openpgp.EntityList
	// pgpFingerprints are the primary keys' fingerprints, upper-case hex
	// as sops writes them.
	pgpFingerprints []string
}

// LoadKeys reads age key files (AGE-SECRET-KEY-1… lines, "#" comments and
// blank lines ignored, as age-keygen writes them) and PGP key files (an
// armored OpenPGP secret key block, not protected by a passphrase, as `gpg
// --armor --export-secret-keys` writes it for such a key). A file that
// cannot be read or holds no key is an error naming it.
func LoadKeys(ageKeyFiles, pgpKeyFiles []string) (*Keys, error) {
	var ageData, pgpData []NamedKey
	for _, f := range ageKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("age key file: %w", err)
		}
		ageData = append(ageData, NamedKey{Name: f, Data: b})
	}
	for _, f := range pgpKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("PGP key file: %w", err)
		}
		pgpData = append(pgpData, NamedKey{Name: f, Data: b})
	}
	return ParseKeys(ageData, pgpData)
}

// NamedKey is the text of a key file and the name errors give it.
type NamedKey struct {
	Name string
	Data []byte
}

// ParseKeys is LoadKeys for key files already read.
func ParseKeys(ageKeys, pgpKeys []NamedKey) (*Keys, error) {
	k := &Keys{}
	for _, f := range ageKeys {
		ids, err := age.ParseIdentities(bytes.NewReader(f.Data))
		if err != nil {
			// age's messages quote no key material ("malformed secret
			// key"), but keep ours to the line number anyway.
			return nil, fmt.Errorf("age key file %s: %s", f.Name, ageParseError(err))
		}
		for _, id := range ids {
			k.age = append(k.age, id)
			k.ageRecipients = append(k.ageRecipients, recipientOf(id))
		}
	}
	for _, f := range pgpKeys {
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(f.Data))
		if err != nil {
			return nil, fmt.Errorf("PGP key file %s: not an armored OpenPGP key block: %v", f.Name, err)
		}
		n := 0
		for _, e := range el {
			if e.PrivateKey == nil {
				continue // a public key: nothing to decrypt with
			}
			if e.PrivateKey.Encrypted || anyEncryptedSubkey(e) {
				return nil, fmt.Errorf("PGP key file %s: the secret key %X is protected by a passphrase; export it without one (a reconciler cannot type a passphrase)", f.Name, e.PrimaryKey.Fingerprint)
			}
			k.pgp = append(k.pgp, e)
			k.pgpFingerprints = append(k.pgpFingerprints, fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("PGP key file %s: holds no secret key (export it with gpg --armor --export-secret-keys)", f.Name)
		}
	}
	return k, nil
}

func anyEncryptedSubkey(e *openpgp.Entity) bool {
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && s.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}

// ageParseError keeps age's message short of anything a key file holds.
func ageParseError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "AGE-SECRET-KEY"); i >= 0 {
		msg = msg[:i] + "(key elided)"
	}
	return msg
}

func recipientOf(id age.Identity) string {
	switch id := id.(type) {
	case *age.X25519Identity:
		return id.Recipient().String()
	case *age.HybridIdentity:
		return id.Recipient().String()
	}
	return ""
}

// Empty reports whether k holds no key.
func (k *Keys) Empty() bool {
	return k == nil || len(k.age) == 0 && len(k.pgp) == 0
}

// Describe names the public halves of k's keys ("age age1…, PGP 1E6F…"),
// for logs and errors; "no keys" when there are none.
func (k *Keys) Describe() string {
	if k.Empty() {
		return "no keys"
	}
	var parts []string
	if len(k.age) > 0 {
		parts = append(parts, "age "+strings.Join(k.ageNames(), ", "))
	}
	if len(k.pgp) > 0 {
		parts = append(parts, "PGP "+strings.Join(k.pgpFingerprints, ", "))
	}
	return strings.Join(parts, "; ")
}

func (k *Keys) ageNames() []string {
	out := make([]string, len(k.ageRecipients))
	for i, r := range k.ageRecipients {
		out[i] = r
		if r == "" {
			out[i] = "(an identity of another type)"
		}
	}
	return out
}

// dataKey returns the file's data key, decrypted with the first of k's
// keys that one of the file's recipients was encrypted for.
func (k *Keys) dataKey(md *metadata) ([]byte, error) {
	if len(md.age) == 0 && len(md.pgp) == 0 {
		if len(md.other) > 0 {
			return nil, fmt.Errorf("the file is encrypted for %s only; Stevedore decrypts with age and PGP keys (add an age recipient with sops updatekeys)", strings.Join(md.other, ", "))
		}
		return nil, errors.New("the sops metadata names no recipient (no age or pgp entry)")
	}
	var errs []string
	if len(md.age) > 0 {
		key, err := k.ageDataKey(md)
		if err == nil {
			return key, nil
		}
		errs = append(errs, err.Error())
	}
	if len(md.pgp) > 0 {
		key, err := k.pgpDataKey(md)
		if err == nil {
			return key, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

func (k *Keys) ageDataKey(md *metadata) ([]byte, error) {
	var fileRecipients []string
	for _, r := range md.age {
		fileRecipients = append(fileRecipients, r.recipient)
	}
	if k == nil || len(k.age) == 0 {
		return nil, fmt.Errorf("no age identity matches recipients %s of this file; the reconciler has no age identities (--sops-age-key-file)", strings.Join(fileRecipients, ", "))
	}
	// Try the entries written for one of our public keys first (one
	// X25519 unwrap), then the others (a recipient written differently).
	var tried []bool = make([]bool, len(md.age))
	var failures []string
	try := func(i int) ([]byte, bool) {
		tried[i] = true
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(md.age[i].enc)), k.age...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if !errors.As(err, &nm) {
				failures = append(failures, fmt.Sprintf("recipient %s: %v", md.age[i].recipient, err))
			}
			return nil, false
		}
		b, err := io.ReadAll(r)
		if err != nil {
			failures = append(failures, fmt.Sprintf("recipient %s: %v", md.age[i].recipient, err))
			return nil, false
		}
		return b, true
	}
	for i, r := range md.age {
		for _, mine := range k.ageRecipients {
			if mine != "" && mine == r.recipient {
				if b, ok := try(i); ok {
					return b, nil
				}
			}
		}
	}
	for i := range md.age {
		if !tried[i] {
			if b, ok := try(i); ok {
				return b, nil
			}
		}
	}
	msg := fmt.Sprintf("no age identity matches recipients %s of this file; the reconciler has identities for %s", strings.Join(fileRecipients, ", "), strings.Join(k.ageNames(), ", "))
	if len(failures) > 0 {
		msg += " (" + strings.Join(failures, "; ") + ")"
	}
	return nil, errors.New(msg)
}

func (k *Keys) pgpDataKey(md *metadata) ([]byte, error) {
	var fps []string
	for _, p := range md.pgp {
		fps = append(fps, p.fp)
	}
	if k == nil || len(k.pgp) == 0 {
		return nil, fmt.Errorf("no PGP key matches fingerprints %s of this file; the reconciler has no PGP keys (--sops-pgp-key-file)", strings.Join(fps, ", "))
	}
	var failures []string
	for _, p := range md.pgp {
		block, err := pgparmor.Decode(strings.NewReader(p.enc))
		if err != nil {
			failures = append(failures, fmt.Sprintf("fingerprint %s: the encrypted data key is not armored: %v", p.fp, err))
			continue
		}
		msg, err := openpgp.ReadMessage(block.Body, k.pgp, nil, nil)
		if err != nil {
			continue // not for our keys
		}
		b, err := io.ReadAll(msg.UnverifiedBody)
		if err != nil {
			failures = append(failures, fmt.Sprintf("fingerprint %s: %v", p.fp, err))
			continue
		}
		return b, nil
	}
	m := fmt.Sprintf("no PGP key matches fingerprints %s of this file; the reconciler has PGP keys %s", strings.Join(fps, ", "), strings.Join(k.pgpFingerprints, ", "))
	if len(failures) > 0 {
		m += " (" + strings.Join(failures, "; ") + ")"
	}
	return nil, errors.New(m)
}
