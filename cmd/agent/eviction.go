package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/stevedore-dev/stevedore/agent"
)

// evictionFlags maps the kubelet's eviction and image GC flags onto
// cfg.Eviction (docs/eviction.md). Their defaults are the config's zero
// values, which the agent fills with the kubelet's.
func evictionFlags(f *pflag.FlagSet, cfg *agent.Config) {
	e := &cfg.Eviction
	f.Var(&evictionHard{m: &e.Hard}, "eviction-hard", "hard eviction thresholds, signal<quantity or percentage, comma-separated, e.g. memory.available<100Mi,nodefs.available<10% (default: the kubelet's: memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%,imagefs.available<15%; a list given replaces them all)")
	f.DurationVar(&e.PressureTransitionPeriod, "eviction-pressure-transition-period", e.PressureTransitionPeriod, "how long a pressure condition stays True after its signal went back over its threshold (default: 5m)")
	f.IntVar(&e.ImageGCHighThresholdPercent, "image-gc-high-threshold", e.ImageGCHighThresholdPercent, "image file system use (percent) from which unused images are removed (default: 85; 100: never)")
	f.IntVar(&e.ImageGCLowThresholdPercent, "image-gc-low-threshold", e.ImageGCLowThresholdPercent, "image file system use (percent) image GC brings it down to (default: 80)")
	f.DurationVar(&e.ImageMinimumGCAge, "minimum-image-gc-age", e.ImageMinimumGCAge, "how long an image stays unused before image GC may remove it (default: 2m)")
	f.DurationVar(&e.HousekeepingInterval, "housekeeping-interval", e.HousekeepingInterval, "how often eviction signals are measured, images collected and at most one pod evicted (default: 10s; negative: never)")
	f.StringVar(&e.ImageFsPath, "imagefs-path", "", "a directory on containerd's root file system (default: the snapshotter's root, from containerd)")
	f.Int64Var(&e.MemoryCapacity, "eviction-memory-capacity", e.MemoryCapacity, "node memory in bytes that memory.available is computed against (default: MemTotal)")
}

// evictionHard is --eviction-hard as a pflag.Value.
type evictionHard struct{ m *map[string]string }

func (v *evictionHard) String() string {
	if v.m == nil || *v.m == nil {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*v.m)) {
		parts = append(parts, k+"<"+(*v.m)[k])
	}
	return strings.Join(parts, ",")
}

func (v *evictionHard) Set(s string) error {
	m, err := agent.ParseEvictionHard(s)
	if err != nil {
		return err
	}
	*v.m = m
	return nil
}

func (v *evictionHard) Type() string { return "thresholds" }
