// Package scheduler places pods on nodes. It is a pure function of its
// input: the same nodes, placed pods and pending pods give the same
// placements. Placed pods are never moved.
package scheduler

import (
	"fmt"
	"sort"

	"github.com/stevedore-dev/stevedore/spec"
)

// Resources are quantities in scheduler units.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
}

// Node is what the scheduler knows of a node.
type Node struct {
	Name          string
	Labels        map[string]string
	Taints        []spec.Taint
	Unschedulable bool
	Allocatable   Resources
}

// Pod is a pod to place, or one already placed (Node set).
type Pod struct {
	Namespace string
	Name      string
	Labels    map[string]string
	Spec      *spec.PodSpec
	// Node is where the pod runs; empty for a pending pod.
	Node string
}

// Result is the outcome for one pending pod, in input order.
type Result struct {
	// Node is where the pod goes; empty when it fits nowhere.
	Node string
	// Reason explains an empty Node in Kubernetes' form: "0/5 nodes are
	// available: 3 Insufficient memory, 2 node(s) didn't match node selector."
	Reason string
}

// Config selects the profile.
type Config struct{}

// Scheduler places pods. It holds no state between calls.
type Scheduler struct {
	cfg Config
}

// New returns a Scheduler for cfg.
func New(cfg Config) (*Scheduler, error) {
	return &Scheduler{cfg: cfg}, nil
}

// PodRequests sums a pod's container requests (a request defaults to its
// limit); Pods is 1.
func PodRequests(ps *spec.PodSpec) Resources {
	r := Resources{Pods: 1}
	for _, c := range ps.Containers {
		get := func(name string) (int64, bool) {
			if q, ok := c.Resources.Requests[name]; ok {
				if name == spec.ResourceCPU {
					return q.MilliValue(), true
				}
				return q.Value(), true
			}
			if q, ok := c.Resources.Limits[name]; ok {
				if name == spec.ResourceCPU {
					return q.MilliValue(), true
				}
				return q.Value(), true
			}
			return 0, false
		}
		if v, ok := get(spec.ResourceCPU); ok {
			r.MilliCPU += v
		}
		if v, ok := get(spec.ResourceMemory); ok {
			r.Memory += v
		}
		if v, ok := get(spec.ResourceEphemeralStorage); ok {
			r.EphemeralStorage += v
		}
	}
	return r
}

// Schedule places each pending pod, in order, on the least-loaded node that
// fits its requests, accounting for placed pods and earlier placements.
func (s *Scheduler) Schedule(nodes []Node, placed []Pod, pending []Pod) []Result {
	used := make(map[string]Resources, len(nodes))
	for _, p := range placed {
		u := used[p.Node]
		r := PodRequests(p.Spec)
		u.MilliCPU += r.MilliCPU
		u.Memory += r.Memory
		u.EphemeralStorage += r.EphemeralStorage
		u.Pods += r.Pods
		used[p.Node] = u
	}
	order := make([]int, len(nodes))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return nodes[order[a]].Name < nodes[order[b]].Name })
	out := make([]Result, len(pending))
	for i, p := range pending {
		req := PodRequests(p.Spec)
		best, bestLoad := -1, int64(0)
		var cpu, mem, pods, unsched int
		for _, ni := range order {
			n := nodes[ni]
			u := used[n.Name]
			switch {
			case n.Unschedulable:
				unsched++
				continue
			case n.Allocatable.Pods > 0 && u.Pods+1 > n.Allocatable.Pods:
				pods++
				continue
			case n.Allocatable.MilliCPU > 0 && u.MilliCPU+req.MilliCPU > n.Allocatable.MilliCPU:
				cpu++
				continue
			case n.Allocatable.Memory > 0 && u.Memory+req.Memory > n.Allocatable.Memory:
				mem++
				continue
			}
			load := u.Pods*1000 + u.MilliCPU
			if best < 0 || load < bestLoad {
				best, bestLoad = ni, load
			}
		}
		if best < 0 {
			msg := fmt.Sprintf("0/%d nodes are available", len(nodes))
			var parts []string
			if cpu > 0 {
				parts = append(parts, fmt.Sprintf("%d Insufficient cpu", cpu))
			}
			if mem > 0 {
				parts = append(parts, fmt.Sprintf("%d Insufficient memory", mem))
			}
			if pods > 0 {
				parts = append(parts, fmt.Sprintf("%d Too many pods", pods))
			}
			if unsched > 0 {
				parts = append(parts, fmt.Sprintf("%d node(s) were unschedulable", unsched))
			}
			for j, part := range parts {
				if j == 0 {
					msg += ": "
				} else {
					msg += ", "
				}
				msg += part
			}
			out[i] = Result{Reason: msg + "."}
			continue
		}
		n := nodes[best].Name
		u := used[n]
		u.MilliCPU += req.MilliCPU
		u.Memory += req.Memory
		u.EphemeralStorage += req.EphemeralStorage
		u.Pods++
		used[n] = u
		out[i] = Result{Node: n}
	}
	return out
}
