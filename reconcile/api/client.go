package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Sentinel errors of the Client, from Stevedore's one error vocabulary
// (internal/errs, built on containerd/errdefs): match them with errors.Is,
// or the categories with errdefs.IsNotFound and the like.
var (
	// ErrNotFound: an unknown pod, node or path (404, code "not_found").
	ErrNotFound = errs.ErrNotFound
	// ErrInvalid: a request the reconciler refused as malformed (400,
	// code "invalid").
	ErrInvalid = errs.ErrInvalid
	// ErrUnavailable: the reconciler, its leader or a peer it needs could
	// not serve the request now; retrying later may succeed (503 or 502,
	// code "unavailable").
	ErrUnavailable = errs.ErrUnavailable
)

// StatusError is a non-2xx answer from the reconciler. It unwraps to the
// *errs.Error that internal/errs.FromHTTP read from the answer, and so to
// the category of its code (or, without a code, of its status): errors.Is
// matches ErrNotFound, ErrInvalid, ErrUnavailable, and errdefs.IsX works.
type StatusError struct {
	StatusCode int
	// Code is the Error.Code of the body, when it had one.
	Code    string
	Message string
	// cause is the answer as internal/errs read it; nil for a StatusError
	// built by hand, which then unwraps to its category alone.
	cause *errs.Error
}

// newStatusError wraps an answer errs.FromHTTP read.
func newStatusError(f *errs.Error) *StatusError {
	return &StatusError{StatusCode: f.StatusCode, Code: f.Code, Message: f.Message, cause: f}
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("reconciler answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("reconciler answered %d: %s", e.StatusCode, e.Message)
}

// Unwrap returns the answer as internal/errs reads it, which unwraps in
// turn to its category's sentinel.
func (e *StatusError) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return errs.ToNative(e.StatusCode, e.Code)
}

// Client talks to the reconcilers of one cluster (one, or the 3 or 5 of a
// highly available control plane: any of them answers reads and forwards
// writes to the leader). It is safe for concurrent use.
type Client struct {
	bases []string
	hc    *http.Client
	// cur indexes the base that answered last: requests try it first.
	cur atomic.Int32
	// userAgent and release are SetUserAgent's (version.go);
	// serverVersion is the last answer's HeaderServerVersion.
	userAgent, release string
	serverVersion      atomic.Pointer[string]
}

// dialTimeout bounds the connection to one reconciler when the Client
// tries several and owns its http.Client: a host that is down and silent
// must not use up the caller's whole deadline before the next one is tried.
const dialTimeout = 5 * time.Second

// NewClient returns a client for the reconciler at baseURL
// ("http://127.0.0.1:7070"), or for several given as a comma-separated list
// ("http://10.0.0.1:7070,http://10.0.0.2:7070"). A request goes to the
// reconciler that answered last (at first, the first of the list); when it
// cannot be reached (a transport error other than the context's own end) or
// answers 503 (unavailable: shutting down, no leader to forward to), the
// next one is tried, in list order. Any other answer, 404 or 400 included,
// is the answer. hc nil uses a client with no overall timeout: bound calls
// with their context.
func NewClient(baseURL string, hc *http.Client) (*Client, error) {
	var bases []string
	for _, b := range strings.Split(baseURL, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			return nil, fmt.Errorf("failed to parse server URL %q: empty URL in the list", baseURL)
		}
		u, err := url.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("failed to parse server URL %q: %w", b, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("failed to parse server URL %q: scheme must be http or https", u.Redacted())
		}
		bases = append(bases, strings.TrimRight(b, "/"))
	}
	if hc == nil {
		hc = &http.Client{}
		if len(bases) > 1 {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
			hc.Transport = tr
		}
	}
	return &Client{bases: bases, hc: hc}, nil
}

// BaseURL returns the URL of the reconciler that answered the last request
// (before any request, the first of the list).
func (c *Client) BaseURL() string { return c.bases[c.cur.Load()] }

// BaseURLs returns every reconciler URL the client knows, in list order.
func (c *Client) BaseURLs() []string { return slices.Clone(c.bases) }

func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	return c.doBody(ctx, method, path, q, nil, out)
}

