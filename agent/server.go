package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/spec"
)

// routes is the agent API (Go 1.22 method patterns).
func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+api.PathPodSet, a.handleApply)
	mux.HandleFunc("GET "+api.PathPodSet, a.handlePodSet)
	mux.HandleFunc("GET "+api.PathPods, a.handlePods)
	mux.HandleFunc("GET "+api.PathPodsWatch, a.handleWatch)
	mux.HandleFunc("GET "+api.PathInfo, a.handleInfo)
	mux.HandleFunc("GET "+api.PathLogs, a.handleLogs)
	mux.HandleFunc("GET "+pathNetwork, a.handleNetwork)
	mux.HandleFunc("GET "+api.PathStats, a.handleStats)
	mux.HandleFunc("GET "+api.PathNode, a.handleNode)
	mux.Handle("GET "+api.PathMetrics, a.metrics.handler()) // metrics.go
	mux.HandleFunc("POST "+api.PathExec, a.handleExec)      // exec.go
	for path, allow := range map[string]string{
		api.PathPodSet: "GET, HEAD, PUT", api.PathPods: "GET, HEAD", api.PathPodsWatch: "GET, HEAD",
		api.PathInfo: "GET, HEAD", api.PathLogs: "GET, HEAD", pathNetwork: "GET, HEAD",
		api.PathStats: "GET, HEAD", api.PathNode: "GET, HEAD",
	} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			errs.WriteHTTPStatus(w, http.StatusMethodNotAllowed, invalid(r.Method+" is not allowed on "+path))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errs.WriteHTTP(w, errs.Mark(errors.New("no such path: "+r.Method+" "+r.URL.Path), errs.ErrNotFound))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// invalid is a request error (400 "invalid") with msg as its message.
func invalid(msg string) error { return errs.Mark(errors.New(msg), errs.ErrInvalid) }

func (a *Agent) handleApply(w http.ResponseWriter, r *http.Request) {
	ps, err := decodePodSet(http.MaxBytesReader(w, r.Body, maxPodSetBytes))
	if err != nil {
		a.metrics.applied(applyInvalid)
		writeDecodeError(w, "pod set", err)
		return
	}
	if err := a.checkPodSet(ps); err != nil {
		a.metrics.applied(applyInvalid)
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrInvalid))
		return
	}
	res, err := a.apply(r.Context(), ps)
	a.metrics.applied(applyResult(err))
	switch {
	case errors.Is(err, errs.ErrStale):
		// 409 "stale" with the term this agent has seen.
		errs.WriteHTTP(w, err)
	case err != nil:
		// Whatever category the runtime's error has (a missing image
		// is a not-found), the apply failed on this side.
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrInternal))
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// checkPodSet rejects sets the runtime could not apply unambiguously.
func (a *Agent) checkPodSet(ps api.PodSet) error {
	if ps.Node != "" && ps.Node != a.cfg.NodeName {
		return fmt.Errorf("pod set is for node %q, this is %q", ps.Node, a.cfg.NodeName)
	}
	names := make(map[string]bool, len(ps.Pods))
	uids := make(map[string]bool, len(ps.Pods))
	for i, p := range ps.Pods {
		if p.UID == "" || p.Namespace == "" || p.Name == "" {
			return fmt.Errorf("pods[%d]: uid, namespace and name are required", i)
		}
		key := p.Namespace + "/" + p.Name
		if names[key] {
			return fmt.Errorf("pods[%d]: duplicate pod %s", i, key)
		}
		if uids[p.UID] {
			return fmt.Errorf("pods[%d]: duplicate uid %s", i, p.UID)
		}
		names[key], uids[p.UID] = true, true
		// The same rules as a manifest in Git (names, containers, ports,
		// quantities): the reconciler only sends what spec.Load accepted,
		// but the agent runs what it is sent, and container names become
		// file and containerd names here.
		obj := &spec.Pod{
			TypeMeta:   spec.TypeMeta{APIVersion: spec.CoreV1, Kind: spec.KindPod},
			ObjectMeta: spec.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, Annotations: p.Annotations},
		}
		// A copy: defaulting writes into maps and slices the runtime gets.
		if b, err := json.Marshal(p.Spec); err != nil || json.Unmarshal(b, &obj.Spec) != nil {
			return fmt.Errorf("pods[%d] %s: failed to copy spec", i, key)
		}
		spec.SetDefaults(obj)
		if errs := spec.Validate(obj); len(errs) > 0 {
			return fmt.Errorf("pods[%d] %s: %w", i, key, errs)
		}
	}
	return checkConfig(ps)
}

