package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Paging of GET /v1/pods (api.QueryLimit, api.QueryContinue), as
// Kubernetes pages lists. A page starts after the last pod of the one
// before, found by binary search in the view's sorted pods: a page costs
// O(log pods + what it holds), plus, with filters, the pods it reads past
// to find its matches (Kubernetes' apiserver reads past them too).
//
// Kubernetes answers 410 Gone to a continue token whose snapshot etcd has
// compacted (after 5 minutes). The leader keeps no view but the current
// one, and publishes one after every plan: under churn a token would
// expire between two pages of a walk, and `ctl get pods -A` at 150,000
// pods (300 pages) would never finish. So a token from an older view
// continues in the current one, after the token's last pod, as
// Kubernetes' inconsistent continuation does: pods come in order, no pod
// twice, and the pages may show two instants. The answer's
// resourceVersion says so (it names the view's pods, not the token's).

// pageToken is what a continue token holds, as base64 JSON.
type pageToken struct {
	// RV is the resourceVersion of the page the token was cut from.
	RV string `json:"rv"`
	// The last pod of that page: the next page starts after it.
	Namespace   string `json:"ns"`
	Name        string `json:"name"`
	Terminating bool   `json:"term,omitempty"`
	UID         string `json:"uid"`
}

func (t pageToken) encode() string {
	b, _ := json.Marshal(t) // strings and a bool: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageRequest is a list request's paging; the zero value lists all.
type pageRequest struct {
	limit int // 0: no limit
	after *pageToken
}

func (p pageRequest) paged() bool { return p.limit > 0 || p.after != nil }

// parsePage reads limit and continue; a malformed one is a 400 naming it.
func parsePage(q url.Values) (pageRequest, error) {
	var p pageRequest
	if s := q.Get(api.QueryLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return p, errInvalid(fmt.Sprintf("%s=%q: want a non-negative integer (0: no limit)", api.QueryLimit, s))
		}
		p.limit = n
	}
	if s := q.Get(api.QueryContinue); s != "" {
		var t pageToken
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err == nil {
			err = json.Unmarshal(b, &t)
		}
		if err != nil || t.Name == "" {
			return p, errInvalid(fmt.Sprintf("%s: not a continue token of this list (pass back the continue of the previous page)", api.QueryContinue))
		}
		p.after = &t
	}
	return p, nil
}

// comparePodKey orders p against a token's last pod as the view orders its
// pods (reconcile's compareViews): namespace, name, a terminating
// incarnation before the current one, UID.
func comparePodKey(p *reconcile.PodView, t *pageToken) int {
	if c := strings.Compare(p.Namespace, t.Namespace); c != 0 {
		return c
	}
	if c := strings.Compare(p.Name, t.Name); c != 0 {
		return c
	}
	if pt := p.Terminating(); pt != t.Terminating {
		if pt {
			return -1
		}
		return 1
	}
	return strings.Compare(p.UID, t.UID)
}

// podRange returns the positions [lo, hi) of namespace's pods in the
// sorted views ("" for all).
func podRange(views []reconcile.PodView, namespace string) (lo, hi int) {
	if namespace == "" {
		return 0, len(views)
	}
	lo = sort.Search(len(views), func(i int) bool { return views[i].Namespace >= namespace })
	hi = lo + sort.Search(len(views)-lo, func(i int) bool { return views[lo+i].Namespace > namespace })
	return lo, hi
}

// podsVersion is the resourceVersion of v's pods: the term's token and
// the sequence of the view that first published them.
func (v *view) podsVersion() string {
	return strconv.FormatUint(v.token, 10) + "." + strconv.FormatUint(v.podsSeq, 10)
}

// podPage is the answer to a paged list of v's pods in namespace ("" for
// all) that f selects.
func (v *view) podPage(namespace string, f *listFilter, p pageRequest) api.PodList {
	out := api.PodList{Pods: []api.Pod{}, ResourceVersion: v.podsVersion()}
	lo, hi := podRange(v.views, namespace)
	start := lo
	if t := p.after; t != nil {
		start = lo + sort.Search(hi-lo, func(i int) bool { return comparePodKey(&v.views[lo+i], t) > 0 })
	}
	unfiltered := f.unfiltered()
	if p.limit > 0 && unfiltered {
		out.Pods = make([]api.Pod, 0, min(p.limit, hi-start))
	}
	i := start
	for ; i < hi; i++ {
		pv := &v.views[i]
		if !f.pod(pv) {
			continue
		}
		if p.limit > 0 && len(out.Pods) == p.limit {
			break // i is a match past the page: there is a next one
		}
		wp := wirePod(*pv)
		if f.summary {
			wp = summaryPod(wp)
		}
		out.Pods = append(out.Pods, wp)
	}
	if i < hi {
		last := &out.Pods[len(out.Pods)-1]
		out.Continue = pageToken{RV: out.ResourceVersion, Namespace: last.Namespace, Name: last.Name, Terminating: last.Terminating(), UID: last.UID}.encode()
		if unfiltered {
			n := int64(hi - i)
			out.RemainingItemCount = &n
		}
	}
	return out
}

// unfiltered reports whether f keeps every pod (a view changes no pod's
// presence): the pods after a page can then be counted without reading
// them.
func (f *listFilter) unfiltered() bool {
	return f.q == "" && f.labels == nil && len(f.podFields) == 0
}