// doBody is do with a JSON request body (nil: none).
func (c *Client) doBody(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("failed to encode %s %s: %w", method, path, err)
		}
		body = b
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
// status becomes a *StatusError. With several reconcilers it fails over as
// NewClient says; body (nil: none) is sent again to each one tried.
func (c *Client) open(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	start := int(c.cur.Load())
	var failed []error
	for i := range c.bases {
		idx := (start + i) % len(c.bases)
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		resp, f, err := agentapi.CallHeader(ctx, c.hc, c.bases[idx], method, path, q, r, c.header())
		switch {
		case err != nil:
			err = fmt.Errorf("failed to %s %s: %w", method, path, err)
			if ctx.Err() != nil || len(c.bases) == 1 {
				return nil, err
			}
		case f != nil && f.StatusCode == http.StatusServiceUnavailable && len(c.bases) > 1:
			err = newStatusError(f)
		default:
			// An answer: this reconciler is the one to ask next time.
			c.cur.Store(int32(idx))
			if f != nil {
				return nil, c.olderServer(ctx, method, path, newStatusError(f))
			}
			c.answered(resp.Header)
			return resp, nil
		}
		failed = append(failed, &unreachable{base: redact(c.bases[idx]), err: err})
	}
	return nil, &allFailed{errs: failed}
}

// unreachable is one reconciler's failure during a fail-over.
type unreachable struct {
	base string
	err  error
}

func (e *unreachable) Error() string { return e.base + ": " + e.err.Error() }
func (e *unreachable) Unwrap() error { return e.err }

// allFailed is the error when no reconciler of the list answered: each
// one's failure, in the order they were tried. errors.As finds a
// *StatusError among them.
type allFailed struct{ errs []error }

