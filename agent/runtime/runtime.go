// Package runtime runs pods on one node through containerd: one network
// namespace per pod with its own IP from the node's pod CIDR on the node's
// bridge (a built-in netlink network, or a CNI plugin chain), containers
// that share it, init containers run in order before them, security
// contexts (users, groups, capabilities, seccomp, read-only roots, net.*
// sysctls), restart policies with back-off, lifecycle hooks (postStart,
// preStop within the grace period), termination reasons and messages,
// terminating pods (shown with a deletion timestamp until their containers
// are gone), the kubelet's events (Config.Events), and adoption of the
// containers a previous agent process left running.
//
// Each pod has one worker goroutine (plus one per container), owned by the
// Runtime and waited for by Close and Teardown. Sync only dispatches: it
// never waits for a pull or a container start.
package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	goruntime "runtime"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sync/singleflight"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Config configures a Runtime.
type Config struct {
	// NodeName names this node in pod statuses; required.
	NodeName string
	// ContainerdAddress is containerd's socket; required.
	ContainerdAddress string
	// Namespace is the containerd namespace; zero means "stevedore-<NodeName>",
	// so several agents can share one containerd.
	Namespace string
	// DataDir holds logs, pod records and IPAM state; required.
	DataDir string
	// NetworkPlugin is how pods are attached to the bridge: NetworkBuiltin
	// (zero: veth pairs and IPAM in process, over netlink) or NetworkCNI
	// (the CNI bridge and host-local plugins from CNIBinDirs).
	NetworkPlugin string
	// CNIBinDirs are searched for CNI plugins; zero means /usr/lib/cni and /opt/cni/bin.
	CNIBinDirs []string
	// BridgeName is the node's bridge; zero means "stv-" + a short hash of NodeName.
	BridgeName string
	// PodCIDR, when set, configures the pod network at New as SetNetwork
	// would (a runtime run alone, or an operator's override). Zero means
	// new pods wait for SetNetwork with the CIDR the leader allocated.
	PodCIDR string
	// ClusterDomain goes with PodCIDR until SetNetwork gives one; zero
	// means "cluster.local".
	ClusterDomain string
	// InsecureRegistries are host:port registries pulled over plain HTTP.
	InsecureRegistries []string
	// Snapshotter zero means overlayfs.
	Snapshotter string
	// BackoffBase is the first restart delay; zero means 10s (Kubernetes').
	BackoffBase time.Duration
	// BackoffMax caps the restart delay; zero means 5m.
	BackoffMax time.Duration
	// AllowPrivileged lets containers with securityContext.privileged,
	// and pods with hostNetwork, run; zero refuses them
	// (CreateContainerConfigError).
	AllowPrivileged bool
	// PodPidsLimit bounds the processes (threads included) of each pod as
	// a whole (podcgroup.go); zero means DefaultPodPidsLimit, negative
	// unlimited (the kubelet's -1).
	PodPidsLimit int64
	// Logger zero means slog.Default().
	Logger *slog.Logger
	// LogDir holds the containers' logs (logs.go); zero means
	// DataDir/logs. LogDriverPath is the executable the shim starts as a
	// container's log driver (it must call RunLogDriverIfRequested
	// first); zero means LogDriverBinary beside this process's
	// executable, else the executable itself. ContainerLogMaxSize (bytes) and
	// ContainerLogMaxFiles are the kubelet's rotation limits; zero means
	// 10Mi and 5.
	LogDir               string
	LogDriverPath        string
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// HostIP is the node's address, what status.hostIP gives a pod's env.
	HostIP string
	// AllocatableMilliCPU and AllocatableMemory are the node's: the
	// downward API's value of a limit a container does not set, and a
	// Memory emptyDir's size when nothing else bounds it. Zero means all
	// CPUs and MemTotal.
	AllocatableMilliCPU int64
	AllocatableMemory   int64
	// AllowHostPaths lets pods mount hostPath volumes; without it a pod
	// with one waits in CreateContainerConfigError.
	AllowHostPaths bool
	// PersistentVolumes publishes the volumes of claims into pods; nil
	// means none can (such pods wait in ContainerCreating).
	PersistentVolumes PersistentVolumes
	// Events, when set, receives every event the runtime records about a
	// pod or container (Pulling, Started, Unhealthy, Killing…), without
	// Seq: the agent numbers and keeps them. It is called without the
	// runtime's lock held and must not block.
	Events func(api.Event)
}

