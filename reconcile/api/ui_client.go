package api

import (
	"context"
	"net/http"
	"net/url"
)

// The client side of ui.go's routes, for ctl (ctl auth, ctl ui, get -l)
// and tests.

// WhoAmI returns the caller as the reconciler authenticated it.
func (c *Client) WhoAmI(ctx context.Context) (*WhoAmI, error) {
	var w WhoAmI
	if err := c.do(ctx, http.MethodGet, PathWhoAmI, nil, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// ReviewAccess asks whether the caller may do each of checks; the answer
// has their Allowed and Reason filled in, in the same order.
func (c *Client) ReviewAccess(ctx context.Context, checks []AccessCheck) ([]AccessCheck, error) {
	var out AccessReview
	if err := c.doBody(ctx, http.MethodPost, PathAccessReview, nil, AccessReview{Checks: checks}, &out); err != nil {
		return nil, err
	}
	return out.Checks, nil
}

// ApplicationCommits lists the commits of an application's branch that
// are not applied.
func (c *Client) ApplicationCommits(ctx context.Context, name string) (*CommitList, error) {
	var l CommitList
	if err := c.do(ctx, http.MethodGet, ApplicationCommitsPath(name), nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// ListFilter is the server-side filters of a list or watch (ui.go's
// Query* parameters); the zero value filters nothing.
type ListFilter struct {
	Namespace     string
	Q             string
	LabelSelector string
	FieldSelector string
	// Type keeps the events of one type (Normal or Warning).
	Type string
	// Summary asks pods in ViewSummary.
	Summary bool
}

// Values returns f as query parameters.
func (f ListFilter) Values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("namespace", f.Namespace)
	set(QueryFilter, f.Q)
	set(QueryLabelSelector, f.LabelSelector)
	set(QueryFieldSelector, f.FieldSelector)
	set(QueryEventType, f.Type)
	if f.Summary {
		q.Set(QueryView, ViewSummary)
	}
	return q
}

// PodsFiltered lists the pods f selects.
func (c *Client) PodsFiltered(ctx context.Context, f ListFilter) ([]Pod, error) {
	var l PodList
	err := c.do(ctx, http.MethodGet, PathPods, f.Values(), &l)
	return l.Pods, err
}

// DeploymentsFiltered lists the workloads f selects.
func (c *Client) DeploymentsFiltered(ctx context.Context, f ListFilter) ([]Workload, error) {
	var l WorkloadList
	err := c.do(ctx, http.MethodGet, PathDeployments, f.Values(), &l)
	return l.Workloads, err
}

// WatchFiltered opens a watch of path (PathPods, PathDeployments,
// PathEvents, PathApplications) with f's filters. Bound it with ctx, and
// Close it.
func (c *Client) WatchFiltered(ctx context.Context, path string, f ListFilter) (*WatchStream, error) {
	return c.watch(ctx, path, f.Values())
}
