package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/webhook"
	"github.com/stevedore-dev/stevedore/web"
)

// syncWaitTimeout bounds POST /v1/sync?wait=1.
const syncWaitTimeout = 5 * time.Minute

// Handler returns the reconciler API (reconcile/api paths). Status is
// answered by every reconciler; everything else by the leader, to which a
// follower forwards it (see forward.go).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Every route is authorized by its pattern (authz.go), after the
	// caller was authenticated (authn.go) and before a follower forwards.
	handle := func(pattern string, h http.Handler) { mux.Handle(pattern, s.authorizeRoute(pattern, h)) }
	handle("GET "+api.PathStatus, http.HandlerFunc(s.handleStatus))
	handle("GET "+api.PathVersion, http.HandlerFunc(s.handleVersion))
	handle("GET "+api.PathMetrics, s.metrics.handler()) // every reconciler's own (metrics.go)
	// From the store, which every reconciler has (rollout_http.go).
	handle("GET "+api.PathRolloutHistory, http.HandlerFunc(s.handleRolloutHistory))
	lead := func(pattern string, h http.HandlerFunc) { handle(pattern, s.leaderOnly(h)) }
	lead("GET "+api.PathPods, s.handlePods)
	lead("GET "+api.PathDeployments, s.handleDeployments)
	lead("GET "+api.PathNodes, s.handleNodes)
	lead("GET "+api.PathNamespaces, s.handleNamespaces)
	lead("GET "+api.PathRevision, s.handleRevision)
	lead("GET "+api.PathDiff, s.handleDiff)
	lead("POST "+api.PathDiff, s.handleDiffFiles)
	lead("GET "+api.PathPod, s.handleDescribePod)
	lead("DELETE "+api.PathPod, s.handleDeletePod)
	lead("POST "+api.PathSync, s.handleSync)
	lead("GET "+api.PathApplications, s.handleApplications)
	lead("GET "+api.PathApplication, s.handleApplication)
	lead("POST "+api.PathNodeCordon, s.handleNodeAction)
	lead("POST "+api.PathNodeUncordon, s.handleNodeAction)
	lead("POST "+api.PathNodeDrain, s.handleNodeAction)
	lead("POST "+api.PathReconcilerRetire, s.handleRetire) // retire.go
	lead("GET "+api.PathTopPods, s.handleTopPods)
	lead("GET "+api.PathTopNodes, s.handleTopNodes)
	lead("GET "+api.PathNode, s.handleDescribeNode)
	wh := s.cfg.Webhook
	if wh.Logger == nil {
		wh.Logger = s.log.With("component", "webhook")
	}
	var hook http.Handler = webhook.RouteHandler(wh, s.routePush)
	if s.sec != nil && wh.Secret == "" {
		// The webhook is the one route without credentials: on a secured
		// cluster only its HMAC signature may stand for them.
		hook = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			errs.WriteHTTP(w, errs.Mark(errors.New("webhook refused: this reconciler has no --webhook-secret, and a secured cluster accepts only signed pushes"), errUnauthenticated))
		})
	}
	handle("POST "+api.PathWebhook, s.leaderOnly(s.metrics.instrumentWebhook(hook).ServeHTTP))
	lead("GET "+api.PathLogs, s.handleLogs)
	lead("POST "+api.PathExec, s.handleExec) // exec_http.go
	lead("GET "+api.PathEvents, s.handleEvents)
	s.registerServiceRoutes(lead)
	s.registerStorageRoutes(lead)
	s.registerLeaseRoutes(lead)
	s.registerJobRoutes(lead)
	s.registerTokenRoutes(lead)      // tokens.go
	s.registerUIRoutes(handle, lead) // ui_http.go
	// Neither authenticated nor authorized (authn.go): the health check,
	// and the join, which checks its bootstrap token (join.go).
	handle("GET "+api.PathHealthz, http.HandlerFunc(handleHealthz))
	handle("POST "+pki.PathJoin, http.HandlerFunc(s.handleJoin))
	// The web UI's assets are public: they hold no data, and every call
	// they make is an authenticated /v1 one (web/, docs/ui.md).
	handle("GET "+api.PathUI, web.Handler(api.PathUI))
	handle("GET /{$}", http.RedirectHandler(api.PathUI, http.StatusFound))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errs.WriteHTTP(w, errNotFound("no such endpoint: "+r.Method+" "+r.URL.Path))
	})
	// A browser holding a client certificate of the cluster presents it
	// on any request to this host, another site's form post included:
	// state-changing requests a browser marks cross-site are refused
	// (Sec-Fetch-Site, Origin). ctl, agents, peers and Git hosts' webhooks
	// send neither header and pass.
	return withServerVersion(http.NewCrossOriginProtection().Handler(s.authenticate(mux)))
}

// writeJSON writes v as compact JSON: a 10,000-pod list indented was 16 MB
// and its decoding most of `ctl get pods -o json`'s time. Pipe through jq
// to read it by hand.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := s.Status()
	if r.Header.Get(headerForwarded) == "" {
		s.leaderStatus(r.Context(), &st)
	}
	writeJSON(w, http.StatusOK, st)
}

