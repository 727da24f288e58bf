package devenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Reconciler is one reconciler process of a Cluster.
type Reconciler struct {
	// Name is the reconciler's member name (--name), and names its log:
	// "reconciler" when the cluster has one, reconciler-1… otherwise.
	Name string
	// URL is the API's base URL; APIAddr, Gossip and Raft are host:port.
	URL     string
	APIAddr string
	Gossip  string
	Raft    string
	DataDir string
	// Netns is the process's network namespace ("" without
	// ClusterConfig.Netns).
	Netns string
	// BinDir holds the reconciler binary this process runs: the
	// cluster's ReconcilerBinDir until UpgradeReconciler changes it.
	BinDir string
	short  string
	proc   *process
}

// Agent is one agent process of a Cluster.
type Agent struct {
	Name    string
	APIAddr string
	Gossip  string
	DataDir string
	// PodCIDR is the node's pod CIDR as the leader allocated it, known once
	// StartCluster returns.
	PodCIDR string
	// Netns is the process's network namespace ("" without
	// ClusterConfig.Netns).
	Netns string
	// BinDir holds the agent binary (and its log driver) this process
	// runs: the cluster's AgentBinDir until UpgradeAgent changes it.
	BinDir string
	short  string
	// flags are the agent's command-line flags; agentArgv adds the
	// binary and the namespace prefix.
	flags []string
	proc  *process
}

