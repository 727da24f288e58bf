package spec

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// This file holds Kubernetes' rules for resource names and quantities
// (pkg/apis/core/helper and validation's ValidateResourceRequirements): which
// names are extended resources, which must be integers, and which may not be
// overcommitted.

// HugePagesPrefix starts the name of a hugepages resource: "hugepages-2Mi"
// is memory in 2 MiB pages, counted in bytes.
const HugePagesPrefix = "hugepages-"

// IsNativeResource reports whether name is in Kubernetes' own namespace: an
// unprefixed name such as "cpu" or "hugepages-2Mi", or one under
// "kubernetes.io/".
func IsNativeResource(name string) bool {
	return !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/")
}

// IsExtendedResourceName reports whether name is an extended resource such
// as "nvidia.com/gpu" or "example.com/foo": not native, not starting with
// "requests." (quota's convention), and a qualified name once "requests." is
// put in front of it, as Kubernetes checks.
func IsExtendedResourceName(name string) bool {
	if IsNativeResource(name) || strings.HasPrefix(name, "requests.") {
		return false
	}
	return isQualifiedName("requests."+name) == ""
}

// IsHugePageResourceName reports whether name is "hugepages-<size>".
func IsHugePageResourceName(name string) bool {
	return strings.HasPrefix(name, HugePagesPrefix)
}

// HugePageSize returns the page size of a hugepages resource name, or false
// when the suffix is not a positive quantity.
func HugePageSize(name string) (int64, bool) {
	if !IsHugePageResourceName(name) {
		return 0, false
	}
	q, err := resource.ParseQuantity(strings.TrimPrefix(name, HugePagesPrefix))
	if err != nil || q.Sign() <= 0 {
		return 0, false
	}
	return q.Value(), true
}

// IsScalarResourceName reports whether the scheduler counts name as a
// scalar resource (Kubernetes' ScalarResources): an extended resource,
// hugepages, or a prefixed native resource such as
// "kubernetes.io/something". A node that does not advertise one has none of
// it.
func IsScalarResourceName(name string) bool {
	return IsExtendedResourceName(name) || IsHugePageResourceName(name) ||
		(strings.Contains(name, "/") && IsNativeResource(name))
}

// overcommitAllowed reports whether a request may be below its limit: only
// for native resources other than hugepages.
func overcommitAllowed(name string) bool {
	return IsNativeResource(name) && !IsHugePageResourceName(name)
}

// isResourceName returns why name is not a container resource, or "": as in
// Kubernetes, a standard resource or a fully qualified extended one, so a
// typo such as "memroy" is not taken for an extended resource.
func isResourceName(name string) string {
	switch {
	case name == ResourceCPU, name == ResourceMemory, name == ResourceEphemeralStorage:
		return ""
	case IsHugePageResourceName(name):
		if _, ok := HugePageSize(name); !ok {
			return "hugepages-<size> needs a page size quantity such as hugepages-2Mi"
		}
		return ""
	case strings.Contains(name, "/"):
		if msg := isQualifiedName(name); msg != "" {
			return msg
		}
		if !IsNativeResource(name) && !IsExtendedResourceName(name) {
			return "doesn't follow extended resource name standard"
		}
		return ""
	}
	return "must be cpu, memory, ephemeral-storage, hugepages-<size> or a fully qualified extended resource such as example.com/gpu"
}

// ValidateResourceName returns why name cannot be advertised by a node as
// an extended resource or hugepages, or "" when it can. Agents use it for
// their configuration.
func ValidateResourceName(name string) string {
	if !IsScalarResourceName(name) {
		return "must be an extended resource such as example.com/gpu (a domain-prefixed name) or hugepages-<size>"
	}
	return isResourceName(name)
}

func (v *validator) resources(r *Resources, p fieldPath) {
	for _, list := range []struct {
		name string
		l    ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		for _, name := range sortedKeys(list.l) {
			if list.name == "requests" {
				// A request defaulted from its limit (or equal to it)
				// would repeat the limit's error.
				if l, ok := r.Limits[name]; ok && l.Cmp(r.Requests[name]) == 0 {
					continue
				}
			}
			rp := p.child(list.name).key(name)
			if msg := isResourceName(name); msg != "" {
				v.add(rp, "invalid resource name %q: %s", name, msg)
				continue
			}
			q := list.l[name]
			if q.Sign() < 0 {
				v.add(rp, "invalid value %q: must be greater than or equal to 0", q.String())
				continue
			}
			if IsExtendedResourceName(name) && q.MilliValue()%1000 != 0 {
				v.add(rp, "invalid value %q: must be an integer", q.String())
			}
			if size, ok := HugePageSize(name); ok && q.Value()%size != 0 {
				v.add(rp, "invalid value %q: %s is not positive integer multiple of %s", q.String(), q.String(), strings.TrimPrefix(name, HugePagesPrefix))
			}
		}
	}
	hugepages, cpuOrMemory := false, false
	for _, l := range []ResourceList{r.Requests, r.Limits} {
		for name := range l {
			_, isHuge := HugePageSize(name)
			hugepages = hugepages || isHuge
			cpuOrMemory = cpuOrMemory || name == ResourceCPU || name == ResourceMemory
		}
	}
	if hugepages && !cpuOrMemory {
		v.add(p, "forbidden: HugePages require cpu or memory")
	}
	for _, name := range sortedKeys(r.Requests) {
		req := r.Requests[name]
		limit, ok := r.Limits[name]
		switch {
		case !ok && !overcommitAllowed(name) && isResourceName(name) == "":
			// Kubernetes defaults requests from limits, never the reverse:
			// a GPU or hugepages request alone could be overcommitted.
			v.add(p.child("limits").key(name), "required: Limit must be set for non overcommitable resources (%s is requested)", name)
		case !ok:
		case req.Cmp(limit) != 0 && !overcommitAllowed(name):
			v.add(p.child("requests").key(name), "invalid value %q: must be equal to %s limit of %s", req.String(), name, limit.String())
		case req.Cmp(limit) > 0:
			v.add(p.child("requests").key(name), "invalid value %q: must be less than or equal to %s limit of %s", req.String(), name, limit.String())
		}
	}
}
