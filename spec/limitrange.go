package spec

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// This file applies a namespace's LimitRanges to the rest of a revision,
// as Kubernetes' LimitRanger admission plugin does to each pod it
// admits: a container without a request or limit for a resource takes the
// LimitRange's defaultRequest and default, and a container, a pod (the sum
// of its containers) or a claim outside min, max or maxLimitRequestRatio is
// refused, in LimitRanger's words. Stevedore has no pod admission of its
// own: the defaults are written into the pod templates of the loaded set,
// so that every reconciler reloading the saved revision gets the same
// pods (and a changed default rolls the workloads that take it, as a
// changed template does). Only the LimitRanges of the same revision
// (application) apply: the loader sees nothing else.

// limitItems are a namespace's LimitRange items by type, each list in the
// LimitRanges' name order.
type limitItems struct {
	container, pod, claim []LimitRangeItem
}

// limitRanges returns the items of set's LimitRanges by namespace.
func limitRanges(set *Set) map[string]*limitItems {
	out := map[string]*limitItems{}
	for _, o := range set.OfKind(KindLimitRange) {
		lr := o.(*LimitRange)
		li := out[lr.Namespace]
		if li == nil {
			li = &limitItems{}
			out[lr.Namespace] = li
		}
		for _, it := range lr.Spec.Limits {
			switch it.Type {
			case LimitTypeContainer:
				li.container = append(li.container, it)
			case LimitTypePod:
				li.pod = append(li.pod, it)
			case LimitTypePersistentVolumeClaim:
				li.claim = append(li.claim, it)
			}
		}
	}
	return out
}

// checkLimitRanges defaults and checks every pod template and claim of set
// in a namespace with LimitRanges. Objects it defaults are replaced in
// set.Objects by copies: a document's object may be a Cache's, shared and
// read-only, and the cache must keep the object as written so that a later
// revision without the LimitRange gets it back undefaulted.
func checkLimitRanges(docs []*document, set *Set, errs *errorSink) {
	byNS := limitRanges(set)
	if len(byNS) == 0 {
		return
	}
	for _, doc := range docs {
		key := KeyOf(doc.obj)
		lrs := byNS[key.Namespace]
		if lrs == nil || set.Objects[key] != doc.obj {
			continue // none apply, or declared twice (reported)
		}
		add := func(p fieldPath, format string, args ...any) {
			errs.add(&Error{File: doc.file, Line: doc.lineOf(p), Object: keyLabel(key), Field: string(p), Message: fmt.Sprintf(format, args...)})
		}
		switch o := doc.obj.(type) {
		case *PersistentVolumeClaim:
			checkClaimLimits(lrs.claim, o, "spec", add)
			continue
		case *StatefulSet:
			for i := range o.Spec.VolumeClaimTemplates {
				checkClaimLimits(lrs.claim, &o.Spec.VolumeClaimTemplates[i], fieldPath("spec.volumeClaimTemplates").index(i).child("spec"), add)
			}
		}
		ps, at := PodSpecOf(doc.obj)
		if ps == nil || doc.obj.GetTypeMeta().Kind == KindPodTemplate {
			continue
		}
		if needsLimitDefaults(lrs.container, ps) {
			cp := copyWithContainers(doc.obj)
			set.Objects[key] = cp
			ps, _ = PodSpecOf(cp)
			applyLimitDefaults(lrs.container, ps)
		}
		checkPodLimits(lrs, ps, fieldPath(at), add)
	}
}

