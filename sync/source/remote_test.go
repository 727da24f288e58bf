package source

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSmartHTTP(t *testing.T) {
	u := newUpstream(t)
	c1 := u.commit("one", map[string]string{"deploy/a.yaml": "1\n"})
	u.push("main")
	base := serveHTTP(t, filepath.Dir(u.Bare), "")
	url := base + "/" + filepath.Base(u.Bare)

	s := newSource(t, Config{URL: url, Path: "deploy"})
	rev, err := s.Fetch(ctxT(t))
	if err != nil {
		t.Fatalf("Fetch over HTTP: %v", err)
	}
	if rev.Commit != c1 {
		t.Fatalf("commit = %s, want %s", rev.Commit, c1)
	}
	checkFiles(t, rev.Files, map[string]string{"a.yaml": "1\n"})

	c2 := u.commit("two", map[string]string{"deploy/b.yaml": "2\n"})
	u.push("main")
	rev, err = s.Fetch(ctxT(t))
	if err != nil || rev.Commit != c2 {
		t.Fatalf("Fetch over HTTP after commit = %v, %v; want %s", rev, err, c2)
	}
	head, err := s.RemoteHead(ctxT(t))
	if err != nil || head != c2 {
		t.Errorf("RemoteHead = %s, %v; want %s", head, err, c2)
	}

	s404 := newSource(t, Config{URL: base + "/missing.git"})
	if _, err := s404.Fetch(ctxT(t)); !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("missing repo over HTTP: err = %v, want ErrRepositoryNotFound", err)
	}
}

func TestSmartHTTPToken(t *testing.T) {
	u := newUpstream(t)
	c := u.commit("one", map[string]string{"a.yaml": "1\n"})
	u.push("main")
	const token = "ghp_s3cretTOKENvalue"
	base := serveHTTP(t, filepath.Dir(u.Bare), token)
	url := base + "/" + filepath.Base(u.Bare)

	s := newSource(t, Config{URL: url, Token: token})
	rev, err := s.Fetch(ctxT(t))
	if err != nil || rev.Commit != c {
		t.Fatalf("Fetch with token = %v, %v", rev, err)
	}

	const wrong = "ghp_wrongTOKENvalue"
	s = newSource(t, Config{URL: url, Token: wrong})
	_, err = s.Fetch(ctxT(t))
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong token: err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error leaks the token: %v", err)
	}
	if !strings.Contains(err.Error(), "rejected the token") {
		t.Errorf("error does not say the token was rejected: %v", err)
	}

	s = newSource(t, Config{URL: url})
	if _, err := s.Fetch(ctxT(t)); !errors.Is(err, ErrAuth) {
		t.Fatalf("no token: err = %v, want ErrAuth", err)
	}

	// Credentials in the URL work, and never show in errors.
	withCreds := strings.Replace(url, "http://", "http://me:"+token+"@", 1)
	s = newSource(t, Config{URL: withCreds})
	if rev, err := s.Fetch(ctxT(t)); err != nil || rev.Commit != c {
		t.Fatalf("Fetch with URL credentials = %v, %v", rev, err)
	}
	badCreds := strings.Replace(url, "http://", "http://me:"+wrong+"@", 1)
	s = newSource(t, Config{URL: badCreds})
	_, err = s.Fetch(ctxT(t))
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("bad URL credentials: err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "me:xxxxx@") {
		t.Errorf("error does not redact the URL: %v", err)
	}
}