// leaderStatusTimeout bounds a follower's question to the leader.
const leaderStatusTimeout = 2 * time.Second

// leaderStatus fills in, on a follower, what only the leader knows (the
// last sync and its error, the branch head, node errors), asked of the
// leader's own status. A leader that does not answer leaves them empty:
// the follower's own view of the cluster is still true.
func (s *Server) leaderStatus(ctx context.Context, st *api.Status) {
	if s.IsLeader() || st.Leader == "" || st.Leader == s.cfg.Name {
		return
	}
	p, ok := s.members.peer(st.Leader)
	if !ok || !p.alive || p.tags[agentapi.TagAPI] == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, leaderStatusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.tags[agentapi.TagAPI]+api.PathStatus, nil)
	if err != nil {
		return
	}
	req.Header.Set(headerForwarded, s.cfg.Name)
	resp, err := s.peerHC.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	var ls api.Status
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&ls) != nil {
		return
	}
	st.LastError, st.LastSync, st.Fetched, st.NodeErrors = ls.LastError, ls.LastSync, ls.Fetched, ls.NodeErrors
	st.Term = max(st.Term, ls.Term)
}

// Pods returns the desired pods of the last plan, in namespace ("" for all).
func (s *Server) Pods(namespace string) []api.Pod {
	return s.view.Load().pods(namespace)
}

func (s *Server) handlePods(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), filterPods) // filter.go
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	pg, err := parsePage(r.URL.Query()) // pages.go
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		if pg.paged() {
			errs.WriteHTTP(w, errInvalid(api.QueryLimit+" and "+api.QueryContinue+" page a list, not a watch"))
			return
		}
		s.serveWatch(w, r, watchPods(&s.podWires, ns, f))
		return
	}
	v := s.view.Load()
	if pg.paged() {
		writeJSON(w, http.StatusOK, v.podPage(ns, f, pg))
		return
	}
	// The whole list: the view's wire pods, made once per view and shared
	// with the watches (podwire.go), rather than each pod converted again
	// for every request.
	out := []api.Pod{}
	wires := v.wirePods(&s.podWires)
	for i := range v.views {
		if p := &v.views[i]; (ns == "" || p.Namespace == ns) && f.pod(p) {
			out = append(out, *wires[i].obj(f))
		}
	}
	writeJSON(w, http.StatusOK, api.PodList{Pods: out})
}

func (s *Server) handleDeployments(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query(), filterWorkloads)
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	ns := r.URL.Query().Get("namespace")
	if isWatch(r) {
		s.serveWatch(w, r, watchWorkloads(ns, f))
		return
	}
	v := s.view.Load()
	out := make([]api.Workload, 0, len(v.workloads))
	for _, wl := range v.workloads {
		if a := api.Workload(wl); (ns == "" || wl.Namespace == ns) && f.workload(&a, v.objectLabels(wl.Kind, wl.Namespace, wl.Name)) {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, api.WorkloadList{Workloads: out})
}

// Nodes returns the agents membership knows, sorted by name.
func (s *Server) Nodes() []api.Node {
	return append([]api.Node{}, s.view.Load().nodeTable()...)
}

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	if isWatch(r) {
		s.serveWatch(w, r, watchNodes)
		return
	}
	writeJSON(w, http.StatusOK, api.NodeList{Nodes: s.Nodes()})
}

func (s *Server) handleNamespaces(w http.ResponseWriter, r *http.Request) {
	v := s.view.Load()
	names := map[string]bool{spec.DefaultNamespace: true}
	if v.set != nil {
		for _, o := range v.set.OfKind(spec.KindNamespace) {
			names[o.GetObjectMeta().Name] = true
		}
	}
	count := map[string]int{}
	for i := range v.views {
		count[v.views[i].Namespace]++
	}
	out := make([]api.Namespace, 0, len(names))
	for n := range names {
		out = append(out, api.Namespace{Name: n, Status: "Active", Pods: count[n]})
	}
	s.namespaceAccounting(v.set, out) // namespaces_quota.go
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, api.NamespaceList{Namespaces: out})
}

func (s *Server) handleRevision(w http.ResponseWriter, r *http.Request) {
	rev := api.Revision{Path: s.cfg.Source.Path, Files: map[string][]byte{}}
	if saved, _ := s.store.revision(); saved != nil {
		c := saved.Commit
		rev.Commit = &c
		rev.Files = saved.Files
	}
	writeJSON(w, http.StatusOK, rev)
}

// Diff fetches the bootstrap application's branch head, loads it and diffs
// it against the applied revision, with the placements of the pods it
// would start (see DiffFiles). A load failure is returned in
// DiffResult.Error; only a failed fetch is an error.
func (s *Server) Diff(ctx context.Context) (*api.DiffResult, error) {
	return s.DiffApp(ctx, "")
}

