package api

import (
	"context"
	"net/http"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Leases (docs/leases.md) are defined in agent/api, the leaf both the
// reconciler and the agents import: an agent asks the reconciler's lease
// API on behalf of its pods.
type (
	Lease        = agentapi.Lease
	LeaseSpec    = agentapi.LeaseSpec
	LeaseList    = agentapi.LeaseList
	LeaseRequest = agentapi.LeaseRequest
)

// Paths of the lease API.
const (
	PathLeases = agentapi.PathLeases
	PathLease  = agentapi.PathLease
)

// Leases returns the leases of namespace ("" for all).
func (c *Client) Leases(ctx context.Context, namespace string) ([]Lease, error) {
	var l LeaseList
	err := c.do(ctx, http.MethodGet, PathLeases, nsQuery(namespace), &l)
	return l.Leases, err
}

// Lease returns one lease; an unknown one is an error matching
// ErrNotFound.
func (c *Client) Lease(ctx context.Context, namespace, name string) (*Lease, error) {
	var l Lease
	if err := c.do(ctx, http.MethodGet, agentapi.LeasePath(namespace, name), nil, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// PutLease acquires, renews or releases a lease (see LeaseRequest). A
// lease another holds is an error matching ErrConflict whose "lease"
// field (StatusError.Field) is the current lease.
func (c *Client) PutLease(ctx context.Context, namespace, name string, req LeaseRequest) (*Lease, error) {
	var l Lease
	if err := c.doBody(ctx, http.MethodPut, agentapi.LeasePath(namespace, name), nil, req, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// DeleteLease removes a lease.
func (c *Client) DeleteLease(ctx context.Context, namespace, name string) error {
	return c.do(ctx, http.MethodDelete, agentapi.LeasePath(namespace, name), nil, nil)
}
