package devenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// ExampleRegistry is the registry host the examples repository's image
// references name; Cluster rewrites it to the registry it started.
const ExampleRegistry = "127.0.0.1:5000"

// Example image references, relative to the registry.
const (
	BusyboxRepo = "stevedore/busybox:1.35"
	HelloRepo   = "stevedore/hello:v1"
)

// ClusterConfig configures a Cluster. Only BinDir is required.
type ClusterConfig struct {
	// BinDir holds the reconciler, agent and ctl binaries; required.
	BinDir string
	// ReconcilerBinDir and AgentBinDir hold the reconciler and agent
	// binaries the processes start with; zero means BinDir. A directory of
	// another release's binaries (BuildRelease) makes a mixed-version
	// cluster; UpgradeReconciler and UpgradeAgent switch one process.
	ReconcilerBinDir string
	AgentBinDir      string
	// Dir holds everything the cluster creates; zero means a new temporary
	// directory that Stop removes (a given Dir is left in place).
	Dir string
	// Agents is the number of agent processes; zero means 3, a negative
	// number none (the scale benchmark brings hollow agents of its own).
	Agents int
	// Reconcilers is the number of reconciler processes; zero means 1.
	// Several form one raft group (--bootstrap-expect Reconcilers), each
	// joining another over serf, and every agent joins all of them.
	Reconcilers int
	// Netns runs every reconciler and agent in a network namespace of its
	// own, joined to the others by a veth pair on one bridge the cluster
	// creates (10.X.0.0/24, X in 200–249, unused on the host; the bridge is
	// .1), so that Cut and Heal can partition a process and cross-process
	// traffic crosses a network. The registry then listens on the bridge's
	// address and the root namespace routes each pod CIDR through its
	// agent. Needs root. Zero runs everything on 127.0.0.1.
	Netns bool
	// NodePrefix names the agents <prefix>-1…<prefix>-N; zero means "node".
	// Bridge, network namespace and veth names derive from it, so clusters
	// that run at the same time on one host need different prefixes; a
	// start removes the namespaces and links a killed run with the same
	// prefix left.
	NodePrefix string
	// Examples is a directory seeded into the config repository (image
	// references to ExampleRegistry rewritten to the cluster's registry),
	// whose images/<name> Go packages are built as stevedore/<name>:v1 beside
	// stevedore/busybox:1.35; zero means an empty repository and only the
	// busybox image.
	Examples string
	// SkipSeed leaves the config repository empty even when Examples is set
	// (its images are still built); zero seeds it.
	SkipSeed bool
	// SeedSkip names top-level directories of Examples left out of the
	// seed (the end-to-end tests leave out patterns/, which TestHA commits
	// itself).
	SeedSkip []string
	// RegistryAddr is where the registry listens; zero means a free port
	// (on the bridge's address with Netns).
	RegistryAddr string
	// APIAddr is where the first reconciler's API listens; zero means a
	// free port. Ignored with Netns, where every API listens on port 7070
	// of its process's own address.
	APIAddr string
	// PodSubnet is the second octet of the pod CIDRs (agent i gets
	// 10.<PodSubnet>.<i>.0/24); zero means a random one in 100–199 that no
	// route on the host uses yet.
	PodSubnet int
	// StorageHost starts an SSH server holding network volumes (the sshfs
	// volume driver's storage host, storagehost.go) and configures every
	// agent to reach it; zero starts none.
	StorageHost bool
	// WebhookSecret signs the post-receive hook's calls; zero means random.
	WebhookSecret string
	// ReconcilerArgs are added to every reconciler's command line after
	// the harness's own flags (a repeated flag's last value wins).
	ReconcilerArgs []string
	// AgentArgs are added to every agent's command line after the
	// harness's own flags, and kept across RestartAgent and UpgradeAgent
	// (an older agent binary must know them). Zero adds none: the
	// harness's own agent flags are those every supported release knows,
	// so that mixed-version clusters start.
	AgentArgs []string
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

// DefaultClusterConfig returns the defaults StartCluster fills in for zero
// fields; BinDir is left for the caller.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Agents: 3, NodePrefix: "node"}
}

