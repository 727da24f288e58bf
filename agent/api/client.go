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

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// Sentinel errors of the Client, from Stevedore's one error vocabulary
// (internal/errs); match them with errors.Is, or the categories with
// errdefs.IsX.
var (
	// ErrStale is a 409 with code "stale" (an errdefs conflict): the agent
	// has seen a higher term, or applied a higher generation of this term,
	// than the PodSet carried. Retrying the same set cannot succeed; a
	// leader seeing it has been deposed (or must bump its generation).
	// StaleTerm tells the term the agent has seen.
	ErrStale = errs.ErrStale
	// ErrNotFound is a 404 (errdefs.ErrNotFound): an unknown path, or Logs
	// for a pod or container the agent does not run.
	ErrNotFound = errs.ErrNotFound
)

// StatusError is a non-2xx response (the same type as Failure). It
// matches ErrStale and ErrNotFound with errors.Is according to its code, or
// its status when the body had no code.
type StatusError = errs.Error

// StaleTerm returns the highest term the agent has seen from an Apply error
// that refused a stale set (the "term" member of the 409 body). It reports
// false for any other error, and for an agent that did not send the term.
func StaleTerm(err error) (uint64, bool) {
	var se *StatusError
	if !errors.Is(err, ErrStale) || !errors.As(err, &se) {
		return 0, false
	}
	var term uint64
	if !se.Field("term", &term) {
		return 0, false
	}
	return term, true
}

// StaleCluster returns the cluster ID an agent that refused a stale set
// takes sets from (the "cluster" member of the 409 body), "" when it sent
// none.
func StaleCluster(err error) string {
	var se *StatusError
	if !errors.Is(err, ErrStale) || !errors.As(err, &se) {
		return ""
	}
	var id string
	se.Field("cluster", &id)
	return id
}

// DefaultWatchIdleTimeout is how long Watch waits for any line (the agent
// sends a heartbeat every few seconds) before it gives up on the connection.
const DefaultWatchIdleTimeout = 30 * time.Second

// Client talks to one agent's API. It is safe for concurrent use.
type Client struct {
	base string
	hc   *http.Client
	// WatchIdleTimeout ends Watch when no line arrives for this long, which
	// catches a connection that died without a reset; NewClient sets
	// DefaultWatchIdleTimeout, zero means no limit.
	WatchIdleTimeout time.Duration
	// Protocol is the reconciler↔agent protocol every request says it
	// speaks (HeaderProtocol), the one negotiated with this agent (set it
	// before the first call); zero sends no header, which an agent takes
	// as Protocol1.
	Protocol int
}

// NewClient returns a client for the agent API at baseURL
// ("http://host:port"). hc zero means a client without an overall timeout
// (Watch is a long-lived request): bound calls with their context. A
// non-nil hc with a Timeout also cuts Watch streams.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc, WatchIdleTimeout: DefaultWatchIdleTimeout}
}

// Apply PUTs a node's full desired pod set. It returns ErrStale (wrapped in
// a *StatusError) when the agent's fence refuses it.
func (c *Client) Apply(ctx context.Context, ps PodSet) (ApplyResult, error) {
	var res ApplyResult
	b, err := json.Marshal(ps)
	if err != nil {
		return res, fmt.Errorf("failed to encode pod set: %w", err)
	}
	err = c.do(ctx, http.MethodPut, PathPodSet, nil, bytes.NewReader(b), &res)
	return res, err
}

// PodSet returns the set the agent last applied: its term and generation,
// and the pods the agent holds, each as the leader sent it (with Owner,
// Hash and Created). It survives agent restarts, so that a reconciler that
// lost its inventory adopts the running pods (same UIDs) rather than
// re-creating them.
func (c *Client) PodSet(ctx context.Context) (*PodSet, error) {
	var ps PodSet
	if err := c.do(ctx, http.MethodGet, PathPodSet, nil, nil, &ps); err != nil {
		return nil, err
	}
	return &ps, nil
}

// Pods returns the node's observed pod statuses.
func (c *Client) Pods(ctx context.Context) (PodStatusList, error) {
	var l PodStatusList
	err := c.do(ctx, http.MethodGet, PathPods, nil, nil, &l)
	return l, err
}

