package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
)

// httpAgent speaks the agent's /v1 wire protocol (agent/api types).
type httpAgent struct {
	base string
	hc   *http.Client
}

var _ agentClient = (*httpAgent)(nil)

func newHTTPAgent(base string, hc *http.Client) *httpAgent {
	return &httpAgent{base: strings.TrimRight(base, "/"), hc: hc}
}

func (h *httpAgent) Apply(ctx context.Context, set *agentapi.PodSet) error {
	b, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("failed to encode pod set: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, h.base+agentapi.PathPodSet, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("failed to build pod set request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		return fmt.Errorf("failed to put pod set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return agentError(resp)
}

func (h *httpAgent) Watch(ctx context.Context, fn func(*agentapi.PodStatusList)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+agentapi.PathPodsWatch, nil)
	if err != nil {
		return fmt.Errorf("failed to build watch request: %w", err)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return fmt.Errorf("failed to watch pods: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return agentError(resp)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var l agentapi.PodStatusList
		if err := dec.Decode(&l); err != nil {
			if err == io.EOF {
				return fmt.Errorf("failed to watch pods: %w", io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("failed to read pod status stream: %w", err)
		}
		fn(&l)
	}
}

func (h *httpAgent) Logs(ctx context.Context, namespace, pod, container string, tail int) (io.ReadCloser, error) {
	q := url.Values{"namespace": {namespace}, "pod": {pod}}
	if container != "" {
		q.Set("container", container)
	}
	if tail > 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+agentapi.PathLogs+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to build logs request: %w", err)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to get logs: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, agentError(resp)
	}
	return resp.Body, nil
}

// agentStatusError is a non-2xx answer of an agent.
type agentStatusError struct {
	status int
	body   agentapi.Error
}

func (e *agentStatusError) Error() string {
	return fmt.Sprintf("agent answered %d: %s", e.status, e.body.Error)
}

func (e *agentStatusError) Is(target error) bool {
	return target == errStale && (e.status == http.StatusConflict || e.body.Code == "stale")
}

func agentError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &agentStatusError{status: resp.StatusCode}
	if json.Unmarshal(b, &e.body) != nil || e.body.Error == "" {
		e.body.Error = strings.TrimSpace(string(b))
	}
	return e
}
