package spec

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// This file defaults and validates ResourceQuotas and LimitRanges on their
// own, as Kubernetes' SetDefaults_LimitRangeItem, ValidateResourceQuota and
// ValidateLimitRange do. What they do to the rest of a revision is in
// limitrange.go (defaults, min, max) and package policy/quota (usage).

// Quota resource names: the keys of a ResourceQuota's spec.hard that
// Stevedore counts.
const (
	QuotaPods                   = "pods"
	QuotaServices               = "services"
	QuotaServicesNodePorts      = "services.nodeports"
	QuotaServicesLoadBalancers  = "services.loadbalancers"
	QuotaPersistentVolumeClaims = "persistentvolumeclaims"
	QuotaRequestsStorage        = "requests.storage"
	QuotaConfigMaps             = "configmaps"
	QuotaSecrets                = "secrets"
	QuotaReplicationControllers = "replicationcontrollers"
	QuotaResourceQuotas         = "resourcequotas"
	// QuotaCountPrefix starts object count quotas: count/<resource> for
	// the core group, count/<resource>.<group> for the others
	// (count/deployments.apps).
	QuotaCountPrefix = "count/"
)

// QuotaComputeResources are the per-pod resources a quota may limit, each
// as "<name>" (its requests, cpu and memory only), "requests.<name>" and
// "limits.<name>".
var QuotaComputeResources = []string{ResourceCPU, ResourceMemory, ResourceEphemeralStorage}

// quotaObjectCounts are the quota names counting objects of one kind.
var quotaObjectCounts = map[string]string{
	QuotaPods: KindPod, QuotaServices: KindService, QuotaPersistentVolumeClaims: KindPersistentVolumeClaim,
	QuotaConfigMaps: KindConfigMap, QuotaSecrets: KindSecret,
	QuotaReplicationControllers: KindReplicationController, QuotaResourceQuotas: KindResourceQuota,
}

// QuotaObjectKind returns the kind whose objects a quota resource name
// counts ("configmaps", "count/deployments.apps"), or "". Pods are counted
// by what runs, not by Pod objects: "pods" and "count/pods" are not object
// counts here.
func QuotaObjectKind(name string) string {
	if name == QuotaPods {
		return ""
	}
	if k, ok := quotaObjectCounts[name]; ok {
		return k
	}
	rest, ok := strings.CutPrefix(name, QuotaCountPrefix)
	if !ok {
		return ""
	}
	res, group, _ := strings.Cut(rest, ".")
	for _, k := range kinds {
		if !Namespaced(k.kind) {
			continue
		}
		g, _, found := strings.Cut(k.apiVersion, "/")
		if !found {
			g = ""
		}
		if g == group && pluralOf(k.kind) == res && k.kind != KindPod {
			return k.kind
		}
	}
	return ""
}

// pluralOf is a kind's resource name, as Kubernetes' REST mapper guesses
// it ("Deployment" → "deployments", "StorageClass" → "storageclasses").
func pluralOf(kind string) string {
	l := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(l, "s"):
		return l + "es"
	case strings.HasSuffix(l, "y"):
		return strings.TrimSuffix(l, "y") + "ies"
	}
	return l + "s"
}

// isQuotaResource returns why name is not a quota resource Stevedore
// counts, or "".
func isQuotaResource(name string) string {
	for _, r := range QuotaComputeResources {
		if name == "requests."+r || name == "limits."+r || ((r == ResourceCPU || r == ResourceMemory) && name == r) {
			return ""
		}
	}
	switch {
	case name == QuotaPods, name == "count/pods", name == QuotaServicesNodePorts, name == QuotaServicesLoadBalancers,
		name == QuotaRequestsStorage, QuotaObjectKind(name) != "":
		return ""
	case strings.HasSuffix(name, ".storageclass.storage.k8s.io/requests.storage"),
		strings.HasSuffix(name, ".storageclass.storage.k8s.io/persistentvolumeclaims"):
		return "per-StorageClass quotas are not supported by Stevedore"
	case strings.HasPrefix(name, QuotaCountPrefix):
		return "not a resource Stevedore loads: count/<resource>[.<group>] counts the objects of a namespaced kind it loads (count/deployments.apps, count/configmaps)"
	case strings.HasPrefix(name, "requests.") || strings.HasPrefix(name, "limits."):
		return "extended and hugepages resource quotas are not supported by Stevedore; supported: requests.cpu, requests.memory, requests.ephemeral-storage, limits.cpu, limits.memory, limits.ephemeral-storage"
	}
	return "must be a standard resource for quota"
}

