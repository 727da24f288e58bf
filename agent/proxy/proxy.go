// Package proxy is the Service proxy every agent runs: it turns the cluster's
// Services and their Ready endpoints into an nftables table (family ip) that
// DNATs traffic for cluster IPs and node ports to a randomly chosen endpoint,
// keeps ClientIP affinity, rejects connections to Services without endpoints
// and masquerades what needs it (hairpin traffic, node-port traffic leaving the
// node). It follows the design of kube-proxy's nftables mode: a few fixed base
// chains, verdict maps keyed by address . protocol . port, a chain per Service
// port and per endpoint, and `numgen random` for the choice.
//
// The proxy talks netlink through github.com/google/nftables; every Apply is
// one nftables transaction, so packets see either the old rules or the new,
// never a half-written table.
package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/google/nftables"
	nlconn "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Config configures a Proxy.
type Config struct {
	// Table is the name of the proxy's nftables table (family ip); zero:
	// "stevedore". A table of that name left by an earlier run is taken
	// over.
	Table string
	// ClusterCIDR holds every pod address of the cluster. Traffic to a
	// cluster IP from outside it (the node itself, other hosts) is
	// masqueraded when it leaves the node, so the endpoint's reply comes
	// back here to be un-NATed. Empty: no such masquerading.
	ClusterCIDR string
	// PodCIDR is this node's pod subnet (informational; logged).
	PodCIDR string
	// Bridge is the node's pod bridge. Node-port traffic that goes out
	// through it reaches a local pod, which answers through this node
	// anyway, so it keeps its client address; traffic leaving by any other
	// interface is masqueraded. Empty: all node-port traffic is masqueraded.
	Bridge string
	// ReservedNodePorts are ports the node itself serves on its addresses
	// (the agent's API and gossip): a NodePort Service asking for one is
	// left out on this node and logged, instead of capturing the node's own
	// traffic. Zero: none.
	ReservedNodePorts []int32
	// Logger receives the proxy's logs; zero: slog.Default().
	Logger *slog.Logger
}

// DefaultTable is the table name used when Config.Table is empty.
const DefaultTable = "stevedore"

// DefaultConfig returns a Config with every zero value filled.
func DefaultConfig() Config {
	var c Config
	c.fill()
	return c
}

func (c *Config) fill() {
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	if len(c.Table) > 200 {
		return fmt.Errorf("table name %q is too long", c.Table)
	}
	if c.ClusterCIDR != "" {
		if _, n, err := net.ParseCIDR(c.ClusterCIDR); err != nil || n.IP.To4() == nil {
			return fmt.Errorf("cluster CIDR %q is not an IPv4 CIDR", c.ClusterCIDR)
		}
	}
	if c.PodCIDR != "" {
		if _, n, err := net.ParseCIDR(c.PodCIDR); err != nil || n.IP.To4() == nil {
			return fmt.Errorf("pod CIDR %q is not an IPv4 CIDR", c.PodCIDR)
		}
	}
	if len(c.Bridge) > 15 {
		return fmt.Errorf("bridge name %q is longer than an interface name can be", c.Bridge)
	}
	return nil
}

// Proxy owns one nftables table in the network namespace New was called in.
type Proxy struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	closed bool
	ns     netns.NsHandle
	conn   *nftables.Conn
	nl     *netlink.Handle
	table  *nftables.Table
	// udp is what the last Apply routed for UDP, to flush the conntrack
	// entries of endpoints it no longer routes to.
	udp udpState
	// written is the signature of every chain the last successful Apply
	// left in the table (nil: unknown, rewrite everything).
	written   map[string]string
	setsSig   string
	rewritten int
	rules     int
	lastApply time.Duration
}

// New opens netlink sockets in the calling thread's network namespace (the
// proxy keeps working there whatever thread later calls it) and takes over
// the table if a previous run left one. The table itself is written by the
// first Apply.
func New(cfg Config) (*Proxy, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to validate proxy config: %w", err)
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("failed to get the current network namespace: %w", err)
	}
	conn, err := dialNFT(ns)
	if err != nil {
		ns.Close()
		return nil, err
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		conn.CloseLasting()
		ns.Close()
		return nil, fmt.Errorf("failed to open netlink handle: %w", err)
	}
	p := &Proxy{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "proxy", "table", cfg.Table),
		ns:    ns,
		conn:  conn,
		nl:    nl,
		table: &nftables.Table{Name: cfg.Table, Family: nftables.TableFamilyIPv4},
	}
	p.log.Info("service proxy started", "clusterCIDR", cfg.ClusterCIDR, "podCIDR", cfg.PodCIDR, "bridge", cfg.Bridge)
	return p, nil
}

