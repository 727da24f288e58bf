// Package hollow hosts many hollow agents in one process: each is the real
// agent daemon (package agent: serf membership, the TLS /v1 API, fencing, the
// pod-set sync, the status stream, joining with the bootstrap token) over
// the hollow runtime (agent/runtime/hollow), with no networking pieces, no
// host measurements and its data directory wherever Config.DataDir says
// (a tmpfs, so that a thousand nodes' fsyncs do not queue on one disk).
// Each agent binds its own loopback address (127.0.0.0/8 is all loopback on
// Linux), so every node has an address of its own and the standard ports,
// and the machine's ephemeral ports are not used up. cmd/devcluster's
// `hollow` command runs a Host; the scale benchmark starts several.
package hollow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/agent/runtime/hollow"
)

// Config configures a Host.
type Config struct {
	// Nodes is how many agents the host runs; required.
	Nodes int
	// NamePrefix names the nodes <NamePrefix><i>, i from 1; zero means
	// "hollow-".
	NamePrefix string
	// Subnet is the second octet of the nodes' loopback addresses: node i
	// listens on 127.<Subnet>.<i/250>.<i%250+1>, API port agent.DefaultAPIAddr's
	// and gossip port agent.DefaultGossipAddr's. Hosts that run at the same
	// time need different subnets. Zero means 100.
	Subnet int
	// Join are the reconcilers' gossip addresses; Servers their API URLs
	// and Token the bootstrap token, to join with.
	Join    []string
	Servers []string
	Token   string
	// GossipProfile is every node's gossip timings (agent.Config's).
	GossipProfile string
	// DataDir holds the nodes' data directories; required.
	DataDir string
	// Runtime configures every node's hollow runtime.
	Runtime hollow.Config
	// MilliCPU, Memory and MaxPods are each node's allocatable; zero means
	// 8 CPUs, 32 GiB and agent.DefaultMaxPods.
	MilliCPU, Memory, MaxPods int64
	// Parallel bounds how many nodes start at once; zero means 32.
	Parallel int
	// StartRate bounds how many nodes start per second; zero means 20.
	// Every join is gossiped to every member, so n joins cost the machine
	// O(n²) messages: started all at once, a thousand hollow nodes starve
	// each other's probes and take each other for dead.
	StartRate float64
	// Logger receives the agents' logs; zero means slog.Default().
	Logger *slog.Logger
}

// Host is a running set of hollow agents.
type Host struct {
	cfg    Config
	agents []*agent.Agent
	rts    []*hollow.Runtime
	// bytes counts what every agent's API sent and received.
	read, written atomic.Int64
}

// Addr is node i's loopback address (i from 1).
func Addr(subnet, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, byte(subnet), byte(i / 250), byte(i%250 + 1)})
}

// Start starts every node and returns once all have started (joined the
// cluster's CA and bound their addresses); serf joins continue in the
// background. On failure it stops what it started.
func Start(ctx context.Context, cfg Config) (*Host, error) {
	if cfg.Nodes <= 0 || cfg.DataDir == "" {
		return nil, errors.New("a hollow host needs Nodes and DataDir")
	}
	if cfg.Nodes > 250*256 {
		return nil, fmt.Errorf("at most %d nodes per host", 250*256)
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "hollow-"
	}
	if cfg.Subnet == 0 {
		cfg.Subnet = 100
	}
	if cfg.Subnet < 1 || cfg.Subnet > 255 {
		return nil, fmt.Errorf("a hollow host's subnet is the second octet of 127.X: %d is not 1 to 255", cfg.Subnet)
	}
	if cfg.MilliCPU == 0 {
		cfg.MilliCPU = 8000
	}
	if cfg.Memory == 0 {
		cfg.Memory = 32 << 30
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 32
	}
	if cfg.StartRate <= 0 {
		cfg.StartRate = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	raiseFileLimit()
	h := &Host{cfg: cfg, agents: make([]*agent.Agent, cfg.Nodes), rts: make([]*hollow.Runtime, cfg.Nodes)}
	sem := make(chan struct{}, cfg.Parallel)
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Nodes)
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.StartRate))
	defer tick.Stop()
	for i := range cfg.Nodes {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			errc <- fmt.Errorf("stopped starting hollow nodes after %d: %w", i, ctx.Err())
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := h.startNode(ctx, i); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := errors.Join(collect(errc)...); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		h.Shutdown(sctx)
		return nil, err
	}
	return h, nil
}

