package scheduler

import "github.com/stevedore-dev/stevedore/spec"

// PodRequests sums a pod's container requests (a request defaults to its
// limit); Pods is 1.
func PodRequests(ps *spec.PodSpec) Resources {
	r := Resources{Pods: 1}
	for i := range ps.Containers {
		c := &ps.Containers[i]
		r.MilliCPU += quantity(c.Resources, spec.ResourceCPU, true)
		r.Memory += quantity(c.Resources, spec.ResourceMemory, false)
		r.EphemeralStorage += quantity(c.Resources, spec.ResourceEphemeralStorage, false)
	}
	return r
}

func quantity(res spec.Resources, name string, milli bool) int64 {
	q, ok := res.Requests[name]
	if !ok {
		if q, ok = res.Limits[name]; !ok {
			return 0
		}
	}
	if milli {
		return q.MilliValue()
	}
	return q.Value()
}
