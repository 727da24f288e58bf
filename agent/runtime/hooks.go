package runtime

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// This file runs a container's lifecycle hooks the way the kubelet does
// (pkg/kubelet/lifecycle/handlers.go, kuberuntime_container.go):
//
//   - postStart runs right after the task starts, beside the entrypoint;
//     until it succeeds the container is Running but neither Started nor
//     Ready. A failure is a FailedPostStartHook event and the container is
//     killed (preStop included), which the restart policy then handles like
//     any exit: a restart counted with its back-off.
//   - preStop runs before SIGTERM whenever the agent stops a running
//     container (pod removed, liveness failure, postStart failure). The
//     grace period counts from the start of the hook; whatever the hook
//     leaves of it, at least minGraceAfterHook, goes to SIGTERM before
//     SIGKILL. A grace period of zero skips the hook. A failure is a
//     FailedPreStopHook event and the stop goes on.

// minGraceAfterHook is what the container gets between SIGTERM and SIGKILL
// when its preStop hook used up the grace period (the kubelet's
// minimumGracePeriodInSeconds).
const minGraceAfterHook = 2 * time.Second

// maxHookMessage bounds the output or body quoted in a hook's failure.
const maxHookMessage = 1024

func hasPostStart(cs spec.Container) bool {
	return cs.Lifecycle != nil && cs.Lifecycle.PostStart != nil
}

func hasPreStop(cs spec.Container) bool {
	return cs.Lifecycle != nil && cs.Lifecycle.PreStop != nil
}

// postStart runs c's postStart hook, if any, on the task just started
// (run), and marks the container Started and Ready once it succeeds. On a
// failure it records FailedPostStartHook and kills the container; the
// caller sees the exit on run.exitCh as for any exit. A pod stopped
// meanwhile cancels the hook (the caller's stop path takes over).
func (w *podWorker) postStart(ctx context.Context, c *ctr, run *running) {
	if !hasPostStart(c.spec) {
		return
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stopCh:
			cancel()
		case <-hctx.Done():
		}
	}()
	err := w.runHook(hctx, c, c.spec.Lifecycle.PostStart, 0)
	if hctx.Err() != nil {
		return // stopping or closing: not the hook's failure
	}
	if err == nil {
		// Started and Ready now as the probes say (they start once
		// this returns).
		w.update(c.resetProbesLocked)
		return
	}
	w.r.log.Warn("postStart hook failed", "container", c.id, "err", err)
	w.event(c.spec.Name, api.EventWarning, api.EventFailedPostStart, "PostStartHook failed: "+err.Error())
	if kerr := w.killContainer(context.WithoutCancel(ctx), c, run.task, "FailedPostStartHook", w.gracePeriod()); kerr != nil {
		w.r.log.Warn("failed to kill container after its postStart hook failed", "container", c.id, "err", kerr)
	}
}

// killContainer stops c's running task as the kubelet's killContainer
// does: a Killing event (message "" means "Stopping container NAME"), the
// preStop hook within grace, then SIGTERM with what is left of grace (at
// least minGraceAfterHook after a hook) and SIGKILL. The task is deleted;
// the container stays, for the caller to restart or remove. Its exit
// reaches whoever waits on the task (the container's goroutine).
func (w *podWorker) killContainer(ctx context.Context, c *ctr, task client.Task, message string, grace time.Duration) error {
	if message == "" {
		message = "Stopping container " + c.spec.Name
	}
	w.event(c.spec.Name, api.EventNormal, api.EventKilling, message)
	return stopTask(ctx, task, w.preStop(ctx, c, grace))
}

// preStop runs c's preStop hook, if any and if grace allows one, bounded
// by grace, and returns the grace left for SIGTERM.
func (w *podWorker) preStop(ctx context.Context, c *ctr, grace time.Duration) time.Duration {
	if !hasPreStop(c.spec) || grace <= 0 {
		return grace
	}
	start := time.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if err := w.runHook(hctx, c, c.spec.Lifecycle.PreStop, grace); err != nil {
		w.r.log.Warn("preStop hook failed", "container", c.id, "err", err)
		w.event(c.spec.Name, api.EventWarning, api.EventFailedPreStop, "PreStopHook failed: "+err.Error())
	}
	return max(grace-time.Since(start), minGraceAfterHook)
}

// runHook runs one hook handler against c; timeout bounds an exec (zero:
// ctx alone does).
func (w *podWorker) runHook(ctx context.Context, c *ctr, h *spec.LifecycleHandler, timeout time.Duration) error {
	switch {
	case h.Exec != nil:
		code, out, err := w.execIn(ctx, c, h.Exec.Command, timeout)
		if err != nil {
			return fmt.Errorf("exec %q: %w%s", h.Exec.Command, err, quoteOutput(out))
		}
		if code != 0 {
			return fmt.Errorf("exec %q exited with code %d%s", h.Exec.Command, code, quoteOutput(out))
		}
		return nil
	case h.HTTPGet != nil:
		return w.httpHook(ctx, c, h.HTTPGet)
	case h.Sleep != nil:
		if h.Sleep.Seconds <= 0 {
			return nil
		}
		t := time.NewTimer(time.Duration(h.Sleep.Seconds) * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			// A sleep cut short by the grace period did its job.
			return nil
		}
	default:
		return errors.New("hook has no handler (exec, httpGet or sleep)")
	}
}

// httpHook sends the hook's GET to the pod (or its host): a status from
// 200 to 399 is success, redirects are not followed, and an HTTPS server's
// certificate is not verified.
func (w *podWorker) httpHook(ctx context.Context, c *ctr, h *spec.HTTPGetAction) error {
	u, err := w.hookURL(c, h)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("httpGet %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "stevedore-lifecycle/1")
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	hc := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet: hooks do not verify
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("httpGet %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxHookMessage))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("httpGet %s: status %d%s", u, resp.StatusCode, quoteOutput(body))
	}
	return nil
}

// hookURL builds an HTTP hook's URL: the host defaults to the pod's IP, a
// named port is looked up in c's ports, then in the pod's other containers.
func (w *podWorker) hookURL(c *ctr, h *spec.HTTPGetAction) (*url.URL, error) {
	host := h.Host
	if host == "" {
		host = w.podIP()
		if host == "" {
			return nil, errors.New("httpGet: the pod has no IP yet")
		}
	}
	port, err := resolveProbePort(h.Port, &w.pod.Spec, &c.spec)
	if err != nil {
		return nil, fmt.Errorf("httpGet: %w", err)
	}
	scheme := "http"
	if strings.EqualFold(h.Scheme, spec.URISchemeHTTPS) {
		scheme = "https"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return nil, fmt.Errorf("httpGet: bad URL: %w", err)
	}
	return u, nil
}

// quoteOutput is ": <output>" for a hook's failure message, bounded, or
// nothing when there is none.
func quoteOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	if len(s) > maxHookMessage {
		s = s[:maxHookMessage] + "…"
	}
	return ": " + strconv.Quote(s)
}