// Defaults applied by DefaultConfig and to zero fields by New.
const (
	// DefaultPodCIDR is no longer applied to a zero PodCIDR (the leader
	// allocates it); it stays for callers that want a fixed one.
	DefaultPodCIDR     = "10.88.0.0/24"
	DefaultSnapshotter = "overlayfs"
	DefaultBackoffBase = 10 * time.Second
	DefaultBackoffMax  = 5 * time.Minute
)

// backoffReset is how long a container must run for its back-off to start
// over from BackoffBase.
const backoffReset = 10 * time.Minute

// DefaultConfig returns a Config with every optional field set to its
// default; NodeName, ContainerdAddress and DataDir are left for the caller.
func DefaultConfig() Config {
	return Config{
		NetworkPlugin: NetworkBuiltin,
		CNIBinDirs:    []string{"/usr/lib/cni", "/opt/cni/bin"},
		ClusterDomain: DefaultClusterDomain,
		Snapshotter:   DefaultSnapshotter,
		BackoffBase:   DefaultBackoffBase,
		BackoffMax:    DefaultBackoffMax,
	}
}

// validate checks required fields and fills zero values.
func (c *Config) validate() error {
	if c.NodeName == "" {
		return errors.New("invalid runtime config: NodeName is required")
	}
	if c.ContainerdAddress == "" {
		return errors.New("invalid runtime config: ContainerdAddress is required")
	}
	if c.DataDir == "" {
		return errors.New("invalid runtime config: DataDir is required")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("failed to resolve DataDir: %w", err)
	}
	c.DataDir = abs
	if c.Namespace == "" {
		c.Namespace = "stevedore-" + c.NodeName
	}
	if len(c.CNIBinDirs) == 0 {
		c.CNIBinDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if c.BridgeName == "" {
		c.BridgeName = "stv-" + shortHash(c.NodeName, 8)
	}
	if len(c.BridgeName) > 15 {
		return fmt.Errorf("invalid runtime config: BridgeName %q is longer than 15 bytes", c.BridgeName)
	}
	switch c.NetworkPlugin {
	case "":
		c.NetworkPlugin = NetworkBuiltin
	case NetworkBuiltin, NetworkCNI:
	default:
		return fmt.Errorf("invalid runtime config: NetworkPlugin %q is neither %q nor %q", c.NetworkPlugin, NetworkBuiltin, NetworkCNI)
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.PodCIDR != "" {
		if _, err := parseNetConf(c.PodCIDR, c.ClusterDomain); err != nil {
			return fmt.Errorf("invalid runtime config: %w", err)
		}
	}
	if c.Snapshotter == "" {
		c.Snapshotter = DefaultSnapshotter
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	if c.BackoffMax < c.BackoffBase {
		c.BackoffMax = c.BackoffBase
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := c.validateLogs(); err != nil {
		return err
	}
	if c.AllocatableMilliCPU <= 0 {
		c.AllocatableMilliCPU = int64(goruntime.NumCPU()) * 1000
	}
	if c.AllocatableMemory <= 0 {
		c.AllocatableMemory = hostMemTotal()
	}
	return nil
}

// ErrNotFound is returned by Logs for an unknown pod or container. It is
// the vocabulary's not-found (internal/errs, errdefs), served as 404.
var ErrNotFound = errs.ErrNotFound

// ErrClosed is returned by Sync and Teardown after Close.
var ErrClosed = errors.New("runtime closed")

// Runtime owns the pods of one node.
type Runtime struct {
	cfg      Config
	log      *slog.Logger
	client   *client.Client
	net      podNetwork
	resolver remotes.Resolver
	pulls    singleflight.Group
	images   imageCache
	imageGC  imageTracker // imagegc.go
	oom      *oomWatcher
	observer observerBox // the agent's metrics (observer.go)

	// ctx carries the containerd namespace; cancelled by Close so every
	// worker detaches (containers keep running).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pods    map[string]*podWorker // by pod UID
	closed  bool
	changes chan struct{}

	closeOnce sync.Once
	closeErr  error

	// netMu guards netConf: pod set-ups hold it for reading while they
	// attach, a change of network (configureNetwork) and Teardown for
	// writing.
	netMu sync.RWMutex
	// bridgeIndex is the ifindex of the bridge the pods were last put on
	// (reattachPods).
	bridgeIndex atomic.Int32
	netConf     *netConf
	// netReady is closed once the network is first configured.
	netReady     chan struct{}
	netReadyOnce sync.Once

	// svcMu guards services, the cluster's Services from the latest
	// SetNetwork, for new containers' environment (envvars.go). Not netMu:
	// SetNetwork must not wait for pods being attached.
	svcMu    sync.RWMutex
	services []api.Service

	// config is the set's ConfigMaps, Secrets and persistent volumes
	// (configstore.go); volWake wakes the volume loop (volumes.go).
	config       *configStore
	volWake      chan struct{}
	allocStorage int64
}

// New connects to containerd, adopts the pods a previous process left, and
// starts supervising them.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkPidsController(cgroupRoot, cfg.podPidsLimit()); err != nil {
		return nil, err
	}
	for _, d := range []string{podsDir(cfg.DataDir), filepath.Join(cfg.DataDir, "cni")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("failed to create %s: %w", d, err)
		}
	}
	cl, err := client.New(cfg.ContainerdAddress, client.WithDefaultNamespace(cfg.Namespace))
	if err != nil {
		return nil, fmt.Errorf("failed to connect to containerd at %s: %w", cfg.ContainerdAddress, err)
	}
	var nw podNetwork
	if cfg.NetworkPlugin == NetworkCNI {
		nw, err = newCNINet(cfg)
	} else {
		nw, err = newBuiltinNet(cfg.DataDir)
	}
	if err != nil {
		cl.Close()
		return nil, err
	}
	insecure := map[string]bool{}
	for _, h := range cfg.InsecureRegistries {
		insecure[h] = true
	}
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(func(host string) (bool, error) {
			if insecure[host] {
				return true, nil
			}
			return docker.MatchLocalhost(host)
		})),
	})
	rctx, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), cfg.Namespace))
	r := &Runtime{
		cfg:      cfg,
		log:      cfg.Logger,
		client:   cl,
		net:      nw,
		resolver: resolver,
		ctx:      rctx,
		cancel:   cancel,
		pods:     map[string]*podWorker{},
		changes:  make(chan struct{}, 1),
		netReady: make(chan struct{}),
	}
	if cfg.PodCIDR != "" {
		nc, _ := parseNetConf(cfg.PodCIDR, cfg.ClusterDomain) // checked by validate
		if err := r.configureNetwork(nc); err != nil {
			cancel()
			cl.Close()
			return nil, err
		}
	}
	if err := r.initVolumes(); err != nil {
		cancel()
		cl.Close()
		return nil, err
	}
	r.oom = newOOMWatcher()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.oom.run(rctx, cl, cfg.Namespace, r.log)
	}()
	if err := r.adopt(namespaces.WithNamespace(ctx, cfg.Namespace)); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Sync makes the node's pods match pods (level-triggered, idempotent): it
