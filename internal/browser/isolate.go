package browser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/internal/innetns"
)

// An isolated browser runs in a network namespace of its own that has only
// a loopback interface. Chromium watches the interfaces and addresses of its
// namespace (NetworkChangeNotifier) and, when they change, drops every
// connection with net::ERR_NETWORK_CHANGED. On a test host the agents start
// pods in the host's namespace, adding and removing veths and addresses all
// the time, so a browser there loses its watch streams and followed logs,
// and a page opened just then may never finish loading. Nothing changes in a
// namespace of its own.
//
// The browser still reaches the servers under test at their own addresses
// (so URLs, and certificates naming 127.0.0.1, stay valid): for each
// forwarded address a listener on the same address inside the namespace
// proxies every connection to the address in the host's namespace.

// netnsDir is where `ip netns` keeps named namespaces.
const netnsDir = "/var/run/netns"

// nsPrefix starts the name of every namespace this package creates:
// stv-ui-<pid of the owner>-<sequence>. The stv- prefix is Stevedore's; the
// owner's PID lets a later Start remove what a killed run left.
const nsPrefix = "stv-ui-"

var nsSeq atomic.Int64

// isolation is one browser's namespace and its forwarders.
type isolation struct {
	name string
	path string

	mu    sync.Mutex
	lns   []net.Listener
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// ipCmd runs the ip command; an error carries its output.
func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("failed to run ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// isolate removes the namespaces of dead owners, creates a namespace with
// loopback up, and listens inside it on every forward address.
func isolate(ctx context.Context, forward []string) (*isolation, error) {
	reapStale(ctx)
	name := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))
	iso := &isolation{name: name, path: filepath.Join(netnsDir, name), conns: map[net.Conn]struct{}{}}
	if err := ipCmd(ctx, "netns", "add", name); err != nil {
		return nil, err
	}
	if err := iso.setup(ctx, forward); err != nil {
		iso.close()
		return nil, err
	}
	return iso, nil
}

func (iso *isolation) setup(ctx context.Context, forward []string) error {
	if err := ipCmd(ctx, "-n", iso.name, "link", "set", "lo", "up"); err != nil {
		return err
	}
	for _, addr := range forward {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return fmt.Errorf("failed to parse forward address %q (want IP:port): %w", addr, err)
		}
		// A loopback address exists inside already; another (a cluster
		// whose reconcilers have addresses of their own) is added to lo,
		// so that the browser dials it unchanged.
		if ip := ap.Addr().Unmap(); !ip.IsLoopback() {
			if err := ipCmd(ctx, "-n", iso.name, "addr", "add", netip.PrefixFrom(ip, ip.BitLen()).String(), "dev", "lo"); err != nil {
				return err
			}
		}
		ln, err := listenIn(iso.path, ap.String())
		if err != nil {
			return err
		}
		iso.mu.Lock()
		iso.lns = append(iso.lns, ln)
		iso.mu.Unlock()
		iso.wg.Add(1)
		go iso.serve(ln, ap.String())
	}
	return nil
}

// listenIn listens on addr inside the namespace at path. The socket belongs
// to the namespace it was made in, so it stays there after the thread
// returns to the host's.
func listenIn(path, addr string) (net.Listener, error) {
	ln, err := innetns.Run(path, func() (net.Listener, error) { return net.Listen("tcp", addr) })
	if err != nil {
		return nil, fmt.Errorf("failed to listen on %s in %s: %w", addr, path, err)
	}
	return ln, nil
}

// serve accepts the browser's connections on ln and proxies each to addr
// in the host's namespace (this goroutine's threads are all there).
func (iso *isolation) serve(ln net.Listener, addr string) {
	defer iso.wg.Done()
	for {
		in, err := ln.Accept()
		if err != nil {
			return // closed
		}
		iso.wg.Add(1)
		go func() {
			defer iso.wg.Done()
			iso.proxy(in, addr)
		}()
	}
}

// proxy copies both ways between the browser's connection and one it dials
// to addr, until both directions end; an end of one direction is passed on
// as a half-close, so that a request body or an answer ends as sent.
func (iso *isolation) proxy(in net.Conn, addr string) {
	if !iso.track(in) {
		in.Close()
		return
	}
	defer iso.untrack(in)
	out, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		// The browser sees a reset, as it would without the proxy.
		in.Close()
		return
	}
	if !iso.track(out) {
		out.Close()
		in.Close()
		return
	}
	defer iso.untrack(out)
	errc := make(chan error, 2)
	pipe := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok && err == nil {
			_ = tc.CloseWrite()
		} else {
			// A broken direction breaks the other: close both.
			dst.Close()
			src.Close()
		}
		errc <- err
	}
	go pipe(out, in)
	go pipe(in, out)
	<-errc
	<-errc
	in.Close()
	out.Close()
}

// track records c so that close can cut it; false once closing.
func (iso *isolation) track(c net.Conn) bool {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.done {
		return false
	}
	iso.conns[c] = struct{}{}
	return true
}

func (iso *isolation) untrack(c net.Conn) {
	iso.mu.Lock()
	delete(iso.conns, c)
	iso.mu.Unlock()
}

// wrap makes the browser's command start inside the namespace: `ip netns
// exec NAME chromium ARGS…` execs chromium in the same process, so the
// process chromedp waits for, and the parent-death signal that kills it
// with the test, are chromium's own.
func (iso *isolation) wrap(cmd *exec.Cmd) {
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		ipPath = "ip" // cmd.Start reports it
	}
	cmd.Args = append([]string{"ip", "netns", "exec", iso.name, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = ipPath
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// What chromedp's default does (a custom ModifyCmdFunc replaces it):
	// the browser dies with the test.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// close kills whatever still runs in the namespace (the browser is gone by
// now; a child that outlived it is not), cuts the forwarders and their
// connections, and deletes the namespace. It is safe to call twice.
func (iso *isolation) close() error {
	iso.mu.Lock()
	if iso.done {
		iso.mu.Unlock()
		return nil
	}
	iso.done = true
	for _, ln := range iso.lns {
		ln.Close()
	}
	for c := range iso.conns {
		c.Close()
	}
	iso.mu.Unlock()
	iso.wg.Wait()
	return removeNetns(iso.name)
}

// removeNetns kills the processes in the namespace name and deletes it.
func removeNetns(name string) error {
	path := filepath.Join(netnsDir, name)
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			killIn(st.Ino)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ipCmd(ctx, "netns", "del", name); err != nil {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("failed to delete netns %s: %w", name, err)
	}
	return nil
}

// killIn kills, until none is left, the processes whose network namespace
// is the one with inode ino: a process forking as it is killed shows up on
// a later pass.
func killIn(ino uint64) {
	want := "net:[" + strconv.FormatUint(ino, 10) + "]"
	for pass := 0; pass < 50; pass++ {
		n := 0
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); err == nil && l == want {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reapStale removes the namespaces (and kills the browsers in them) that a
// run killed before its Close left behind: those whose owner is dead.
func reapStale(ctx context.Context) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || alive(pid) || ctx.Err() != nil {
			continue
		}
		_ = removeNetns(e.Name())
	}
}

// alive reports whether pid is a running process.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