func (e *allFailed) Error() string {
	parts := make([]string, len(e.errs))
	for i, err := range e.errs {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("no reconciler of %d answered: %s", len(e.errs), strings.Join(parts, "; "))
}

func (e *allFailed) Unwrap() []error { return e.errs }

// redact strips a password from a base URL before it is printed.
func redact(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Redacted()
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

// RolloutHistory returns a Deployment's revisions, oldest first.
func (c *Client) RolloutHistory(ctx context.Context, namespace, name string) ([]DeploymentRevision, error) {
	var l RevisionList
	err := c.do(ctx, http.MethodGet, RolloutHistoryPath(namespace, name), nil, &l)
	return l.Revisions, err
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

// Cordon marks a node unschedulable: no new pod is placed on it, and the
// pods it runs stay. An unknown node is an error matching ErrNotFound.
func (c *Client) Cordon(ctx context.Context, node string) (*Node, error) {
	return c.nodeAction(ctx, PathNodeCordon, node)
}

// Uncordon makes a cordoned or drained node schedulable again.
func (c *Client) Uncordon(ctx context.Context, node string) (*Node, error) {
	return c.nodeAction(ctx, PathNodeUncordon, node)
}

// Drain cordons a node and evicts its pods, which are placed again
// elsewhere.
func (c *Client) Drain(ctx context.Context, node string) (*Node, error) {
	return c.nodeAction(ctx, PathNodeDrain, node)
}

func (c *Client) nodeAction(ctx context.Context, pattern, node string) (*Node, error) {
	var n Node
	if err := c.do(ctx, http.MethodPost, NodePath(pattern, node), nil, &n); err != nil {
		return nil, err
	}
	return &n, nil
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

// PodDeletion is what DELETE PathPod answers: the incarnation deleted.
type PodDeletion struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// UID is the incarnation deleted; the pod's owner (Git) still asks
	// for it, so it comes back as a new incarnation.
	UID string `json:"uid"`
}

// DeletePod deletes a pod's current incarnation, as kubectl delete pod
// does: its containers stop and, since Git still declares the pod (or its
// workload), it is re-created under the same name with a new UID (a
// StatefulSet ordinal keeps its claims; an OnDelete workload's pod takes
// the current template). An unknown pod is an error matching ErrNotFound.
func (c *Client) DeletePod(ctx context.Context, namespace, name string) (*PodDeletion, error) {
	var d PodDeletion
	return &d, c.do(ctx, http.MethodDelete, PodPath(namespace, name), nil, &d)
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
func (c *Client) Events(ctx context.Context) ([]Event, error) {
	return c.EventsIn(ctx, "", "")
}

// EventsIn returns the recent events in namespace ("" for all; a
// cluster-level object's are in "default") about object ("" for any; see
// EventAbout), by last occurrence, oldest first.
func (c *Client) EventsIn(ctx context.Context, namespace, object string) ([]Event, error) {
	var l EventList
	err := c.do(ctx, http.MethodGet, PathEvents, eventsQuery(namespace, object), &l)
	return l.Events, err
}

// WatchEvents watches the events EventsIn lists: an ADDED event for each
// one, then ADDED for a new one, MODIFIED for one whose Count a repeat
// bumped, DELETED for one dropped from the reconciler's bounded list.
func (c *Client) WatchEvents(ctx context.Context, namespace, object string) (*WatchStream, error) {
	q := eventsQuery(namespace, object)
	if q == nil {
		q = url.Values{}
	}
	return c.watch(ctx, PathEvents, q)
}

func eventsQuery(namespace, object string) url.Values {
	q := nsQuery(namespace)
	if object != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set(QueryObject, object)
	}
	return q
}

// LogsOptions selects a pod's container log and what of it: the agent's
// options (kubectl logs' flags; agent/api.LogOptions documents each).
type LogsOptions struct {
	Namespace string
	Pod       string
	agentapi.LogOptions
}

// Logs streams a container's log, proxied through the pod's agent. The
// caller closes the reader (which ends a Follow).
func (c *Client) Logs(ctx context.Context, o LogsOptions) (io.ReadCloser, error) {
	q := o.LogOptions.Values()
	q.Set("pod", o.Pod)
	if o.Namespace != "" {
		q.Set("namespace", o.Namespace)
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

// WatchStream reads the events of one watch (see WatchEvent).
type WatchStream struct {
	body io.ReadCloser
	dec  *json.Decoder
}

// Watch opens a watch of path (PathPods, PathDeployments or PathNodes) in
// namespace ("" for all). Bound it with ctx, and Close it.
func (c *Client) Watch(ctx context.Context, path, namespace string) (*WatchStream, error) {
	q := nsQuery(namespace)
	if q == nil {
		q = url.Values{}
	}
	return c.watch(ctx, path, q)
}

func (c *Client) watch(ctx context.Context, path string, q url.Values) (*WatchStream, error) {
	q.Set(QueryWatch, "1")
	resp, err := c.open(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return nil, err
	}
	return &WatchStream{body: resp.Body, dec: json.NewDecoder(resp.Body)}, nil
}

// Next returns the next event; io.EOF when the reconciler ended the stream.
func (s *WatchStream) Next() (WatchEvent, error) {
	var ev WatchEvent
	if err := s.dec.Decode(&ev); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return WatchEvent{}, err
	}
	return ev, nil
}

// Close ends the stream.
func (s *WatchStream) Close() error { return s.body.Close() }

// Applications lists the applications, the bootstrap application first.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	var l ApplicationList
	err := c.do(ctx, http.MethodGet, PathApplications, nil, &l)
	return l.Applications, err
}

// Application returns one application with its objects.
func (c *Client) Application(ctx context.Context, name string) (*Application, error) {
	var a Application
	return &a, c.do(ctx, http.MethodGet, ApplicationPath(name), nil, &a)
}

// SyncApp syncs one application (Sync with app "" syncs every one). With
// wait, it returns once a fetch, load and plan that started after the call
// have finished.
func (c *Client) SyncApp(ctx context.Context, app string, wait bool) (*SyncResult, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	if wait {
		q.Set("wait", "1")
	}
	var r SyncResult
	return &r, c.do(ctx, http.MethodPost, PathSync, q, &r)
}

// DiffApp is Diff of one application: its branch head against its applied
// revision, within the desired state of every application.
func (c *Client) DiffApp(ctx context.Context, app string) (*DiffResult, error) {
	var r DiffResult
	return &r, c.do(ctx, http.MethodGet, PathDiff, url.Values{"app": {app}}, &r)
}

// DiffFilesApp is DiffFiles with the files as one application's next
// revision ("" the bootstrap's).
func (c *Client) DiffFilesApp(ctx context.Context, app string, files map[string][]byte) (*DiffResult, error) {
	var q url.Values
	if app != "" {
		q = url.Values{"app": {app}}
	}
	var r DiffResult
	return &r, c.doBody(ctx, http.MethodPost, PathDiff, q, DiffRequest{Files: files}, &r)
}
