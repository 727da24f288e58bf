package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// fsStat is a file system's size and free space, as statfs gives them.
type fsStat struct {
	Capacity, Available int64 // bytes
	Inodes, InodesFree  int64
}

// signalSource measures what the eviction signals are computed from; the
// real one reads /proc, cgroups and statfs, tests feed values.
type signalSource interface {
	// MemoryWorkingSet is the node's working set in bytes: the root
	// cgroup's usage minus its inactive file pages (the kubelet's).
	MemoryWorkingSet() (int64, error)
	// Fs is the file system holding path.
	Fs(path string) (fsStat, error)
}

// hostSignals is the real signalSource.
type hostSignals struct{}

var _ signalSource = hostSignals{}

func (hostSignals) Fs(path string) (fsStat, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return fsStat{}, fmt.Errorf("failed to statfs %s: %w", path, err)
	}
	bs := int64(st.Bsize)
	return fsStat{
		Capacity:   int64(st.Blocks) * bs,
		Available:  int64(st.Bavail) * bs,
		Inodes:     int64(st.Files),
		InodesFree: int64(st.Ffree),
	}, nil
}

// MemoryWorkingSet reads the root memory cgroup (v1, then v2); without
// one it falls back to MemTotal − MemAvailable.
func (hostSignals) MemoryWorkingSet() (int64, error) {
	if usage, err := readInt("/sys/fs/cgroup/memory/memory.usage_in_bytes"); err == nil {
		inactive, _ := statField("/sys/fs/cgroup/memory/memory.stat", "total_inactive_file")
		return max(usage-inactive, 0), nil
	}
	// cgroup v2 has no usage file at the root: /proc/meminfo it is.
	total, err1 := meminfoField("MemTotal")
	avail, err2 := meminfoField("MemAvailable")
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("failed to read memory use: %w", firstErr(err1, err2))
	}
	return total - avail, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// statField reads "name value" from a cgroup stat file.
func statField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), " ")
		if ok && k == name {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in %s", name, path)
}

// meminfoField reads a /proc/meminfo field in bytes.
func meminfoField(name string) (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), name+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		return kb * 1024, err
	}
	return 0, fmt.Errorf("no %s in /proc/meminfo", name)
}

// observation is one signal's measure.
type observation struct {
	Available, Capacity int64
}

// observations are the signals measured in one housekeeping round.
type observations map[string]observation

// measure computes every signal. An fs it cannot stat is left out (and
// its thresholds are then not met); the error says which.
func measure(src signalSource, memCapacity int64, nodeFs, imageFs string) (observations, error) {
	obs := observations{}
	var errs []error
	if ws, err := src.MemoryWorkingSet(); err != nil {
		errs = append(errs, err)
	} else {
		obs[SignalMemoryAvailable] = observation{Available: max(memCapacity-ws, 0), Capacity: memCapacity}
	}
	for _, fs := range []struct{ path, avail, inodes string }{
		{nodeFs, SignalNodeFsAvailable, SignalNodeFsInodesFree},
		{imageFs, SignalImageFsAvailable, SignalImageFsInodesFree},
	} {
		if fs.path == "" {
			continue
		}
		st, err := src.Fs(fs.path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		obs[fs.avail] = observation{Available: st.Available, Capacity: st.Capacity}
		if st.Inodes > 0 {
			obs[fs.inodes] = observation{Available: st.InodesFree, Capacity: st.Inodes}
		}
	}
	return obs, firstErr(errs...)
}

// thresholdsMet returns the thresholds whose signal is below them.
func thresholdsMet(obs observations, ts []threshold) []threshold {
	var met []threshold
	for _, t := range ts {
		o, ok := obs[t.Signal]
		if ok && o.Available < t.limit(o.Capacity) {
			met = append(met, t)
		}
	}
	return met
}

// conditionOf is the node condition a signal's pressure sets.
func conditionOf(signal string) string {
	if signal == SignalMemoryAvailable {
		return api.NodeMemoryPressure
	}
	return api.NodeDiskPressure
}

// pressureTracker keeps the pressure conditions: one is True from the
// first round a threshold of its kind is met until PressureTransitionPeriod
// has passed without any being met (the kubelet's
// evictionPressureTransitionPeriod), so that a node hovering at a
// threshold does not flap its taints.
type pressureTracker struct {
	period time.Duration
	// lastMet is when a threshold of the condition was last met.
	lastMet map[string]time.Time
	// active and since are each condition's status and last transition.
	active map[string]bool
	since  map[string]time.Time
}

func newPressureTracker(period time.Duration, now time.Time) *pressureTracker {
	p := &pressureTracker{period: period, lastMet: map[string]time.Time{}, active: map[string]bool{}, since: map[string]time.Time{}}
	for _, c := range []string{api.NodeMemoryPressure, api.NodeDiskPressure} {
		p.since[c] = now
	}
	return p
}

// update records the thresholds met at now and reports whether a
// condition changed.
func (p *pressureTracker) update(now time.Time, met []threshold) bool {
	for _, t := range met {
		p.lastMet[conditionOf(t.Signal)] = now
	}
	changed := false
	for _, c := range []string{api.NodeMemoryPressure, api.NodeDiskPressure} {
		last, ok := p.lastMet[c]
		on := ok && now.Sub(last) < p.period
		if on != p.active[c] {
			p.active[c] = on
			p.since[c] = now
			changed = true
		}
	}
	return changed
}

// conditions renders the tracked conditions as the kubelet words them.
func (p *pressureTracker) conditions() []api.NodeCondition {
	type words struct{ okReason, okMsg, badReason, badMsg string }
	w := map[string]words{
		api.NodeMemoryPressure: {"KubeletHasSufficientMemory", "agent has sufficient memory available",
			"KubeletHasInsufficientMemory", "agent has insufficient memory available"},
		api.NodeDiskPressure: {"KubeletHasNoDiskPressure", "agent has no disk pressure",
			"KubeletHasDiskPressure", "agent has disk pressure"},
	}
	var out []api.NodeCondition
	for _, c := range []string{api.NodeMemoryPressure, api.NodeDiskPressure} {
		nc := api.NodeCondition{Type: c, Status: "False", Reason: w[c].okReason, Message: w[c].okMsg, LastTransitionTime: p.since[c]}
		if p.active[c] {
			nc.Status, nc.Reason, nc.Message = "True", w[c].badReason, w[c].badMsg
		}
		out = append(out, nc)
	}
	return out
}

// taintOf is the kubelet's NoSchedule taint of a pressure condition.
func taintOf(condition string) string {
	if condition == api.NodeMemoryPressure {
		return api.TaintMemoryPressure
	}
	return api.TaintDiskPressure
}

// nodeFsPath is the data dir, made absolute (statfs needs it to exist).
func nodeFsPath(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		return abs
	}
	return dataDir
}
