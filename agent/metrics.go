package agent

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Results of stevedore_agent_pod_set_applies_total.
const (
	applyApplied = "applied" // fenced, persisted and synced (or a repeat of the set in place)
	applyStale   = "stale"   // refused by the fence (a lower term or generation)
	applyInvalid = "invalid" // refused before the fence: undecodable or invalid pods
	applyError   = "error"   // accepted but the network or the runtime failed
)

// Metrics is an agent's Prometheus registry (GET /metrics): its own, not
// the global one, so that several agents share a test process. The
// counters are incremented where the work happens (applies here, probes
// and pulls through the runtime's Observer); the rest is read at scrape
// time from the runtime's status, the fence and the stats source.
//
// Create it with NewMetrics when the runtime must report to it
// (runtime.SetObserver) and give it to New with WithMetrics; New creates
// one otherwise. One Metrics serves one Agent.
type Metrics struct {
	reg          *prometheus.Registry
	applies      *prometheus.CounterVec
	probes       *prometheus.CounterVec
	pulls        *prometheus.CounterVec
	pullDuration *prometheus.HistogramVec
}

// NewMetrics returns a registry with the Go and process collectors and the
// agent's counters.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stevedore", Subsystem: "agent", Name: "pod_set_applies_total",
			Help: "Pod sets the leader pushed, by result: applied, stale (refused by the fence), invalid, error.",
		}, []string{"result"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stevedore", Subsystem: "agent", Name: "probes_total",
			Help: "Probe runs by probe_type (Liveness, Readiness, Startup) and result (successful, failed, unknown), as the kubelet's prober_probe_total.",
		}, []string{"probe_type", "result"}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "stevedore", Subsystem: "agent", Name: "image_pulls_total",
			Help: "Image pulls from a registry by result (success, error).",
		}, []string{"result"}),
		pullDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "stevedore", Subsystem: "agent", Name: "image_pull_duration_seconds",
			Help:    "Time an image pull took (fetch and unpack), by result.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"result"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.applies, m.probes, m.pulls, m.pullDuration,
	)
	return m
}

// WithMetrics makes m the agent's registry (shared with the runtime's
// observer).
func WithMetrics(m *Metrics) Option { return func(a *Agent) { a.metrics = m } }

// ProbeResult counts a probe run (runtime.Observer).
func (m *Metrics) ProbeResult(probeType, result string) {
	m.probes.WithLabelValues(probeType, result).Inc()
}

// ImagePulled counts an image pull (runtime.Observer).
func (m *Metrics) ImagePulled(took time.Duration, err error) {
	r := "success"
	if err != nil {
		r = "error"
	}
	m.pulls.WithLabelValues(r).Inc()
	m.pullDuration.WithLabelValues(r).Observe(took.Seconds())
}

func (m *Metrics) applied(result string) {
	if m != nil {
		m.applies.WithLabelValues(result).Inc()
	}
}

// register adds the agent's scrape-time collector; New calls it once.
func (m *Metrics) register(a *Agent) error {
	if err := m.reg.Register(newAgentCollector(a)); err != nil {
		return fmt.Errorf("failed to register the agent's metrics (one Metrics per agent): %w", err)
	}
	return nil
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// statsSource is the stats collector's latest sample (agent/stats.go's
// collector when it is wired in; nil: no container figures on /metrics).
// Latest is called at every scrape, concurrently with the collector; it
// must not block on a collection.
type statsSource interface {
	Latest() (api.NodeStats, bool)
}

// withMetricsStats replaces the stats collector as the source of the
// container and pod resource figures on /metrics (tests).
func withMetricsStats(s statsSource) Option { return func(a *Agent) { a.statsSrc = s } }

// collectorStats adapts the agent's stats collector (nodestats.go) to
// statsSource.
type collectorStats struct{ a *Agent }

func (c collectorStats) Latest() (api.NodeStats, bool) {
	st, err := c.a.Stats()
	return st, err == nil
}

// agentCollector reads the agent's state at scrape time.
type agentCollector struct {
	a *Agent

	pods, containers, restarts, fenceTerm, generation *prometheus.Desc
	// Resource figures, named as the kubelet's /metrics/resource
	// (cpu, memory) and cAdvisor's (network, file systems).
	ctrCPU, ctrMem, ctrFs, podCPU, podMem, podRx, podTx, nodeCPU, nodeMem *prometheus.Desc
}

func newAgentCollector(a *Agent) *agentCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	ctr := []string{"namespace", "pod", "container"}
	pod := []string{"namespace", "pod"}
	return &agentCollector{
		a:          a,
		pods:       d("stevedore_agent_pods", "Pods on this node by phase (Pending, Running, Succeeded, Failed, Unknown).", "phase"),
		containers: d("stevedore_agent_containers", "Containers (init containers included) on this node by state: waiting, running, terminated, unknown.", "state"),
		restarts:   d("stevedore_agent_container_restarts_total", "Restarts of a container (its status' restartCount; kube-state-metrics' kube_pod_container_status_restarts_total).", ctr...),
		fenceTerm:  d("stevedore_agent_fence_term", "The highest leader term (fencing token) this agent has accepted a pod set from; lower ones are refused."),
		generation: d("stevedore_agent_applied_generation", "The generation of the last pod set handed to the runtime, within the fence term."),
		ctrCPU:     d("container_cpu_usage_seconds_total", "Cumulative CPU time a container used, seconds.", ctr...),
		ctrMem:     d("container_memory_working_set_bytes", "A container's working set (usage minus inactive file pages), bytes.", ctr...),
		ctrFs:      d("container_fs_usage_bytes", "Bytes a container's writable layer uses.", ctr...),
		podCPU:     d("pod_cpu_usage_seconds_total", "Cumulative CPU time a pod's containers used, seconds.", pod...),
		podMem:     d("pod_memory_working_set_bytes", "A pod's working set, bytes.", pod...),
		podRx:      d("container_network_receive_bytes_total", "Bytes a pod's network interface received (cAdvisor reports it per pod).", pod...),
		podTx:      d("container_network_transmit_bytes_total", "Bytes a pod's network interface sent.", pod...),
		nodeCPU:    d("node_cpu_usage_seconds_total", "Cumulative CPU time the node used, seconds."),
		nodeMem:    d("node_memory_working_set_bytes", "The node's working set, bytes."),
	}
}

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pods, c.containers, c.restarts, c.fenceTerm, c.generation,
		c.ctrCPU, c.ctrMem, c.ctrFs, c.podCPU, c.podMem, c.podRx, c.podTx, c.nodeCPU, c.nodeMem} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	seen := seenSeries{}
	c.a.mu.Lock()
	fence, applied := c.a.fence, c.a.applied
	c.a.mu.Unlock()
	emit(c.fenceTerm, prometheus.GaugeValue, float64(fence.Term))
	emit(c.generation, prometheus.GaugeValue, float64(applied.Generation))

	phases := map[string]int{api.PodPending: 0, api.PodRunning: 0, api.PodSucceeded: 0, api.PodFailed: 0, api.PodUnknown: 0}
	states := map[string]int{"waiting": 0, "running": 0, "terminated": 0, "unknown": 0}
	for _, p := range c.a.rt.Status() {
		phases[p.Phase]++
		for _, list := range [][]api.ContainerStatus{p.InitContainers, p.Containers} {
			for _, cs := range list {
				states[containerState(cs.State)]++
				if seen.first(p.Namespace, p.Name, cs.Name) {
					emit(c.restarts, prometheus.CounterValue, float64(cs.RestartCount), p.Namespace, p.Name, cs.Name)
				}
			}
		}
	}
	for p, n := range phases {
		emit(c.pods, prometheus.GaugeValue, float64(n), p)
	}
	for s, n := range states {
		emit(c.containers, prometheus.GaugeValue, float64(n), s)
	}
	c.collectStats(ch)
}