// quotaIsInteger reports whether a quota resource counts things (an
// integer) rather than measures them.
func quotaIsInteger(name string) bool {
	return name == QuotaPods || name == QuotaServicesNodePorts || name == QuotaServicesLoadBalancers ||
		strings.HasPrefix(name, QuotaCountPrefix) || quotaObjectCounts[name] != ""
}

func (v *validator) resourceQuota(q *ResourceQuota) {
	v.objectMeta(&q.ObjectMeta, true, isDNS1123Subdomain)
	p := fieldPath("spec.hard")
	for _, name := range sortedKeys(q.Spec.Hard) {
		rp := p.key(name)
		if msg := isQuotaResource(name); msg != "" {
			v.add(rp, "invalid value %q: %s", name, msg)
			continue
		}
		val := q.Spec.Hard[name]
		if val.Sign() < 0 {
			v.add(rp, "invalid value %q: must be greater than or equal to 0", val.String())
			continue
		}
		if quotaIsInteger(name) && val.MilliValue()%1000 != 0 {
			v.add(rp, "invalid value %q: must be an integer", val.String())
		}
	}
}

var limitTypes = []string{LimitTypeContainer, LimitTypePod, LimitTypePersistentVolumeClaim}

// defaultLimitRange applies Kubernetes' defaults to a LimitRange's
// Container items: a missing default limit is the max, a missing default
// request the default limit, then the min.
func defaultLimitRange(lr *LimitRange) {
	for i := range lr.Spec.Limits {
		it := &lr.Spec.Limits[i]
		if it.Type != LimitTypeContainer {
			continue
		}
		fill := func(dst *ResourceList, src ResourceList) {
			for k, q := range src {
				if _, ok := (*dst)[k]; ok {
					continue
				}
				if *dst == nil {
					*dst = ResourceList{}
				}
				(*dst)[k] = q.DeepCopy()
			}
		}
		fill(&it.Default, it.Max)
		fill(&it.DefaultRequest, it.Default)
		fill(&it.DefaultRequest, it.Min)
	}
}

func (v *validator) limitRange(lr *LimitRange) {
	v.objectMeta(&lr.ObjectMeta, true, isDNS1123Subdomain)
	seen := map[string]int{}
	for i, it := range lr.Spec.Limits {
		p := fieldPath("spec.limits").index(i)
		switch {
		case it.Type == "":
			v.add(p.child("type"), "required")
		case !containsString(limitTypes, it.Type):
			v.add(p.child("type"), "unsupported value %q: supported values: %s", it.Type, quoteAll(limitTypes))
		default:
			if j, dup := seen[it.Type]; dup {
				v.add(p.child("type"), "duplicate value %q: spec.limits[%d] has the same type", it.Type, j)
			}
			seen[it.Type] = i
		}
		v.limitRangeItem(it, p)
	}
}

