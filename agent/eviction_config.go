package agent

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Eviction signals, with the kubelet's names (evictionHard's keys).
const (
	SignalMemoryAvailable   = "memory.available"
	SignalNodeFsAvailable   = "nodefs.available"
	SignalNodeFsInodesFree  = "nodefs.inodesFree"
	SignalImageFsAvailable  = "imagefs.available"
	SignalImageFsInodesFree = "imagefs.inodesFree"
)

// Defaults of EvictionConfig, the kubelet's.
const (
	DefaultEvictionPressureTransitionPeriod = 5 * time.Minute
	DefaultImageGCHighThresholdPercent      = 85
	DefaultImageGCLowThresholdPercent       = 80
	DefaultImageMinimumGCAge                = 2 * time.Minute
	DefaultHousekeepingInterval             = 10 * time.Second
)

// DefaultEvictionHard is the kubelet's evictionHard default on Linux.
func DefaultEvictionHard() map[string]string {
	return map[string]string{
		SignalMemoryAvailable:  "100Mi",
		SignalNodeFsAvailable:  "10%",
		SignalNodeFsInodesFree: "5%",
		SignalImageFsAvailable: "15%",
	}
}

// EvictionConfig configures the node's housekeeping: pressure conditions,
// eviction and image garbage collection (eviction.go, imagegc.go), with
// the kubelet's field names and semantics.
type EvictionConfig struct {
	// Hard maps a signal to the threshold below which the node is under
	// pressure and evicts pods at once (the kubelet's evictionHard): a
	// quantity ("100Mi") or a percentage of capacity ("10%"). Zero means
	// DefaultEvictionHard(); a map given replaces the defaults wholly, as
	// the kubelet's does. A threshold "0%" or "0" turns its signal off.
	Hard map[string]string
	// PressureTransitionPeriod is how long a condition stays True after
	// its signal went back over its threshold (the kubelet's
	// evictionPressureTransitionPeriod), so it does not flap; zero means
	// DefaultEvictionPressureTransitionPeriod.
	PressureTransitionPeriod time.Duration
	// ImageGCHighThresholdPercent is the image file system's use (percent)
	// from which unused images are removed; zero means 85, 100 turns
	// image GC off.
	ImageGCHighThresholdPercent int
	// ImageGCLowThresholdPercent is the use image GC brings the image file
	// system down to; zero means 80. It must be below the high threshold.
	ImageGCLowThresholdPercent int
	// ImageMinimumGCAge is how long an image stays unused before it may
	// be removed; zero means 2m.
	ImageMinimumGCAge time.Duration
	// HousekeepingInterval is how often signals are measured, images
	// collected and at most one pod evicted; zero means 10s, negative
	// turns housekeeping off.
	HousekeepingInterval time.Duration
	// ImageFsPath is a directory on containerd's root file system (the
	// image file system); zero asks the runtime (the snapshotter's root,
	// from containerd's introspection), or treats the data dir's file
	// system as the image file system when the runtime cannot say.
	ImageFsPath string
	// MemoryCapacity is the node's memory for memory.available (capacity −
	// working set); zero means MemTotal from /proc/meminfo. Tests set it to
	// put a node under pressure without using its memory.
	MemoryCapacity int64
}

// threshold is one parsed evictionHard entry.
type threshold struct {
	Signal string
	// Quantity in bytes (or inodes), when Percent is zero.
	Quantity int64
	// Percent of the capacity, 0 < Percent ≤ 100.
	Percent float64
	// Raw is the threshold as written, for messages.
	Raw string
}

// limit is the threshold's amount for a capacity.
func (t threshold) limit(capacity int64) int64 {
	if t.Percent > 0 {
		return int64(float64(capacity) * t.Percent / 100)
	}
	return t.Quantity
}

var (
	errBadSignal    = errors.New("unknown eviction signal")
	errBadThreshold = errors.New("invalid eviction threshold")
	errBadImageGC   = errors.New("invalid image GC thresholds")
)

// parseThresholds parses an evictionHard map; zero thresholds are dropped.
func parseThresholds(hard map[string]string) ([]threshold, error) {
	var out []threshold
	for _, sig := range slices.Sorted(maps.Keys(hard)) {
		switch sig {
		case SignalMemoryAvailable, SignalNodeFsAvailable, SignalNodeFsInodesFree,
			SignalImageFsAvailable, SignalImageFsInodesFree:
		default:
			return nil, fmt.Errorf("%w %q", errBadSignal, sig)
		}
		raw := strings.TrimSpace(hard[sig])
		t := threshold{Signal: sig, Raw: raw}
		if p, ok := strings.CutSuffix(raw, "%"); ok {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f < 0 || f > 100 {
				return nil, fmt.Errorf("%w %s<%s: want a percentage from 0 to 100", errBadThreshold, sig, raw)
			}
			t.Percent = f
		} else {
			q, err := resource.ParseQuantity(raw)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("%w %s<%s: want a quantity or a percentage", errBadThreshold, sig, raw)
			}
			t.Quantity = q.Value()
		}
		if t.Percent == 0 && t.Quantity == 0 {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseEvictionHard parses the --eviction-hard flag's form,
// "memory.available<100Mi,nodefs.available<10%", into a map.
func ParseEvictionHard(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sig, v, ok := strings.Cut(part, "<")
		if !ok {
			return nil, fmt.Errorf("%w %q: want signal<threshold", errBadThreshold, part)
		}
		out[strings.TrimSpace(sig)] = strings.TrimSpace(v)
	}
	if _, err := parseThresholds(out); err != nil {
		return nil, err
	}
	return out, nil
}

// validate fills zero values and parses Hard.
func (c *EvictionConfig) validate() error {
	if c.Hard == nil {
		c.Hard = DefaultEvictionHard()
	}
	if _, err := parseThresholds(c.Hard); err != nil {
		return err
	}
	if c.PressureTransitionPeriod <= 0 {
		c.PressureTransitionPeriod = DefaultEvictionPressureTransitionPeriod
	}
	if c.ImageGCHighThresholdPercent == 0 {
		c.ImageGCHighThresholdPercent = DefaultImageGCHighThresholdPercent
	}
	if c.ImageGCLowThresholdPercent == 0 {
		c.ImageGCLowThresholdPercent = DefaultImageGCLowThresholdPercent
	}
	hi, lo := c.ImageGCHighThresholdPercent, c.ImageGCLowThresholdPercent
	if hi < 0 || hi > 100 || lo < 0 || lo > 100 || lo >= hi {
		return fmt.Errorf("%w: high %d%%, low %d%%: want 0 ≤ low < high ≤ 100", errBadImageGC, hi, lo)
	}
	if c.ImageMinimumGCAge <= 0 {
		c.ImageMinimumGCAge = DefaultImageMinimumGCAge
	}
	if c.HousekeepingInterval == 0 {
		c.HousekeepingInterval = DefaultHousekeepingInterval
	}
	if c.MemoryCapacity < 0 {
		return fmt.Errorf("%w: negative memory capacity", errBadThreshold)
	}
	return nil
}
