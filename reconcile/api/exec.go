package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// Exec starts `kubectl exec` in a pod's container through the reconciler
// (which splices the stream to the pod's agent) and returns the frame
// stream of agent/api's ExecProtocol; the caller closes it, which kills a
// process still running. A refusal (pod not found, several containers and
// none named, node not alive) is a *StatusError. With several reconcilers
// it fails over as open does; a follower forwards to the leader.
func (c *Client) Exec(ctx context.Context, o agentapi.ExecOptions) (io.ReadWriteCloser, error) {
	start := int(c.cur.Load())
	var failed []error
	for i := range c.bases {
		idx := (start + i) % len(c.bases)
		rwc, err := agentapi.DialExec(ctx, c.hc, c.bases[idx], PathExec, o.Query(), c.header())
		var f *agentapi.Failure
		switch {
		case err == nil:
			c.cur.Store(int32(idx))
			return rwc, nil
		case errors.As(err, &f):
			if f.StatusCode == http.StatusServiceUnavailable && len(c.bases) > 1 {
				err = newStatusError(f)
				break
			}
			c.cur.Store(int32(idx))
			return nil, c.olderServer(ctx, http.MethodPost, PathExec, newStatusError(f))
		default:
			err = fmt.Errorf("failed to POST %s: %w", PathExec, err)
			if ctx.Err() != nil || len(c.bases) == 1 {
				return nil, err
			}
		}
		failed = append(failed, &unreachable{base: redact(c.bases[idx]), err: err})
	}
	return nil, &allFailed{errs: failed}
}