func (v *validator) limitRangeItem(it LimitRangeItem, p fieldPath) {
	lists := []struct {
		name string
		l    ResourceList
	}{{"max", it.Max}, {"min", it.Min}, {"default", it.Default}, {"defaultRequest", it.DefaultRequest}, {"maxLimitRequestRatio", it.MaxLimitRequestRatio}}
	for _, list := range lists {
		for _, name := range sortedKeys(list.l) {
			rp := p.child(list.name).key(name)
			if it.Type == LimitTypePersistentVolumeClaim && name != ResourceStorage {
				v.add(rp, "unsupported value %q: a PersistentVolumeClaim limit is on %q only", name, ResourceStorage)
				continue
			}
			if msg := isResourceName(name); msg != "" && it.Type != LimitTypePersistentVolumeClaim {
				v.add(rp, "invalid resource name %q: %s", name, msg)
				continue
			}
			if q := list.l[name]; q.Sign() < 0 {
				v.add(rp, "invalid value %q: must be greater than or equal to 0", q.String())
			}
		}
	}
	if it.Type == LimitTypePod || it.Type == LimitTypePersistentVolumeClaim {
		if len(it.Default) > 0 {
			v.add(p.child("default"), "forbidden: may not be specified when `type` is '%s'", it.Type)
		}
		if len(it.DefaultRequest) > 0 {
			v.add(p.child("defaultRequest"), "forbidden: may not be specified when `type` is '%s'", it.Type)
		}
	}
	if it.Type == LimitTypePersistentVolumeClaim {
		_, hasMin := it.Min[ResourceStorage]
		_, hasMax := it.Max[ResourceStorage]
		if !hasMin && !hasMax {
			v.add(p, "required: either minimum or maximum storage value is required, but neither was provided")
		}
		if len(it.MaxLimitRequestRatio) > 0 {
			v.add(p.child("maxLimitRequestRatio"), "forbidden: may not be specified when `type` is '%s'", it.Type)
		}
	}
	// As Kubernetes words them: min <= defaultRequest <= default <= max,
	// and a ratio of at least 1 that max/min allows.
	for _, name := range sortedKeys(unionKeys(it.Max, it.Min, it.Default, it.DefaultRequest, it.MaxLimitRequestRatio)) {
		minQ, hasMin := it.Min[name]
		maxQ, hasMax := it.Max[name]
		defQ, hasDef := it.Default[name]
		reqQ, hasReq := it.DefaultRequest[name]
		ratio, hasRatio := it.MaxLimitRequestRatio[name]
		if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
			v.add(p.child("min").key(name), "invalid value %q: min value %s is greater than max value %s", minQ.String(), minQ.String(), maxQ.String())
		}
		if hasReq {
			rp := p.child("defaultRequest").key(name)
			if hasMin && minQ.Cmp(reqQ) > 0 {
				v.add(rp, "invalid value %q: min value %s is greater than default request value %s", reqQ.String(), minQ.String(), reqQ.String())
			}
			if hasMax && reqQ.Cmp(maxQ) > 0 {
				v.add(rp, "invalid value %q: default request value %s is greater than max value %s", reqQ.String(), reqQ.String(), maxQ.String())
			}
			if hasDef && reqQ.Cmp(defQ) > 0 {
				v.add(rp, "invalid value %q: default request value %s is greater than default limit value %s", reqQ.String(), reqQ.String(), defQ.String())
			}
		}
		if hasDef {
			dp := p.child("default").key(name)
			if hasMin && minQ.Cmp(defQ) > 0 {
				v.add(dp, "invalid value %q: min value %s is greater than default value %s", defQ.String(), minQ.String(), defQ.String())
			}
			if hasMax && defQ.Cmp(maxQ) > 0 {
				v.add(dp, "invalid value %q: default value %s is greater than max value %s", defQ.String(), defQ.String(), maxQ.String())
			}
		}
		if hasRatio {
			rp := p.child("maxLimitRequestRatio").key(name)
			if ratio.Cmp(resource.MustParse("1")) < 0 {
				v.add(rp, "invalid value %q: ratio %s is less than 1", ratio.String(), ratio.String())
			}
			if hasMin && hasMax && minQ.Sign() > 0 {
				maxRatio := float64(maxQ.MilliValue()) / float64(minQ.MilliValue())
				if float64(ratio.MilliValue())/1000 > maxRatio {
					v.add(rp, "invalid value %q: ratio %s is greater than max/min = %f", ratio.String(), ratio.String(), maxRatio)
				}
			}
		}
	}
}

// quotaObject validates the kinds of this file; false for other kinds.
func (v *validator) quotaObject(o Object) bool {
	switch o := o.(type) {
	case *ResourceQuota:
		v.resourceQuota(o)
	case *LimitRange:
		v.limitRange(o)
	default:
		return false
	}
	return true
}

func unionKeys(lists ...ResourceList) map[string]bool {
	out := map[string]bool{}
	for _, l := range lists {
		for k := range l {
			out[k] = true
		}
	}
	return out
}
