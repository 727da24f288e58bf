package server

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Server-side filters of the lists and watches of pods, workloads, events
// and applications (api.QueryFilter, QueryLabelSelector,
// QueryFieldSelector, QueryEventType, QueryView): a page of 10,000 pods
// receives only the rows it shows, and a watch sends only the changes of
// those. The selectors are Kubernetes': its syntax and field names, so that
// kubectl habits (-l, --field-selector) carry over: they are parsed by
// Kubernetes' own parsers (apimachinery's labels and fields, as `ctl top`
// and ctl's client-side filters do). A filter that cannot
// be applied (bad syntax, a field this list has not) is a 400 naming it,
// never a silently unfiltered list.

// filterKind is the list a filter applies to: which parameters it takes.
type filterKind int

const (
	filterPods filterKind = iota
	filterWorkloads
	filterEvents
	filterApps
)

func (k filterKind) String() string {
	return [...]string{"pods", "workloads", "events", "applications"}[k]
}

// podFields are the fields a pod field selector may name, as Kubernetes'
// pod field selectors spell them. They read the core's view: a watch
// filters every pod of a view at every publish, before it makes a wire
// pod of the few it keeps.
var podFields = map[string]func(*reconcile.PodView) string{
	"metadata.name":      func(p *reconcile.PodView) string { return p.Name },
	"metadata.namespace": func(p *reconcile.PodView) string { return p.Namespace },
	"spec.nodeName":      func(p *reconcile.PodView) string { return p.Node },
	"status.phase":       func(p *reconcile.PodView) string { return p.Phase },
}

// workloadFields are a workload's: the metadata Kubernetes lets every
// resource be selected by.
var workloadFields = map[string]func(*api.Workload) string{
	"metadata.name":      func(w *api.Workload) string { return w.Name },
	"metadata.namespace": func(w *api.Workload) string { return w.Namespace },
}

// fieldReq is one requirement of a field selector, its field's getter
// resolved once: matching a pod is then a few string comparisons, with
// no fields.Set (a map) built per pod.
type fieldReq[T any] struct {
	get   func(T) string
	value string
	// not is the != operator; fields.ParseSelector makes no other than
	// =, == and != (a malformed one is refused before).
	not bool
}

// matchFields reports whether o meets every requirement.
func matchFields[T any](reqs []fieldReq[T], o T) bool {
	for _, r := range reqs {
		if (r.get(o) == r.value) == r.not {
			return false
		}
	}
	return true
}

// listFilter is the filters of one request; the zero value keeps
// everything.
type listFilter struct {
	q      string          // lower case
	labels labels.Selector // nil: any
	// podFields and workloadFields are the field selector's requirements
	// on the list it applies to (none: any).
	podFields      []fieldReq[*reconcile.PodView]
	workloadFields []fieldReq[*api.Workload]
	typ            string // events
	// summary is view=summary (pods).
	summary bool
}

// parseFilter reads the filters of a request for a list of kind; a
// parameter the list does not take, or a malformed one, is an error
// (errInvalid: 400).
func parseFilter(q url.Values, kind filterKind) (*listFilter, error) {
	f := &listFilter{q: strings.ToLower(strings.TrimSpace(q.Get(api.QueryFilter)))}
	refuse := func(param string) error {
		if q.Get(param) == "" {
			return nil
		}
		return errInvalid(fmt.Sprintf("%s is not supported on a list of %s", param, kind))
	}
	if s := q.Get(api.QueryLabelSelector); s != "" {
		if kind == filterEvents {
			return nil, refuse(api.QueryLabelSelector)
		}
		sel, err := labels.Parse(s)
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("invalid label selector %q: %v", s, err))
		}
		f.labels = sel
	}
	if s := q.Get(api.QueryFieldSelector); s != "" {
		if kind != filterPods && kind != filterWorkloads {
			return nil, refuse(api.QueryFieldSelector)
		}
		sel, err := fields.ParseSelector(s)
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("invalid field selector %q: %v", s, err))
		}
		for _, r := range sel.Requirements() {
			pg, wg := podFields[r.Field], workloadFields[r.Field]
			if (kind == filterPods && pg == nil) || (kind == filterWorkloads && wg == nil) {
				return nil, errInvalid(fmt.Sprintf("invalid field selector %q: field %q is not supported on %s (%s)", s, r.Field, kind, strings.Join(fieldNames(kind), ", ")))
			}
			var not bool
			switch r.Operator {
			case selection.Equals, selection.DoubleEquals:
			case selection.NotEquals:
				not = true
			default:
				return nil, errInvalid(fmt.Sprintf("invalid field selector %q: operator %q is not supported", s, r.Operator))
			}
			if kind == filterPods {
				f.podFields = append(f.podFields, fieldReq[*reconcile.PodView]{get: pg, value: r.Value, not: not})
			} else {
				f.workloadFields = append(f.workloadFields, fieldReq[*api.Workload]{get: wg, value: r.Value, not: not})
			}
		}
	}
	if t := q.Get(api.QueryEventType); t != "" {
		if kind != filterEvents {
			return nil, refuse(api.QueryEventType)
		}
		if !strings.EqualFold(t, api.EventNormal) && !strings.EqualFold(t, api.EventWarning) {
			return nil, errInvalid(fmt.Sprintf("%s=%q: want %s or %s", api.QueryEventType, t, api.EventNormal, api.EventWarning))
		}
		f.typ = t
	}
	switch v := q.Get(api.QueryView); v {
	case "":
	case api.ViewSummary:
		if kind != filterPods {
			return nil, refuse(api.QueryView)
		}
		f.summary = true
	default:
		return nil, errInvalid(fmt.Sprintf("%s=%q: the only view is %s", api.QueryView, v, api.ViewSummary))
	}
	return f, nil
}

