package stats

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Source tells the collector what runs on the node. agent/runtime
// implements it. Both methods may be called from the collector's goroutine
// while the runtime works; they must not block on a pod's start.
type Source interface {
	// StatsPods lists the pods with their running containers (a container
	// without a live task is left out).
	StatsPods(ctx context.Context) ([]Pod, error)
	// RootfsUsage is a container's writable layer (containerd's snapshot
	// Usage of its active snapshot).
	RootfsUsage(ctx context.Context, containerID string) (api.FsStats, error)
}

// Pod is one pod as the Source sees it.
type Pod struct {
	Namespace, Name, UID string
	Containers           []Container
	// EmptyDirs are the directories of the pod's disk emptyDir volumes
	// (measured at most every Config.DuInterval).
	EmptyDirs []string
}

// Container is one running container.
type Container struct {
	Name string
	// ID is containerd's container ID.
	ID string
	// CgroupPath is the OCI spec's linux.cgroupsPath ("/ns/id").
	CgroupPath string
	// PID is a process of the container: its /proc/<pid>/net/dev is the
	// pod's network namespace's. Zero means the first of the cgroup's
	// cgroup.procs.
	PID       uint32
	StartTime time.Time
	// LogFiles are the container's log files (the current one and its
	// rotated predecessors), stat'ed every sample.
	LogFiles []string
}

// Config configures a Collector.
type Config struct {
	// NodeName names the node in NodeStats.
	NodeName string
	// Interval is how often the collector samples; zero means
	// DefaultInterval.
	Interval time.Duration
	// DataDir is the agent's data directory (logs, emptyDirs): its file
	// system is NodeStats.Fs. Zero leaves Fs empty.
	DataDir string
	// ImageDir is containerd's root (images, writable layers): its file
	// system is NodeStats.ImageFs. Zero leaves ImageFs empty.
	ImageDir string
	// CgroupRoot is where the cgroup hierarchies are mounted; zero means
	// DefaultCgroupRoot. Cgroups, when set, is used instead of detecting
	// the version under CgroupRoot.
	CgroupRoot string
	Cgroups    CgroupReader
	// ProcRoot is procfs' mount; zero means "/proc".
	ProcRoot string
	// DuInterval bounds how often the disk use of a tree (a writable
	// layer, an emptyDir) is measured, since that walks it; zero means
	// DefaultDuInterval.
	DuInterval time.Duration
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultInterval   = 10 * time.Second
	DefaultDuInterval = time.Minute
)

// DefaultConfig returns a Config with the optional fields set.
func DefaultConfig() Config {
	return Config{Interval: DefaultInterval, CgroupRoot: DefaultCgroupRoot, ProcRoot: "/proc", DuInterval: DefaultDuInterval}
}

