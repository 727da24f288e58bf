package api

import (
	"context"
	"net/http"
	"strconv"
)

// Paging of GET PathPods, as Kubernetes pages a list ("Retrieving large
// results sets in chunks"): QueryLimit bounds the pods of one answer, and
// an answer that stopped short carries PodList.Continue, which the next
// request passes back as QueryContinue. At 150,000 pods a whole list is
// about 150 MB of JSON in one answer; pages of 500 keep each answer, and
// the memory both ends hold for it, small.
const (
	// QueryLimit is the most pods one answer holds (a positive integer;
	// absent or 0: all). Filters apply first: it counts the pods that
	// match.
	QueryLimit = "limit"
	// QueryContinue is the PodList.Continue of the previous page.
	QueryContinue = "continue"
)

// PageOptions selects one page of a list.
type PageOptions struct {
	// Limit is QueryLimit; 0 asks for every remaining pod.
	Limit int64
	// Continue is the previous page's PodList.Continue; "" starts at the
	// first pod.
	Continue string
}

// PodsPage lists one page of the pods f selects. A reconciler that does
// not page answers every pod, without Continue, which a caller walking the
// pages takes as the last page.
func (c *Client) PodsPage(ctx context.Context, f ListFilter, o PageOptions) (*PodList, error) {
	q := f.Values()
	if o.Limit > 0 {
		q.Set(QueryLimit, strconv.FormatInt(o.Limit, 10))
	}
	if o.Continue != "" {
		q.Set(QueryContinue, o.Continue)
	}
	var l PodList
	if err := c.do(ctx, http.MethodGet, PathPods, q, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// EachPodsPage walks the pods f selects in pages of limit (0: one page of
// all), calling fn with each page in order until the last or fn's error.
// Pages are read one at a time, as fn consumes them. When the leader
// published a new view between two pages, the walk goes on in the new one
// from the last pod it was given (PodList.ResourceVersion then changes):
// no pod is given twice, but pods that changed meanwhile are seen as
// whichever view was read, as with Kubernetes' inconsistent continuation.
func (c *Client) EachPodsPage(ctx context.Context, f ListFilter, limit int64, fn func(*PodList) error) error {
	o := PageOptions{Limit: limit}
	for {
		l, err := c.PodsPage(ctx, f, o)
		if err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
		if l.Continue == "" || limit <= 0 {
			return nil
		}
		o.Continue = l.Continue
	}
}

// PodsAll lists every pod f selects, read in pages of limit (0: in one
// answer).
func (c *Client) PodsAll(ctx context.Context, f ListFilter, limit int64) ([]Pod, error) {
	var out []Pod
	err := c.EachPodsPage(ctx, f, limit, func(l *PodList) error {
		out = append(out, l.Pods...)
		return nil
	})
	return out, err
}