// addrs returns the API, gossip and raft addresses of a process: fixed
// ports on its own address in a namespace, free loopback ports otherwise.
func (c *Cluster) addrs(host netip.Addr, ports ...int) ([]string, error) {
	out := make([]string, len(ports))
	for i, p := range ports {
		if c.net != nil {
			out[i] = net.JoinHostPort(host.String(), strconv.Itoa(p))
			continue
		}
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// newReconciler fills in reconciler i (0-based) and, with Netns, creates
// its namespace.
func (c *Cluster) newReconciler(ctx context.Context, i int) (*Reconciler, error) {
	r := &Reconciler{Name: "reconciler", short: fmt.Sprintf("r%d", i+1), BinDir: c.cfg.ReconcilerBinDir}
	if c.cfg.Reconcilers > 1 {
		r.Name = fmt.Sprintf("reconciler-%d", i+1)
	}
	r.DataDir = filepath.Join(c.Dir, r.Name)
	var host netip.Addr
	if c.net != nil {
		host = c.net.host(firstReconcilerHost + i)
		r.Netns = c.net.nsName(r.short)
		if err := c.net.addHost(ctx, r.short, host); err != nil {
			return nil, err
		}
	}
	a, err := c.addrs(host, nsAPIPort, nsGossipPort, nsRaftPort)
	if err != nil {
		return nil, err
	}
	r.APIAddr, r.Gossip, r.Raft = a[0], a[1], a[2]
	if i == 0 && c.cfg.APIAddr != "" && c.net == nil {
		r.APIAddr = c.cfg.APIAddr
	}
	r.URL = c.scheme() + r.APIAddr
	return r, nil
}

// reconcilerArgv is reconciler i's command line. It joins the first other
// reconciler still running (none for the first start of the first one), so
// a restart finds the group even when reconciler 1 is down.
func (c *Cluster) reconcilerArgv(i int) []string {
	r := c.Reconcilers[i]
	argv := []string{filepath.Join(r.BinDir, "reconciler"),
		"--name", r.Name,
		"--repo", c.Repo.Bare, "--branch", c.Repo.Branch, "--data-dir", r.DataDir,
		"--api", r.APIAddr, "--gossip", r.Gossip, "--webhook-secret", c.cfg.WebhookSecret,
		// Each cluster has a 10.<PodSubnet>.0.0/16 of its own: pods in
		// the lower half, Services in the upper, so that clusters that
		// share a network namespace (without Netns) never collide.
		"--cluster-cidr", fmt.Sprintf("10.%d.0.0/17", c.cfg.PodSubnet),
		"--service-cidr", fmt.Sprintf("10.%d.128.0/17", c.cfg.PodSubnet),
		"--sops-age-key-file", c.AgeKeyFile,
	}
	argv = append(argv, c.cfg.ReconcilerArgs...)
	n := len(c.Reconcilers)
	argv = append(argv, "--raft", r.Raft, "--bootstrap-expect", strconv.Itoa(n))
	if i > 0 {
		argv = append(argv, c.joinArgs(true)...)
	}
	if n > 1 {
		for j, o := range c.Reconcilers {
			if p := c.reconcilerProc(j); j != i && p != nil && !p.exited() {
				argv = append(argv, "--join", o.Gossip)
				break
			}
		}
	}
	if r.Netns != "" {
		argv = append([]string{"ip", "netns", "exec", r.Netns}, argv...)
	}
	return argv
}

// startReconciler starts reconciler i's process.
func (c *Cluster) startReconciler(i int) error {
	r := c.Reconcilers[i]
	c.log.Info("starting reconciler", "name", r.Name, "api", r.URL)
	argv := c.reconcilerArgv(i)
	p, err := startProcess(r.Name, c.LogPath(r.Name), nil, argv...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	r.proc = p
	c.mu.Unlock()
	return nil
}

// startAgent creates and starts agent number i (1-based).
func (c *Cluster) startAgent(ctx context.Context, i int) error {
	a := &Agent{
		Name:    fmt.Sprintf("%s-%d", c.cfg.NodePrefix, i),
		DataDir: filepath.Join(c.Dir, "agents", fmt.Sprintf("%s-%d", c.cfg.NodePrefix, i)),
		short:   fmt.Sprintf("a%d", i),
	}
	var host netip.Addr
	if c.net != nil {
		host = c.net.host(firstAgentHost + i - 1)
		a.Netns = c.net.nsName(a.short)
		if err := c.net.addHost(ctx, a.short, host); err != nil {
			return err
		}
	}
	addrs, err := c.addrs(host, nsAgentPort, nsGossipPort)
	if err != nil {
		return err
	}
	a.APIAddr, a.Gossip = addrs[0], addrs[1]
	a.BinDir = c.cfg.AgentBinDir
	a.flags = []string{
		"--node", a.Name, "--gossip", a.Gossip, "--api", a.APIAddr,
		"--data-dir", a.DataDir, "--containerd", c.Containerd.Address,
		"--insecure-registry", c.Registry.Addr,
		// Development clusters let pods mount host paths (docs/volumes.md).
		"--allow-host-paths",
	}
	for _, r := range c.Reconcilers {
		a.flags = append(a.flags, "--join", r.Gossip)
	}
	a.flags = append(a.flags, c.joinArgs(false)...)
	if st := c.Storage; st != nil {
		a.flags = append(a.flags, "--volume-ssh-identity", st.IdentityFile, "--volume-ssh-known-hosts", st.KnownHostsFile,
			"--volume-ssh-base-path", st.Root)
	}
	a.flags = append(a.flags, c.cfg.AgentArgs...)
	c.log.Info("starting agent", "node", a.Name, "api", a.APIAddr)
	if a.proc, err = startProcess(a.Name, c.LogPath(a.Name), nil, a.argv()...); err != nil {
		return err
	}
	c.mu.Lock()
	c.Agents = append(c.Agents, a)
	c.mu.Unlock()
	return nil
}

// argv is the agent's command line: its binary and flags, in its network
// namespace when it has one.
func (a *Agent) argv() []string {
	argv := append([]string{filepath.Join(a.BinDir, "agent")}, a.flags...)
	if a.Netns != "" {
		// nsenter, not ip netns exec: ip netns exec gives the process a
		// mount namespace of its own whose mounts do not propagate back,
		// so the pod namespaces the agent bind-mounts under
		// /var/run/netns would be invisible to containerd and runc.
		argv = append([]string{"nsenter", "--net=" + filepath.Join(netnsDir, a.Netns)}, argv...)
	}
	return argv
}

// ServerURLs returns every reconciler's API URL, comma-separated, in order:
// what ctl --server and api.NewClient take.
func (c *Cluster) ServerURLs() string {
	urls := make([]string, len(c.Reconcilers))
	for i, r := range c.Reconcilers {
		urls[i] = r.URL
	}
	return strings.Join(urls, ",")
}

// ReconcilerClient returns a client of reconciler i alone (0-based).
func (c *Cluster) ReconcilerClient(i int) *api.Client {
	cl, err := api.NewClient(c.Reconcilers[i].URL, &http.Client{Transport: c.adminTransport(nil)})
	if err != nil {
		panic(err) // URLs are built here and always parse
	}
	return cl
}

// InsideClient returns a client of reconciler i whose connections start
// inside its network namespace, so it answers while its link is cut. Without
// Netns it is ReconcilerClient.
func (c *Cluster) InsideClient(i int) *api.Client {
	r := c.Reconcilers[i]
	if r.Netns == "" {
		return c.ReconcilerClient(i)
	}
	t := c.adminTransport(dialInNetns(r.Netns))
	t.DisableKeepAlives = true
	cl, err := api.NewClient(r.URL, &http.Client{Transport: t})
	if err != nil {
		panic(err)
	}
	return cl
}

// AgentURL returns agent i's API base URL (0-based).
// Call it with AgentHTTPClient's credentials (security.go).
func (c *Cluster) AgentURL(i int) string { return c.scheme() + c.Agents[i].APIAddr }

// shortOf returns the short name of the process named name (a reconciler's
// or an agent's).
func (c *Cluster) shortOf(name string) (string, error) {
	for _, r := range c.Reconcilers {
		if r.Name == name {
			return r.short, nil
		}
	}
	for _, a := range c.Agents {
		if a.Name == name {
			return a.short, nil
		}
	}
	return "", fmt.Errorf("no reconciler or agent is named %q", name)
}

// Cut partitions the process named name (a reconciler's or agent's name)
// from everything else: its veth goes down in the root namespace, so its
// packets reach no one and no one's reach it. The process keeps running,
// and so do an agent's containers. Needs ClusterConfig.Netns.
func (c *Cluster) Cut(name string) error { return c.setLink(name, false) }

// Heal undoes Cut.
func (c *Cluster) Heal(name string) error { return c.setLink(name, true) }

func (c *Cluster) setLink(name string, up bool) error {
	if c.net == nil {
		return errors.New("failed to cut or heal a link: the cluster runs without network namespaces (ClusterConfig.Netns)")
	}
	short, err := c.shortOf(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.net.setLink(ctx, short, up)
}

// KillAgent kills agent i's process (0-based) with SIGKILL, leaving its
// containers running (a node death as the rest of the cluster sees it).
func (c *Cluster) KillAgent(i int) {
	c.agentProc(i).kill()
}

// RestartAgent starts agent i again (0-based) on the same name, addresses,
// namespace and data dir, as a supervisor restarting a node daemon would;
// a running agent is stopped first (SIGTERM).
func (c *Cluster) RestartAgent(i int) error {
	a := c.Agents[i]
	_ = c.agentProc(i).stop(15 * time.Second)
	c.log.Info("restarting agent", "node", a.Name)
	p, err := startProcess(a.Name, c.LogPath(a.Name), nil, a.argv()...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	a.proc = p
	c.mu.Unlock()
	return nil
}

// UpgradeAgent stops agent i (0-based, SIGTERM) and starts the agent
// binary of binDir in its place, on the same name, addresses and data dir:
// an upgrade (or downgrade) of one node's agent as an operator does it.
func (c *Cluster) UpgradeAgent(i int, binDir string) error {
	c.mu.Lock()
	c.Agents[i].BinDir = binDir
	c.mu.Unlock()
	return c.RestartAgent(i)
}

// UpgradeReconciler stops reconciler i (0-based, SIGTERM) and starts the
// reconciler binary of binDir in its place, on the same name, addresses
// and data dir.
func (c *Cluster) UpgradeReconciler(i int, binDir string) error {
	c.mu.Lock()
	c.Reconcilers[i].BinDir = binDir
	c.mu.Unlock()
	return c.RestartReconciler(i)
}

// KillReconciler kills reconciler i's process (0-based) with SIGKILL.
func (c *Cluster) KillReconciler(i int) {
	c.reconcilerProc(i).kill()
}

// RestartReconciler starts reconciler i again (0-based) on the same name,
// addresses, namespace and data dir; a running one is stopped first
// (SIGTERM).
func (c *Cluster) RestartReconciler(i int) error {
	_ = c.reconcilerProc(i).stop(10 * time.Second)
	return c.startReconciler(i)
}

// StopReconciler stops reconciler i's process (0-based) with SIGTERM (a
// leader hands leadership over first), as an operator retiring it would;
// it is not started again.
func (c *Cluster) StopReconciler(i int) error {
	return c.reconcilerProc(i).stop(10 * time.Second)
}

// ReconcilerRunning reports whether reconciler i's process is running.
func (c *Cluster) ReconcilerRunning(i int) bool { return !c.reconcilerProc(i).exited() }

// AgentPID returns the process ID of agent i (0 when it is not running):
// benchmarks read its CPU time from /proc.
func (c *Cluster) AgentPID(i int) int {
	p := c.agentProc(i)
	if p == nil || p.exited() || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// ReconcilerPID returns the process ID of reconciler i (0 when it is not
// running): benchmarks read its CPU time and memory from /proc.
func (c *Cluster) ReconcilerPID(i int) int {
	p := c.reconcilerProc(i)
	if p == nil || p.exited() || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (c *Cluster) agentProc(i int) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Agents[i].proc
}

func (c *Cluster) reconcilerProc(i int) *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Reconcilers[i].proc
}

// Leader returns the reconciler that leads, as the reconcilers that answer
// from the root namespace see it: the leader name a majority of them
// report, which must be a running reconciler of this cluster. A single
// reconciler that reports no leader leads (a reconciler without raft).
func (c *Cluster) Leader(ctx context.Context) (int, string, error) {
	votes := map[string]int{}
	answered := 0
	var errs []error
	for i, r := range c.Reconcilers {
		if !c.ReconcilerRunning(i) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.ReconcilerClient(i).Status(sctx)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
			continue
		}
		answered++
		if st.Leader != "" {
			votes[st.Leader]++
		}
	}
	if answered == 0 {
		return -1, "", fmt.Errorf("failed to find the leader: no reconciler answered: %w", errors.Join(errs...))
	}
	if len(c.Reconcilers) == 1 && len(votes) == 0 {
		return 0, c.Reconcilers[0].Name, nil
	}
	for name, n := range votes {
		if 2*n <= answered {
			continue
		}
		for i, r := range c.Reconcilers {
			if r.Name == name {
				if !c.ReconcilerRunning(i) {
					return -1, "", fmt.Errorf("failed to find the leader: %s is reported leader but is not running", name)
				}
				return i, name, nil
			}
		}
		return -1, "", fmt.Errorf("failed to find the leader: %q is no reconciler of this cluster", name)
	}
	return -1, "", fmt.Errorf("failed to find the leader: %d reconcilers answered, no majority names one: %v", answered, votes)
}

// WaitLeader waits until Leader names a leader that satisfies ok (nil:
// any), and returns it.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration, ok func(i int, name string) bool) (int, string, error) {
	var idx int
	var name string
	err := waitFor(ctx, timeout, 50*time.Millisecond, func(ctx context.Context) error {
		i, n, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		if ok != nil && !ok(i, n) {
			return fmt.Errorf("leader is %s", n)
		}
		idx, name = i, n
		return nil
	})
	return idx, name, err
}
