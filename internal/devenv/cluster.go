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
	// Dir holds everything the cluster creates; zero means a new temporary
	// directory that Stop removes (a given Dir is left in place).
	Dir string
	// Agents is the number of agent processes; zero means 3.
	Agents int
	// NodePrefix names the agents <prefix>-1…<prefix>-N; zero means "node".
	// Bridge names derive from node names, so clusters that run at the same
	// time on one host need different prefixes.
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
	// RegistryAddr is where the registry listens; zero means a free port.
	RegistryAddr string
	// APIAddr is where the reconciler's API listens; zero means a free port.
	APIAddr string
	// PodSubnet is the second octet of the pod CIDRs (agent i gets
	// 10.<PodSubnet>.<i>.0/24); zero means a random one in 100–199 that no
	// route on the host uses yet.
	PodSubnet int
	// WebhookSecret signs the post-receive hook's calls; zero means random.
	WebhookSecret string
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

// DefaultClusterConfig returns the defaults StartCluster fills in for zero
// fields; BinDir is left for the caller.
func DefaultClusterConfig() ClusterConfig {
	return ClusterConfig{Agents: 3, NodePrefix: "node"}
}

// Agent is one agent process of a Cluster.
type Agent struct {
	Name    string
	APIAddr string
	Gossip  string
	DataDir string
	PodCIDR string
	proc    *process
}

// Cluster is a whole local Stevedore: containerd, a registry with the
// example images, a bare config repository with a webhook hook, one
// reconciler and N agents, all on loopback.
type Cluster struct {
	cfg        ClusterConfig
	log        *slog.Logger
	ownDir     bool
	Dir        string
	Containerd *Containerd
	Registry   *Registry
	Repo       *GitRepo
	// ServerURL is the reconciler API's base URL (what ctl --server takes).
	ServerURL string
	// Client talks to the reconciler API.
	Client *api.Client
	Agents []*Agent

	reconcilerGossip string
	reconcilerDir    string
	reconciler       *process

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

	c.log.Info("starting containerd")
	if c.Containerd, err = StartContainerd(ctx, filepath.Join(c.Dir, "containerd")); err != nil {
		return c, fmt.Errorf("failed to start containerd: %w", err)
	}
	c.log.Info("starting registry")
	regDir := filepath.Join(c.Dir, "registry")
	if cfg.RegistryAddr != "" {
		c.Registry, err = StartRegistryAt(ctx, regDir, cfg.RegistryAddr)
	} else {
		c.Registry, err = StartRegistry(ctx, regDir)
	}
	if err != nil {
		return c, err
	}
	if err := c.buildImages(ctx); err != nil {
		return c, err
	}

	apiAddr := cfg.APIAddr
	if apiAddr == "" {
		if apiAddr, err = FreeAddr(); err != nil {
			return c, err
		}
	}
	if c.reconcilerGossip, err = FreeAddr(); err != nil {
		return c, err
	}
	c.ServerURL = "http://" + apiAddr
	if c.Client, err = api.NewClient(c.ServerURL, nil); err != nil {
		return c, err
	}

	c.log.Info("creating config repository")
	if c.Repo, err = NewGitRepo(ctx, filepath.Join(c.Dir, "git")); err != nil {
		return c, err
	}
	if err := c.Repo.SetWebhook(c.ServerURL+api.PathWebhook, cfg.WebhookSecret); err != nil {
		return c, err
	}

	c.log.Info("starting reconciler", "api", c.ServerURL)
	c.reconcilerDir = filepath.Join(c.Dir, "reconciler")
	if c.reconciler, err = startProcess("reconciler", c.LogPath("reconciler"), nil,
		filepath.Join(bin, "reconciler"),
		"--repo", c.Repo.Bare, "--branch", c.Repo.Branch, "--data-dir", c.reconcilerDir,
		"--api", apiAddr, "--gossip", c.reconcilerGossip, "--webhook-secret", cfg.WebhookSecret,
	); err != nil {
		return c, err
	}
	for i := 1; i <= cfg.Agents; i++ {
		if err := c.startAgent(i); err != nil {
			return c, err
		}
	}
	c.log.Info("waiting for agents to join", "agents", cfg.Agents)
	if err := c.WaitNodes(ctx, cfg.Agents, 60*time.Second); err != nil {
		return c, err
	}
	// Seed only once every node is a member: pods are placed on the nodes
	// that exist when they are first seen and never moved, so seeding
	// earlier would put them all on whichever agent joined first.
	if cfg.Examples != "" && !cfg.SkipSeed {
		if _, err := c.Repo.Seed(ctx, cfg.Examples, "Seed from examples-repo", c.RewriteImages); err != nil {
			return c, err
		}
	}
	return c, nil
}

