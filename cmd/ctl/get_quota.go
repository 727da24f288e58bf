package main

import (
	"context"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// ResourceQuotas and LimitRanges: ctl get quota|limits, from the namespace
// view (GET /v1/namespaces), which has each quota's usage.

// Resource types of this file (see resources in getcmd.go).
const (
	resQuotas      = "resourcequotas"
	resLimitRanges = "limitranges"
)

// quotaResource maps kubectl's names of these kinds to a resource type, or
// "".
func quotaResource(s string) string {
	switch s {
	case "resourcequota", "resourcequotas", "quota":
		return resQuotas
	case "limitrange", "limitranges", "limits":
		return resLimitRanges
	}
	return ""
}

// quotaKinds are the kinds of these resource types' tables.
var quotaKinds = map[string]string{resQuotas: spec.KindResourceQuota, resLimitRanges: spec.KindLimitRange}

// quotaRow and limitRangeRow are the wire values of these items.
type quotaRow struct {
	namespace string
	api.NamespaceQuota
}

type limitRangeRow struct {
	namespace string
	api.NamespaceLimitRange
}

func (fe *fetcher) fetchQuotas(ctx context.Context, res string) ([]*item, error) {
	nss, err := fe.cl.Namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var items []*item
	for _, n := range nss {
		if fe.ns != "" && n.Name != fe.ns {
			continue
		}
		switch res {
		case resQuotas:
			for _, q := range n.Quotas {
				m := map[string]any{"name": q.Name, "namespace": n.Name}
				items = append(items, &item{kind: spec.KindResourceQuota, namespace: n.Name, name: q.Name, wire: quotaRow{n.Name, q},
					kube: map[string]any{"apiVersion": spec.CoreV1, "kind": spec.KindResourceQuota, "metadata": m,
						"spec": map[string]any{"hard": q.Hard}, "status": map[string]any{"hard": q.Hard, "used": q.Used}},
					fields: fields.Set{"metadata.name": q.Name, "metadata.namespace": n.Name}})
			}
		case resLimitRanges:
			for _, lr := range n.LimitRanges {
				m := map[string]any{"name": lr.Name, "namespace": n.Name}
				items = append(items, &item{kind: spec.KindLimitRange, namespace: n.Name, name: lr.Name, wire: limitRangeRow{n.Name, lr},
					kube: map[string]any{"apiVersion": spec.CoreV1, "kind": spec.KindLimitRange, "metadata": m,
						"spec": map[string]any{"limits": lr.Limits}},
					fields: fields.Set{"metadata.name": lr.Name, "metadata.namespace": n.Name}})
			}
		}
	}
	return items, nil
}

// quotaHeader is kubectl's header of these kinds (nil for another kind).
func quotaHeader(kind string) []string {
	switch kind {
	case spec.KindResourceQuota:
		return []string{"NAME", "REQUEST", "LIMIT"}
	case spec.KindLimitRange:
		return []string{"NAME", "TYPES"}
	}
	return nil
}

// quotaTableRow is the row of a quota or LimitRange item, as kubectl
// prints it: "pods: 2/3, requests.cpu: 200m/1" under REQUEST, the limits.*
// resources under LIMIT.
func quotaTableRow(name string, wire any) ([]string, bool) {
	switch w := wire.(type) {
	case quotaRow:
		var req, lim []string
		names := make([]string, 0, len(w.Hard))
		for r := range w.Hard {
			names = append(names, r)
		}
		sort.Strings(names)
		for _, r := range names {
			used, hard := w.Used[r], w.Hard[r]
			s := r + ": " + used.String() + "/" + hard.String()
			if strings.HasPrefix(r, "limits.") {
				lim = append(lim, s)
			} else {
				req = append(req, s)
			}
		}
		return []string{name, strings.Join(req, ", "), strings.Join(lim, ", ")}, true
	case limitRangeRow:
		var types []string
		for _, it := range w.Limits {
			types = append(types, it.Type)
		}
		return []string{name, strings.Join(types, ",")}, true
	}
	return nil, false
}