func collect(c <-chan error) []error {
	var out []error
	for err := range c {
		out = append(out, err)
	}
	return out
}

// startNode builds and starts node i (0-based).
func (h *Host) startNode(ctx context.Context, i int) error {
	name := fmt.Sprintf("%s%d", h.cfg.NamePrefix, i+1)
	ip := Addr(h.cfg.Subnet, i+1).String()
	cfg := agent.DefaultConfig()
	cfg.NodeName = name
	cfg.APIAddr = net.JoinHostPort(ip, port(agent.DefaultAPIAddr))
	cfg.GossipAddr = net.JoinHostPort(ip, port(agent.DefaultGossipAddr))
	cfg.Join = h.cfg.Join
	cfg.GossipProfile = h.cfg.GossipProfile
	cfg.DataDir = filepath.Join(h.cfg.DataDir, name)
	cfg.AllocatableMilliCPU = h.cfg.MilliCPU
	cfg.AllocatableMemory = h.cfg.Memory
	cfg.MaxPods = h.cfg.MaxPods
	cfg.Logger = h.cfg.Logger
	cfg.Security.Token = h.cfg.Token
	cfg.Security.Servers = h.cfg.Servers
	cfg.Security.JoinTimeout = 5 * time.Minute
	// A hollow node has no host of its own to measure: pressure and
	// stats would report the machine's, a thousand times over.
	cfg.Eviction.HousekeepingInterval = -1
	cfg.StatsInterval = time.Hour
	cfg.LeasePort = -1
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("node %s: failed to listen on %s: %w", name, cfg.APIAddr, err)
	}
	rt := hollow.New(h.cfg.Runtime)
	a, err := agent.New(cfg, rt, agent.WithListener(&countingListener{Listener: ln, h: h}))
	if err != nil {
		ln.Close()
		return fmt.Errorf("node %s: %w", name, err)
	}
	if err := a.Start(ctx); err != nil {
		return fmt.Errorf("node %s: %w", name, err)
	}
	h.agents[i], h.rts[i] = a, rt
	return nil
}

func port(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

// Nodes is how many nodes run.
func (h *Host) Nodes() int { return len(h.agents) }

// Joined is how many nodes see at least one other member.
func (h *Host) Joined() int {
	n := 0
	for _, a := range h.agents {
		if a != nil && len(a.Members()) > 1 {
			n++
		}
	}
	return n
}

// Pods is how many pods the nodes' runtimes hold, and how many of them run.
func (h *Host) Pods() (total, running int) {
	for _, rt := range h.rts {
		if rt == nil {
			continue
		}
		for _, s := range rt.Status() {
			total++
			if s.Phase == "Running" {
				running++
			}
		}
	}
	return total, running
}

// APIBytes is what the nodes' APIs read and wrote so far (TLS records
// included: what crossed the wire).
func (h *Host) APIBytes() (read, written int64) { return h.read.Load(), h.written.Load() }

// Shutdown stops every node without leaving the cluster, as a host that
// died would (the scale benchmark kills hosts this way); Leave first for a
// graceful stop.
func (h *Host) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(h.agents))
	for i, a := range h.agents {
		if a == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.Shutdown(ctx)
			h.rts[i].Close()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// raiseFileLimit lifts the soft open-file limit to the hard one: each node
// holds a listener, gossip sockets and connections.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// countingListener counts the bytes of every connection it accepts.
type countingListener struct {
	net.Listener
	h *Host
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, h: l.h}, nil
}

type countingConn struct {
	net.Conn
	h *Host
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.h.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.h.written.Add(int64(n))
	return n, err
}