// startAgent starts agent number i (1-based).
func (c *Cluster) startAgent(i int) error {
	a := &Agent{
		Name:    fmt.Sprintf("%s-%d", c.cfg.NodePrefix, i),
		DataDir: filepath.Join(c.Dir, "agents", fmt.Sprintf("%s-%d", c.cfg.NodePrefix, i)),
		PodCIDR: fmt.Sprintf("10.%d.%d.0/24", c.cfg.PodSubnet, i),
	}
	var err error
	if a.APIAddr, err = FreeAddr(); err != nil {
		return err
	}
	if a.Gossip, err = FreeAddr(); err != nil {
		return err
	}
	c.log.Info("starting agent", "node", a.Name, "api", a.APIAddr, "podCIDR", a.PodCIDR)
	a.proc, err = startProcess(a.Name, c.LogPath(a.Name), nil,
		filepath.Join(c.cfg.BinDir, "agent"),
		"--node", a.Name, "--join", c.reconcilerGossip, "--gossip", a.Gossip, "--api", a.APIAddr,
		"--data-dir", a.DataDir, "--containerd", c.Containerd.Address,
		"--insecure-registry", c.Registry.Addr, "--pod-cidr", a.PodCIDR,
	)
	if err != nil {
		return err
	}
	c.Agents = append(c.Agents, a)
	return nil
}

// buildImages pushes busybox and every examples/images/<name> Go package.
func (c *Cluster) buildImages(ctx context.Context) error {
	c.log.Info("building images", "registry", c.Registry.Addr)
	if err := BusyboxImage(ctx, c.Registry.Addr+"/"+BusyboxRepo); err != nil {
		return err
	}
	if c.cfg.Examples == "" {
		return nil
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

// LogPath returns the log file of a process ("reconciler" or a node name).
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
		if c.reconciler.exited() {
			return fmt.Errorf("reconciler exited: %s", c.LogTail("reconciler", 20))
		}
		for _, a := range c.Agents {
			if a.proc.exited() {
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

// Ctl runs bin/ctl against the cluster's reconciler and returns its combined
// output; a non-zero exit is an *exec.ExitError wrapped in the error.
func (c *Cluster) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.cfg.BinDir, "ctl"), append([]string{"--server", c.ServerURL}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("failed to run ctl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// KillAgent kills agent i's process with SIGKILL, leaving its containers
// running (a node death as the rest of the cluster sees it).
func (c *Cluster) KillAgent(i int) {
	c.Agents[i].proc.kill()
}

// KillReconciler kills the reconciler with SIGKILL.
func (c *Cluster) KillReconciler() {
	c.reconciler.kill()
}

// Stop stops the processes and removes everything the cluster created: every
// agent's pods (containers, network namespaces, IP allocations, bridges),
// containerd, the registry and, when it made it, its directory. It returns
// the first cleanup failure. Safe to call twice.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Cluster) stop() error {
	var errs []error
	if c.reconciler != nil {
		_ = c.reconciler.stop(10 * time.Second)
	}
	var wg sync.WaitGroup
	for _, a := range c.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.proc.stop(15 * time.Second)
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
