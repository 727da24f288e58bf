package agent

import (
	"context"
	"errors"
	"net/http"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/stats"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// DefaultStatsInterval is how often the stats collector samples when
// Config.StatsInterval is zero (the kubelet's housekeeping is 10s too).
const DefaultStatsInterval = 10 * time.Second

// DefaultContainerdRoot is containerd's root, whose file system is the
// node's image file system when Config.ContainerdRoot is zero.
const DefaultContainerdRoot = "/var/lib/containerd"

// imageLister lists the node's images (agent/runtime.Runtime.NodeImages).
type imageLister interface {
	NodeImages(ctx context.Context) ([]api.Image, error)
}

// nodeOps is the Agent's stats collector and the seams of GET /v1/node.
type nodeOps struct {
	statsSrc   stats.Source
	collector  *stats.Collector
	images     imageLister
	conditions func() []api.NodeCondition
}

// WithStatsSource gives the stats collector the pods and containers to
// sample (agent/runtime.Runtime). Without it only the node's own figures
// are collected.
func WithStatsSource(src stats.Source) Option { return func(a *Agent) { a.ops.statsSrc = src } }

// WithImages lists the node's images in GET /v1/node.
func WithImages(l imageLister) Option { return func(a *Agent) { a.ops.images = l } }

// WithNodeConditions replaces the conditions GET /v1/node reports (the
// pressure monitor's); without it the node is Ready with no pressure. fn
// is called on every request and must be safe for concurrent use; Ready
// is added when fn's answer lacks it.
func WithNodeConditions(fn func() []api.NodeCondition) Option {
	return func(a *Agent) { a.ops.conditions = fn }
}

// startStats starts the collector's goroutine (called by Start).
func (a *Agent) startStats() {
	root := a.statsImageDir()
	cfg := stats.DefaultConfig()
	cfg.NodeName = a.cfg.NodeName
	cfg.Interval = a.cfg.StatsInterval
	cfg.DataDir = a.cfg.DataDir
	cfg.ImageDir = root
	cfg.Logger = a.log.With("component", "stats")
	a.ops.collector = stats.New(cfg, a.ops.statsSrc)
	a.goroutine("stats", func() { a.ops.collector.Run(a.ctx) })
}

// statsImageDir is the directory whose file system the stats report as
// the image file system: --containerd-root, else the one eviction uses
// (--imagefs-path or containerd's answer), else DefaultContainerdRoot.
func (a *Agent) statsImageDir() string {
	if a.cfg.ContainerdRoot != "" {
		return a.cfg.ContainerdRoot
	}
	if a.pressure != nil && a.pressure.imageFsFound != "" {
		return a.pressure.imageFsFound
	}
	return DefaultContainerdRoot
}

// Stats is the collector's latest sample (stats.ErrNoSample before the
// first).
func (a *Agent) Stats() (api.NodeStats, error) {
	if a.ops.collector == nil {
		return api.NodeStats{}, stats.ErrNoSample
	}
	return a.ops.collector.Latest()
}

func (a *Agent) handleStats(w http.ResponseWriter, r *http.Request) {
	ns, err := a.Stats()
	if errors.Is(err, stats.ErrNoSample) {
		// The first sample is taken as the collector starts: take one
		// now rather than fail the caller.
		if a.ops.collector != nil {
			ns, err = a.ops.collector.Sample(r.Context())
		}
		if err != nil && ns.Node == "" {
			errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
			return
		}
	}
	writeJSON(w, http.StatusOK, ns)
}

func (a *Agent) handleNode(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.NodeStatus(r.Context()))
}

// NodeStatus is the node as `ctl describe node` shows it: conditions,
// capacity (the host's CPUs, memory and the pod limit), images, kernel and
// OS.
func (a *Agent) NodeStatus(ctx context.Context) api.NodeStatus {
	info := a.Info()
	st := api.NodeStatus{
		Info: info,
		Capacity: api.Resources{
			MilliCPU: hostMilliCPU(),
			Pods:     a.cfg.MaxPods,
			Extended: a.cfg.ExtendedResources,
		},
		Conditions:    a.nodeConditions(),
		KernelVersion: kernelVersion(),
		OSImage:       osImage(),
		Time:          time.Now().UTC(),
	}
	if m, err := hostMemory(); err == nil {
		st.Capacity.Memory = m
	}
	if a.ops.images != nil {
		imgs, err := a.ops.images.NodeImages(ctx)
		if err != nil {
			a.log.Warn("failed to list images", "err", err)
		}
		st.Images = imgs
	}
	return st
}

// nodeConditions is the seam's answer (by default the pressure
// monitor's), completed with Ready and a False condition for each
// pressure the answer does not report.
func (a *Agent) nodeConditions() []api.NodeCondition {
	var conds []api.NodeCondition
	if a.ops.conditions != nil {
		conds = a.ops.conditions()
	} else {
		conds = a.pressureConditions()
	}
	has := map[string]bool{}
	for _, c := range conds {
		has[c.Type] = true
	}
	for _, t := range []string{api.NodeMemoryPressure, api.NodeDiskPressure, api.NodePIDPressure} {
		if !has[t] {
			conds = append(conds, api.NodeCondition{Type: t, Status: "False", Reason: "KubeletHas" + noPressureReason[t]})
		}
	}
	if !has[api.NodeReady] {
		conds = append(conds, api.NodeCondition{Type: api.NodeReady, Status: "True", Reason: "KubeletReady", Message: "agent is posting ready status"})
	}
	return conds
}

// noPressureReason completes the kubelet's reasons for a False pressure
// condition ("KubeletHasSufficientMemory"…).
var noPressureReason = map[string]string{
	api.NodeMemoryPressure: "SufficientMemory",
	api.NodeDiskPressure:   "NoDiskPressure",
	api.NodePIDPressure:    "SufficientPID",
}

// kernelVersion is uname's release.
func kernelVersion() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// osImage is os-release's PRETTY_NAME, or the Go OS name.
func osImage() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				return strings.Trim(v, `"'`)
			}
		}
	}
	return runtime.GOOS
}
