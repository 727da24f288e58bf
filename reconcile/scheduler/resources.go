package scheduler

import (
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/stevedore-dev/stevedore/spec"
)

// standardResources are the resources Resources has a field for.
var standardResources = [...]string{spec.ResourceCPU, spec.ResourceMemory, spec.ResourceEphemeralStorage}

// PodRequests sums a pod's container requests (a request defaults to its
// limit); Pods is 1. Extended resources and hugepages go to
// Resources.Extended, whose map is allocated only when the pod asks for one.
func PodRequests(ps *spec.PodSpec) Resources {
	r := Resources{Pods: 1}
	for i := range ps.Containers {
		req, lim := ps.Containers[i].Resources.Requests, ps.Containers[i].Resources.Limits
		// Lookups, not ranging over the lists: the reconciler reads every
		// placed pod this way, and ranging over a map costs several
		// lookups. Counting the standard names found tells whether a list
		// holds anything else.
		nReq, nLim := 0, 0
		for _, name := range standardResources {
			q, ok := req[name]
			if ok {
				nReq++
			}
			if len(lim) > 0 {
				ql, okl := lim[name]
				if okl {
					nLim++
				}
				if !ok {
					q, ok = ql, okl
				}
			}
			if ok {
				r.addOne(name, q)
			}
		}
		if len(req) > nReq {
			for name, q := range req {
				r.addExtended(name, q)
			}
		}
		if len(lim) > nLim {
			for name, q := range lim {
				if _, ok := req[name]; !ok {
					r.addExtended(name, q)
				}
			}
		}
	}
	return r
}

// addOne adds the quantity q of a standard resource in scheduler units.
func (r *Resources) addOne(name string, q resource.Quantity) {
	switch name {
	case spec.ResourceCPU:
		r.MilliCPU += q.MilliValue()
	case spec.ResourceMemory:
		r.Memory += q.Value()
	case spec.ResourceEphemeralStorage:
		r.EphemeralStorage += q.Value()
	}
}

// addExtended adds q of name when it is a scalar resource (an extended
// resource or hugepages); Kubernetes skips zero requests.
func (r *Resources) addExtended(name string, q resource.Quantity) {
	if q.Sign() <= 0 || !spec.IsScalarResourceName(name) {
		return
	}
	if r.Extended == nil {
		r.Extended = make(map[string]int64, 1)
	}
	r.Extended[name] += q.Value()
}
