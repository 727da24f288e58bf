package server

import (
	"github.com/stevedore-dev/stevedore/policy/quota"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// namespaceAccounting fills, in the namespace list of GET /v1/namespaces,
// each namespace's labels, annotations, ResourceQuotas with what the
// desired state set uses of them, and LimitRanges.
func (s *Server) namespaceAccounting(set *spec.Set, out []api.Namespace) {
	if set == nil {
		return
	}
	quotas := quota.Quotas(set)
	var usage map[string]quota.Usage
	if len(quotas) > 0 {
		usage = quota.NamespaceUsage(set, quota.Options{Nodes: s.admissionNodes()})
	}
	limits := map[string][]*spec.LimitRange{}
	for _, o := range set.OfKind(spec.KindLimitRange) {
		lr := o.(*spec.LimitRange)
		limits[lr.Namespace] = append(limits[lr.Namespace], lr)
	}
	for i := range out {
		n := &out[i]
		if o, ok := set.Objects[spec.ObjectKey{Kind: spec.KindNamespace, Name: n.Name}]; ok {
			m := o.GetObjectMeta()
			n.Labels, n.Annotations = m.Labels, m.Annotations
		}
		for _, q := range quotas[n.Name] {
			nq := api.NamespaceQuota{Name: q.Name, Hard: q.Spec.Hard, Used: spec.ResourceList{}}
			for r := range q.Spec.Hard {
				nq.Used[r] = usage[n.Name].Get(r)
			}
			n.Quotas = append(n.Quotas, nq)
		}
		for _, lr := range limits[n.Name] {
			n.LimitRanges = append(n.LimitRanges, api.NamespaceLimitRange{Name: lr.Name, Limits: lr.Spec.Limits})
		}
	}
}