// Cluster is a whole local Stevedore: containerd, a registry with the
// example images, a bare config repository with a webhook hook, one or more
// reconcilers and N agents, on loopback or each in a network namespace.
type Cluster struct {
	cfg        ClusterConfig
	log        *slog.Logger
	ownDir     bool
	Dir        string
	Containerd *Containerd
	Registry   *Registry
	Repo       *GitRepo
	// ServerURL is the first reconciler's API base URL; ServerURLs lists
	// them all.
	ServerURL string
	// Client talks to the reconcilers (all of them, with fail-over, once
	// reconcile/api.Client takes a list).
	Client      *api.Client
	Reconcilers []*Reconciler
	Agents      []*Agent
	// Storage is the storage host, nil without ClusterConfig.StorageHost.
	Storage *StorageHost
	// AgeKeyFile is the development-only age identity (DevAgeKey) the
	// reconcilers decrypt SOPS-encrypted Secrets with.
	AgeKeyFile string
	// Creds are the cluster's credentials (security.go), known once
	// reconciler 0 founded the cluster.
	Creds *Credentials

	// net is nil without Netns.
	net *hostNet
	// mu guards the proc fields of Reconcilers and Agents, which restarts
	// replace, and the Agents slice while it grows.
	mu sync.Mutex

	stopOnce sync.Once
	stopErr  error
}

// StartCluster starts every part of a cluster and returns once every agent
// is an Alive member at the reconciler. On failure it cleans up what it
// started.
func StartCluster(ctx context.Context, cfg ClusterConfig) (c *Cluster, err error) {
	if cfg.BinDir == "" {
		return nil, errors.New("failed to start cluster: BinDir is required")
	}
	if cfg.Agents == 0 {
		cfg.Agents = 3
	}
	if cfg.Reconcilers == 0 {
		cfg.Reconcilers = 1
	}
	if cfg.Netns && (cfg.Reconcilers > maxReconcilers || cfg.Agents > maxAgents) {
		return nil, fmt.Errorf("failed to start cluster: at most %d reconcilers and %d agents with Netns", maxReconcilers, maxAgents)
	}
	if cfg.NodePrefix == "" {
		cfg.NodePrefix = "node"
	}
	if cfg.WebhookSecret == "" {
		cfg.WebhookSecret = randomHex(16)
	}
	if cfg.PodSubnet == 0 {
		if cfg.PodSubnet, err = freeSubnet(); err != nil {
			return nil, err
		}
	}
	bin, err := filepath.Abs(cfg.BinDir)
	if err != nil {
		return nil, fmt.Errorf("failed to resolve %s: %w", cfg.BinDir, err)
	}
	cfg.BinDir = bin
	for _, d := range []*string{&cfg.ReconcilerBinDir, &cfg.AgentBinDir} {
		if *d == "" {
			*d = bin
		} else if *d, err = filepath.Abs(*d); err != nil {
			return nil, fmt.Errorf("failed to resolve a binary directory: %w", err)
		}
	}
	for _, b := range []string{"reconciler", "agent", "ctl"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("failed to find %s in %s (run make build): %w", b, bin, err)
		}
	}
	c = &Cluster{cfg: cfg, log: cfg.Logger, Dir: cfg.Dir}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "stevedore-dev-"); err != nil {
			return nil, fmt.Errorf("failed to create cluster dir: %w", err)
		}
		c.ownDir = true
	}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	if err := os.MkdirAll(filepath.Join(c.Dir, "logs"), 0o755); err != nil {
		return c, fmt.Errorf("failed to create log dir: %w", err)
	}

	// What killed runs left (their containerd, pods and directories) goes
	// first: it holds memory, CPU and addresses this cluster may want.
	if reaped, err := ReapDeadRuns(ctx, c.log); err != nil {
		c.log.Warn("failed to clean up after a killed run", "err", err)
	} else if len(reaped) > 0 {
		c.log.Info("cleaned up after killed runs", "dirs", reaped)
	}

	if cfg.Netns {
		subnet, err := freeHostSubnet()
		if err != nil {
			return c, err
		}
		c.net = newHostNet(cfg.NodePrefix, subnet)
		c.log.Info("creating bridge", "bridge", c.net.bridge(), "subnet", subnet)
		if err := c.net.create(ctx); err != nil {
			return c, err
		}
	}

	if c.AgeKeyFile, err = writeDevAgeKey(c.Dir); err != nil {
		return c, fmt.Errorf("failed to write the development age key: %w", err)
	}
	if cfg.StorageHost {
		c.log.Info("starting the storage host")
		if c.Storage, err = startStorageHost(ctx, filepath.Join(c.Dir, "storage"), c.net, filepath.Join(c.Dir, "logs", "storage-host.log")); err != nil {
			return c, err
		}
	}

	c.log.Info("starting containerd")
	if c.Containerd, err = StartContainerd(ctx, filepath.Join(c.Dir, "containerd")); err != nil {
		return c, fmt.Errorf("failed to start containerd: %w", err)
	}
	c.record()
	c.log.Info("starting registry")
	regDir := filepath.Join(c.Dir, "registry")
	switch {
	case cfg.RegistryAddr != "":
		c.Registry, err = StartRegistryAt(ctx, regDir, cfg.RegistryAddr)
	case c.net != nil:
		// Agents pull from inside their namespaces: the registry must
		// listen where they can reach it.
		var addr string
		if addr, err = FreeAddrOn(c.net.gateway().String()); err == nil {
			c.Registry, err = StartRegistryAt(ctx, regDir, addr)
		}
	default:
		c.Registry, err = StartRegistry(ctx, regDir)
	}
	if err != nil {
		return c, err
	}
	if err := c.buildImages(ctx); err != nil {
		return c, err
	}

	for i := range cfg.Reconcilers {
		r, err := c.newReconciler(ctx, i)
		if err != nil {
			return c, err
		}
		c.Reconcilers = append(c.Reconcilers, r)
	}
	c.ServerURL = c.Reconcilers[0].URL

	c.log.Info("creating config repository")
	if c.Repo, err = NewGitRepo(ctx, filepath.Join(c.Dir, "git")); err != nil {
		return c, err
	}

	// Reconciler 0 founds the cluster; the others join with its token.
	if err := c.startReconciler(0); err != nil {
		return c, err
	}
	if err := c.waitBootstrap(ctx, 60*time.Second); err != nil {
		return c, err
	}
	hc, err := api.NewClientFromConfig(mustLoadConf(c.Creds.AdminConf), "")
	if err != nil {
		return c, err
	}
	c.Client = hc
	hooks := make([]string, len(c.Reconcilers))
	for i, r := range c.Reconcilers {
		hooks[i] = r.URL + api.PathWebhook
	}
	if err := c.Repo.SetWebhookCA(strings.Join(hooks, ","), cfg.WebhookSecret, c.Creds.CAFile); err != nil {
		return c, err
	}
	for i := 1; i < len(c.Reconcilers); i++ {
		if err := c.startReconciler(i); err != nil {
			return c, err
		}
	}
	for i := 1; i <= cfg.Agents; i++ {
		if err := c.startAgent(ctx, i); err != nil {
			return c, err
		}
	}
	c.record()
	c.log.Info("waiting for agents to join", "agents", cfg.Agents)
	if err := c.WaitNodes(ctx, cfg.Agents, 60*time.Second); err != nil {
		return c, err
	}
	if err := c.learnPodCIDRs(ctx); err != nil {
		return c, err
	}
	// Seed only once every node is a member: pods are placed on the nodes
	// that exist when they are first seen and never moved, so seeding
	// earlier would put them all on whichever agent joined first.
	if cfg.Examples != "" && !cfg.SkipSeed {
		if _, err := c.Repo.Seed(ctx, cfg.Examples, "Seed from examples-repo", c.RewriteImages, cfg.SeedSkip...); err != nil {
			return c, err
		}
	}
	return c, nil
}

