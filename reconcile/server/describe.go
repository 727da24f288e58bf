package server

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// DescribePod returns a pod of the last plan, the events about it (the
// reconciler's and its agent's) and, when it has no node and names none,
// the scheduler's explanation computed now over the live nodes and the
// placed pods. A pod the last plan does not know is an error matching
// errs.ErrNotFound (errdefs.IsNotFound).
func (s *Server) DescribePod(namespace, name string) (*api.PodDescription, error) {
	key := namespace + "/" + name
	v := s.view.Load()
	p, ok := v.pod(namespace, name)
	if !ok {
		return nil, errNotFound("pod " + key + " not found")
	}
	// The agent's events name the incarnation (UID): a pod re-created
	// under the same name does not show its predecessor's.
	d := &api.PodDescription{Pod: p, Events: s.events.podEvents(namespace, name, p.UID)}
	if pv := p.PodView; pv.Node == "" && pv.Spec.NodeName == "" {
		rec := reconcile.PodRecord{Namespace: pv.Namespace, Name: pv.Name, Labels: pv.Labels, Spec: pv.Spec}
		d.Scheduling = explain(s.cfg.Scheduler, v.nodeStates, v.set, v.inventory(), &rec)
	}
	return d, nil
}

// explain asks the scheduler, as the core would call it, where rec would go
// now and how every live node sees it.
func explain(cfg scheduler.Config, nodes []reconcile.NodeState, desired *spec.Set, mem map[string]reconcile.PodRecord, rec *reconcile.PodRecord) *api.Scheduling {
	out := &api.Scheduling{Nodes: []api.NodeVerdict{}}
	sched, err := scheduler.New(cfg)
	if err != nil {
		out.Error = fmt.Sprintf("failed to create scheduler: %s", err)
		return out
	}
	snodes := reconcile.SchedulerNodes(nodes, desired)
	placed := make([]scheduler.Pod, 0, len(mem))
	for _, k := range sortedKeys(mem) {
		r := mem[k]
		if r.Node == "" || r.Finished != "" {
			continue // a Job's finished pod holds nothing
		}
		placed = append(placed, scheduler.Pod{Namespace: r.Namespace, Name: r.Name, Labels: r.Labels, Spec: &r.Spec, Node: r.Node})
	}
	pod := scheduler.Pod{Namespace: rec.Namespace, Name: rec.Name, Labels: rec.Labels, Spec: &rec.Spec}
	verdicts, err := sched.Explain(snodes, placed, pod)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	// Schedule, not the verdicts, gives the reason: it is the message the
	// core records, in the scheduler's own words and order.
	if res := sched.Schedule(snodes, placed, []scheduler.Pod{pod}); len(res) == 1 {
		out.Node, out.Reason = res[0].Node, res[0].Reason
	}
	for _, v := range verdicts {
		out.Nodes = append(out.Nodes, api.NodeVerdict{Node: v.Node, Filter: v.Filter, Reasons: v.Reasons, Scores: v.Scores, Total: v.Total})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Server) handleDescribePod(w http.ResponseWriter, r *http.Request) {
	d, err := s.DescribePod(r.PathValue("namespace"), r.PathValue("name"))
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
