package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"

	"github.com/stevedore-dev/stevedore/reconcile"
)

// StatusError is a non-2xx answer from the reconciler.
type StatusError struct {
	StatusCode int
	// Code is the Error.Code of the body, when it had one.
	Code    string
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("reconciler answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("reconciler answered %d: %s", e.StatusCode, e.Message)
}

// ErrNotFound matches (errors.Is) a StatusError with status 404.
var ErrNotFound = errors.New("not found")

// Is lets errors.Is(err, ErrNotFound) match a 404.
func (e *StatusError) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}

// Client talks to one reconciler. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client for the reconciler at baseURL
// ("http://127.0.0.1:7070"). hc nil uses a client with no overall timeout:
// bound calls with their context.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("failed to parse server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("failed to parse server URL %q: scheme must be http or https", baseURL)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}, nil
}

// BaseURL returns the reconciler's URL.
func (c *Client) BaseURL() string { return c.base }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	return c.doBody(ctx, method, path, q, nil, out)
}

// doBody is do with a JSON request body (nil: none).
func (c *Client) doBody(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("failed to encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	resp, err := c.open(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("failed to decode %s %s: %w", method, path, err)
	}
	return nil
}

// open sends a request and returns the response of a 2xx answer; any other
// status becomes a *StatusError.
func (c *Client) open(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	resp, f, err := agentapi.Call(ctx, c.hc, c.base, method, path, q, body)
	if err != nil {
		return nil, fmt.Errorf("failed to %s %s: %w", method, path, err)
	}
	if f != nil {
		return nil, &StatusError{StatusCode: f.StatusCode, Code: f.Code, Message: f.Message}
	}
	return resp, nil
}

// Status returns the sync state.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// Pods lists the desired pods; namespace "" lists all.
func (c *Client) Pods(ctx context.Context, namespace string) ([]Pod, error) {
	var l PodList
	err := c.do(ctx, http.MethodGet, PathPods, nsQuery(namespace), &l)
	return l.Pods, err
}

// Deployments lists Deployments and ReplicationControllers; namespace ""
// lists all.
func (c *Client) Deployments(ctx context.Context, namespace string) ([]Workload, error) {
	var l WorkloadList
	err := c.do(ctx, http.MethodGet, PathDeployments, nsQuery(namespace), &l)
	return l.Workloads, err
}

// Nodes lists the agents membership knows.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var l NodeList
	err := c.do(ctx, http.MethodGet, PathNodes, nil, &l)
	return l.Nodes, err
}

// Namespaces lists the applied revision's namespaces.
func (c *Client) Namespaces(ctx context.Context) ([]Namespace, error) {
	var l NamespaceList
	err := c.do(ctx, http.MethodGet, PathNamespaces, nil, &l)
	return l.Namespaces, err
}

// Revision returns the applied revision with its files.
func (c *Client) Revision(ctx context.Context) (*Revision, error) {
	var r Revision
	return &r, c.do(ctx, http.MethodGet, PathRevision, nil, &r)
}

// Diff fetches the branch head at the reconciler and returns what syncing it
// would change.
func (c *Client) Diff(ctx context.Context) (*DiffResult, error) {
	var r DiffResult
	return &r, c.do(ctx, http.MethodGet, PathDiff, nil, &r)
}

// DiffFiles sends a revision's files (path → contents, as spec.Load takes
// them) and returns what syncing them would change, with placements. Files
// that fail to load come back in DiffResult.Error.
func (c *Client) DiffFiles(ctx context.Context, files map[string][]byte) (*DiffResult, error) {
	var r DiffResult
	return &r, c.doBody(ctx, http.MethodPost, PathDiff, nil, DiffRequest{Files: files}, &r)
}

// PodPath is the path of one pod's description.
func PodPath(namespace, name string) string {
	return PathPods + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(name)
}

// DescribePod returns a pod with its events and, while it has no node, the
// scheduler's explanation. An unknown pod is an error matching ErrNotFound.
func (c *Client) DescribePod(ctx context.Context, namespace, name string) (*PodDescription, error) {
	var d PodDescription
	return &d, c.do(ctx, http.MethodGet, PodPath(namespace, name), nil, &d)
}

// Sync triggers a sync. With wait, it returns once a fetch, load and plan
// that started after the call have finished, with their result.
func (c *Client) Sync(ctx context.Context, wait bool) (*SyncResult, error) {
	var q url.Values
	if wait {
		q = url.Values{"wait": {"1"}}
	}
	var r SyncResult
	return &r, c.do(ctx, http.MethodPost, PathSync, q, &r)
}

// Events returns the reconciler's recent events, oldest first.
func (c *Client) Events(ctx context.Context) ([]reconcile.Event, error) {
	var l EventList
	err := c.do(ctx, http.MethodGet, PathEvents, nil, &l)
	return l.Events, err
}

// LogsOptions selects a container's log.
type LogsOptions struct {
	Namespace string
	Pod       string
	// Container may be empty for a single-container pod.
	Container string
	// Tail, when positive, returns only the last Tail lines.
	Tail int
}

// Logs streams a container's log, proxied through the pod's agent. The
// caller closes the reader.
func (c *Client) Logs(ctx context.Context, o LogsOptions) (io.ReadCloser, error) {
	q := url.Values{"pod": {o.Pod}}
	if o.Namespace != "" {
		q.Set("namespace", o.Namespace)
	}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Tail > 0 {
		q.Set("tail", strconv.Itoa(o.Tail))
	}
	resp, err := c.open(ctx, http.MethodGet, PathLogs, q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// WaitFor polls Pods every interval until done returns true, ctx ends, or
// the deadline passes; it returns the last list seen.
func (c *Client) WaitFor(ctx context.Context, namespace string, interval time.Duration, done func([]Pod) bool) ([]Pod, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pods, err := c.Pods(ctx, namespace)
		if err == nil && done(pods) {
			return pods, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return pods, fmt.Errorf("failed to wait for pods: %w", err)
		case <-t.C:
		}
	}
}

func nsQuery(ns string) url.Values {
	if ns == "" {
		return nil
	}
	return url.Values{"namespace": {ns}}
}