// Info returns what the node offers and where its API is.
func (c *Client) Info(ctx context.Context) (NodeInfo, error) {
	var n NodeInfo
	err := c.do(ctx, http.MethodGet, PathInfo, nil, nil, &n)
	return n, err
}

// Logs returns a container's log as o asks (with Follow, a stream that
// ends with the container's log or ctx). The caller closes the reader.
func (c *Client) Logs(ctx context.Context, namespace, pod string, o LogOptions) (io.ReadCloser, error) {
	q := o.Values()
	q.Set("namespace", namespace)
	q.Set("pod", pod)
	resp, err := c.send(ctx, http.MethodGet, PathLogs, q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Watch calls fn with each PodStatusList the agent streams: the current one
// at once, then one after every change and a heartbeat when nothing changed.
// fn runs on Watch's goroutine; a slow fn only delays reading (the agent
// coalesces). Watch returns ctx.Err() when ctx ends, and an error when the
// stream breaks or stays silent for WatchIdleTimeout: the caller reconnects
// (every list is complete, so nothing needs replaying).
func (c *Client) Watch(ctx context.Context, fn func(PodStatusList)) error {
	return c.WatchFrom(ctx, "", 0, fn)
}

// WatchFrom is Watch asking for the agent's events after Seq after of
// epoch (PodStatusList.Events): all it keeps when epoch is not the agent's
// current one (a restarted agent, or "" for a first connection).
func (c *Client) WatchFrom(ctx context.Context, epoch string, after uint64, fn func(PodStatusList)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{QueryHeartbeat: {HeartbeatUnchanged}}
	if epoch != "" {
		q.Set(QueryEpoch, epoch)
		q.Set(QueryEventsAfter, strconv.FormatUint(after, 10))
	}
	resp, err := c.send(ctx, http.MethodGet, PathPodsWatch, q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	var idle *time.Timer
	var timedOut chan struct{}
	if c.WatchIdleTimeout > 0 {
		timedOut = make(chan struct{})
		idle = time.AfterFunc(c.WatchIdleTimeout, func() {
			close(timedOut)
			cancel()
		})
		defer idle.Stop()
	}
	dec := json.NewDecoder(resp.Body)
	var last *PodStatusList
	for {
		var l PodStatusList
		if err := dec.Decode(&l); err != nil {
			select {
			case <-timedOut:
				return fmt.Errorf("failed to watch pods: no update for %s: %w", c.WatchIdleTimeout, errWatchIdle)
			default:
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("failed to watch pods: %w", io.ErrUnexpectedEOF)
			}
			return fmt.Errorf("failed to watch pods: %w", err)
		}
		if idle != nil && !idle.Stop() {
			// The timer fired between the read and now; report the timeout
			// path above on the next read.
			<-timedOut
			return fmt.Errorf("failed to watch pods: no update for %s: %w", c.WatchIdleTimeout, errWatchIdle)
		}
		if l.Unchanged {
			if last == nil {
				return fmt.Errorf("failed to watch pods: %w", errUnchangedFirst)
			}
			// The previous list again, at the heartbeat's time: the same
			// slices, so a caller comparing with what it kept finds them
			// equal at once.
			again := *last
			again.Time, again.Events = l.Time, nil
			l = again
		} else {
			last = &l
		}
		fn(l)
		if idle != nil {
			idle.Reset(c.WatchIdleTimeout)
		}
	}
}

var (
	errWatchIdle      = errors.New("watch stream idle")
	errUnchangedFirst = errors.New("the stream's first list is an unchanged heartbeat")
)

// do sends a request and decodes a JSON response into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body io.Reader, out any) error {
	resp, err := c.send(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("failed to decode %s %s response: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a non-2xx response as a *StatusError.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	resp, f, err := CallHeader(ctx, c.hc, c.base, method, path, q, body, c.header())
	if err != nil {
		return nil, fmt.Errorf("failed to call agent %s %s: %w", method, path, err)
	}
	if f != nil {
		return nil, fmt.Errorf("failed to call agent %s %s: %w", method, path, f)
	}
	return resp, nil
}

// header is what every request carries: the protocol, when set.
func (c *Client) header() http.Header {
	if c.Protocol == 0 {
		return nil
	}
	return http.Header{HeaderProtocol: {strconv.Itoa(c.Protocol)}}
}
