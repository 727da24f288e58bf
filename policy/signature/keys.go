// Package signature verifies Git commit signatures against trust anchors
// kept outside the repository: OpenPGP armored public keys and SSH
// allowed_signers lines (ssh-keygen(1), ALLOWED SIGNERS), the two formats
// `git verify-commit` accepts. It is pure: keys and signatures come in as
// bytes, a signer (a policy.User) or a reason goes out.
//
// It also holds the range rules of the reconciler's commit verification
// (Mode, CheckRange): every commit signed, or only the tip merge, and no
// force push that drops applied history.
package signature

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"golang.org/x/crypto/ssh"
)

// Keys are the trusted keys: who may sign what is deployed. The zero value
// trusts no one. Keys is read-only after Parse and safe for concurrent use.
type Keys struct {
	pgp openpgp.EntityList
	ssh []sshSigner
}

// sshSigner is one allowed_signers line.
type sshSigner struct {
	// where names the line for messages ("keys:3").
	where      string
	principals []string // patterns, as written
	name       string   // the first principal: the signer's user name
	namespaces string   // pattern list; "" allows every namespace
	after      time.Time
	before     time.Time
	key        ssh.PublicKey
	wire       []byte // key.Marshal(), what a signature's key is compared to
}

// Parse reads trusted keys from files (name → contents): each may hold
// OpenPGP armored public key blocks ("-----BEGIN PGP PUBLIC KEY BLOCK-----")
// and, outside them, SSH allowed_signers lines; blank lines and lines
// starting with # are ignored. An error names the file and line. Lines
// with the cert-authority option are refused: a certificate authority
// signs keys, and trusting one would make every certificate it issues
// (with any principal) an approver, which a reviewer of the trust file
// cannot see.
func Parse(files map[string][]byte) (*Keys, error) {
	k := &Keys{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := k.parseFile(name, files[name]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

const (
	pgpBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
	pgpEnd   = "-----END PGP PUBLIC KEY BLOCK-----"
)

func (k *Keys) parseFile(name string, data []byte) error {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == pgpBegin:
			start := i
			for i < len(lines) && strings.TrimSpace(lines[i]) != pgpEnd {
				i++
			}
			if i == len(lines) {
				return fmt.Errorf("failed to parse trusted keys %s:%d: OpenPGP key block without %s", name, start+1, pgpEnd)
			}
			block := strings.Join(lines[start:i+1], "\n") + "\n"
			el, err := openpgp.ReadArmoredKeyRing(strings.NewReader(block))
			if err != nil {
				return fmt.Errorf("failed to parse trusted keys %s:%d: OpenPGP key block: %w", name, start+1, err)
			}
			for _, e := range el {
				if pgpName(e) == "" {
					return fmt.Errorf("failed to parse trusted keys %s:%d: OpenPGP key %X has no user ID with an e-mail address (the signer's name)", name, start+1, e.PrimaryKey.Fingerprint)
				}
			}
			k.pgp = append(k.pgp, el...)
		default:
			s, err := parseAllowedSigner(line)
			if err != nil {
				return fmt.Errorf("failed to parse trusted keys %s:%d: %w", name, i+1, err)
			}
			s.where = fmt.Sprintf("%s:%d", name, i+1)
			k.ssh = append(k.ssh, s)
		}
	}
	return nil
}

// Len is how many keys are trusted (OpenPGP entities and SSH lines).
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.pgp) + len(k.ssh)
}

// pgpName is an OpenPGP key's user name: its primary user ID's e-mail.
func pgpName(e *openpgp.Entity) string {
	id := e.PrimaryIdentity()
	if id == nil || id.UserId == nil {
		return ""
	}
	return strings.ToLower(id.UserId.Email)
}

// parseAllowedSigner parses "principals [options] keytype base64 [comment]".
func parseAllowedSigner(line string) (sshSigner, error) {
	var s sshSigner
	principals, rest, err := firstField(line)
	if err != nil {
		return s, err
	}
	if principals == "" || strings.TrimSpace(rest) == "" {
		return s, errors.New("allowed_signers line needs principals and a key")
	}
	s.principals = strings.Split(principals, ",")
	s.name = strings.ToLower(s.principals[0])
	if strings.ContainsAny(s.name, "*?!") {
		return s, fmt.Errorf("the first principal %q is a pattern: it must name the signer (an e-mail address), as OWNERS files do", s.principals[0])
	}
	key, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return s, fmt.Errorf("failed to parse the key of %s: %w", principals, err)
	}
	if _, ok := key.(*ssh.Certificate); ok {
		return s, errors.New("a certificate is not an allowed signer: list the key itself")
	}
	s.key = key
	s.wire = key.Marshal()
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, "=")
		name = strings.ToLower(name)
		val = strings.Trim(val, `"`)
		switch {
		case name == "cert-authority":
			return s, errors.New("cert-authority is not supported: list each signer's key")
		case name == "namespaces" && hasVal:
			s.namespaces = val
		case name == "valid-after" && hasVal:
			if s.after, err = parseSSHTime(val); err != nil {
				return s, fmt.Errorf("valid-after: %w", err)
			}
		case name == "valid-before" && hasVal:
			if s.before, err = parseSSHTime(val); err != nil {
				return s, fmt.Errorf("valid-before: %w", err)
			}
		default:
			return s, fmt.Errorf("unknown option %q (allowed: namespaces, valid-after, valid-before)", o)
		}
	}
	return s, nil
}

// firstField splits off the first whitespace-separated field, which may be
// double-quoted.
func firstField(line string) (string, string, error) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return "", "", errors.New("unterminated quoted principals")
		}
		return line[1 : end+1], line[end+2:], nil
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, "", nil
	}
	return line[:i], line[i+1:], nil
}

// parseSSHTime parses ssh-keygen's YYYYMMDD[HHMM[SS]][Z]: UTC with a Z,
// else the local time zone, as ssh-keygen does.
func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		loc, v = time.UTC, v[:len(v)-1]
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	l, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("bad time %q: want YYYYMMDD[HHMM[SS]][Z]", v)
	}
	t, err := time.ParseInLocation(l, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad time %q: %w", v, err)
	}
	return t, nil
}

// matchList reports whether s matches OpenSSH's comma-separated pattern
// list (match_pattern_list): * and ? wildcards, a leading ! negates and a
// negated match wins.
func matchList(s, list string) bool {
	matched := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if matchPattern(strings.ToLower(s), strings.ToLower(p)) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// matchPattern is OpenSSH's match_pattern: * any run, ? one character.
func matchPattern(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		s, p = s[1:], p[1:]
	}
	return s == ""
}

func (k *Keys) sshByKey(wire []byte) []sshSigner {
	var out []sshSigner
	for _, s := range k.ssh {
		if bytes.Equal(s.wire, wire) {
			out = append(out, s)
		}
	}
	return out
}