func TestSSH(t *testing.T) {
	u := newUpstream(t)
	c := u.commit("one", map[string]string{"deploy/a.yaml": "1\n"})
	u.push("main")
	srv := newSSHServer(t, filepath.Dir(u.Bare))
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte(srv.HostLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "ssh://git@" + srv.Addr + "/" + filepath.Base(u.Bare)

	// The key is encrypted, as a deploy key at rest should be.
	enc := srv.encryptedKeyFile("test")
	s := newSource(t, Config{URL: url, Path: "deploy", SSHKeyFile: enc, SSHKeyPassphrase: "test", KnownHostsFile: known})
	rev, err := s.Fetch(ctxT(t))
	if err != nil {
		t.Fatalf("Fetch over SSH: %v", err)
	}
	if rev.Commit != c {
		t.Fatalf("commit = %s, want %s", rev.Commit, c)
	}
	checkFiles(t, rev.Files, map[string]string{"a.yaml": "1\n"})
	c2 := u.commit("two", map[string]string{"deploy/a.yaml": "2\n"})
	u.push("--force", "main")
	if rev, err := s.Fetch(ctxT(t)); err != nil || rev.Commit != c2 {
		t.Fatalf("Fetch over SSH after commit = %v, %v; want %s", rev, err, c2)
	}

	// A key the server does not accept.
	other := newSSHServer(t, filepath.Dir(u.Bare))
	s = newSource(t, Config{URL: url, SSHKeyFile: other.KeyFile, KnownHostsFile: known})
	if _, err := s.Fetch(ctxT(t)); !errors.Is(err, ErrAuth) {
		t.Errorf("unknown key: err = %v, want ErrAuth", err)
	}

	// A host whose key is not the one in known_hosts.
	wrongHosts := filepath.Join(dir, "wrong_hosts")
	line := strings.Replace(other.HostLine, other.Addr[strings.LastIndex(other.Addr, ":")+1:],
		srv.Addr[strings.LastIndex(srv.Addr, ":")+1:], 1)
	if err := os.WriteFile(wrongHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = newSource(t, Config{URL: url, SSHKeyFile: srv.KeyFile, KnownHostsFile: wrongHosts})
	if _, err := s.Fetch(ctxT(t)); !errors.Is(err, ErrHostKey) {
		t.Errorf("wrong host key: err = %v, want ErrHostKey", err)
	}

	// A host not in known_hosts at all.
	empty := filepath.Join(dir, "empty_hosts")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = newSource(t, Config{URL: url, SSHKeyFile: srv.KeyFile, KnownHostsFile: empty})
	if _, err := s.Fetch(ctxT(t)); !errors.Is(err, ErrHostKey) {
		t.Errorf("unknown host: err = %v, want ErrHostKey", err)
	}

	// A wrong passphrase is caught when the Source is made.
	if _, err := New(Config{URL: url, CacheDir: t.TempDir(), SSHKeyFile: enc, SSHKeyPassphrase: "nope", KnownHostsFile: known}); err == nil {
		t.Error("New with a wrong key passphrase succeeded")
	} else if strings.Contains(err.Error(), "nope") {
		t.Errorf("error leaks the passphrase: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:pw@example.com/r.git": "https://user:xxxxx@example.com/r.git",
		"https://TOKEN@example.com/r.git":   "https://xxxxx@example.com/r.git",
		"https://example.com/r.git":         "https://example.com/r.git",
		"ssh://git@example.com/r.git":       "ssh://git@example.com/r.git",
		"ssh://git:pw@example.com/r.git":    "ssh://git:xxxxx@example.com/r.git",
		"git@example.com:org/r.git":         "git@example.com:org/r.git",
		"/srv/git/r.git":                    "/srv/git/r.git",
		"file:///srv/git/r.git":             "file:///srv/git/r.git",
	} {
		if got := Redacted(in); got != want {
			t.Errorf("Redacted(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHungServerHonoursContext: a server that accepts connections and never
// speaks must not hold a Fetch (and the Source's lock) past its context.
// go-git's SSH handshake ignores contexts; sshdial.go makes it honour them.
func TestHungServerHonoursContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	key := newSSHServer(t, dir).KeyFile
	for _, url := range []string{
		"ssh://git@" + ln.Addr().String() + "/x.git",
		"http://" + ln.Addr().String() + "/x.git",
	} {
		s := newSource(t, Config{URL: url, SSHKeyFile: key, KnownHostsFile: known})
		for i, op := range []func(context.Context) error{
			func(ctx context.Context) error { _, err := s.Fetch(ctx); return err },
			func(ctx context.Context) error { _, err := s.RemoteHead(ctx); return err },
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			done := make(chan error, 1)
			go func() { done <- op(ctx) }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s op %d: err = %v, want DeadlineExceeded", url, i, err)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("%s op %d: still running 15 s after its 0.5 s deadline", url, i)
			}
			cancel()
		}
	}

	// A caller waiting behind a hung fetch gives up at its own deadline.
	s := newSource(t, Config{URL: "ssh://git@" + ln.Addr().String() + "/x.git", SSHKeyFile: key, KnownHostsFile: known})
	long, cancelLong := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelLong()
	first := make(chan error, 1)
	go func() { _, err := s.Fetch(long); first <- err }()
	time.Sleep(100 * time.Millisecond) // let it take the lock
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	_, err = s.Fetch(short)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("queued Fetch: err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("queued Fetch waited %v for the hung one", d)
	}
	cancelLong()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("hung Fetch: err = %v, want Canceled", err)
	}
}
