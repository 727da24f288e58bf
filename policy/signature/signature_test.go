package signature

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/internal/signtest"
)

// rawCommit reads commit h of repo as git stores it and splits it into its
// signature and the payload the signature signs (the commit without its
// gpgsig header), the way git verify-commit does.
func rawCommit(t *testing.T, r *signtest.Repo, h string) Commit {
	t.Helper()
	raw := r.Git(nil, "cat-file", "commit", h) + "\n"
	head, msg, _ := strings.Cut(raw, "\n\n")
	var payload, sig []string
	inSig := false
	for _, l := range strings.Split(head, "\n") {
		switch {
		case strings.HasPrefix(l, "gpgsig "):
			inSig = true
			sig = append(sig, strings.TrimPrefix(l, "gpgsig "))
		case inSig && strings.HasPrefix(l, " "):
			sig = append(sig, l[1:])
		default:
			inSig = false
			payload = append(payload, l)
		}
	}
	var parents []string
	tree := ""
	for _, l := range payload {
		if p, ok := strings.CutPrefix(l, "parent "); ok {
			parents = append(parents, p)
		}
		if p, ok := strings.CutPrefix(l, "tree "); ok {
			tree = p
		}
	}
	c := Commit{Hash: h, Parents: parents, Tree: tree, Message: msg, Author: "x", Time: time.Now(),
		Payload: []byte(strings.Join(payload, "\n") + "\n\n" + msg)}
	if len(sig) > 0 {
		c.Signature = strings.Join(sig, "\n") + "\n"
	}
	return c
}

func mustParse(t *testing.T, keys ...*signtest.Key) *Keys {
	t.Helper()
	k, err := Parse(map[string][]byte{"trusted": signtest.Trusted(keys...)})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return k
}