// DiffFiles loads files (path → contents, as spec.Load takes them) as the
// bootstrap application's next revision and diffs them against the
// applied revision. For every pod the change would start it reports where
// a dry-run plan places it: reconcile.Plan of the new revision on a
// snapshot of the current state (Memory, membership, observed pods), whose
// output is discarded, so nothing is persisted or pushed. A load failure
// is returned in DiffResult.Error.
func (s *Server) DiffFiles(files map[string][]byte) *api.DiffResult {
	return s.diffApp("", nil, files)
}

// placements reports where the dry-run plan out places each pod that
// changes start.
func placements(out reconcile.Output, changes []reconcile.ObjectChange) []api.PodPlacement {
	started := 0
	for _, ch := range changes {
		started += len(ch.PodsStarted)
	}
	if started == 0 {
		return nil
	}
	views := make(map[string]*reconcile.PodView, len(out.Pods))
	for i := range out.Pods {
		v := &out.Pods[i]
		views[v.Namespace+"/"+v.Name] = v
	}
	pl := make([]api.PodPlacement, 0, started)
	for _, ch := range changes {
		for _, key := range ch.PodsStarted {
			v := views[key]
			if v == nil {
				continue
			}
			p := api.PodPlacement{Pod: key, Node: v.Node}
			if v.Node == "" {
				p.Reason, p.Message = v.Reason, v.Message
			}
			pl = append(pl, p)
		}
	}
	return pl
}

// maxDiffBody bounds POST /v1/diff: a config repository's manifests, not
// its history (10,000 objects are a few MiB).
const maxDiffBody = 64 << 20

func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	app, err := s.appOf(r)
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	res, err := s.DiffApp(r.Context(), app)
	if err != nil {
		writeUpstreamError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// maxDiffs bounds the diffs (each decodes, loads and dry-runs a whole
// revision) the leader computes at once: more wait for a free slot or
// their request's end, so that an API caller cannot make the leader's
// memory grow until it misses its raft heartbeats.
const maxDiffs = 2

func (s *Server) handleDiffFiles(w http.ResponseWriter, r *http.Request) {
	select {
	case s.diffSlots <- struct{}{}:
		defer func() { <-s.diffSlots }()
	case <-r.Context().Done():
		return
	}
	var req api.DiffRequest
	if !decodeBody(w, r, maxDiffBody, "diff request", &req, true) {
		return
	}
	app, err := s.appOf(r)
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.diffApp(app, nil, req.Files))
}

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	app := r.URL.Query().Get("app")
	if v := r.URL.Query().Get("wait"); v == "" || v == "0" || v == "false" {
		if app == "" {
			s.TriggerSync()
		} else if err := s.TriggerApp(app); err != nil {
			writeSyncError(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, api.SyncResult{Triggered: true, App: app})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), syncWaitTimeout)
	defer cancel()
	res, err := s.SyncApp(ctx, app)
	if err != nil {
		writeSyncError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// writeSyncError answers a sync that could not run: an unknown
// application is not found, anything else unavailable (leadership lost).
func writeSyncError(w http.ResponseWriter, err error) {
	if errors.Is(err, errs.ErrNotFound) {
		errs.WriteHTTP(w, err)
		return
	}
	errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns, pod, container := q.Get("namespace"), q.Get("pod"), q.Get("container")
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	if pod == "" {
		errs.WriteHTTP(w, errInvalid("pod is required"))
		return
	}
	o, err := agentapi.ParseLogOptions(q)
	if err != nil {
		errs.WriteHTTP(w, errInvalid(err.Error()))
		return
	}
	o.Container = container
	node, client, ok := s.podAgent(w, ns, pod)
	if !ok {
		return
	}
	rc, err := client.Logs(r.Context(), ns, pod, o)
	if err != nil {
		writeAgentError(w, node, "get logs", err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			if err != io.EOF {
				s.log.Debug("log stream ended", "pod", ns+"/"+pod, "err", err)
			}
			return
		}
	}
}

// podAgent finds the node of pod ns/name and the connection to its agent
// (logs, exec); when there is none it answers w (404, not scheduled, or
// 503 for a node not alive) and returns false.
func (s *Server) podAgent(w http.ResponseWriter, ns, name string) (string, agentClient, bool) {
	v := s.view.Load()
	p, found := v.pod(ns, name)
	node := p.Node
	client := v.clients[node]
	switch {
	case !found:
		errs.WriteHTTP(w, errNotFound("pod "+ns+"/"+name+" not found"))
	case node == "":
		writeNotScheduled(w, ns+"/"+name)
	case client == nil:
		errs.WriteHTTP(w, errUnavailable("node "+node+" of pod "+ns+"/"+name+" is not alive"))
	default:
		return node, client, true
	}
	return "", nil, false
}

// writeAgentError answers w with an agent's failure to do what for a pod:
// the agent's own answer in its category (a pod or container it does not
// run is not found), or 502/503 when it could not be asked.
func writeAgentError(w http.ResponseWriter, node, what string, err error) {
	var se *agentapi.StatusError
	if errors.As(err, &se) {
		errs.WriteHTTP(w, errs.Mark(errors.New("node "+node+": "+se.Message), se))
		return
	}
	writeUpstreamError(w, errUnavailable("failed to "+what+" on node "+node+": "+err.Error()))
}