// starts missing pods, stops and removes pods not listed, and leaves the
// others alone. It returns once work is dispatched, not when pods run.
func (r *Runtime) Sync(ctx context.Context, pods []api.Pod) error {
	_ = ctx // dispatch only; nothing here waits
	want := make(map[string]api.Pod, len(pods))
	for _, p := range pods {
		if p.UID == "" {
			return fmt.Errorf("failed to sync pod %s/%s: empty UID", p.Namespace, p.Name)
		}
		want[p.UID] = p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	for uid, w := range r.pods {
		p, ok := want[uid]
		if !ok || specHash(p) != w.hash {
			w.stop()
		}
	}
	changed := false
	for uid, p := range want {
		old := r.pods[uid]
		if old != nil && !old.stopping() {
			continue
		}
		// A changed spec under the same UID replaces the pod: the new
		// worker waits for the old one's cleanup, as they share names.
		// A host-network pod waits likewise for the stopping pods of its
		// owner, whatever their network (hostnet.go).
		if old == nil {
			old = r.hostNetPredecessorLocked(p)
		}
		w := newPodWorker(r, p, old)
		r.pods[uid] = w
		r.startWorker(w)
		changed = true
	}
	if changed {
		r.notifyLocked()
	}
	return nil
}

// startWorker runs w under r.wg; r.mu is held.
func (r *Runtime) startWorker(w *podWorker) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		w.run()
	}()
}

