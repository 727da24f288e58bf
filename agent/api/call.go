package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Failure is a non-2xx answer of one of Stevedore's /v1 JSON APIs (the
// agent's or the reconciler's): both answer errors with an Error body.
type Failure struct {
	StatusCode int
	// Code and Message come from the Error body; Message falls back to the
	// body's text when it is not an Error.
	Code    string
	Message string
}

// Call sends one request to base+path (with query q; a non-nil body is sent
// as JSON) and returns the response of a 2xx answer, which the caller
// closes. Any other answer is read, closed and returned as a *Failure; a
// transport error is returned as is.
func Call(ctx context.Context, hc *http.Client, base, method, path string, q url.Values, body io.Reader) (*http.Response, *Failure, error) {
	u := base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to build %s %s request: %w", method, path, err)
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
	f := &Failure{StatusCode: resp.StatusCode}
	var e Error
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		f.Code, f.Message = e.Code, e.Error
	} else {
		f.Message = strings.TrimSpace(string(bytes.ToValidUTF8(b, nil)))
	}
	return nil, f, nil
}
