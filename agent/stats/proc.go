package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// userHZ is the unit of /proc/stat's CPU columns (USER_HZ, 100 on every
// Linux architecture the agent runs on).
const userHZ = 100

// parseProcStat returns the node's cumulative busy CPU time from
// /proc/stat's aggregate line: user, nice, system, irq, softirq and steal
// (idle and iowait are not use; guest time is already in user).
func parseProcStat(b []byte) (uint64, error) {
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var busy uint64
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("failed to parse /proc/stat column %d: %w", i, err)
			}
			busy += n
		}
		return busy * (1e9 / userHZ), nil
	}
	return 0, errNoCPULine
}

// meminfo is what the node's memory figures need from /proc/meminfo.
type meminfo struct {
	total, free, inactiveFile, anon uint64
}

func parseMeminfo(b []byte) (meminfo, error) {
	var m meminfo
	found := 0
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		k, rest, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "MemTotal":
			dst = &m.total
		case "MemFree":
			dst = &m.free
		case "Inactive(file)":
			dst = &m.inactiveFile
		case "AnonPages":
			dst = &m.anon
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("failed to parse /proc/meminfo %s: %w", k, err)
		}
		*dst = n * 1024
		found++
	}
	if m.total == 0 {
		return m, fmt.Errorf("failed to parse /proc/meminfo: no MemTotal")
	}
	return m, nil
}

// nodeMemory is the node's memory as the kubelet's summary reports it:
// usage is what is not free, the working set that minus inactive file
// pages, available the capacity minus the working set.
func (m meminfo) stats() api.MemoryStats {
	usage := m.total - min(m.free, m.total)
	ws := workingSet(usage, m.inactiveFile)
	return api.MemoryStats{UsageBytes: usage, WorkingSetBytes: ws, RSSBytes: m.anon, AvailableBytes: m.total - ws}
}

// parseNetDev sums /proc/<pid>/net/dev (or /proc/net/dev) over the
// interfaces skip does not exclude.
func parseNetDev(b []byte, skip func(name string) bool) (api.NetworkStats, error) {
	var ns api.NetworkStats
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		name, rest, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue // the two header lines
		}
		name = strings.TrimSpace(name)
		if skip != nil && skip(name) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			return ns, fmt.Errorf("failed to parse net/dev line of %s: %d fields", name, len(f))
		}
		var v [16]uint64
		for _, i := range []int{0, 2, 8, 10} {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return ns, fmt.Errorf("failed to parse net/dev line of %s: %w", name, err)
			}
			v[i] = n
		}
		ns.RxBytes += v[0]
		ns.RxErrors += v[2]
		ns.TxBytes += v[8]
		ns.TxErrors += v[10]
	}
	return ns, nil
}

// skipLoopback leaves out lo: a pod's traffic to itself is not network.
func skipLoopback(name string) bool { return name == "lo" }

// skipNodeVirtual leaves out, for the node's figure, lo and the virtual
// interfaces whose traffic is pods' (bridges, veths, tunnels), so that a
// pod's packet is not counted twice; what remains are the node's links.
func skipNodeVirtual(sysClassNet string) func(string) bool {
	return func(name string) bool {
		if name == "lo" {
			return true
		}
		// A physical link (or a namespace's veth standing in for one, as
		// in the test harness's "hosts") has no bridge dir and is not a
		// bridge port.
		for _, sub := range []string{"bridge", "brport"} {
			if _, err := os.Stat(sysClassNet + "/" + name + "/" + sub); err == nil {
				return true
			}
		}
		return false
	}
}

// statFs is a file system's use by statfs(2) on a path in it.
func statFs(path string) (api.FsStats, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return api.FsStats{}, fmt.Errorf("failed to statfs %s: %w", path, err)
	}
	bs := uint64(st.Bsize)
	return api.FsStats{
		CapacityBytes:  st.Blocks * bs,
		AvailableBytes: st.Bavail * bs,
		UsedBytes:      (st.Blocks - st.Bfree) * bs,
		Inodes:         st.Files,
		InodesFree:     st.Ffree,
		InodesUsed:     st.Files - st.Ffree,
	}, nil
}