// buildImages pushes busybox and, with examples, the redis image and
// every examples/images/<name> Go package.
func (c *Cluster) buildImages(ctx context.Context) error {
	c.log.Info("building images", "registry", c.Registry.Addr)
	if err := BusyboxImage(ctx, c.Registry.Addr+"/"+BusyboxRepo); err != nil {
		return err
	}
	if c.cfg.Examples == "" {
		return nil
	}
	// The patterns' database (examples-repo/patterns) is Debian's redis.
	if err := RedisImage(ctx, c.Registry.Addr+"/"+RedisRepo); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(c.cfg.Examples, "images"))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("failed to list example images: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		ref := c.Registry.Addr + "/stevedore/" + e.Name() + ":v1"
		if err := GoImage(ctx, ref, filepath.Join(c.cfg.Examples, "images", e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// RewriteImages rewrites image references to ExampleRegistry in YAML files
// to the cluster's registry; other files are returned unchanged.
func (c *Cluster) RewriteImages(path string, b []byte) []byte {
	if c.Registry.Addr == ExampleRegistry {
		return b
	}
	if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(ExampleRegistry+"/"), []byte(c.Registry.Addr+"/"))
}

// Image returns the reference of repo ("stevedore/hello:v1") in the
// cluster's registry.
func (c *Cluster) Image(repo string) string { return c.Registry.Addr + "/" + repo }

// LogPath returns the log file of a process (a reconciler's or node's name).
func (c *Cluster) LogPath(name string) string {
	return filepath.Join(c.Dir, "logs", name+".log")
}

// LogTail returns the last n lines of a process's log, for test failures.
func (c *Cluster) LogTail(name string, n int) string {
	b, err := os.ReadFile(c.LogPath(name))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitNodes waits until at least n nodes are Alive at the reconciler.
func (c *Cluster) WaitNodes(ctx context.Context, n int, timeout time.Duration) error {
	return waitFor(ctx, timeout, 100*time.Millisecond, func(ctx context.Context) error {
		for i, r := range c.Reconcilers {
			if !c.ReconcilerRunning(i) {
				return fmt.Errorf("reconciler %s exited: %s", r.Name, c.LogTail(r.Name, 20))
			}
		}
		for i, a := range c.Agents {
			if c.agentProc(i).exited() {
				return fmt.Errorf("agent %s exited: %s", a.Name, c.LogTail(a.Name, 20))
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		nodes, err := c.Client.Nodes(rctx)
		if err != nil {
			return err
		}
		alive := 0
		for _, nd := range nodes {
			if nd.State == api.NodeAlive {
				alive++
			}
		}
		if alive < n {
			return fmt.Errorf("%d of %d nodes alive", alive, n)
		}
		return nil
	})
}

// learnPodCIDRs waits until the leader has given every agent its pod CIDR,
// notes each in Agent.PodCIDR and, with Netns, routes the root namespace to
// each through its agent's namespace, so tests reach pods by their IPs.
func (c *Cluster) learnPodCIDRs(ctx context.Context) error {
	return waitFor(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		nodes, err := c.Client.Nodes(rctx)
		if err != nil {
			return err
		}
		cidrs := map[string]string{}
		for _, n := range nodes {
			cidrs[n.Name] = n.PodCIDR
		}
		for _, a := range c.Agents {
			if cidrs[a.Name] == "" {
				return fmt.Errorf("node %s has no pod CIDR yet", a.Name)
			}
		}
		for _, a := range c.Agents {
			a.PodCIDR = cidrs[a.Name]
			if c.net == nil {
				continue
			}
			host, _, err := net.SplitHostPort(a.APIAddr)
			if err != nil {
				return err
			}
			if err := c.net.routePods(ctx, netip.MustParseAddr(host), a.PodCIDR); err != nil {
				return err
			}
		}
		return nil
	})
}

// Ctl runs bin/ctl against the cluster's reconcilers and returns its combined
// output; a non-zero exit is an *exec.ExitError wrapped in the error.
func (c *Cluster) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.cfg.BinDir, "ctl"), append(c.CtlArgs(), args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("failed to run ctl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// CtlArgs are the flags that point ctl at the cluster: its admin config
// and every reconciler.
func (c *Cluster) CtlArgs() []string {
	if c.Creds == nil {
		return []string{"--server", c.ServerURLs()}
	}
	return []string{"--config", c.Creds.AdminConf, "--server", c.ServerURLs()}
}

// mustLoadConf loads a client config the harness just wrote.
func mustLoadConf(path string) *api.ClientConfig {
	conf, err := api.LoadClientConfig(path)
	if err != nil {
		panic(err)
	}
	return conf
}

// Stop stops the processes and removes everything the cluster created: every
// agent's pods (containers, network namespaces, IP allocations, bridges),
// containerd, the registry, the processes' namespaces, veths and bridge and,
// when it made it, its directory. It returns
// the first cleanup failure. Safe to call twice.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	var wg sync.WaitGroup
	for i, r := range c.Reconcilers {
		if r.proc == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.reconcilerProc(i).stop(10 * time.Second)
		}()
	}
	wg.Wait()
	for i := range c.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.agentProc(i).stop(15 * time.Second)
		}()
	}
	wg.Wait()
	if c.Containerd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		for _, a := range c.Agents {
			if err := c.teardownNode(ctx, a); err != nil {
				errs = append(errs, fmt.Errorf("failed to clean up node %s: %w", a.Name, err))
			}
		}
		cancel()
		if err := c.Containerd.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop containerd: %w", err))
		}
	}
	c.Registry.Stop()
	c.Storage.Stop()
	if c.net != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.net.remove(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove network namespaces and links: %w", err))
		}
		cancel()
	}
	if c.ownDir && c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove %s: %w", c.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freeSubnet picks a second octet in 100–199 for 10.X.0.0/16 that no route
// or address on the host overlaps yet, so concurrent clusters (and the
// host's own networks) do not collide.
func freeSubnet() (int, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return 0, fmt.Errorf("failed to list routes (install iproute2): %w", err)
	}
	used := string(out)
	for range 50 {
		n, _ := rand.Int(rand.Reader, big.NewInt(100))
		x := 100 + int(n.Int64())
		if !strings.Contains(used, fmt.Sprintf("10.%d.", x)) {
			return x, nil
		}
	}
	return 0, errors.New("failed to find a free 10.X.0.0/16 for pod CIDRs")
}

// podCIDRPrefix parses an agent's pod CIDR.
func (a *Agent) podCIDRPrefix() (netip.Prefix, error) {
	p, err := netip.ParsePrefix(a.PodCIDR)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("failed to parse pod CIDR %q: %w", a.PodCIDR, err)
	}
	return p, nil
}
