package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/volume"
	"github.com/stevedore-dev/stevedore/spec"
)

// Defaults used by DefaultConfig and by validate for zero fields.
const (
	DefaultAPIAddr        = "127.0.0.1:7701"
	DefaultGossipAddr     = "127.0.0.1:7947"
	DefaultMaxPods        = 110
	DefaultWatchHeartbeat = 5 * time.Second
	DefaultDataDirRoot    = "/var/lib/stevedore"
	DefaultDNSPort        = 53
	// Network plugins (Config.NetworkPlugin) and VXLAN modes (Config.VXLAN).
	NetworkBuiltin           = "builtin"
	NetworkCNI               = "cni"
	VXLANAuto                = "auto"
	VXLANAlways              = "always"
	DefaultNetworkRetry      = 5 * time.Second
	DefaultNetworkRepair     = time.Minute
	defaultWatchWriteTimeout = 30 * time.Second
)

// Config configures an Agent. Every field has a usable zero value (filled by
// New) except ContainerdAddress, which only the runtime that cmd/agent builds
// needs.
type Config struct {
	// NodeName is this node's name in membership and pod statuses; zero
	// means the host name.
	NodeName string
	// APIAddr is the host:port the agent API listens on; zero means
	// DefaultAPIAddr. Port 0 picks a free port (see Agent.APIURL).
	APIAddr string
	// AdvertiseAPI is the base URL other members use to reach the API
	// ("http://host:port"); zero derives it from the bound API address, with
	// an unspecified host (0.0.0.0, ::) replaced by the gossip host, or by the
	// host's first private IP when that is unspecified too.
	AdvertiseAPI string
	// GossipAddr is the host:port serf binds (UDP and TCP); zero means
	// DefaultGossipAddr. Port 0 picks a free port (see Agent.GossipAddr).
	GossipAddr string
	// GossipProfile is the gossip timings (api.GossipLocal, api.GossipLarge
	// for thousands of nodes); zero means api.GossipLocal. Every member of
	// a cluster should use the same.
	GossipProfile string
	// Join lists gossip addresses of members to join (usually the
	// reconciler's). The agent retries with back-off until one join succeeds,
	// so agents may start before the reconciler. Zero means start alone.
	Join []string
	// DataDir holds the agent's fencing state (and, from cmd/agent, the
	// runtime's data under DataDir/runtime); zero means
	// /var/lib/stevedore/<NodeName>.
	DataDir string
	// ContainerdAddress is containerd's socket. The daemon itself does not
	// use it (the runtime does); zero is only an error in cmd/agent.
	ContainerdAddress string
	// ContainerdNamespace is the containerd namespace the runtime uses; zero
	// means "stevedore-<NodeName>", so several agents can share one
	// containerd.
	ContainerdNamespace string
	// InsecureRegistries are host:port registries pulled over plain HTTP;
	// zero means none.
	InsecureRegistries []string
	// AllowPrivileged lets pods run privileged containers
	// (securityContext.privileged) and use the host's network
	// (hostNetwork); zero refuses them with CreateContainerConfigError.
	AllowPrivileged bool
	// PodPidsLimit bounds each pod's processes as a whole (the kubelet's
	// podPidsLimit); zero means runtime.DefaultPodPidsLimit (4096; the
	// kubelet's default is unlimited), -1 unlimited.
	PodPidsLimit int64
	// PodCIDR overrides the pod subnet the leader allocates: it is
	// advertised (tag) for the leader to honour when it does not overlap
	// another node's. Zero (the normal case) takes the leader's allocation
	// out of its cluster CIDR; the network the leader sends wins either way.
	PodCIDR string
	// BridgeName is the node's CNI bridge; zero leaves the choice to the
	// runtime ("stv-" + a short hash of the node name).
	BridgeName string
	// Labels are advertised node labels. The well-known labels kubelet
	// sets are always there unless given here: kubernetes.io/hostname (the
	// node name, what topologyKey: kubernetes.io/hostname spreads over),
	// kubernetes.io/os (linux) and kubernetes.io/arch (GOARCH).
	Labels map[string]string
	// Taints are advertised node taints; zero means none.
	Taints []spec.Taint
	// AllocatableMilliCPU overrides the CPU offered to the scheduler; zero
	// means runtime.NumCPU()*1000.
	AllocatableMilliCPU int64
	// AllocatableMemory overrides the memory offered, in bytes; zero means
	// MemTotal from /proc/meminfo.
	AllocatableMemory int64
	// MaxPods overrides the pod count offered; zero means DefaultMaxPods.
	MaxPods int64
	// AllowHostPaths lets this node's pods mount hostPath volumes (the
	// namespace's policy must allow them too); false refuses them
	// (docs/volumes.md).
	AllowHostPaths bool
	// ExtendedResources are the extended resources (nvidia.com/gpu: 2, a
	// count) and hugepages (hugepages-2Mi: bytes, a multiple of the page
	// size) the node offers the scheduler, by Kubernetes resource name. The
	// agent only advertises them: devices and hugetlbfs are the operator's
	// to set up. Zero means none, so pods that request any stay off the
	// node.
	ExtendedResources map[string]int64
	// NetworkPlugin is how the runtime attaches pods to the bridge:
	// NetworkBuiltin (in-process over netlink) or NetworkCNI (the CNI bridge
	// and host-local plugins); zero means NetworkBuiltin.
	NetworkPlugin string
	// VXLAN says when other nodes' pods are reached through the VXLAN
	// overlay: VXLANAuto when a node is not on a directly connected
	// network, VXLANAlways for every node. Every node should use the same.
	// Zero means VXLANAuto.
	VXLAN string
	// DNSUpstreams are the resolvers (host:port, or an IP for port 53) the node's DNS server
	// forwards non-cluster names to; zero means the host's /etc/resolv.conf
	// minus loopback addresses.
	DNSUpstreams []string
	// DNSPort is the port the node's DNS server listens on, on the bridge
	// address; zero means DefaultDNSPort (53, what pods' resolv.conf
	// implies).
	DNSPort int
	// LeasePort is the TCP port of the pods' lease endpoint, on the bridge
	// address beside the DNS server (docs/leases.md); zero means
	// api.DefaultLeasePort, -1 turns the endpoint off.
	LeasePort int
	// NetworkRetryInterval is how often a network that failed to apply
	// (routes, Service rules, DNS) is applied again; zero means
	// DefaultNetworkRetry.
	NetworkRetryInterval time.Duration
	// NetworkRepairInterval is how often a network that applied is applied
	// again although the leader sent nothing new, repairing what someone
	// else removed (a deleted route or bridge, Service rules flushed by a
	// firewall reload); zero means DefaultNetworkRepair.
	NetworkRepairInterval time.Duration
	// WatchHeartbeat is how often the watch stream re-sends the current state
	// when nothing changed, so consumers can tell a quiet node from a dead
	// connection; zero means DefaultWatchHeartbeat.
	WatchHeartbeat time.Duration
	// EventsKept is how many of the runtime's events the agent keeps in
	// memory for watch streams that reconnect (EventLog); zero means
	// DefaultEventsKept.
	EventsKept int
	// StatsInterval is how often the stats collector samples the node's
	// and its containers' use (GET /v1/stats); zero means
	// DefaultStatsInterval.
	StatsInterval time.Duration
	// ContainerdRoot is containerd's root directory, whose file system
	// the stats report as the image file system; zero means
	// DefaultContainerdRoot.
	ContainerdRoot string
	// Volumes configures the volume manager and its drivers (cmd/agent
	// builds it; docs/volume-drivers.md); its DataDir zero means DataDir.
	Volumes volume.Config
	// Eviction configures pressure conditions, eviction and image GC
	// (eviction_config.go); its zero value is the kubelet's defaults.
	Eviction EvictionConfig
	// ContainerLogMaxSize (bytes) and ContainerLogMaxFiles (the current
	// file included) bound each container's log, the kubelet's
	// containerLogMaxSize and containerLogMaxFiles (docs/logs.md); zero
	// means DefaultContainerLogMaxSize (10Mi) and
	// DefaultContainerLogMaxFiles (5).
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// Logger zero means slog.Default().
	Logger *slog.Logger
	// Security is the node's credentials and the API's authentication
	// (security.go); zero is secured, joining on first start with
	// Security.Token.
	Security SecurityConfig
}

