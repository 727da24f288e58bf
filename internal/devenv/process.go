package devenv

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrNotReady is returned when a started process or service does not become
// ready in time.
var ErrNotReady = errors.New("not ready in time")

// FreeAddr returns a 127.0.0.1 TCP address that was free a moment ago. There
// is a race between closing the probe listener and the caller binding it,
// accepted here because every process we start binds within milliseconds.
func FreeAddr() (string, error) { return FreeAddrOn("127.0.0.1") }

// FreeAddrOn is FreeAddr on the given host address. The port is free for
// TCP and UDP (gossip uses both) and below the kernel's ephemeral range
// (32768 and up): a process binds it only later, and meanwhile any port-0
// listener of a test running beside it could otherwise take it.
func FreeAddrOn(host string) (string, error) {
	for range 500 {
		port := 20000 + mathrand.IntN(12000)
		// A port handed out before may not be bound yet (a cluster picks
		// all its processes' ports before it starts them): never twice.
		handedOut.Lock()
		taken := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if taken {
			continue
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return addr, nil
	}
	return "", fmt.Errorf("failed to find a free port on %s", host)
}

// handedOut is every port FreeAddrOn returned (or tried) in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// process is a child process we own: started in its own process group so a
// stop reaches its children too, waited for exactly once.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File

	done    chan struct{}
	waitErr error
	once    sync.Once
}

// startProcess starts argv with stdout and stderr appended to logPath.
func startProcess(name, logPath string, env []string, argv ...string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to open log of %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawner(cmd); err != nil {
		logf.Close()
		return nil, fmt.Errorf("failed to start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited; a process that never
// started (nil) has.
func (p *process) exited() bool {
	if p == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace. Safe to
// call twice, and on nil.
func (p *process) stop(grace time.Duration) error {
	if p == nil {
		return nil
	}
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	})
	return nil
}

// kill sends SIGKILL to the process group and waits for it. Safe to call
// twice, after stop, and on nil.
func (p *process) kill() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// waitFor polls check every interval until it returns nil, ctx ends or
// timeout passes. The last error from check is wrapped into the result so a
// failure says what was still wrong.
func waitFor(ctx context.Context, timeout, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %s: %w", ErrNotReady, timeout, last)
		case <-time.After(interval):
		}
	}
}

// Linux sends Pdeathsig when the *thread* that forked a child exits, not
// the process. Go retires a thread whose goroutine exits while locked to
// it (code that enters a network namespace and cannot, or chooses not to,
// switch back), and that thread may be the one a child was forked from:
// the child would be killed in the middle of a test. So every process is
// forked from one goroutine locked to its own thread, which never exits.
var spawner = struct {
	once sync.Once
	reqs chan spawnRequest
}{reqs: make(chan spawnRequest)}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// startOnSpawner starts cmd from the spawner thread.
func startOnSpawner(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		go func() {
			goruntime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawner.reqs <- spawnRequest{cmd: cmd, done: done}
	return <-done
}
