// Package scheduler places pods on nodes. It is a pure function of its
// input: the same nodes, placed pods and pending pods give the same
// placements, and placed pods are never moved; only pending pods are placed.
//
// Scheduling is pluggable in the manner of Kubernetes' scheduling framework:
// filter plugins decide whether a pod may run on a node, score plugins rank
// the nodes that pass, and a Profile names the plugins and score weights. A
// pod chooses its profile with spec.schedulerName. The built-in plugins cover
// resources, nodeSelector and node affinity, taints and tolerations, cordon,
// host ports, inter-pod affinity and anti-affinity, topology spread and the
// least-allocated, most-allocated and balanced-allocation scores.
//
// Each Schedule call builds its own state (node usage, per-topology-domain
// pod counters, compiled selectors) and updates it incrementally as it places
// pods one by one in input order, so a pod sees every placement made before
// it. See docs/scheduler.md.
package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/stevedore-dev/stevedore/spec"
)

// Resources are quantities in scheduler units: millicores, bytes and a count
// of pods.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	// Extended holds the scalar resources by name (Kubernetes'
	// ScalarResources): extended resources such as nvidia.com/gpu as
	// counts, hugepages-<size> in bytes. Unlike cpu and memory, a node that
	// does not list one has none of it. Nil means none; the map may be
	// shared and is never modified in place except by add and sub on a
	// value that owns it.
	Extended map[string]int64
}

func (r *Resources) add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
	if len(o.Extended) > 0 {
		if r.Extended == nil {
			r.Extended = make(map[string]int64, len(o.Extended))
		}
		for k, v := range o.Extended {
			r.Extended[k] += v
		}
	}
}

// Node is what the scheduler knows of a node.
type Node struct {
	Name   string
	Labels map[string]string
	Taints []spec.Taint
	// Unschedulable is a cordoned node: no new pods are placed on it unless
	// they tolerate the node.kubernetes.io/unschedulable taint.
	Unschedulable bool
	// Allocatable bounds the requests of the pods on the node. A zero field
	// means the quantity is unknown and not limited (agents always report
	// cpu and memory; pods-per-node is often left unset).
	Allocatable Resources
	// AgentProtocol is the newest reconciler↔agent protocol the node's
	// agent speaks (agent/api.ProtocolRange.Max). Pods that need a newer
	// agent (hostNetwork: protocol 2) are not placed on a node below it
	// (the AgentProtocol filter). Zero means current: every feature.
	AgentProtocol int
}

// Pod is a pod to place, or one already placed (Node set).
type Pod struct {
	Namespace string
	Name      string
	Labels    map[string]string
	Spec      *spec.PodSpec
	// Node is where the pod runs; empty for a pending pod.
	Node string
	// Volumes are the persistent volumes the pod mounts, for the
	// VolumeBinding filter (volumes.go); read for pending pods only.
	Volumes []Volume
}

// Result is the outcome for one pending pod, in input order.
type Result struct {
	// Node is where the pod goes; empty when it fits nowhere.
	Node string
	// Reason explains an empty Node in Kubernetes' form: "0/5 nodes are
	// available: 2 node(s) didn't match Pod's node affinity/selector, 3
	// Insufficient memory."
	Reason string
}

// DefaultSchedulerName is the profile name a pod gets when its
// spec.schedulerName is empty, as in Kubernetes.
const DefaultSchedulerName = "default-scheduler"

// Sentinel errors returned (wrapped) by New.
var (
	// ErrUnknownPlugin: a profile names a plugin that is not registered.
	ErrUnknownPlugin = errors.New("unknown scheduler plugin")
	// ErrDuplicatePlugin: Config.Plugins registers a name already taken.
	ErrDuplicatePlugin = errors.New("duplicate scheduler plugin")
	// ErrWrongPluginKind: a plugin listed as a filter (or score) does not
	// implement FilterPlugin (or ScorePlugin).
	ErrWrongPluginKind = errors.New("scheduler plugin does not implement the extension point")
	// ErrInvalidProfile: a profile has no name, a duplicate name, a
	// negative weight or a percentage outside 0-100.
	ErrInvalidProfile = errors.New("invalid scheduler profile")
	// ErrNoSpec: Explain was given a pod without a spec.
	ErrNoSpec = errors.New("pod has no spec")
)

