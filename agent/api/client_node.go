package api

import (
	"context"
	"net/http"
)

// Stats returns the agent's latest stats sample (GET /v1/stats).
func (c *Client) Stats(ctx context.Context) (NodeStats, error) {
	var ns NodeStats
	err := c.do(ctx, http.MethodGet, PathStats, nil, nil, &ns)
	return ns, err
}

// NodeStatus returns the node's conditions, capacity and images (GET
// /v1/node).
func (c *Client) NodeStatus(ctx context.Context) (NodeStatus, error) {
	var st NodeStatus
	err := c.do(ctx, http.MethodGet, PathNode, nil, nil, &st)
	return st, err
}