// collectStats exports the stats source's latest sample, stamped with the
// time it was taken (as the kubelet's /metrics/resource does): a scrape
// between two samples repeats the last one, honestly dated.
func (c *agentCollector) collectStats(ch chan<- prometheus.Metric) {
	src := c.a.statsSrc
	if src == nil {
		src = collectorStats{c.a}
	}
	st, ok := src.Latest()
	if !ok {
		return
	}
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.NewMetricWithTimestamp(st.Time, prometheus.MustNewConstMetric(d, t, v, labels...))
	}
	cpu := func(ns uint64) float64 { return float64(ns) / 1e9 }
	emit(c.nodeCPU, prometheus.CounterValue, cpu(st.CPU.UsageCoreNanoSeconds))
	emit(c.nodeMem, prometheus.GaugeValue, float64(st.Memory.WorkingSetBytes))
	seen := seenSeries{}
	for _, p := range st.Pods {
		if !seen.first(p.Namespace, p.Name) {
			continue
		}
		emit(c.podCPU, prometheus.CounterValue, cpu(p.CPU.UsageCoreNanoSeconds), p.Namespace, p.Name)
		emit(c.podMem, prometheus.GaugeValue, float64(p.Memory.WorkingSetBytes), p.Namespace, p.Name)
		emit(c.podRx, prometheus.CounterValue, float64(p.Network.RxBytes), p.Namespace, p.Name)
		emit(c.podTx, prometheus.CounterValue, float64(p.Network.TxBytes), p.Namespace, p.Name)
		for _, cs := range p.Containers {
			if !seen.first(p.Namespace, p.Name, cs.Name) {
				continue
			}
			emit(c.ctrCPU, prometheus.CounterValue, cpu(cs.CPU.UsageCoreNanoSeconds), p.Namespace, p.Name, cs.Name)
			emit(c.ctrMem, prometheus.GaugeValue, float64(cs.Memory.WorkingSetBytes), p.Namespace, p.Name, cs.Name)
			emit(c.ctrFs, prometheus.GaugeValue, float64(cs.Rootfs.UsedBytes), p.Namespace, p.Name, cs.Name)
		}
	}
}

// seenSeries keeps one series per label set: a pod terminating beside its
// successor of the same name would otherwise be a duplicate series, which
// fails the whole scrape. The first one listed (the runtime's current
// incarnation or the stats' newest) wins.
type seenSeries map[string]bool

func (s seenSeries) first(labels ...string) bool {
	k := strings.Join(labels, "\x00")
	if s[k] {
		return false
	}
	s[k] = true
	return true
}

func containerState(s api.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Terminated != nil:
		return "terminated"
	case s.Waiting != nil:
		return "waiting"
	default:
		return "unknown"
	}
}

var _ prometheus.Collector = (*agentCollector)(nil)

func applyResult(err error) string {
	switch {
	case err == nil:
		return applyApplied
	case errors.Is(err, errs.ErrStale):
		return applyStale
	default:
		return applyError
	}
}