// Config configures a Scheduler. The zero value is usable: it gives the
// built-in profiles with Kubernetes' default plugins and weights.
type Config struct {
	// Profiles are the profiles pods can choose by spec.schedulerName. Zero
	// means the built-in profiles: DefaultProfile() ("default-scheduler",
	// least-allocated) and BinPackingProfile() ("bin-packing",
	// most-allocated).
	Profiles []Profile
	// DefaultProfile is the profile of pods whose spec.schedulerName is
	// empty or "default-scheduler"; it is how the reconciler's config
	// chooses a profile cluster-wide. Zero means "default-scheduler".
	DefaultProfile string
	// Plugins registers out-of-tree plugins by name, next to the built-in
	// ones (see BuiltinPlugins). Zero means built-ins only.
	Plugins map[string]Factory
	// Logger receives debug logs of configuration. Zero means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the zero Config with its defaults filled in.
func DefaultConfig() Config {
	c := Config{}
	_ = c.validate()
	return c
}

func (c *Config) validate() error {
	if len(c.Profiles) == 0 {
		c.Profiles = []Profile{DefaultProfile(), BinPackingProfile()}
	}
	if c.DefaultProfile == "" {
		c.DefaultProfile = DefaultSchedulerName
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Scheduler places pods. It holds no state between calls and is safe for
// concurrent use: each Schedule call makes fresh plugin instances.
type Scheduler struct {
	cfg      Config
	registry map[string]Factory
	profiles map[string]*Profile
	def      *Profile
}

// New returns a Scheduler for cfg, checking that every profile's plugins
// are registered and implement the extension points they are listed for.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, registry: BuiltinPlugins(), profiles: make(map[string]*Profile)}
	names := make([]string, 0, len(cfg.Plugins))
	for name := range cfg.Plugins {
		names = append(names, name)
	}
	sort.Strings(names) // the same error for the same config
	for _, name := range names {
		if _, ok := s.registry[name]; ok {
			return nil, fmt.Errorf("failed to register plugin %q: %w", name, ErrDuplicatePlugin)
		}
		s.registry[name] = cfg.Plugins[name]
	}
	for i := range cfg.Profiles {
		p := &cfg.Profiles[i]
		if err := s.checkProfile(p); err != nil {
			return nil, fmt.Errorf("failed to load profile %q: %w", p.Name, err)
		}
		s.profiles[p.Name] = p
	}
	def, ok := s.profiles[cfg.DefaultProfile]
	if !ok {
		return nil, fmt.Errorf("failed to find default profile %q: %w", cfg.DefaultProfile, ErrInvalidProfile)
	}
	s.def = def
	cfg.Logger.Debug("scheduler configured", "profiles", len(s.profiles), "default", cfg.DefaultProfile)
	return s, nil
}

func (s *Scheduler) checkProfile(p *Profile) error {
	if p.Name == "" {
		return fmt.Errorf("profile has no name: %w", ErrInvalidProfile)
	}
	if _, dup := s.profiles[p.Name]; dup {
		return fmt.Errorf("profile name used twice: %w", ErrInvalidProfile)
	}
	if p.PercentageOfNodesToScore < 0 || p.PercentageOfNodesToScore > 100 {
		return fmt.Errorf("percentageOfNodesToScore %d: %w", p.PercentageOfNodesToScore, ErrInvalidProfile)
	}
	for _, name := range p.Filters {
		f, ok := s.registry[name]
		if !ok {
			return fmt.Errorf("filter %q: %w", name, ErrUnknownPlugin)
		}
		if _, ok := f().(FilterPlugin); !ok {
			return fmt.Errorf("filter %q: %w", name, ErrWrongPluginKind)
		}
	}
	for _, sc := range p.Scores {
		f, ok := s.registry[sc.Name]
		if !ok {
			return fmt.Errorf("score %q: %w", sc.Name, ErrUnknownPlugin)
		}
		if _, ok := f().(ScorePlugin); !ok {
			return fmt.Errorf("score %q: %w", sc.Name, ErrWrongPluginKind)
		}
		if sc.Weight < 0 {
			return fmt.Errorf("score %q weight %d: %w", sc.Name, sc.Weight, ErrInvalidProfile)
		}
	}
	return nil
}

// Schedule places each pending pod, in order, on the best node that passes
// every filter of the pod's profile, accounting for placed pods and for the
// placements made earlier in the same call. It returns one Result per
// pending pod, in input order.
//
// A pending pod with spec.nodeName set on a known node bypasses filtering,
// as in Kubernetes; its requests are still accounted.
func (s *Scheduler) Schedule(nodes []Node, placed []Pod, pending []Pod) []Result {
	return s.scheduleOn(newCluster(nodes, placed), pending)
}

// scheduleOn places pending on c, which then holds the new placements.
func (s *Scheduler) scheduleOn(c *Cluster, pending []Pod) []Result {
	runs := make(map[*Profile]*profileRun, 1)
	out := make([]Result, len(pending))
	for i := range pending {
		p := &pending[i]
		if p.Spec == nil {
			out[i] = Result{Reason: ErrNoSpec.Error()}
			continue
		}
		if nn := p.Spec.NodeName; nn != "" {
			if ni, ok := c.byName[nn]; ok {
				pi := c.podInfo(p)
				c.place(pi, ni)
				out[i] = Result{Node: nn}
			} else {
				out[i] = Result{Reason: c.noNodeMsg(map[string]int{"node(s) didn't match the requested node name": len(c.Nodes)})}
			}
			continue
		}
		prof := s.def
		if name := p.Spec.SchedulerName; name != "" && name != DefaultSchedulerName {
			var ok bool
			if prof, ok = s.profiles[name]; !ok {
				out[i] = Result{Reason: fmt.Sprintf("no scheduler profile named %q", name)}
				continue
			}
		}
		run := runs[prof]
		if run == nil {
			run = s.newRun(prof, c)
			runs[prof] = run
		}
		pi := c.podInfo(p)
		c.full(pi.t, p.Namespace)
		out[i] = run.schedule(c, pi)
	}
	return out
}
