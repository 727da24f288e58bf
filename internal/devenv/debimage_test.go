package devenv

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestParseLdd(t *testing.T) {
	out := `	linux-vdso.so.1 (0x00007ffd)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3b)
	/lib64/ld-linux-x86-64.so.2 (0x00007f3c)
`
	got, err := parseLdd("/bin/x", []byte(out))
	if err != nil || strings.Join(got, " ") != "/lib/x86_64-linux-gnu/libc.so.6 /lib64/ld-linux-x86-64.so.2" {
		t.Fatalf("parseLdd = %v, %v", got, err)
	}
	if _, err := parseLdd("/bin/x", []byte("\tlibfoo.so.1 => not found\n")); err == nil || !strings.Contains(err.Error(), "libfoo.so.1") {
		t.Fatalf("missing library: %v", err)
	}
}

// extractImage writes ref's flattened file system under dir.
func extractImage(t *testing.T, ctx context.Context, ref, dir string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = os.Chmod(p, os.FileMode(h.Mode).Perm()) // past the umask
			}
		case tar.TypeSymlink:
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			_ = os.MkdirAll(filepath.Dir(p), 0o755)
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				f.Close()
			}
		}
		if err != nil {
			t.Fatalf("extract %s: %v", h.Name, err)
		}
	}
}

// redisCmd sends one inline command and reads one reply line.
func redisCmd(t *testing.T, c net.Conn, rd *bufio.Reader, cmd string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\r\n", cmd); err != nil {
		t.Fatal(err)
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	if strings.HasPrefix(line, "$") && !strings.HasPrefix(line, "$-1") {
		line, err = rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimRight(line, "\r\n")
}

// TestRedisImage builds the redis image from the host's Debian packages,
// pulls it back and runs its redis-server chrooted into the image's file
// system alone (so a library left out fails it), then its redis-cli
// against it, and a replica that follows it.
func TestRedisImage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry and redis servers")
	}
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err != nil {
		t.Fatal("redis-server is not installed: install the Debian package redis-server (make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg, err := StartRegistry(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Stop()
	ref := reg.Addr + "/" + RedisRepo
	if err := RedisImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extractImage(t, ctx, ref, root)
	if fi, err := os.Lstat(filepath.Join(root, "usr/bin/redis-server")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("usr/bin/redis-server should stay a link (redis picks its role by name): %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "data")); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("/data: %v", err)
	}

	port := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	start := func(args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{root, "/usr/bin/redis-server"}, args...)...)
		cmd.Env = []string{"PATH=/usr/local/bin:/bin"}
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("redis-server %v:\n%s", args, out)
			}
		})
		return cmd
	}
	dial := func(p int) (net.Conn, *bufio.Reader) {
		var c net.Conn
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis on %d never answered: %v", p, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	pp, rp := port(), port()
	start("--port", fmt.Sprint(pp), "--bind", "127.0.0.1", "--save", "", "--dir", "/data")
	pc, prd := dial(pp)
	if got := redisCmd(t, pc, prd, "PING"); got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := redisCmd(t, pc, prd, "SET greeting hello"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	// The image's redis-cli works too (the patterns' worker pool uses it).
	out, err := exec.CommandContext(ctx, "chroot", root, "/usr/bin/redis-cli", "-p", fmt.Sprint(pp), "GET", "greeting").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("redis-cli GET = %q, %v", out, err)
	}
	// A replica, started as the patterns' StatefulSet starts ordinals > 0.
	start("--port", fmt.Sprint(rp), "--bind", "127.0.0.1", "--save", "", "--dir", "/tmp", "--replicaof", "127.0.0.1", fmt.Sprint(pp))
	rc, rrd := dial(rp)
	deadline := time.Now().Add(20 * time.Second)
	for redisCmd(t, rc, rrd, "GET greeting") != "hello" {
		if time.Now().After(deadline) {
			t.Fatal("the replica never got the primary's key")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := redisCmd(t, rc, rrd, "SET x 1"); !strings.Contains(got, "READONLY") {
		t.Errorf("write to the replica = %q, want READONLY", got)
	}
}
