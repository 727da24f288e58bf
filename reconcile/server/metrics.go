package server

import (
	"net/http"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// metricsNamespace prefixes every metric of Stevedore's own.
const metricsNamespace = "stevedore"

// Results of stevedore_syncs_total (a sync's outcome, from its SyncResult).
const (
	syncApplied   = "applied"     // a new revision was committed
	syncUnchanged = "unchanged"   // the applied commit is the branch's head
	syncFetchErr  = "fetch_error" // the remote could not be fetched
	syncInvalid   = "invalid"     // the revision failed to decode or validate
	syncConflict  = "conflict"    // it claims another application's objects
	syncApplyErr  = "apply_error" // it could not be committed to raft
)

// serverMetrics are a reconciler's Prometheus metrics, in a registry of
// its own (several reconcilers share a test process). The counters and
// histograms are incremented where the work happens; the gauges are read
// at scrape time from the view snapshot, the store and the raft node
// (viewCollector), never from the controller's state. Every method is safe
// on a nil *serverMetrics (servers built bare by tests).
type serverMetrics struct {
	reg          *prometheus.Registry
	syncs        *prometheus.CounterVec
	syncDuration *prometheus.HistogramVec
	planDuration prometheus.Histogram
	pushErrors   *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
}

func newServerMetrics(s *Server) *serverMetrics {
	m := &serverMetrics{
		reg: prometheus.NewRegistry(),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "syncs_total",
			Help: "Syncs of an application (fetch, load, commit) by result: applied, unchanged, fetch_error, invalid, conflict, apply_error.",
		}, []string{"application", "result"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "sync_duration_seconds",
			Help:    "Time one sync of an application took, from fetch to the revision committed (or the step that failed), by result.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"result"}),
		planDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "plan_duration_seconds",
			Help:    "Time the leader's core took to plan (desired + observed state → pods, sets per node), excluding the raft commit and pushes.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		pushErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "push_errors_total",
			Help: "Pod sets the leader failed to push to a node's agent, by node and reason: stale (refused by the agent's fence) or error (unreachable, failed; retried).",
		}, []string{"node", "reason"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "webhook_deliveries_total",
			Help: "Webhook deliveries the leader answered, by result: accepted (a push, triggered or ignored), ping, unauthorized (bad signature), invalid (malformed, too large, not POST), error.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.syncs, m.syncDuration, m.planDuration, m.pushErrors, m.webhooks,
		newViewCollector(s),
	)
	return m
}

// handler serves the registry (GET /metrics), answered by every
// reconciler from its own state, never forwarded.
func (m *serverMetrics) handler() http.Handler {
	if m == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			errs.WriteHTTP(w, errNotFound("metrics are not enabled on this server"))
		})
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// observeSync counts one sync of app (its display name).
func (m *serverMetrics) observeSync(app string, res api.SyncResult, planned bool, took time.Duration) {
	if m == nil {
		return
	}
	r := syncResultLabel(res, planned)
	m.syncs.WithLabelValues(app, r).Inc()
	m.syncDuration.WithLabelValues(r).Observe(took.Seconds())
}

func syncResultLabel(res api.SyncResult, planned bool) string {
	if res.Error == nil {
		if planned {
			return syncApplied
		}
		return syncUnchanged
	}
	switch res.Error.Stage {
	case api.StageFetch:
		return syncFetchErr
	case api.StageLoad:
		return syncInvalid
	case api.StageConflict:
		return syncConflict
	default:
		return syncApplyErr
	}
}

func (m *serverMetrics) observePlan(took time.Duration) {
	if m != nil {
		m.planDuration.Observe(took.Seconds())
	}
}

// pushFailed counts a set node's agent did not take; stale says it refused
// it by its fence.
func (m *serverMetrics) pushFailed(node string, stale bool) {
	if m == nil {
		return
	}
	reason := "error"
	if stale {
		reason = "stale"
	}
	m.pushErrors.WithLabelValues(node, reason).Inc()
}

// instrumentWebhook counts the deliveries h answers by their status code.
func (m *serverMetrics) instrumentWebhook(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.webhooks.WithLabelValues(webhookResult(rec.code)).Inc()
	})
}