func (c *Config) validate() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = DefaultCgroupRoot
	}
	if c.Cgroups == nil {
		c.Cgroups = DetectCgroups(c.CgroupRoot)
	}
	if c.ProcRoot == "" {
		c.ProcRoot = "/proc"
	}
	if c.DuInterval <= 0 {
		c.DuInterval = DefaultDuInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// cpuPoint is a cumulative CPU counter and when it was read.
type cpuPoint struct {
	usage uint64
	at    time.Time
}

// rate is the average use between p and the earlier q in nanocores; zero
// without an earlier point or when the counter went back (a new cgroup
// under a reused ID).
func (p cpuPoint) rate(q cpuPoint, ok bool) uint64 {
	if !ok || p.usage < q.usage || !p.at.After(q.at) {
		return 0
	}
	return uint64(float64(p.usage-q.usage) * 1e9 / float64(p.at.Sub(q.at).Nanoseconds()))
}

// duEntry caches a tree's measured use.
type duEntry struct {
	fs api.FsStats
	at time.Time
}

// Collector samples the node every Config.Interval. Run owns its one
// goroutine; Latest and Sample may be called from any goroutine.
type Collector struct {
	cfg Config
	src Source // nil: only the node's figures
	log *slog.Logger

	// last is the latest sample, read without waiting for one under way.
	last atomic.Pointer[api.NodeStats]

	mu      sync.Mutex          // serialises samples; guards everything below
	prevCPU map[string]cpuPoint // by container ID; "" is the node
	du      map[string]duEntry  // by container ID or emptyDir path
}

// New returns a Collector reading what runs from src (nil: node figures
// only).
func New(cfg Config, src Source) *Collector {
	cfg.validate()
	return &Collector{cfg: cfg, src: src, log: cfg.Logger, prevCPU: map[string]cpuPoint{}, du: map[string]duEntry{}}
}

// Interval is the configured sampling interval.
func (c *Collector) Interval() time.Duration { return c.cfg.Interval }

// Run samples at once and then every interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := c.Sample(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("failed to sample stats", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrNoSample is Latest before the first sample.
var ErrNoSample = errors.New("no stats sample yet")

// Latest is the last sample; ErrNoSample before the first.
func (c *Collector) Latest() (api.NodeStats, error) {
	last := c.last.Load()
	if last == nil {
		return api.NodeStats{}, ErrNoSample
	}
	return *last, nil
}

// Sample takes a sample now, keeps it as the latest and returns it. The
// CPU rates are over the time since the previous sample (zero in the
// first). A container whose cgroup cannot be read (it just exited) is left
// out; only a failure to list the pods fails the sample.
func (c *Collector) Sample(ctx context.Context) (api.NodeStats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	ns := api.NodeStats{Node: c.cfg.NodeName, Time: now, Pods: []api.PodStats{}}
	if last := c.last.Load(); last != nil {
		ns.Window = now.Sub(last.Time)
	}
	c.sampleNode(&ns)
	seen := map[string]bool{"": true}
	var err error
	if c.src != nil {
		var pods []Pod
		pods, err = c.src.StatsPods(ctx)
		if err != nil {
			err = fmt.Errorf("failed to list pods for stats: %w", err)
		}
		for _, p := range pods {
			ns.Pods = append(ns.Pods, c.samplePod(ctx, p, seen, now))
		}
	}
	for id := range c.prevCPU {
		if !seen[id] {
			delete(c.prevCPU, id)
		}
	}
	for k, e := range c.du {
		if now.Sub(e.at) > 3*c.cfg.DuInterval {
			delete(c.du, k)
		}
	}
	ns.CollectDuration = time.Since(now)
	c.last.Store(&ns)
	return ns, err
}

// sampleNode fills the node's own figures; what cannot be read stays zero
// (and is logged at debug).
func (c *Collector) sampleNode(ns *api.NodeStats) {
	if b, err := os.ReadFile(filepath.Join(c.cfg.ProcRoot, "stat")); err == nil {
		if usage, err := parseProcStat(b); err == nil {
			p := cpuPoint{usage: usage, at: time.Now()}
			q, ok := c.prevCPU[""]
			ns.CPU = api.CPUStats{UsageCoreNanoSeconds: usage, UsageNanoCores: p.rate(q, ok)}
			c.prevCPU[""] = p
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.cfg.ProcRoot, "meminfo")); err == nil {
		if m, err := parseMeminfo(b); err == nil {
			ns.Memory = m.stats()
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.cfg.ProcRoot, "net", "dev")); err == nil {
		ns.Network, _ = parseNetDev(b, skipNodeVirtual("/sys/class/net"))
	}
	var err error
	if c.cfg.DataDir != "" {
		if ns.Fs, err = statFs(c.cfg.DataDir); err != nil {
			c.log.Debug("failed to stat data dir", "err", err)
		}
	}
	if c.cfg.ImageDir != "" {
		if ns.ImageFs, err = statFs(c.cfg.ImageDir); err != nil {
			c.log.Debug("failed to stat image dir", "err", err)
		}
	}
}

func (c *Collector) samplePod(ctx context.Context, p Pod, seen map[string]bool, now time.Time) api.PodStats {
	ps := api.PodStats{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Containers: []api.ContainerStats{}}
	netDone := false
	for _, ct := range p.Containers {
		cs, ok := c.sampleContainer(ctx, ct, seen, now)
		if !ok {
			continue
		}
		ps.Containers = append(ps.Containers, cs)
		ps.CPU.UsageNanoCores += cs.CPU.UsageNanoCores
		ps.CPU.UsageCoreNanoSeconds += cs.CPU.UsageCoreNanoSeconds
		ps.Memory.UsageBytes += cs.Memory.UsageBytes
		ps.Memory.WorkingSetBytes += cs.Memory.WorkingSetBytes
		ps.Memory.RSSBytes += cs.Memory.RSSBytes
		ps.EphemeralStorage.UsedBytes += cs.Rootfs.UsedBytes + cs.Logs.UsedBytes
		ps.EphemeralStorage.InodesUsed += cs.Rootfs.InodesUsed + cs.Logs.InodesUsed
		pid := int(ct.PID)
		if !netDone && pid == 0 {
			pid = firstPID(c.cfg.Cgroups, ct.CgroupPath)
		}
		if !netDone && pid > 0 {
			// Every container shares the pod's network namespace.
			if b, err := os.ReadFile(filepath.Join(c.cfg.ProcRoot, strconv.Itoa(pid), "net", "dev")); err == nil {
				if n, err := parseNetDev(b, skipLoopback); err == nil {
					ps.Network, netDone = n, true
				}
			}
		}
	}
	for _, dir := range p.EmptyDirs {
		e := c.treeUsage(dir, now, func() (api.FsStats, error) { return DirUsage(dir), nil })
		ps.EphemeralStorage.UsedBytes += e.UsedBytes
		ps.EphemeralStorage.InodesUsed += e.InodesUsed
	}
	return ps
}

func (c *Collector) sampleContainer(ctx context.Context, ct Container, seen map[string]bool, now time.Time) (api.ContainerStats, bool) {
	cg, err := c.cfg.Cgroups.Read(ct.CgroupPath)
	at := time.Now()
	if err != nil {
		c.log.Debug("failed to read cgroup", "container", ct.ID, "cgroup", ct.CgroupPath, "err", err)
		return api.ContainerStats{}, false
	}
	seen[ct.ID] = true
	p := cpuPoint{usage: cg.CPUUsageNanos, at: at}
	q, ok := c.prevCPU[ct.ID]
	c.prevCPU[ct.ID] = p
	cs := api.ContainerStats{
		Name:      ct.Name,
		StartTime: ct.StartTime,
		CPU:       api.CPUStats{UsageCoreNanoSeconds: cg.CPUUsageNanos, UsageNanoCores: p.rate(q, ok)},
		Memory:    api.MemoryStats{UsageBytes: cg.MemoryUsage, WorkingSetBytes: cg.WorkingSet, RSSBytes: cg.RSS},
	}
	if c.src != nil {
		cs.Rootfs = c.treeUsage(ct.ID, now, func() (api.FsStats, error) { return c.src.RootfsUsage(ctx, ct.ID) })
	}
	for _, f := range ct.LogFiles {
		if fi, err := os.Stat(f); err == nil {
			cs.Logs.UsedBytes += blocks(fi)
			cs.Logs.InodesUsed++
		}
	}
	return cs, true
}

// treeUsage returns key's cached use, measuring it again with measure
// when older than DuInterval.
func (c *Collector) treeUsage(key string, now time.Time, measure func() (api.FsStats, error)) api.FsStats {
	if e, ok := c.du[key]; ok && now.Sub(e.at) < c.cfg.DuInterval {
		return e.fs
	}
	fs, err := measure()
	if err != nil {
		c.log.Debug("failed to measure disk use", "of", key, "err", err)
		if e, ok := c.du[key]; ok {
			return e.fs
		}
		return api.FsStats{}
	}
	c.du[key] = duEntry{fs: fs, at: now}
	return fs
}

// DirUsage is du's figure for a tree: the blocks of every inode once.
func DirUsage(dir string) api.FsStats {
	var st api.FsStats
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			if seen[s.Ino] {
				return nil
			}
			seen[s.Ino] = true
		}
		st.UsedBytes += blocks(fi)
		st.InodesUsed++
		return nil
	})
	return st
}

// blocks is a file's allocated size (what fills a disk), its length when
// the file system does not say.
func blocks(fi os.FileInfo) uint64 {
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Blocks) * 512
	}
	return uint64(fi.Size())
}

// LogFiles lists a container's log files: every file of its log
// directory (agent/containerlog: each instance's current and rotated files).
func LogFiles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}