// DefaultConfig returns a Config with every default filled in, except
// NodeName and DataDir, which are derived from the host name when left zero.
func DefaultConfig() Config {
	return Config{
		APIAddr:        DefaultAPIAddr,
		GossipAddr:     DefaultGossipAddr,
		DNSPort:        DefaultDNSPort,
		NetworkPlugin:  NetworkBuiltin,
		VXLAN:          VXLANAuto,
		MaxPods:        DefaultMaxPods,
		WatchHeartbeat: DefaultWatchHeartbeat,
		EventsKept:     DefaultEventsKept,

		ContainerLogMaxSize:  DefaultContainerLogMaxSize,
		ContainerLogMaxFiles: DefaultContainerLogMaxFiles,

		Security: SecurityConfig{Disabled: testInsecureDefault},
	}
}

// validate fills zero values and rejects what cannot work.
func (c *Config) validate() error {
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("failed to read host name for node name: %w", err)
		}
		c.NodeName = h
	}
	if c.APIAddr == "" {
		c.APIAddr = DefaultAPIAddr
	}
	if c.LeasePort == 0 {
		c.LeasePort = api.DefaultLeasePort
	}
	if _, _, err := net.SplitHostPort(c.APIAddr); err != nil {
		return fmt.Errorf("failed to parse API address %q: %w", c.APIAddr, err)
	}
	if c.GossipAddr == "" {
		c.GossipAddr = DefaultGossipAddr
	}
	if _, _, err := splitGossip(c.GossipAddr); err != nil {
		return err
	}
	if err := api.ApplyGossipProfile(serf.DefaultConfig(), c.GossipProfile); err != nil {
		return err
	}
	if c.AdvertiseAPI != "" {
		u, err := url.Parse(c.AdvertiseAPI)
		if err != nil {
			return fmt.Errorf("failed to parse advertised API URL %q: %w", c.AdvertiseAPI, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("advertised API URL %q: %w", c.AdvertiseAPI, errBadAdvertise)
		}
	}
	c.Labels = withWellKnownLabels(c.Labels, c.NodeName)
	if c.DataDir == "" {
		c.DataDir = filepath.Join(DefaultDataDirRoot, c.NodeName)
	}
	if c.ContainerdNamespace == "" {
		c.ContainerdNamespace = "stevedore-" + c.NodeName
	}
	if c.PodCIDR != "" {
		if _, _, err := net.ParseCIDR(c.PodCIDR); err != nil {
			return fmt.Errorf("failed to parse pod CIDR %q: %w", c.PodCIDR, err)
		}
	}
	switch c.NetworkPlugin {
	case "":
		c.NetworkPlugin = NetworkBuiltin
	case NetworkBuiltin, NetworkCNI:
	default:
		return fmt.Errorf("network plugin %q: %w", c.NetworkPlugin, errBadPlugin)
	}
	switch c.VXLAN {
	case "":
		c.VXLAN = VXLANAuto
	case VXLANAuto, VXLANAlways:
	default:
		return fmt.Errorf("vxlan mode %q: %w", c.VXLAN, errBadVXLAN)
	}
	for _, u := range c.DNSUpstreams {
		// host:port, or a bare IP (port 53).
		if _, _, err := net.SplitHostPort(u); err != nil && net.ParseIP(u) == nil {
			return fmt.Errorf("failed to parse DNS upstream %q (want an IP or host:port): %w", u, err)
		}
	}
	if c.DNSPort == 0 {
		c.DNSPort = DefaultDNSPort
	}
	if c.DNSPort < 0 || c.DNSPort > 65535 {
		return fmt.Errorf("DNS port %d: %w", c.DNSPort, errBadPort)
	}
	if c.NetworkRetryInterval <= 0 {
		c.NetworkRetryInterval = DefaultNetworkRetry
	}
	if c.NetworkRepairInterval <= 0 {
		c.NetworkRepairInterval = DefaultNetworkRepair
	}
	for _, t := range c.Taints {
		switch t.Effect {
		case spec.TaintEffectNoSchedule, spec.TaintEffectPreferNoSchedule, spec.TaintEffectNoExecute:
		default:
			return fmt.Errorf("taint %q: %w: %q", t.Key, errBadTaintEffect, t.Effect)
		}
	}
	if c.AllocatableMilliCPU < 0 || c.AllocatableMemory < 0 || c.MaxPods < 0 {
		return errNegativeAllocatable
	}
	for name, q := range c.ExtendedResources {
		if msg := spec.ValidateResourceName(name); msg != "" {
			return fmt.Errorf("extended resource %q: %w: %s", name, errBadExtended, msg)
		}
		if q < 0 {
			return fmt.Errorf("extended resource %q: %w: %d is negative", name, errBadExtended, q)
		}
		if size, ok := spec.HugePageSize(name); ok && q%size != 0 {
			return fmt.Errorf("extended resource %q: %w: %d bytes is not a multiple of the page size", name, errBadExtended, q)
		}
	}
	if c.AllocatableMilliCPU == 0 {
		c.AllocatableMilliCPU = hostMilliCPU()
	}
	if c.AllocatableMemory == 0 {
		m, err := hostMemory()
		if err != nil {
			return err
		}
		c.AllocatableMemory = m
	}
	if c.MaxPods == 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.WatchHeartbeat <= 0 {
		c.WatchHeartbeat = DefaultWatchHeartbeat
	}
	if c.EventsKept <= 0 {
		c.EventsKept = DefaultEventsKept
	}
	if c.StatsInterval <= 0 {
		c.StatsInterval = DefaultStatsInterval
	}
	if err := c.validateLogs(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := c.Eviction.validate(); err != nil {
		return err
	}
	if c.Volumes.DataDir == "" {
		c.Volumes.DataDir = c.DataDir
	}
	// PersistentVolumes with a hostPath or local source bind node
	// directories too: the same switch as pods' hostPath volumes.
	c.Volumes.AllowHostPaths = c.AllowHostPaths
	if c.Volumes.Logger == nil {
		c.Volumes.Logger = c.Logger.With("node", c.NodeName)
	}
	return nil
}

var (
	errBadAdvertise        = errors.New("want http(s)://host:port")
	errBadTaintEffect      = errors.New("effect must be NoSchedule, PreferNoSchedule or NoExecute")
	errNegativeAllocatable = errors.New("allocatable cpu, memory and max pods must not be negative")
	errBadExtended         = errors.New("invalid extended resource")
	errBadPlugin           = errors.New("want builtin or cni")
	errBadVXLAN            = errors.New("want auto or always")
)

// splitGossip splits a gossip host:port, resolving nothing: memberlist wants
// an IP to bind.
func splitGossip(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("failed to parse gossip address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("failed to parse gossip port %q: %w", addr, errBadPort)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("gossip address %q: %w", addr, errGossipNotIP)
	}
	return host, port, nil
}

var (
	errBadPort     = errors.New("want a port between 0 and 65535")
	errGossipNotIP = errors.New("host must be an IP address")
)

// WithDefaults returns cfg with every zero value filled as New would fill
// it, or the error New would return. cmd/agent uses it to give the runtime
// the same node name and namespace the daemon advertises.
func (c Config) WithDefaults() (Config, error) {
	err := c.validate()
	return c, err
}

// Well-known node labels, as kubelet sets them.
const (
	LabelHostname = "kubernetes.io/hostname"
	LabelOS       = "kubernetes.io/os"
	LabelArch     = "kubernetes.io/arch"
)

// withWellKnownLabels returns labels (copied) with the well-known labels
// filled in where absent.
func withWellKnownLabels(labels map[string]string, node string) map[string]string {
	out := make(map[string]string, len(labels)+3)
	maps.Copy(out, labels)
	for k, v := range map[string]string{LabelHostname: node, LabelOS: goruntime.GOOS, LabelArch: goruntime.GOARCH} {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}