func webhookResult(code int) string {
	switch {
	case code == http.StatusOK:
		return "ping"
	case code >= 200 && code < 300:
		return "accepted"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return "unauthorized"
	case code >= 400 && code < 500:
		return "invalid"
	default:
		return "error"
	}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// viewCollector reads the cluster's state at scrape time: the view
// snapshot (pods, nodes, deployments: exported by the leader only, a
// follower's view is empty), and what every reconciler has of its own
// (its raft node, the applied revisions in its store).
type viewCollector struct {
	s *Server

	leader, term, lastIndex, appliedIndex, token *prometheus.Desc
	pods, nodes, revision                        *prometheus.Desc
	depDesired, depUpdated, depAvailable         *prometheus.Desc
}

func newViewCollector(s *Server) *viewCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", name), help, labels, nil)
	}
	return &viewCollector{
		s:            s,
		leader:       d("raft_leader", "1 if this reconciler is the raft leader (and plans), else 0."),
		term:         d("raft_term", "The raft term this reconciler is in."),
		lastIndex:    d("raft_last_index", "The index of the last entry in this reconciler's raft log."),
		appliedIndex: d("raft_applied_index", "The index of the last raft entry this reconciler's store applied."),
		token:        d("fencing_token", "The fencing token the leader pushes sets with (raft term plus the store's base); 0 on a follower."),
		pods:         d("pods", "Pods of the last plan by phase (Pending, Running, Succeeded, Failed, Unknown); leader only.", "phase"),
		nodes:        d("nodes", "Nodes by state: ready, not_ready (failed or left), cordoned (ready but unschedulable); leader only.", "state"),
		revision:     d("revision_info", "The revision each application applies: 1 per application, labelled with its commit.", "application", "commit"),
		depDesired:   d("deployment_spec_replicas", "A Deployment's desired replicas; leader only.", "namespace", "deployment"),
		depUpdated:   d("deployment_status_replicas_updated", "A Deployment's pods of its current template; leader only.", "namespace", "deployment"),
		depAvailable: d("deployment_status_replicas_available", "A Deployment's pods ready for minReadySeconds; leader only.", "namespace", "deployment"),
	}
}

func (c *viewCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.leader, c.term, c.lastIndex, c.appliedIndex, c.token,
		c.pods, c.nodes, c.revision, c.depDesired, c.depUpdated, c.depAvailable} {
		ch <- d
	}
}

func (c *viewCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	s := c.s
	if s.el != nil && s.el.raft != nil {
		r := s.el.raft
		leader := 0.0
		if r.State() == raft.Leader {
			leader = 1
		}
		gauge(c.leader, leader)
		gauge(c.term, float64(r.CurrentTerm()))
		gauge(c.lastIndex, float64(r.LastIndex()))
		gauge(c.appliedIndex, float64(r.AppliedIndex()))
	}
	if s.store != nil {
		for app, rev := range s.store.appRevisions() {
			gauge(c.revision, 1, s.displayName(app), rev.Commit.Hash)
		}
	}
	v := s.view.Load()
	if v == nil {
		return
	}
	gauge(c.token, float64(v.token))
	if !v.leader {
		return
	}
	phases := map[string]int{agentapi.PodPending: 0, agentapi.PodRunning: 0, agentapi.PodSucceeded: 0, agentapi.PodFailed: 0, agentapi.PodUnknown: 0}
	for i := range v.views {
		phases[v.views[i].Phase]++
	}
	for p, n := range phases {
		gauge(c.pods, float64(n), p)
	}
	states := map[string]int{"ready": 0, "not_ready": 0, "cordoned": 0}
	for _, n := range v.nodeTable() {
		switch n.Status {
		case api.NodeReady:
			states["ready"]++
		case api.NodeSchedulingDisabled:
			states["cordoned"]++
		default:
			states["not_ready"]++
		}
	}
	for st, n := range states {
		gauge(c.nodes, float64(n), st)
	}
	for i := range v.workloads {
		w := &v.workloads[i]
		if w.Kind != spec.KindDeployment {
			continue
		}
		gauge(c.depDesired, float64(w.Replicas), w.Namespace, w.Name)
		gauge(c.depUpdated, float64(w.UpToDate), w.Namespace, w.Name)
		gauge(c.depAvailable, float64(w.Available), w.Namespace, w.Name)
	}
}

// appRevisions returns every application's applied revision by internal
// name ("" the bootstrap), without the owned-object walk of appInfos.
func (s *store) appRevisions() map[string]*savedRevision {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]*savedRevision, 1+len(s.st.Apps))
	if s.st.Revision != nil {
		out[""] = s.st.Revision
	}
	for name, sa := range s.st.Apps {
		if sa != nil && sa.Revision != nil {
			out[name] = sa.Revision
		}
	}
	return out
}

var _ prometheus.Collector = (*viewCollector)(nil)

// fail tells the failed hook, when there is one, of a set not taken.
func (h connHooks) fail(stale bool) {
	if h.failed != nil {
		h.failed(stale)
	}
}
