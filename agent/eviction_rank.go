package agent

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// evictionCandidate is a pod that eviction may pick, with its use.
type evictionCandidate struct {
	Pod   api.Pod
	Stats api.PodStats
}

// resourceOf is the resource a signal's pressure reclaims (what eviction
// ranks by and its message names).
func resourceOf(signal string) string {
	if signal == SignalMemoryAvailable {
		return spec.ResourceMemory
	}
	return spec.ResourceEphemeralStorage
}

// podRequest is the sum of the pod's containers' requests of res (the
// kubelet adds init containers' as max(sum, largest init); Stevedore's
// init containers have finished by the time a pod uses much).
func podRequest(p *api.Pod, res string) int64 {
	var sum int64
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[res]; ok {
			sum += q.Value()
		}
	}
	return sum
}

// containerRequest is one container's request of res.
func containerRequest(p *api.Pod, name, res string) int64 {
	for _, c := range p.Spec.Containers {
		if c.Name == name {
			if q, ok := c.Resources.Requests[res]; ok {
				return q.Value()
			}
		}
	}
	return 0
}

// podUsage is the pod's use of res: its working set for memory, its
// ephemeral storage (writable layers, logs, emptyDirs) for disk.
func podUsage(s *api.PodStats, res string) int64 {
	if res == spec.ResourceMemory {
		if s.Memory.WorkingSetBytes > 0 {
			return int64(s.Memory.WorkingSetBytes)
		}
		var sum int64
		for _, c := range s.Containers {
			sum += int64(c.Memory.WorkingSetBytes)
		}
		return sum
	}
	if s.EphemeralStorage.UsedBytes > 0 {
		return int64(s.EphemeralStorage.UsedBytes)
	}
	var sum int64
	for _, c := range s.Containers {
		sum += containerUsage(&c, res)
	}
	return sum
}

func containerUsage(c *api.ContainerStats, res string) int64 {
	if res == spec.ResourceMemory {
		return int64(c.Memory.WorkingSetBytes)
	}
	return int64(c.Rootfs.UsedBytes + c.Logs.UsedBytes)
}

// podPriority is the pod's priority. Stevedore's pod spec has no priority
// (priorityClassName is refused by name), so every pod ranks at 0 and the
// order is the kubelet's for pods of equal priority.
func podPriority(*api.Pod) int32 { return 0 }

// rankForEviction orders the candidates as the kubelet's eviction manager
// does for res (rankMemoryPressure, rankDiskPressureFunc): pods whose use
// exceeds their requests first, then by priority (lowest first), then by
// use above requests (largest first). A BestEffort pod requests nothing,
// so any use exceeds its requests: in practice it goes first.
func rankForEviction(cands []evictionCandidate, res string) {
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := &cands[i], &cands[j]
		ua, ub := podUsage(&a.Stats, res), podUsage(&b.Stats, res)
		ra, rb := podRequest(&a.Pod, res), podRequest(&b.Pod, res)
		if ea, eb := ua > ra, ub > rb; ea != eb {
			return ea
		}
		if pa, pb := podPriority(&a.Pod), podPriority(&b.Pod); pa != pb {
			return pa < pb
		}
		return ua-ra > ub-rb
	})
}

// evictionMessage is the evicted pod's status message, worded as the
// kubelet's: the resource, threshold and what is available, then each
// container using more than it requests.
func evictionMessage(t threshold, o observation, c *evictionCandidate) string {
	res := resourceOf(t.Signal)
	var b strings.Builder
	fmt.Fprintf(&b, "The node was low on resource: %s. Threshold quantity: %s, available: %s. ",
		res, quantity(t.limit(o.Capacity), t.Signal), quantity(o.Available, t.Signal))
	for _, cs := range c.Stats.Containers {
		used, req := containerUsage(&cs, res), containerRequest(&c.Pod, cs.Name, res)
		if used > req {
			fmt.Fprintf(&b, "Container %s was using %s, request is %s, has larger consumption of %s. ",
				cs.Name, quantity(used, ""), quantity(req, ""), res)
		}
	}
	return strings.TrimSpace(b.String())
}

// quantity formats bytes as a Kubernetes quantity (inodes as a count).
func quantity(v int64, signal string) string {
	if strings.HasSuffix(signal, "inodesFree") {
		return resource.NewQuantity(v, resource.DecimalSI).String()
	}
	return resource.NewQuantity(v, resource.BinarySI).String()
}