// Apply makes the table route exactly the given Services (the whole set, as
// the leader sends it). It is idempotent, writes everything in one nftables
// transaction and then flushes the conntrack entries of UDP endpoints that
// stopped receiving traffic.
func (p *Proxy) Apply(services []api.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("failed to apply services: proxy is closed")
	}
	start := time.Now()
	pl, skipped := buildPlan(p.cfg, services)
	for _, err := range skipped {
		p.log.Warn("service not proxied", "err", err)
	}
	if err := p.write(pl, false); err != nil {
		p.log.Warn("failed to update service rules, recreating the table", "err", err)
		if err := p.write(pl, true); err != nil {
			return fmt.Errorf("failed to write service rules: %w", err)
		}
	}
	p.rules = pl.ruleCount()
	p.lastApply = time.Since(start)
	p.flushStaleUDP(pl.udp)
	p.log.Debug("service rules applied", "services", len(services), "chains", len(pl.chains),
		"rewritten", p.rewritten, "rules", p.rules, "took", p.lastApply)
	return nil
}

// Stats reports the number of rules in the table after the last Apply and
// how long that Apply took (planning, the netlink transaction and its
// acknowledgement, or the check that nothing changed).
func (p *Proxy) Stats() (rules int, lastApply time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rules, p.lastApply
}

// Close deletes the table and releases the netlink sockets. It is safe to
// call twice.
func (p *Proxy) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	if exists, err := p.tableExists(); err != nil {
		errs = append(errs, err)
	} else if exists {
		p.conn.DelTable(p.table)
		if err := p.conn.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("failed to delete table %s: %w", p.cfg.Table, err))
		}
	}
	if err := p.conn.CloseLasting(); err != nil {
		errs = append(errs, fmt.Errorf("failed to close nftables socket: %w", err))
	}
	p.nl.Close()
	p.ns.Close()
	p.log.Info("service proxy stopped")
	return errors.Join(errs...)
}

func dialNFT(ns netns.NsHandle) (*nftables.Conn, error) {
	conn, err := nftables.New(nftables.AsLasting(), nftables.WithNetNSFd(int(ns)),
		nftables.WithSockOptions(bigBuffers))
	if err != nil {
		return nil, fmt.Errorf("failed to open nftables netlink socket: %w", err)
	}
	return conn, nil
}

// reopen replaces the nftables connection, dropping whatever messages were
// queued on it.
func (p *Proxy) reopen() error {
	_ = p.conn.CloseLasting()
	conn, err := dialNFT(p.ns)
	if err != nil {
		return err
	}
	p.conn = conn
	return nil
}

// socketBuffer is the netlink socket's send and receive buffer. The whole
// table goes in one transaction, sent in one sendmsg (for 1,000 endpoints,
// past the default buffer), and the kernel acknowledges every message of it (thousands of
// small replies): the default 208 KiB buffers fail with EMSGSIZE and ENOBUFS
// well before that. nft itself forces its buffers up the same way. Memory is
// only used while a batch is in flight.
const socketBuffer = 64 << 20

// bigBuffers raises the socket's buffers past net.core.[rw]mem_max, which
// the FORCE options allow a process with CAP_NET_ADMIN, which the proxy needs
// anyway.
func bigBuffers(c *nlconn.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("failed to reach the netlink socket: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, socketBuffer); e != nil {
				serr = e
			}
		}
	}); err != nil {
		return fmt.Errorf("failed to reach the netlink socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("failed to size netlink socket buffers: %w", serr)
	}
	return nil
}

func (p *Proxy) tableExists() (bool, error) {
	tables, err := p.conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("failed to list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == p.cfg.Table {
			return true, nil
		}
	}
	return false, nil
}
