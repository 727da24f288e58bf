package reconcile

import (
	"fmt"
	"maps"
	"sort"

	"github.com/stevedore-dev/stevedore/reconcile/scheduler"
	"github.com/stevedore-dev/stevedore/spec"
)

// SchedulerNodes is the scheduler's view of the alive nodes: what each agent
// announces, merged with the Node object declared for it in desired (cordon,
// extra labels and taints), sorted by name. The reconciler's describe uses
// it too, so an explanation sees exactly the nodes a plan sees.
func SchedulerNodes(nodes []NodeState, desired *spec.Set) []scheduler.Node {
	declared := map[string]*spec.Node{}
	if desired != nil {
		for _, o := range desired.Objects {
			if n, ok := o.(*spec.Node); ok {
				declared[n.Name] = n
			}
		}
	}
	var out []scheduler.Node
	for _, n := range nodes {
		if !n.Alive {
			continue
		}
		sn := scheduler.Node{
			Name:   n.Info.Name,
			Labels: n.Info.Labels,
			Taints: n.Info.Taints,
			// A v0.15 agent advertised no protocol (zero here, 1 once
			// decoded from its tags): only what protocol 1 runs.
			AgentProtocol: n.Info.Protocol.Max,
			Allocatable: scheduler.Resources{
				MilliCPU:         n.Info.Allocatable.MilliCPU,
				Memory:           n.Info.Allocatable.Memory,
				EphemeralStorage: n.Info.Allocatable.EphemeralStorage,
				Pods:             n.Info.Allocatable.Pods,
				Extended:         n.Info.Allocatable.Extended,
			},
		}
		if d, ok := declared[n.Info.Name]; ok {
			sn.Unschedulable = d.Spec.Unschedulable
			if len(d.Labels) > 0 {
				labels := make(map[string]string, len(n.Info.Labels)+len(d.Labels))
				maps.Copy(labels, n.Info.Labels)
				maps.Copy(labels, d.Labels)
				sn.Labels = labels
			}
			if len(d.Spec.Taints) > 0 {
				sn.Taints = append(append([]spec.Taint(nil), n.Info.Taints...), d.Spec.Taints...)
			}
		}
		out = append(out, sn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// schedule places every unplaced pod, in key order, keeping every
// remembered placement.
func (p *planner) schedule() {
	unplaced := false
	for _, rec := range p.mem {
		if rec.Node == "" {
			unplaced = true
			break
		}
	}
	if !unplaced {
		// The steady state: nothing to place, no need to describe the
		// cluster to the scheduler.
		return
	}
	placed := make([]scheduler.Pod, 0, len(p.keys))
	var pending []scheduler.Pod
	var pendingKeys []string
	for _, key := range p.keys {
		rec := p.mem[key]
		if rec == nil {
			continue
		}
		ps := &rec.Spec
		if d := p.want[key]; d != nil {
			// The replicas of a workload share one spec; the scheduler
			// compiles each distinct *PodSpec once per call.
			ps = d.Spec
		}
		sp := scheduler.Pod{Namespace: rec.Namespace, Name: rec.Name, Labels: rec.Labels, Spec: ps, Node: rec.Node}
		if rec.Finished != "" {
			// A Job's finished pod holds nothing, as Kubernetes'
			// scheduler ignores terminal pods.
			continue
		}
		if rec.Node != "" {
			placed = append(placed, sp)
			continue
		}
		if !p.incarnationGate(key, rec) {
			continue
		}
		vols, ok := p.volumeGate(key, rec)
		if !ok {
			continue
		}
		sp.Volumes = vols
		if pinned := rec.Spec.NodeName; pinned != "" {
			if p.pinnedReachable(key, vols) && p.placePinned(key, rec) {
				sp.Node = pinned
				placed = append(placed, sp)
			}
			continue
		}
		pending = append(pending, sp)
		pendingKeys = append(pendingKeys, key)
	}
	if len(pending) == 0 {
		return
	}
	var cfg scheduler.Config
	if p.in.Scheduler != nil {
		cfg = *p.in.Scheduler
	}
	s, err := scheduler.New(cfg)
	if err != nil {
		for _, key := range pendingKeys {
			p.unschedulable(key, fmt.Sprintf("failed to create scheduler: %v", err))
		}
		return
	}
	p.applyResults(pendingKeys, s.Schedule(p.nodes, placed, pending))
}

// placePinned places a pod that names its node (spec.nodeName bypasses the
// scheduler, as in Kubernetes) and reports whether it did; otherwise it
// records why the pod cannot go there.
func (p *planner) placePinned(key string, rec *PodRecord) bool {
	pinned := rec.Spec.NodeName
	switch t := p.evicting(pinned, &rec.Spec); {
	case t != nil:
		p.unschedulable(key, fmt.Sprintf("node %q named by spec.nodeName has taint %s that the pod does not tolerate", pinned, taintString(t)))
	case p.alive[pinned]:
		p.place(key, pinned)
		return true
	default:
		p.unschedulable(key, fmt.Sprintf("node %q named by spec.nodeName is not alive", pinned))
	}
	return false
}

// applyResults places the pods of keys as the scheduler decided, and
// reports the indexes of those it chose a node for that is not alive.
func (p *planner) applyResults(keys []string, results []scheduler.Result) (refused []int) {
	for i, key := range keys {
		switch {
		case i >= len(results):
			// A scheduler bug must not crash the control plane.
			p.unschedulable(key, "the scheduler returned no result for this pod")
		case results[i].Node == "":
			p.unschedulable(key, results[i].Reason)
		case !p.alive[results[i].Node]:
			p.unschedulable(key, fmt.Sprintf("the scheduler chose node %q, which is not alive", results[i].Node))
			refused = append(refused, i)
		case !p.volumesReachable(key, results[i].Node):
			refused = append(refused, i)
		default:
			p.place(key, results[i].Node)
		}
	}
	return refused
}

func (p *planner) place(key, node string) {
	rec := p.mem[key]
	rec.Node = node
	if p.refs != nil {
		p.refs.move(key, node)
	}
	rec.Unschedulable = ""
	p.touch(key)
	p.event(key, EventScheduled, "assigned "+key+" to "+node)
}

func (p *planner) unschedulable(key, msg string) {
	rec := p.mem[key]
	if rec.Unschedulable == msg {
		return
	}
	rec.Unschedulable = msg
	p.touch(key)
	p.event(key, EventFailedScheduling, msg)
}

// pinnedReachable reports whether the node a pod names (spec.nodeName)
// reaches its volumes; otherwise it records why not.
func (p *planner) pinnedReachable(key string, vols []scheduler.Volume) bool {
	pinned := p.mem[key].Spec.NodeName
	if name, ok := p.reachable(vols, pinned); !ok {
		p.unschedulable(key, fmt.Sprintf("node %q named by spec.nodeName cannot reach volume %s", pinned, name))
		return false
	}
	return true
}

// volumesReachable checks the scheduler's choice against the pod's
// volumes (a profile without the VolumeBinding filter must not put a pod
// away from its data); otherwise it records why not.
func (p *planner) volumesReachable(key, node string) bool {
	if p.vs == nil {
		return true
	}
	if name, ok := p.reachable(p.vs.needs[key], node); !ok {
		p.unschedulable(key, fmt.Sprintf("the scheduler chose node %q, which cannot reach volume %s (does the profile filter with %s?)", node, name, scheduler.VolumeBindingName))
		return false
	}
	return true
}