// Status returns the observed state of every pod, sorted by namespace and name.
func (r *Runtime) Status() []api.PodStatus {
	r.mu.Lock()
	out := make([]api.PodStatus, 0, len(r.pods))
	for _, w := range r.pods {
		out = append(out, w.statusLocked())
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].UID < out[j].UID
	})
	return out
}

// Pods returns the desired pods the runtime holds, sorted by namespace and
// name: those of the last Sync, or adopted from their records after a
// restart, each as it was given (with its Owner, Hash and Created). Pods
// being removed are left out.
func (r *Runtime) Pods() []api.Pod {
	r.mu.Lock()
	out := make([]api.Pod, 0, len(r.pods))
	for _, w := range r.pods {
		if !w.stopping() {
			out = append(out, w.pod)
		}
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Changes receives a value (coalesced) after any status change.
func (r *Runtime) Changes() <-chan struct{} { return r.changes }

func (r *Runtime) notifyLocked() {
	select {
	case r.changes <- struct{}{}:
	default:
	}
}

// Close stops supervising and releases the containerd connection; running
// containers keep running so the next process adopts them. Safe to call twice.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		r.cancel()
		r.wg.Wait()
		r.closeErr = r.client.Close()
	})
	return r.closeErr
}

// Teardown stops and removes every pod of this node (containers, network
// namespaces, IP allocations, logs) and the node's bridge. The Runtime stays
// usable: a later Sync starts pods again.
func (r *Runtime) Teardown(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	var workers []*podWorker
	for _, w := range r.pods {
		w.stop()
		workers = append(workers, w)
	}
	r.mu.Unlock()
	for _, w := range workers {
		select {
		case <-w.done:
		case <-ctx.Done():
			return fmt.Errorf("failed to tear down pods: %w", ctx.Err())
		}
	}
	nctx := namespaces.WithNamespace(ctx, r.cfg.Namespace)
	var errs []error
	// Whatever no worker owned: containers of pods without a record.
	errs = append(errs, r.removeStrays(nctx))
	removeNamespaceCgroups(cgroupRoot, r.cfg.Namespace) // podcgroup.go
	r.netMu.Lock()
	errs = append(errs, r.net.teardown(nctx))
	// The network stays configured: a later pod's set-up makes the
	// bridge again.
	errs = append(errs, deleteBridge(r.cfg.BridgeName))
	r.netMu.Unlock()
	// The runc shim leaves an empty state directory per namespace; Remove
	// only succeeds if it is empty, i.e. when no other process uses it.
	_ = os.Remove(filepath.Join("/run/containerd/runc", r.cfg.Namespace))
	errs = append(errs, r.config.unmount())
	return errors.Join(errs...)
}

// podID is the short, name-safe identity of a pod incarnation used in
// container IDs, the netns and host veth names and the CNI container ID.
func podID(uid string) string { return shortHash(uid, 12) }

func shortHash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

func podsDir(dataDir string) string { return filepath.Join(dataDir, "pods") }

// backoffDelay is BackoffBase doubled n-1 times, capped at BackoffMax.
func (r *Runtime) backoffDelay(n int) time.Duration {
	d := r.cfg.BackoffBase
	for i := 1; i < n && d < r.cfg.BackoffMax; i++ {
		d *= 2
	}
	if d > r.cfg.BackoffMax {
		d = r.cfg.BackoffMax
	}
	return d
}
