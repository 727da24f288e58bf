package server

import (
	"context"
	"io"
	"net/http"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// agentAPI adapts agent/api.Client to agentClient.
type agentAPI struct {
	c *agentapi.Client
}

var _ agentClient = agentAPI{}

// newAgentAPI returns a client that speaks protocol proto to the agent at
// base (zero: no header, protocol 1).
func newAgentAPI(base string, proto int, hc *http.Client) agentAPI {
	c := agentapi.NewClient(base, hc)
	c.Protocol = proto
	return agentAPI{c: c}
}

func (a agentAPI) Apply(ctx context.Context, set *agentapi.PodSet) error {
	_, err := a.c.Apply(ctx, *set)
	return err
}

func (a agentAPI) Watch(ctx context.Context, epoch string, after uint64, fn func(*agentapi.PodStatusList)) error {
	return a.c.WatchFrom(ctx, epoch, after, func(l agentapi.PodStatusList) { fn(&l) })
}

func (a agentAPI) PodSet(ctx context.Context) (*agentapi.PodSet, error) {
	return a.c.PodSet(ctx)
}

func (a agentAPI) Logs(ctx context.Context, namespace, pod string, o agentapi.LogOptions) (io.ReadCloser, error) {
	return a.c.Logs(ctx, namespace, pod, o)
}
