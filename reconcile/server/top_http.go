package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// agentQueryTimeout bounds one agent's answer to a stats or node-status
// question, so that a slow agent does not hold up the others'; its node is
// then reported as not answering.
var agentQueryTimeout = 3 * time.Second

// nodeOpsClient is what top and describe node ask of an agent; a client
// that lacks it (a test's fake) is a node that does not answer.
type nodeOpsClient interface {
	Stats(ctx context.Context) (agentapi.NodeStats, error)
	NodeStatus(ctx context.Context) (agentapi.NodeStatus, error)
}

var _ nodeOpsClient = agentAPI{}

func (a agentAPI) Stats(ctx context.Context) (agentapi.NodeStats, error) { return a.c.Stats(ctx) }

func (a agentAPI) NodeStatus(ctx context.Context) (agentapi.NodeStatus, error) {
	return a.c.NodeStatus(ctx)
}

var errNoNodeOps = errors.New("the agent's client does not serve stats")

// nodeAnswer is one agent's answer, or why there is none.
type nodeAnswer[T any] struct {
	v   T
	err error
}

// askAgents asks every node in nodes, concurrently, each within
// agentQueryTimeout; a node without a connection answers errNotAlive.
func askAgents[T any](ctx context.Context, v *view, nodes []string, ask func(context.Context, nodeOpsClient) (T, error)) map[string]nodeAnswer[T] {
	out := make(map[string]nodeAnswer[T], len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		cl := v.clients[n]
		if cl == nil {
			out[n] = nodeAnswer[T]{err: errNotAlive}
			continue
		}
		oc, ok := cl.(nodeOpsClient)
		if !ok {
			out[n] = nodeAnswer[T]{err: errNoNodeOps}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, cancel := context.WithTimeout(ctx, agentQueryTimeout)
			defer cancel()
			val, err := ask(actx, oc)
			if err != nil && actx.Err() != nil && ctx.Err() == nil {
				err = fmt.Errorf("no answer within %s", agentQueryTimeout)
			}
			mu.Lock()
			out[n] = nodeAnswer[T]{v: val, err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

var errNotAlive = errors.New("node is not alive (no agent connection)")

func askStats(ctx context.Context, c nodeOpsClient) (agentapi.NodeStats, error) { return c.Stats(ctx) }

func (s *Server) handleTopPods(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns := q.Get("namespace")
	if q.Get(api.QueryAllNamespaces) == "1" {
		ns = ""
	} else if ns == "" {
		ns = spec.DefaultNamespace
	}
	sel := labels.Everything()
	if s := q.Get(api.QuerySelector); s != "" {
		var err error
		if sel, err = labels.Parse(s); err != nil {
			errs.WriteHTTP(w, errInvalid("failed to parse selector: "+err.Error()))
			return
		}
	}
	v := s.view.Load()
	// The pods asked for, by node: only the nodes holding one are asked.
	want := map[string]*reconcile.PodView{}
	var nodes []string
	seenNode := map[string]bool{}
	for i := range v.views {
		p := &v.views[i]
		if p.Node == "" || (ns != "" && p.Namespace != ns) || !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		want[p.Node+"/"+p.UID] = p
		if !seenNode[p.Node] {
			seenNode[p.Node] = true
			nodes = append(nodes, p.Node)
		}
	}
	sort.Strings(nodes)
	answers := askAgents(r.Context(), v, nodes, askStats)
	out := api.PodMetricsList{Items: []api.PodMetrics{}}
	for _, n := range nodes {
		a := answers[n]
		if a.err != nil {
			out.Problems = append(out.Problems, api.NodeProblem{Node: n, Error: a.err.Error()})
			continue
		}
		for _, ps := range a.v.Pods {
			if want[n+"/"+ps.UID] == nil {
				continue
			}
			pm := api.PodMetrics{
				Namespace: ps.Namespace, Name: ps.Name, Node: n, Timestamp: a.v.Time, Window: a.v.Window,
				CPUNanoCores: ps.CPU.UsageNanoCores, MemoryBytes: ps.Memory.WorkingSetBytes,
				Containers: make([]api.ContainerMetrics, 0, len(ps.Containers)),
			}
			for _, c := range ps.Containers {
				pm.Containers = append(pm.Containers, api.ContainerMetrics{Name: c.Name, CPUNanoCores: c.CPU.UsageNanoCores, MemoryBytes: c.Memory.WorkingSetBytes})
			}
			out.Items = append(out.Items, pm)
		}
	}
	sort.Slice(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleTopNodes(w http.ResponseWriter, r *http.Request) {
	v := s.view.Load()
	table := v.nodeTable()
	names := make([]string, 0, len(table))
	for _, n := range table {
		names = append(names, n.Name)
	}
	answers := askAgents(r.Context(), v, names, askStats)
	out := api.NodeMetricsList{Items: make([]api.NodeMetrics, 0, len(table))}
	for _, n := range table {
		nm := api.NodeMetrics{Name: n.Name, Allocatable: n.Allocatable}
		if a := answers[n.Name]; a.err != nil {
			nm.Error = a.err.Error()
		} else {
			nm.Timestamp, nm.Window = a.v.Time, a.v.Window
			nm.CPUNanoCores, nm.MemoryBytes = a.v.CPU.UsageNanoCores, a.v.Memory.WorkingSetBytes
		}
		out.Items = append(out.Items, nm)
	}
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].Name < out.Items[j].Name })
	writeJSON(w, http.StatusOK, out)
}

// DescribeNode is the node's table entry, its agent's status, its pods
// with their requests and limits, and its events. A node the node table
// does not list is an error matching errs.ErrNotFound.
func (s *Server) DescribeNode(ctx context.Context, name string) (*api.NodeDescription, error) {
	v := s.view.Load()
	d := &api.NodeDescription{Pods: []api.NodePod{}}
	found := false
	for _, n := range v.nodeTable() {
		if n.Name == name {
			d.Node, found = n, true
		}
	}
	if !found {
		return nil, errNotFound("node " + name + " not found")
	}
	a := askAgents(ctx, v, []string{name}, func(ctx context.Context, c nodeOpsClient) (agentapi.NodeStatus, error) {
		return c.NodeStatus(ctx)
	})[name]
	if a.err != nil {
		d.StatusError = a.err.Error()
	} else {
		d.Status = &a.v
	}
	for i := range v.views {
		p := &v.views[i]
		if p.Node != name || p.Phase == agentapi.PodSucceeded || p.Phase == agentapi.PodFailed {
			continue
		}
		np := api.NodePod{Namespace: p.Namespace, Name: p.Name, Requests: wireResources(scheduler.PodRequests(&p.Spec)), Limits: podLimits(&p.Spec), Created: p.Created}
		np.Requests.Pods = 0
		d.Pods = append(d.Pods, np)
		addResources(&d.Requests, np.Requests)
		addResources(&d.Limits, np.Limits)
	}
	d.Events = s.events.matching("", "node/"+name)
	return d, nil
}

func (s *Server) handleDescribeNode(w http.ResponseWriter, r *http.Request) {
	d, err := s.DescribeNode(r.Context(), r.PathValue("name"))
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func wireResources(r scheduler.Resources) agentapi.Resources {
	return agentapi.Resources{MilliCPU: r.MilliCPU, Memory: r.Memory, EphemeralStorage: r.EphemeralStorage, Pods: r.Pods, Extended: r.Extended}
}

// podLimits sums the containers' limits of CPU, memory and ephemeral
// storage (a container without a limit adds nothing, as kubectl sums them).
func podLimits(ps *spec.PodSpec) agentapi.Resources {
	var r agentapi.Resources
	for _, c := range ps.Containers {
		if q, ok := c.Resources.Limits[spec.ResourceCPU]; ok {
			r.MilliCPU += q.MilliValue()
		}
		if q, ok := c.Resources.Limits[spec.ResourceMemory]; ok {
			r.Memory += q.Value()
		}
		if q, ok := c.Resources.Limits[spec.ResourceEphemeralStorage]; ok {
			r.EphemeralStorage += q.Value()
		}
	}
	return r
}

func addResources(dst *agentapi.Resources, r agentapi.Resources) {
	dst.MilliCPU += r.MilliCPU
	dst.Memory += r.Memory
	dst.EphemeralStorage += r.EphemeralStorage
}
