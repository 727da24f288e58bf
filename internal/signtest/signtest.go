// Package signtest makes real signing keys (gpg and ssh-keygen from
// Debian) and repositories of commits signed with them, for the tests of
// commit verification. The tools must be installed: a test fails, never
// skips, without them.
package signtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// TB is what the package needs of a test (testing.TB has it); a
// benchmark outside go test passes its own.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Keyring holds the keys of a test: one GnuPG home for every OpenPGP key,
// a directory for the SSH keys. Its gpg-agent is stopped at cleanup.
type Keyring struct {
	t   TB
	dir string
	// GNUPGHOME is the keyring's GnuPG home (short: agent sockets live
	// there).
	GNUPGHOME string
}

// Key is one signer's key.
type Key struct {
	Email string
	// Format is "ssh" or "openpgp" (git's gpg.format).
	Format string
	// Fingerprint is gpg's fingerprint of an OpenPGP key, ssh-keygen's
	// SHA256:… of an SSH key.
	Fingerprint string
	// Trusted is what a trusted keys file holds for this key: an
	// allowed_signers line or an armored public key.
	Trusted    []byte
	signingKey string
}

// New makes a Keyring in short temporary directories.
func New(t TB) *Keyring {
	t.Helper()
	for _, tool := range []string{"git", "gpg", "ssh-keygen", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (apt-get install git gnupg openssh-client): %v", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "signtest")
	if err != nil {
		t.Fatal(err)
	}
	k := &Keyring{t: t, dir: dir, GNUPGHOME: filepath.Join(dir, "g")}
	if err := os.Mkdir(k.GNUPGHOME, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = k.Env()
		_ = cmd.Run()
		os.RemoveAll(dir)
	})
	return k
}

// Env is the environment gpg and git run with.
func (k *Keyring) Env() []string {
	return append(os.Environ(), "GNUPGHOME="+k.GNUPGHOME, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
}

func (k *Keyring) run(name string, args ...string) string {
	k.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = k.Env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		k.t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return string(out)
}

// SSH makes an ed25519 key for email; its Trusted line allows namespace
// git.
func (k *Keyring) SSH(email string) *Key {
	return k.SSHWith(email, `namespaces="git"`)
}

// SSHWith makes an ed25519 key whose allowed_signers line has options
// ("" for none).
func (k *Keyring) SSHWith(email, options string) *Key {
	return k.SSHKey(email, "ed25519", options)
}

// SSHKey makes an SSH key of a type ssh-keygen -t knows (ed25519, ecdsa,
// rsa) whose allowed_signers line has options.
func (k *Keyring) SSHKey(email, typ, options string) *Key {
	k.t.Helper()
	path := filepath.Join(k.dir, strings.NewReplacer("@", "_", ".", "_").Replace(email))
	k.run("ssh-keygen", "-q", "-t", typ, "-N", "", "-C", email, "-f", path)
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		k.t.Fatal(err)
	}
	fp := strings.Fields(k.run("ssh-keygen", "-l", "-E", "sha256", "-f", path+".pub"))[1]
	line := email + " "
	if options != "" {
		line += options + " "
	}
	line += strings.TrimSpace(string(pub)) + "\n"
	return &Key{Email: email, Format: "ssh", Fingerprint: fp, Trusted: []byte(line), signingKey: path}
}

// PGP makes an ed25519 OpenPGP signing key for "Name <email>".
func (k *Keyring) PGP(email string) *Key {
	k.t.Helper()
	uid := strings.Split(email, "@")[0] + " <" + email + ">"
	k.run("gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")
	fp := ""
	for _, l := range strings.Split(k.run("gpg", "--batch", "--with-colons", "--fingerprint", "="+uid), "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" {
			fp = f[9]
			break
		}
	}
	if fp == "" {
		k.t.Fatalf("no fingerprint for %s", uid)
	}
	pub := k.run("gpg", "--batch", "--armor", "--export", fp)
	return &Key{Email: email, Format: "openpgp", Fingerprint: fp, Trusted: []byte(pub), signingKey: fp}
}

// Trusted concatenates keys' Trusted entries: a trusted keys file.
func Trusted(keys ...*Key) []byte {
	var b []byte
	for _, k := range keys {
		b = append(b, k.Trusted...)
	}
	return b
}

// GitArgs are the git options that sign with k.
func (k *Key) GitArgs() []string {
	return []string{"-c", "gpg.format=" + k.Format, "-c", "user.signingkey=" + k.signingKey}
}

// Repo is a work-tree repository made with the git binary.
type Repo struct {
	t  TB
	kr *Keyring
	// Dir is its work tree (a URL a Source fetches).
	Dir string
	// Env is added to git's environment (GIT_COMMITTER_DATE=…).
	Env []string
}

// NewRepo makes an empty repository on branch main.
func (k *Keyring) NewRepo(dir string) *Repo {
	r := &Repo{t: k.t, kr: k, Dir: dir}
	r.Git(nil, "init", "-q", "-b", "main")
	return r
}

// Git runs git in the repository as key's owner (author and committer),
// signing with key when the command signs; nil is an anonymous author.
func (r *Repo) Git(key *Key, args ...string) string {
	r.t.Helper()
	email, name := "nobody@example.com", "Nobody"
	if key != nil {
		email, name = key.Email, strings.Split(key.Email, "@")[0]
		args = append(key.GitArgs(), args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(r.kr.Env(), "GIT_AUTHOR_NAME="+name, "GIT_AUTHOR_EMAIL="+email,
		"GIT_COMMITTER_NAME="+name, "GIT_COMMITTER_EMAIL="+email, "HOME="+r.Dir)
	cmd.Env = append(cmd.Env, r.Env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(bytes.TrimSpace(out))
}

// Commit writes files (path → content; "" deletes) and commits them,
// signed with key (nil: unsigned, by nobody), returning the hash.
func (r *Repo) Commit(key *Key, msg string, files map[string]string) string {
	r.t.Helper()
	r.Write(files)
	r.Git(key, "add", "-A")
	args := []string{"commit", "-q", "--allow-empty", "-m", msg}
	if key != nil {
		args = append(args, "-S")
	}
	r.Git(key, args...)
	return r.Git(nil, "rev-parse", "HEAD")
}

// Write writes files (path → content; "" deletes) into the work tree.
func (r *Repo) Write(files map[string]string) {
	r.t.Helper()
	WriteFiles(r.t, r.Dir, files)
}

// WriteFiles writes files (path relative to dir → content; "" deletes),
// making directories as needed: a work tree's change before a commit.
func WriteFiles(t TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if content == "" {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Merge merges branch into the current branch with a merge commit (never a
// fast-forward) signed with key (nil: unsigned), returning its hash.
func (r *Repo) Merge(key *Key, branch, msg string) string {
	r.t.Helper()
	args := []string{"merge", "-q", "--no-ff", "-m", msg, branch}
	if key != nil {
		args = append(args, "-S")
	}
	r.Git(key, args...)
	return r.Git(nil, "rev-parse", "HEAD")
}
