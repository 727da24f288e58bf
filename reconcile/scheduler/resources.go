package scheduler

import "github.com/stevedore-dev/stevedore/spec"

// PodRequests sums a pod's container requests (a request defaults to its
// limit); Pods is 1. Extended resources and hugepages go to
// Resources.Extended, whose map is allocated only when the pod asks for one.
func PodRequests(ps *spec.PodSpec) Resources {
	r := Resources{Pods: 1}
	for i := range ps.Containers {
		c := &ps.Containers[i]
		r.MilliCPU += quantity(c.Resources, spec.ResourceCPU, true)
		r.Memory += quantity(c.Resources, spec.ResourceMemory, false)
		r.EphemeralStorage += quantity(c.Resources, spec.ResourceEphemeralStorage, false)
		addExtended(&r, c.Resources.Requests, nil)
		addExtended(&r, c.Resources.Limits, c.Resources.Requests)
	}
	return r
}

// addExtended adds the scalar resources of l to r, skipping those in skip
// (a limit counts only when no request of that name was given).
func addExtended(r *Resources, l, skip spec.ResourceList) {
	for name, q := range l {
		if !spec.IsScalarResourceName(name) {
			continue
		}
		if _, ok := skip[name]; ok {
			continue
		}
		if q.Sign() <= 0 {
			// Kubernetes skips zero requests: they need nothing.
			continue
		}
		if r.Extended == nil {
			r.Extended = make(map[string]int64, 1)
		}
		r.Extended[name] += q.Value()
	}
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