// needsLimitDefaults reports whether some container of ps lacks a request
// or limit a Container item defaults.
func needsLimitDefaults(items []LimitRangeItem, ps *PodSpec) bool {
	for _, it := range items {
		for _, cs := range [][]Container{ps.InitContainers, ps.Containers} {
			for _, c := range cs {
				for k := range it.Default {
					if _, ok := c.Resources.Limits[k]; !ok {
						return true
					}
				}
				for k := range it.DefaultRequest {
					if _, ok := c.Resources.Requests[k]; !ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// applyLimitDefaults sets, in every container of ps, the limits and
// requests the Container items default and the container does not set.
func applyLimitDefaults(items []LimitRangeItem, ps *PodSpec) {
	for _, it := range items {
		for _, cs := range [][]Container{ps.InitContainers, ps.Containers} {
			for i := range cs {
				r := &cs[i].Resources
				for _, k := range sortedKeys(it.Default) {
					if _, ok := r.Limits[k]; !ok {
						if r.Limits == nil {
							r.Limits = ResourceList{}
						}
						r.Limits[k] = it.Default[k].DeepCopy()
					}
				}
				for _, k := range sortedKeys(it.DefaultRequest) {
					if _, ok := r.Requests[k]; !ok {
						if r.Requests == nil {
							r.Requests = ResourceList{}
						}
						r.Requests[k] = it.DefaultRequest[k].DeepCopy()
					}
				}
			}
		}
	}
}

// copyWithContainers returns a copy of o whose pod template's containers
// (and their resources) are its own, for applyLimitDefaults to write; the
// rest is shared with o and must not be written.
func copyWithContainers(o Object) Object {
	v := reflect.New(reflect.TypeOf(o).Elem())
	v.Elem().Set(reflect.ValueOf(o).Elem())
	cp := v.Interface().(Object)
	if rc, ok := cp.(*ReplicationController); ok && rc.Spec.Template != nil {
		t := *rc.Spec.Template
		rc.Spec.Template = &t
	}
	ps, _ := PodSpecOf(cp)
	for _, cs := range []*[]Container{&ps.InitContainers, &ps.Containers} {
		*cs = slices.Clone(*cs)
		for i := range *cs {
			r := &(*cs)[i].Resources
			r.Requests, r.Limits = maps.Clone(r.Requests), maps.Clone(r.Limits)
		}
	}
	return cp
}

// checkPodLimits checks the containers of ps against the Container items
// and their sums against the Pod items.
func checkPodLimits(lrs *limitItems, ps *PodSpec, at fieldPath, add func(fieldPath, string, ...any)) {
	for _, it := range lrs.container {
		for _, list := range []struct {
			name string
			cs   []Container
		}{{"initContainers", ps.InitContainers}, {"containers", ps.Containers}} {
			for i, c := range list.cs {
				checkLimitItem(it, c.Resources.Requests, c.Resources.Limits, at.child(list.name).index(i).child("resources"), fmt.Sprintf("container %q: ", c.Name), add)
			}
		}
	}
	if len(lrs.pod) == 0 {
		return
	}
	req, lim := PodResources(ps)
	for _, it := range lrs.pod {
		checkLimitItem(it, req, lim, at, "", add)
	}
}

// PodResources returns a pod's requests and limits as Kubernetes counts
// them for quotas and LimitRanges: for each resource, the larger of the
// sum over its containers and the largest of its init containers.
func PodResources(ps *PodSpec) (requests, limits ResourceList) {
	requests, limits = ResourceList{}, ResourceList{}
	for _, c := range ps.Containers {
		addList(requests, c.Resources.Requests)
		addList(limits, c.Resources.Limits)
	}
	for _, c := range ps.InitContainers {
		maxList(requests, c.Resources.Requests)
		maxList(limits, c.Resources.Limits)
	}
	return requests, limits
}

func addList(dst, src ResourceList) {
	for k, q := range src {
		sum := dst[k]
		sum.Add(q)
		dst[k] = sum
	}
}

func maxList(dst, src ResourceList) {
	for k, q := range src {
		if cur, ok := dst[k]; !ok || q.Cmp(cur) > 0 {
			dst[k] = q.DeepCopy()
		}
	}
}

// checkLimitItem checks one container's (prefix names it) or one pod's
// requests and limits against it, in LimitRanger's words. A container's
// problem is placed at its resources (p), a pod's at its spec.
func checkLimitItem(it LimitRangeItem, req, lim ResourceList, p fieldPath, prefix string, add func(fieldPath, string, ...any)) {
	typ := it.Type
	for _, k := range sortedKeys(it.Min) {
		minQ := it.Min[k]
		rp := p
		if prefix != "" {
			rp = p.child("requests").key(k)
		}
		if r, ok := req[k]; !ok {
			add(rp, "forbidden: %sminimum %s usage per %s is %s.  No request is specified", prefix, k, typ, minQ.String())
		} else if r.Cmp(minQ) < 0 {
			add(rp, "forbidden: %sminimum %s usage per %s is %s, but request is %s", prefix, k, typ, minQ.String(), r.String())
		}
	}
	for _, k := range sortedKeys(it.Max) {
		maxQ := it.Max[k]
		lp := p
		if prefix != "" {
			lp = p.child("limits").key(k)
		}
		if l, ok := lim[k]; !ok {
			add(lp, "forbidden: %smaximum %s usage per %s is %s.  No limit is specified", prefix, k, typ, maxQ.String())
		} else if l.Cmp(maxQ) > 0 {
			add(lp, "forbidden: %smaximum %s usage per %s is %s, but limit is %s", prefix, k, typ, maxQ.String(), l.String())
		}
	}
	for _, k := range sortedKeys(it.MaxLimitRequestRatio) {
		ratio := it.MaxLimitRequestRatio[k]
		lp := p
		if prefix != "" {
			lp = p.child("limits").key(k)
		}
		l, hasL := lim[k]
		r, hasR := req[k]
		switch {
		case !hasL:
			add(lp, "forbidden: %s%s max limit to request ratio per %s is %s, but no limit is specified", prefix, k, typ, ratio.String())
		case !hasR || r.IsZero():
			add(lp, "forbidden: %s%s max limit to request ratio per %s is %s, but no request is specified or request is 0", prefix, k, typ, ratio.String())
		default:
			got := float64(l.MilliValue()) / float64(r.MilliValue())
			if got > float64(ratio.MilliValue())/1000 {
				add(lp, "forbidden: %s%s max limit to request ratio per %s is %s, but provided ratio is %f", prefix, k, typ, ratio.String(), got)
			}
		}
	}
}

// checkClaimLimits checks a claim's storage request against the
// PersistentVolumeClaim items.
func checkClaimLimits(items []LimitRangeItem, c *PersistentVolumeClaim, sp fieldPath, add func(fieldPath, string, ...any)) {
	req, has := c.Spec.Resources.Requests[ResourceStorage]
	rp := sp.child("resources.requests").key(ResourceStorage)
	for _, it := range items {
		if q, ok := it.Min[ResourceStorage]; ok {
			if !has {
				add(rp, "forbidden: minimum storage usage per PersistentVolumeClaim is %s.  No request is specified", q.String())
			} else if req.Cmp(q) < 0 {
				add(rp, "forbidden: minimum storage usage per PersistentVolumeClaim is %s, but request is %s", q.String(), req.String())
			}
		}
		if q, ok := it.Max[ResourceStorage]; ok && has && req.Cmp(q) > 0 {
			add(rp, "forbidden: maximum storage usage per PersistentVolumeClaim is %s, but request is %s", q.String(), req.String())
		}
	}
}
