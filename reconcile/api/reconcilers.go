package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PathReconcilerRetire retires a reconciler from the raft group (POST,
// ?successor= optional; forwarded to the leader) → RetireResult: the
// successor is made a voter if it was not one, and the retired reconciler
// loses its vote while it runs (a leader steps down), or leaves the raft
// configuration once it is gone from membership. docs/self-hosting.md.
const PathReconcilerRetire = "/v1/reconcilers/{name}/retire"

// RetireResult says what retiring a reconciler did.
type RetireResult struct {
	// Name is the retired reconciler; Successor the voter that took its
	// place ("" when none was needed: it had no vote).
	Name      string `json:"name"`
	Successor string `json:"successor,omitempty"`
	// Action is "demoted" (it runs on as a non-voter: stop it, then retire
	// it again to remove it), "removed" (gone from the configuration) or
	// "absent" (it was no raft server).
	Action string `json:"action"`
	// Voters are the voters after the change.
	Voters []string `json:"voters"`
}

// Actions of a RetireResult.
const (
	RetireDemoted = "demoted"
	RetireRemoved = "removed"
	RetireAbsent  = "absent"
)

// RetireReconciler retires the reconciler name, handing its vote to
// successor ("" lets the leader pick a live one). A leader that retires
// itself steps down, so the call retries until the next leader answers
// (within ctx).
func (c *Client) RetireReconciler(ctx context.Context, name, successor string) (*RetireResult, error) {
	q := url.Values{}
	if successor != "" {
		q.Set("successor", successor)
	}
	path := strings.Replace(PathReconcilerRetire, "{name}", url.PathEscape(name), 1)
	for {
		var r RetireResult
		err := c.do(ctx, http.MethodPost, path, q, &r)
		if err == nil || !errors.Is(err, ErrUnavailable) {
			if err != nil {
				return nil, err
			}
			return &r, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