// apply fences ps, applies its network (network.go) and hands its pods to
// the runtime.
//
// A set is accepted when its (term, generation) is not lower, in that order,
// than the highest accepted; the new fence is persisted before rt.Sync, so
// once a term has been seen no restart lets a lower one in. A repeat of the
// accepted (term, generation) with the same pods is a no-op once its Sync
// succeeded, and is retried otherwise; with different pods it is refused,
// since a leader must bump the generation for every new set.
func (a *Agent) apply(ctx context.Context, ps api.PodSet) (api.ApplyResult, error) {
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	res := api.ApplyResult{Term: ps.Term, Generation: ps.Generation}
	h := hashSet(ps)

	a.mu.Lock()
	fence, haveHash, lastHash, lastOK := a.fence, a.haveHash, a.lastHash, a.lastOK
	a.mu.Unlock()
	switch {
	case ps.Cluster != "" && fence.Cluster != "" && ps.Cluster != fence.Cluster && ps.Term <= fence.Term:
		a.log.Warn("refused pod set from another cluster without a higher term", "term", ps.Term, "cluster", ps.Cluster, "highestTerm", fence.Term, "fenceCluster", fence.Cluster)
		return res, a.staleErr(fence, fmt.Errorf("%w pod set: cluster %s at term %d does not exceed term %d of cluster %s",
			errs.ErrStale, ps.Cluster, ps.Term, fence.Term, fence.Cluster))
	case ps.Term < fence.Term:
		a.log.Warn("refused pod set from a lower term", "term", ps.Term, "generation", ps.Generation, "highestTerm", fence.Term)
		return res, a.staleErr(fence, fmt.Errorf("%w pod set: term %d is lower than term %d already seen", errs.ErrStale, ps.Term, fence.Term))
	case ps.Term == fence.Term && ps.Generation < fence.Generation:
		a.log.Warn("refused pod set from an older generation", "term", ps.Term, "generation", ps.Generation, "appliedGeneration", fence.Generation)
		return res, a.staleErr(fence, fmt.Errorf("%w pod set: generation %d of term %d is lower than generation %d already applied",
			errs.ErrStale, ps.Generation, ps.Term, fence.Generation))
	case ps.Term == fence.Term && ps.Generation == fence.Generation && haveHash:
		if h != lastHash {
			a.log.Warn("refused a different pod set under an applied generation", "term", ps.Term, "generation", ps.Generation)
			return res, a.staleErr(fence, fmt.Errorf("%w pod set: generation %d of term %d was already applied with different pods",
				errs.ErrStale, ps.Generation, ps.Term))
		}
		if lastOK {
			return res, nil
		}
	}

	next := fenceState{Term: ps.Term, Generation: ps.Generation, Cluster: ps.Cluster}
	if next.Cluster == "" {
		next.Cluster = fence.Cluster
	}
	if next != fence {
		if err := saveFence(a.cfg.DataDir, next); err != nil {
			return res, err
		}
	}
	a.mu.Lock()
	a.fence, a.lastHash, a.haveHash, a.lastOK = next, h, true, false
	a.mu.Unlock()

	start := time.Now()
	if ps.Network != nil {
		if err := a.applyNetwork(ctx, *ps.Network); err != nil {
			a.log.Error("failed to apply the pod network; pods not synced", "term", ps.Term, "generation", ps.Generation, "err", err)
			return res, err
		}
	}
	a.setConfig(ps)
	if err := a.rt.Sync(ctx, ps.Pods); err != nil {
		a.log.Error("failed to sync pods", "term", ps.Term, "generation", ps.Generation, "err", err)
		return res, fmt.Errorf("failed to sync pods: %w", err)
	}
	// After Sync: pods that left have unpublished, so the manager can
	// unstage and delete what the set no longer uses.
	a.setVolumes(ps)
	a.mu.Lock()
	a.lastOK = true
	a.applied = next
	a.mu.Unlock()
	a.log.Info("applied pod set", "term", ps.Term, "generation", ps.Generation, "pods", len(ps.Pods),
		"took", time.Since(start))
	// Term and generation are part of every status list: watchers learn that
	// the set was applied even if no pod changed.
	a.notifyWatchers()
	return res, nil
}

// staleErr attaches the highest term seen to a refusal: the 409 body's
// "term" (api.StaleTerm) tells a leader how far behind it is.
func (a *Agent) staleErr(fence fenceState, err error) error {
	f := map[string]any{"term": fence.Term}
	if fence.Cluster != "" {
		f["cluster"] = fence.Cluster
	}
	return errs.WithFields(err, f)
}