// fieldNames lists the fields a list of kind may be selected by.
func fieldNames(kind filterKind) []string {
	var out []string
	if kind == filterPods {
		for k := range podFields {
			out = append(out, k)
		}
	} else {
		for k := range workloadFields {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// contains reports whether any of fields holds f.q (case-insensitive).
func (f *listFilter) contains(fields ...string) bool {
	if f.q == "" {
		return true
	}
	for _, s := range fields {
		if containsFold(s, f.q) {
			return true
		}
	}
	return false
}

// containsNamespaced reports whether "namespace/name" holds f.q, without
// making that string for every object of a list: a q without "/" cannot
// span the two.
func (f *listFilter) containsNamespaced(namespace, name string) bool {
	if f.q == "" {
		return true
	}
	if strings.Contains(f.q, "/") {
		return containsFold(namespace+"/"+name, f.q)
	}
	return containsFold(namespace, f.q) || containsFold(name, f.q)
}

// containsFold reports whether s holds lower, a lower-case string, in any
// case; without allocating when s is ASCII (names, phases, reasons).
func containsFold(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), lower)
		}
	}
	if len(lower) > len(s) {
		return false
	}
	for i := 0; i+len(lower) <= len(s); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

// pod reports whether p passes the filter.
func (f *listFilter) pod(p *reconcile.PodView) bool {
	if f.labels != nil && !f.labels.Matches(labels.Set(p.Labels)) {
		return false
	}
	if !matchFields(f.podFields, p) {
		return false
	}
	return f.containsNamespaced(p.Namespace, p.Name) || f.contains(p.Node, p.Phase, p.Reason)
}

// workload reports whether w, whose object's labels are labels, passes.
func (f *listFilter) workload(w *api.Workload, objLabels map[string]string) bool {
	if f.labels != nil && !f.labels.Matches(labels.Set(objLabels)) {
		return false
	}
	if !matchFields(f.workloadFields, w) {
		return false
	}
	return f.containsNamespaced(w.Namespace, w.Name)
}

// event reports whether e passes.
func (f *listFilter) event(e *api.Event) bool {
	if f.typ != "" {
		typ := e.Type
		if typ == "" {
			// A recorder that gave none: the type its reason has.
			typ = api.EventType(e.Reason)
		}
		if !strings.EqualFold(typ, f.typ) {
			return false
		}
	}
	return f.contains(e.Object, e.Reason, e.Message)
}

// app reports whether a, whose Application object's labels are labels
// (none for the bootstrap application), passes.
func (f *listFilter) app(a *api.Application, objLabels map[string]string) bool {
	if f.labels != nil && !f.labels.Matches(labels.Set(objLabels)) {
		return false
	}
	return f.contains(a.Name, a.Repo)
}

// summaryPod drops what a table of pods does not show: the spec, and from
// the node's report everything but the phase, its reason and the
// containers' names, readiness, restarts and states (a terminated state
// keeps its reason and exit code: the table shows why a container ended).
// The hello pod of examples-repo, running, is 556 bytes instead of 1,852
// (TestPodSummarySize measures it); pods with larger specs (env, probes,
// volumes) save more.
func summaryPod(p api.Pod) api.Pod {
	out := api.Pod{PodView: api.PodView{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Owner: p.Owner, Labels: p.Labels,
		Node: p.Node, Phase: p.Phase, Reason: p.Reason, Message: p.Message, PodIP: p.PodIP, Created: p.Created}}
	if st := p.Status; st != nil {
		s := &agentapi.PodStatus{Phase: st.Phase, Reason: st.Reason, StartTime: st.StartTime, DeletionTimestamp: st.DeletionTimestamp,
			Containers: summaryContainers(st.Containers), InitContainers: summaryContainers(st.InitContainers)}
		out.Status = s
	}
	return out
}

func summaryContainers(cs []agentapi.ContainerStatus) []agentapi.ContainerStatus {
	if cs == nil {
		return nil
	}
	out := make([]agentapi.ContainerStatus, len(cs))
	for i, c := range cs {
		out[i] = agentapi.ContainerStatus{Name: c.Name, Ready: c.Ready, RestartCount: c.RestartCount, State: summaryState(c.State)}
	}
	return out
}

func summaryState(st agentapi.ContainerState) agentapi.ContainerState {
	var out agentapi.ContainerState
	if st.Waiting != nil {
		out.Waiting = &agentapi.StateWaiting{Reason: st.Waiting.Reason}
	}
	if st.Running != nil {
		out.Running = st.Running
	}
	if t := st.Terminated; t != nil {
		out.Terminated = &agentapi.StateTerminated{ExitCode: t.ExitCode, Reason: t.Reason}
	}
	return out
}

// objectLabels returns the labels of the desired object kind/ns/name (a
// workload's own, which its view does not carry), nil when there is none.
func (v *view) objectLabels(kind, ns, name string) map[string]string {
	if v.set == nil {
		return nil
	}
	o := v.set.Objects[spec.ObjectKey{Kind: kind, Namespace: ns, Name: name}]
	if o == nil {
		return nil
	}
	return o.GetObjectMeta().Labels
}
