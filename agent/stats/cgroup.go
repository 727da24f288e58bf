// Package stats samples the node's resource use and its containers': CPU
// (cumulative usage turned into a rate over the sampling interval), memory
// (usage, working set, RSS), each pod's network counters, file systems
// (writable layers, logs, emptyDirs, the node's data and image file
// systems). The Collector owns no containerd client: what runs on the node
// comes from a Source (agent/runtime implements it), and the figures from
// cgroup files (v1 and v2 behind one CgroupReader), /proc and statfs.
//
// The figures mean what the kubelet's summary API means by them (see
// docs/stats.md): the working set is usage minus inactive file pages, as
// cAdvisor computes it.
package stats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// CgroupStats is what one cgroup's files say at one instant.
type CgroupStats struct {
	// CPUUsageNanos is the cumulative CPU time of the cgroup's tasks.
	CPUUsageNanos uint64
	// MemoryUsage is the memory controller's usage (page cache included);
	// WorkingSet is MemoryUsage minus inactive file pages (never below
	// zero); RSS the anonymous memory.
	MemoryUsage uint64
	WorkingSet  uint64
	RSS         uint64
}

// CgroupReader reads a cgroup's statistics by its path relative to the
// hierarchy's root (an OCI spec's cgroupsPath, "/ns/id"). Implementations
// are stateless and safe for concurrent use.
type CgroupReader interface {
	Read(cgroupPath string) (CgroupStats, error)
	// Version is 1 or 2.
	Version() int
}

var (
	_ CgroupReader = V1{}
	_ CgroupReader = V2{}
)

// DefaultCgroupRoot is where the cgroup hierarchies are mounted.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// DetectCgroups picks the reader for the hierarchy mounted at root: v1
// when a v1 memory controller is mounted (a hybrid host, whose unified
// hierarchy carries no controllers, is v1), v2 when root is the unified
// hierarchy.
func DetectCgroups(root string) CgroupReader {
	if root == "" {
		root = DefaultCgroupRoot
	}
	if _, err := os.Stat(filepath.Join(root, "memory", "memory.usage_in_bytes")); err == nil {
		return V1{Root: root}
	}
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return V2{Root: root}
	}
	return V1{Root: root}
}

// V1 reads cgroup v1: cpuacct.usage (nanoseconds) of the cpuacct
// controller, memory.usage_in_bytes and memory.stat of the memory one.
type V1 struct {
	// Root holds the controllers' mounts (cpuacct, memory); zero means
	// DefaultCgroupRoot.
	Root string
}

// Version is 1.
func (V1) Version() int { return 1 }

func (v V1) root() string {
	if v.Root == "" {
		return DefaultCgroupRoot
	}
	return v.Root
}

// Read reads the cgroup's CPU and memory figures.
func (v V1) Read(cgroupPath string) (CgroupStats, error) {
	var st CgroupStats
	cpu, err := readUint(filepath.Join(v.root(), "cpuacct", cgroupPath, "cpuacct.usage"))
	if err != nil {
		// Some hosts mount cpu and cpuacct together only as "cpu,cpuacct".
		var err2 error
		if cpu, err2 = readUint(filepath.Join(v.root(), "cpu,cpuacct", cgroupPath, "cpuacct.usage")); err2 != nil {
			return st, err
		}
	}
	st.CPUUsageNanos = cpu
	mem := filepath.Join(v.root(), "memory", cgroupPath)
	if st.MemoryUsage, err = readUint(filepath.Join(mem, "memory.usage_in_bytes")); err != nil {
		return st, err
	}
	ms, err := readKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return st, err
	}
	// The total_ figures include descendants, as cAdvisor uses them.
	inactive, ok := ms["total_inactive_file"]
	if !ok {
		inactive = ms["inactive_file"]
	}
	rss, ok := ms["total_rss"]
	if !ok {
		rss = ms["rss"]
	}
	st.RSS = rss
	st.WorkingSet = workingSet(st.MemoryUsage, inactive)
	return st, nil
}

// V2 reads the unified hierarchy: cpu.stat's usage_usec, memory.current
// and memory.stat (inactive_file, anon).
type V2 struct {
	// Root is the unified hierarchy's mount; zero means DefaultCgroupRoot.
	Root string
}

// Version is 2.
func (V2) Version() int { return 2 }

// Read reads the cgroup's CPU and memory figures.
func (v V2) Read(cgroupPath string) (CgroupStats, error) {
	var st CgroupStats
	root := v.Root
	if root == "" {
		root = DefaultCgroupRoot
	}
	dir := filepath.Join(root, cgroupPath)
	cs, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return st, err
	}
	usec, ok := cs["usage_usec"]
	if !ok {
		return st, fmt.Errorf("failed to read %s: no usage_usec", filepath.Join(dir, "cpu.stat"))
	}
	st.CPUUsageNanos = usec * 1000
	if st.MemoryUsage, err = readUint(filepath.Join(dir, "memory.current")); err != nil {
		return st, err
	}
	ms, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return st, err
	}
	st.RSS = ms["anon"]
	st.WorkingSet = workingSet(st.MemoryUsage, ms["inactive_file"])
	return st, nil
}

func workingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

// readUint reads a file holding one unsigned number ("max" reads as 0).
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("failed to read %s: %w", path, err)
	}
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("failed to parse %s: %w", path, err)
	}
	return n, nil
}

// readKeyed reads a flat keyed file ("key value" lines: memory.stat,
// cpu.stat).
func readKeyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", path, err)
	}
	return parseKeyed(b), nil
}

func parseKeyed(b []byte) map[string]uint64 {
	m := map[string]uint64{}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// errNoCPULine means /proc/stat had no aggregate "cpu" line.
var errNoCPULine = errors.New("no cpu line in /proc/stat")

// procsFile is the cgroup.procs of a cgroup under v1's memory controller.
func (v V1) procsFile(cgroupPath string) string {
	return filepath.Join(v.root(), "memory", cgroupPath, "cgroup.procs")
}

// procsFile is the cgroup.procs of a cgroup of the unified hierarchy.
func (v V2) procsFile(cgroupPath string) string {
	root := v.Root
	if root == "" {
		root = DefaultCgroupRoot
	}
	return filepath.Join(root, cgroupPath, "cgroup.procs")
}

// firstPID is a process of the cgroup (0 when none or unknown), found
// through r's cgroup.procs.
func firstPID(r CgroupReader, cgroupPath string) int {
	pf, ok := r.(interface{ procsFile(string) string })
	if !ok {
		return 0
	}
	b, err := os.ReadFile(pf.procsFile(cgroupPath))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0
	}
	return pid
}