// hashPods is a digest of a pod set and its network that ignores the order
// of pods: a set whose only change is its network (a Service's endpoints)
// is a new set too.
func hashPods(pods []api.Pod, network *api.Network) [32]byte {
	sorted := slices.Clone(pods)
	slices.SortFunc(sorted, func(x, y api.Pod) int {
		return strings.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
	})
	b, err := json.Marshal(struct {
		Pods    []api.Pod
		Network *api.Network
	}{sorted, network})
	if err != nil {
		// Pods were just decoded from JSON, so they encode; a failure would
		// make every set look new, which is safe (Sync is idempotent).
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// handlePodSet serves the set last applied: term and generation of the
// last successful Sync (after a restart, the persisted fence, whose set the
// runtime adopted), the pods the runtime holds, as they were sent, and the
// last network accepted (persisted across restarts). A
// reconciler that lost its inventory adopts these pods (same UIDs) instead
// of re-creating them.
func (a *Agent) handlePodSet(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	applied, cluster, network := a.applied, a.fence.Cluster, a.netCur
	a.mu.Unlock()
	pods := a.rt.Pods()
	if pods == nil {
		pods = []api.Pod{}
	}
	writeJSON(w, http.StatusOK, api.PodSet{
		Node:       a.cfg.NodeName,
		Term:       applied.Term,
		Generation: applied.Generation,
		Pods:       pods,
		Cluster:    cluster,
		Network:    network,
	})
}

func (a *Agent) handlePods(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.snapshot())
}

func (a *Agent) handleInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Info())
}

// handleWatch streams newline-delimited PodStatusLists: one at connect, one
// after each change or new event (coalesced), and the current one every
// WatchHeartbeat when nothing changed. A consumer slower than the changes
// misses intermediate states, never the latest one.
//
// Each list carries the events recorded since the previous list of the
// stream; the first, those after ?eventsAfter= when ?epoch= is this
// agent's epoch, else every event kept (events.go).
func (a *Agent) handleWatch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if s := q.Get(api.QueryEventsAfter); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			errs.WriteHTTP(w, invalid(fmt.Sprintf("%s %q: want a non-negative integer", api.QueryEventsAfter, s)))
			return
		}
		after = n
	}
	cursor := a.evlog.cursor(q.Get(api.QueryEpoch), after)
	wake := make(chan struct{}, 1)
	a.mu.Lock()
	a.watchers[wake] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.watchers, wake)
		a.mu.Unlock()
	}()

	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	compact := q.Get(api.QueryHeartbeat) == api.HeartbeatUnchanged
	var prev []byte // the last list sent, without its time, when compact
	send := func() error {
		// A consumer that stops reading is dropped instead of pinning a
		// goroutine and a snapshot forever.
		if err := rc.SetWriteDeadline(time.Now().Add(defaultWatchWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		l := a.snapshot()
		var next uint64
		l.Events, next = a.evlog.After(cursor)
		out := any(&l)
		if compact {
			now := l.Time
			l.Time = time.Time{}
			b, err := json.Marshal(&l)
			if err != nil {
				return err
			}
			l.Time = now
			if bytes.Equal(b, prev) {
				out = &api.PodStatusList{Node: l.Node, Term: l.Term, Generation: l.Generation, Epoch: l.Epoch, Time: now, Unchanged: true}
			}
			prev = b
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
		cursor = next
		return rc.Flush()
	}
	if err := send(); err != nil {
		return
	}
	heartbeat := time.NewTicker(a.cfg.WatchHeartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-wake:
			heartbeat.Reset(a.cfg.WatchHeartbeat)
		case <-heartbeat.C:
		}
		if err := send(); err != nil {
			a.log.Debug("watch stream ended", "remote", r.RemoteAddr, "err", err)
			return
		}
	}
}

func (a *Agent) handleLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns, pod := q.Get("namespace"), q.Get("pod")
	if ns == "" || pod == "" {
		errs.WriteHTTP(w, invalid("namespace and pod are required"))
		return
	}
	o, err := api.ParseLogOptions(q)
	if err != nil {
		errs.WriteHTTP(w, invalid(err.Error()))
		return
	}
	rc, err := a.rt.Logs(r.Context(), ns, pod, o)
	switch {
	case errors.Is(err, api.ErrNotFound):
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrNotFound))
		return
	case err != nil:
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrInternal))
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if err := copyFlushing(w, rc); err != nil {
		a.log.Debug("log stream ended", "namespace", ns, "pod", pod, "container", o.Container, "err", err)
	}
}
