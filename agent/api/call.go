package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Failure is a non-2xx answer of one of Stevedore's /v1 JSON APIs (the
// agent's or the reconciler's; both answer errors with an Error body): an
// *errs.Error, which matches its category with errors.Is (ErrStale,
// ErrNotFound) and errdefs.IsX, and carries the body's extra fields.
type Failure = errs.Error

// Call sends one request to base+path (with query q; a non-nil body is sent
// as JSON) and returns the response of a 2xx answer, which the caller
// closes. Any other answer is read, closed and returned as a *Failure; a
// transport error is returned as is.
func Call(ctx context.Context, hc *http.Client, base, method, path string, q url.Values, body io.Reader) (*http.Response, *Failure, error) {
	return CallHeader(ctx, hc, base, method, path, q, body, nil)
}

// CallHeader is Call with hdr's fields added to the request (the
// protocol an agent is spoken to in, a client's version).
func CallHeader(ctx context.Context, hc *http.Client, base, method, path string, q url.Values, body io.Reader, hdr http.Header) (*http.Response, *Failure, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to build %s %s request: %w", method, path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, errs.FromHTTP(resp.StatusCode, b), nil
}