func reason(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func TestVerifyRealCommits(t *testing.T) {
	kr := signtest.New(t)
	alice := kr.SSH("alice@example.com")
	bob := kr.PGP("bob@example.com")
	eve := kr.SSH("eve@example.com")
	mallory := kr.PGP("mallory@example.com")
	r := kr.NewRepo(t.TempDir())
	keys := mustParse(t, alice, bob)

	cases := []struct {
		name   string
		key    *signtest.Key
		tamper bool
		signer string
		reason Reason
		fp     string
	}{
		{name: "ssh", key: alice, signer: "alice@example.com"},
		{name: "openpgp", key: bob, signer: "bob@example.com"},
		{name: "unsigned", reason: Unsigned},
		{name: "untrusted ssh", key: eve, reason: Untrusted, fp: eve.Fingerprint},
		{name: "untrusted openpgp", key: mallory, reason: Untrusted, fp: mallory.Fingerprint},
		{name: "tampered ssh", key: alice, tamper: true, reason: Bad},
		{name: "tampered openpgp", key: bob, tamper: true, reason: Bad},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := r.Commit(tc.key, tc.name, map[string]string{"f": strings.Repeat("x", i+1)})
			c := rawCommit(t, r, h)
			if tc.tamper {
				c.Payload = []byte(strings.Replace(string(c.Payload), tc.name, tc.name+"!", 1))
			}
			s, err := keys.Verify(c.Signature, c.Payload, c.Time)
			// git's own verdict on the same commit, with the same trust.
			gitOK := gitVerify(t, kr, r, h, alice, bob) == nil
			if tc.reason == 0 {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if s.User.Name != tc.signer || s.Format != tc.key.Format {
					t.Errorf("signer %+v, want %s (%s)", s, tc.signer, tc.key.Format)
				}
				if s.Fingerprint != tc.key.Fingerprint {
					t.Errorf("fingerprint %s, want %s", s.Fingerprint, tc.key.Fingerprint)
				}
				if !gitOK {
					t.Errorf("git verify-commit refuses what Verify accepts")
				}
				return
			}
			if got := reason(err); got != tc.reason {
				t.Fatalf("Verify: %v (reason %d), want reason %d", err, got, tc.reason)
			}
			if tc.fp != "" && !strings.Contains(err.Error(), tc.fp) {
				t.Errorf("error %q does not name the key %s", err, tc.fp)
			}
			if !tc.tamper && gitOK {
				t.Errorf("git verify-commit accepts what Verify refuses (%v)", err)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// gitVerify runs git verify-commit on h trusting keys (an allowed_signers
// file for SSH; the keyring holds every OpenPGP key, so an untrusted
// OpenPGP key is one not in keys, checked by fingerprint).
func gitVerify(t *testing.T, kr *signtest.Keyring, r *signtest.Repo, h string, keys ...*signtest.Key) error {
	t.Helper()
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed")
	var ssh []*signtest.Key
	pgp := map[string]bool{}
	for _, k := range keys {
		if k.Format == "ssh" {
			ssh = append(ssh, k)
		} else {
			pgp[k.Fingerprint] = true
		}
	}
	if err := os.WriteFile(allowed, signtest.Trusted(ssh...), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "--raw", h)
	cmd.Dir = r.Dir
	cmd.Env = kr.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	if strings.Contains(string(out), "GOODSIG") {
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[1] == "VALIDSIG" && !pgp[f[len(f)-1]] && !pgp[f[2]] {
				return errors.New("signed by an OpenPGP key not in keys")
			}
		}
	}
	return nil
}

// TestSSHKeyTypes: ECDSA and RSA (rsa-sha2-512, as ssh-keygen signs) keys
// verify like ed25519 ones.
func TestSSHKeyTypes(t *testing.T) {
	kr := signtest.New(t)
	r := kr.NewRepo(t.TempDir())
	for _, typ := range []string{"ecdsa", "rsa"} {
		k := kr.SSHKey(typ+"@example.com", typ, "")
		keys := mustParse(t, k)
		c := rawCommit(t, r, r.Commit(k, typ, map[string]string{"f": typ}))
		if s, err := keys.Verify(c.Signature, c.Payload, c.Time); err != nil || s.User.Name != typ+"@example.com" || s.Fingerprint != k.Fingerprint {
			t.Errorf("%s: %+v, %v", typ, s, err)
		}
	}
}

func TestSSHNamespaceAndValidity(t *testing.T) {
	kr := signtest.New(t)
	r := kr.NewRepo(t.TempDir())
	past := kr.SSHWith("old@example.com", `valid-before="20200101Z"`)
	future := kr.SSHWith("new@example.com", `valid-after="29990101"`)
	files := kr.SSHWith("files@example.com", `namespaces="file"`)
	any := kr.SSHWith("any@example.com", "")
	keys := mustParse(t, past, future, files, any)
	for _, tc := range []struct {
		key    *signtest.Key
		reason Reason
		detail string
	}{
		{past, Untrusted, "valid before 2020-01-01"},
		{future, Untrusted, "valid after 2999-01-01"},
		{files, Untrusted, `does not allow namespace "git"`},
		{any, 0, ""},
	} {
		h := r.Commit(tc.key, tc.key.Email, map[string]string{"f": tc.key.Email})
		c := rawCommit(t, r, h)
		_, err := keys.Verify(c.Signature, c.Payload, c.Time)
		if reason(err) != tc.reason || (tc.detail != "" && !strings.Contains(err.Error(), tc.detail)) {
			t.Errorf("%s: %v, want reason %d with %q", tc.key.Email, err, tc.reason, tc.detail)
		}
	}

	// A signature made in another namespace (ssh-keygen -Y sign -n file)
	// over the commit's payload is not a commit signature.
	h := r.Commit(nil, "unsigned", map[string]string{"g": "1"})
	c := rawCommit(t, r, h)
	dir := t.TempDir()
	msg := filepath.Join(dir, "payload")
	os.WriteFile(msg, c.Payload, 0o600)
	keyFile := strings.TrimPrefix(any.GitArgs()[3], "user.signingkey=")
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", "file", "-f", keyFile, msg).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, _ := os.ReadFile(msg + ".sig")
	if _, err := keys.Verify(string(sig), c.Payload, c.Time); reason(err) != Bad || !strings.Contains(err.Error(), `namespace "file"`) {
		t.Errorf("namespace file: %v", err)
	}
	// The same in namespace git is accepted: the SSHSIG parser agrees with
	// ssh-keygen's.
	os.Remove(msg + ".sig")
	if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", "git", "-f", keyFile, msg).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
	}
	sig, _ = os.ReadFile(msg + ".sig")
	if s, err := keys.Verify(string(sig), c.Payload, c.Time); err != nil || s.User.Name != "any@example.com" {
		t.Errorf("namespace git: %+v %v", s, err)
	}
}

// TestForgedKeyInSignature swaps a trusted key into a signature made by an
// untrusted one: it must read as a bad signature, not as the trusted key's.
func TestForgedKeyInSignature(t *testing.T) {
	kr := signtest.New(t)
	r := kr.NewRepo(t.TempDir())
	alice, eve := kr.SSH("alice@example.com"), kr.SSH("eve@example.com")
	keys := mustParse(t, alice)
	ce := rawCommit(t, r, r.Commit(eve, "by eve", map[string]string{"f": "1"}))
	ca := rawCommit(t, r, r.Commit(alice, "by alice", map[string]string{"f": "2"}))
	se, err := parseSSHSig(ce.Signature)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := parseSSHSig(ca.Signature)
	se.PublicKey = sa.PublicKey
	forged := armorSSHSig(se)
	if _, err := keys.Verify(forged, ce.Payload, ce.Time); reason(err) != Bad {
		t.Fatalf("forged key: %v, want a bad signature", err)
	}
	// Alice's signature over Eve's commit is bad too.
	if _, err := keys.Verify(ca.Signature, ce.Payload, ce.Time); reason(err) != Bad {
		t.Fatalf("signature of another commit: %v", err)
	}
	for _, junk := range []string{"-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----",
		"-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----", "-----BEGIN SIGNED MESSAGE-----"} {
		if _, err := keys.Verify(junk, ce.Payload, ce.Time); reason(err) != Bad {
			t.Errorf("%q: %v, want bad", junk, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	kr := signtest.New(t)
	a, b := kr.SSH("alice@example.com"), kr.PGP("bob@example.com")
	// Both formats in one file, with comments; a directory's files.
	mixed := "# team keys\n\n" + string(a.Trusted) + string(b.Trusted) + "\n"
	k, err := Parse(map[string][]byte{"one": []byte(mixed)})
	if err != nil || k.Len() != 2 {
		t.Fatalf("Parse: %v, %d keys", err, k.Len())
	}
	pub := strings.SplitN(strings.TrimSpace(string(a.Trusted)), " ", 3)[2]
	for _, tc := range []struct{ line, want string }{
		{"alice@example.com cert-authority " + pub, "cert-authority is not supported"},
		{"*@example.com " + pub, "is a pattern"},
		{"alice@example.com", "needs principals and a key"},
		{"alice@example.com ssh-ed25519 AAAAnotakey", "failed to parse the key"},
		{`alice@example.com valid-after="2024" ` + pub, "bad time"},
		{`alice@example.com permit-pty ` + pub, "unknown option"},
		{"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n", "without -----END"},
	} {
		_, err := Parse(map[string][]byte{"keys": []byte("# c\n" + tc.line + "\n")})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "keys:2") {
			t.Errorf("%q: %v, want %q at keys:2", tc.line, err, tc.want)
		}
	}
	if _, err := parseSSHTime("20240102Z"); err != nil {
		t.Error(err)
	}
	for s, list := range map[string]string{"git": "file,git", "gitx": "git*", "x": "*,!y"} {
		if !matchList(s, list) {
			t.Errorf("%s !~ %s", s, list)
		}
	}
	if matchList("git", "*,!git") || matchList("git", "file") {
		t.Error("negation or mismatch")
	}
}
