package source

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// gitEnv isolates the git CLI from the machine's configuration so tests
// behave the same for every user and in CI.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Ada Lovelace",
		"GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada Lovelace",
		"GIT_COMMITTER_EMAIL=ada@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

// upstream is a bare repository plus a work tree that pushes to it, both
// made with the git CLI: the remote a Source tracks in these tests.
type upstream struct {
	t    *testing.T
	home string
	Bare string // path of the bare repository
	Work string // work tree cloned from Bare
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git CLI is required (apt-get install git): %v", err)
	}
	dir := t.TempDir()
	u := &upstream{t: t, home: dir, Bare: filepath.Join(dir, "remote.git"), Work: filepath.Join(dir, "work")}
	u.git(dir, "init", "--bare", "-b", "main", u.Bare)
	u.git(dir, "init", "-b", "main", u.Work)
	u.git(u.Work, "remote", "add", "origin", u.Bare)
	return u
}

func (u *upstream) git(dir string, args ...string) string {
	u.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(u.home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		u.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (a nil value deletes) in the work tree and commits
// them; it returns the new commit's hash.
func (u *upstream) commit(msg string, files map[string]string) string {
	u.t.Helper()
	for name, content := range files {
		p := filepath.Join(u.Work, filepath.FromSlash(name))
		if content == "\x00delete" {
			if err := os.Remove(p); err != nil {
				u.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			u.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	u.git(u.Work, "add", "-A")
	u.git(u.Work, "commit", "-q", "-m", msg)
	return u.git(u.Work, "rev-parse", "HEAD")
}

func (u *upstream) push(args ...string) {
	u.t.Helper()
	u.git(u.Work, append([]string{"push", "-q", "origin"}, args...)...)
}

// serveHTTP serves root's repositories over git's smart HTTP protocol with
// git http-backend behind net/http/cgi on 127.0.0.1. When token is set,
// requests must carry it as the basic-auth password, as hosted forges do.
func serveHTTP(t *testing.T, root, token string) string {
	t.Helper()
	backend := "/usr/lib/git-core/git-http-backend"
	if out, err := exec.Command("git", "--exec-path").Output(); err == nil {
		backend = filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	}
	if _, err := os.Stat(backend); err != nil {
		t.Fatalf("git http-backend is required (apt-get install git): %v", err)
	}
	h := &cgi.Handler{
		Path:   backend,
		Stderr: io.Discard, // "Not a git repository" for the 404 test

		Env: []string{
			"GIT_PROJECT_ROOT=" + root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			_, pw, ok := r.BasicAuth()
			if !ok || pw != token {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// sshServer is a minimal SSH git host: public-key auth for one key, and an
// exec of git-upload-pack for the repository under root.
type sshServer struct {
	t         *testing.T
	root      string
	ln        net.Listener
	config    *ssh.ServerConfig
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     []net.Conn
	Addr      string
	HostLine  string // known_hosts line for this server
	KeyFile   string // client private key accepted by the server
	clientKey ed25519.PrivateKey
}

func newSSHServer(t *testing.T, root string) *sshServer {
	t.Helper()
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	allowed, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(allowed.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sshServer{t: t, root: root, ln: ln, config: cfg, Addr: ln.Addr().String(), KeyFile: keyFile, clientKey: clientPriv}
	_, port, _ := net.SplitHostPort(s.Addr)
	s.HostLine = fmt.Sprintf("[127.0.0.1]:%s %s", port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))))
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// encryptedKeyFile writes the accepted client key encrypted with
// passphrase. Encrypting and decrypting run bcrypt, which takes seconds
// under -race on a busy machine, so only the passphrase test does it.
func (s *sshServer) encryptedKeyFile(passphrase string) string {
	s.t.Helper()
	block, err := ssh.MarshalPrivateKeyWithPassphrase(s.clientKey, "test key", []byte(passphrase))
	if err != nil {
		s.t.Fatal(err)
	}
	f := filepath.Join(s.t.TempDir(), "id_ed25519_enc")
	if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
		s.t.Fatal(err)
	}
	return f
}

func (s *sshServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *sshServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleConn(c)
		}()
	}
}

func (s *sshServer) handleConn(c net.Conn) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		return
	}
	defer sc.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handleSession(ch, creqs)
		}()
	}
}

func (s *sshServer) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type == "env" {
			req.Reply(true, nil)
			continue
		}
		if req.Type != "exec" || len(req.Payload) < 4 {
			req.Reply(false, nil)
			continue
		}
		n := binary.BigEndian.Uint32(req.Payload)
		command := string(req.Payload[4 : 4+n])
		prog, arg, _ := strings.Cut(command, " ")
		repo := strings.Trim(arg, "'")
		if prog != "git-upload-pack" || strings.Contains(repo, "..") {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := exec.Command("git-upload-pack", filepath.Join(s.root, filepath.Clean("/"+repo)))
		cmd.Env = gitEnv(s.root)
		cmd.Stdout = ch
		cmd.Stderr = ch.Stderr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return
		}
		code := uint32(0)
		if err := cmd.Start(); err != nil {
			code = 127
		} else {
			// Our own copier, not exec's: it blocks reading the channel
			// until the client closes it, which Wait must not wait for.
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				io.Copy(stdin, ch)
				stdin.Close()
			}()
			if err := cmd.Wait(); err != nil {
				code = 1
			}
		}
		ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, code))
		return
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60e9)
	t.Cleanup(cancel)
	return ctx
}
