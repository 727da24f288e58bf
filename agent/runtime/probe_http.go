package runtime

import (
	"bufio"
	"bytes"
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
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/spec"
)

// maxProbeBody bounds what an HTTP probe reads of a response body (the
// kubelet's 10 KiB): enough to drain a health page, the message of a
// redirect warning.
const maxProbeBody = 10 << 10

// probeUserAgent is the User-Agent of HTTP and gRPC probes unless the
// probe sets one: the kubelet's product name, so that applications that
// recognise probes by it ("kube-probe/") keep doing so.
const probeUserAgent = "kube-probe/stevedore"

// probeDialer dials for HTTP, TCP and gRPC probes from the agent's network
// namespace. SO_LINGER of 1s, as the kubelet's: probe connections are
// closed by the agent, and without it every probe would leave a socket in
// TIME_WAIT for a minute (thousands at 100 probes/s).
var probeDialer = &net.Dialer{
	Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
		})
	},
}

// probeTransport is shared by every HTTP probe of the agent: no
// keep-alives (each probe opens its own connection, as the kubelet's, so a
// server that stopped accepting fails its probe), no proxy from the
// environment, no compression, certificates not verified (Kubernetes'
// HTTPS probes do not verify them either).
var probeTransport = sync.OnceValue(func() *http.Transport {
	return &http.Transport{
		DialContext:            probeDialer.DialContext,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as the kubelet's probes
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		// A probe's request and a health page's headers are small: 4
		// KiB less to allocate per probe than the defaults (longer
		// header lines are still read whole).
		WriteBufferSize: 1 << 10,
		ReadBufferSize:  2 << 10,
	}
})

// probeCheckRedirect follows redirects to the same host only, at most 10,
// as the kubelet's probes do: a redirect elsewhere ends the probe with the
// redirect response (a success with a warning).
func probeCheckRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// httpProbe is an httpGet probe: a status from 200 to 399 is success.
type httpProbe struct {
	// req is built once and sent as a shallow copy carrying each
	// probe's context.
	req *http.Request
	// raw is req in wire form (with Connection: close) for a plain-HTTP
	// probe, sent straight on a dialed connection to addr: one goroutine
	// per probe instead of net/http's three, whose hand-offs cost context
	// switches (see probeDirect). Nil for HTTPS.
	raw  []byte
	addr string
	err  error // the probe cannot run: reported each time
}

// probeReaders recycles the response readers of direct HTTP probes.
var probeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 2<<10) }}

// newHTTPProbe builds the request of a: to host (default podIP), the port
// by number or name, path, headers (a Host header sets the request's host).
func newHTTPProbe(a *spec.HTTPGetAction, podIP string, pod *spec.PodSpec, self *spec.Container) *httpProbe {
	port, err := resolveProbePort(a.Port, pod, self)
	if err != nil {
		return &httpProbe{err: err}
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return &httpProbe{err: errors.New("pod has no IP")}
	}
	scheme := strings.ToLower(a.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	// As the kubelet's formatURL: the path may carry a query; one that
	// does not parse is sent as is.
	u, err := url.Parse(a.Path)
	if err != nil {
		u = &url.URL{Path: a.Path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	// Through its string form, as the kubelet's http.NewRequest: a path
	// without its leading "/" gets one.
	if u2, err := url.Parse(u.String()); err == nil {
		u = u2
	}
	h := make(http.Header, len(a.HTTPHeaders)+2)
	for _, hd := range a.HTTPHeaders {
		h.Add(hd.Name, hd.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", probeUserAgent)
	}
	if _, ok := h["Accept"]; !ok {
		h.Set("Accept", "*/*")
	} else if h.Get("Accept") == "" {
		h.Del("Accept")
	}
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       h.Get("Host"),
	}
	p := &httpProbe{req: req}
	if u.Scheme == "http" {
		wire := *req
		wire.Close = true // each probe its own connection, as the kubelet's
		var b bytes.Buffer
		if err := wire.Write(&b); err == nil {
			p.raw, p.addr = b.Bytes(), u.Host
		}
	}
	return p
}

// probeDirect sends the prebuilt request on a new connection and reads the
// answer with net/http's parser, all on the caller's goroutine. A redirect
// (3xx) is left to the client path, which follows same-host redirects
// (redirect is then true).
func (p *httpProbe) probeDirect(ctx context.Context, timeout time.Duration) (res probeResult, out string, redirect bool) {
	deadline := time.Now().Add(timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	// Failures read as net/http's would (the kubelet's messages).
	fail := func(err error) (probeResult, string, bool) {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return resultFailure, fmt.Sprintf("Get %q: context deadline exceeded (Client.Timeout exceeded while awaiting headers)", p.req.URL.String()), false
		}
		return resultFailure, fmt.Sprintf("Get %q: %v", p.req.URL.String(), err), false
	}
	conn, err := probeDialer.DialContext(dctx, "tcp", p.addr)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(p.raw); err != nil {
		return fail(err)
	}
	br := probeReaders.Get().(*bufio.Reader)
	br.Reset(conn)
	defer func() {
		br.Reset(nil)
		probeReaders.Put(br)
	}()
	resp, err := http.ReadResponse(br, p.req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= http.StatusOK && code < http.StatusMultipleChoices:
		if _, err := io.CopyN(io.Discard, resp.Body, maxProbeBody); err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		return resultSuccess, "", false
	case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
		return resultUnknown, "", true
	default:
		return resultFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code), false
	}
}

func (p *httpProbe) probe(ctx context.Context, timeout time.Duration) (probeResult, string, error) {
	if p.err != nil {
		return resultUnknown, "", p.err
	}
	if p.raw != nil {
		if res, out, redirect := p.probeDirect(ctx, timeout); !redirect {
			return res, out, nil
		}
	}
	hc := http.Client{Transport: probeTransport(), CheckRedirect: probeCheckRedirect, Timeout: timeout}
	resp, err := hc.Do(p.req.WithContext(ctx))
	if err != nil {
		// Connection refused, timeouts: failures, as the kubelet's.
		return resultFailure, err.Error(), nil
	}
	defer resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= http.StatusOK && code < http.StatusMultipleChoices:
		// Drained (bounded) so that the server sees a clean close.
		if _, err := io.CopyN(io.Discard, resp.Body, maxProbeBody); err != nil && !errors.Is(err, io.EOF) {
			return resultFailure, err.Error(), nil
		}
		return resultSuccess, "", nil
	case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
		if err != nil {
			return resultFailure, err.Error(), nil
		}
		return resultWarning, "Probe terminated redirects, Response body: " + string(body), nil
	default:
		return resultFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code), nil
	}
}

// tcpProbe is a tcpSocket probe: opening the connection is success.
type tcpProbe struct {
	addr string
	err  error
}

func newTCPProbe(a *spec.TCPSocketAction, podIP string, pod *spec.PodSpec, self *spec.Container) *tcpProbe {
	port, err := resolveProbePort(a.Port, pod, self)
	if err != nil {
		return &tcpProbe{err: err}
	}
	host := a.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return &tcpProbe{err: errors.New("pod has no IP")}
	}
	return &tcpProbe{addr: net.JoinHostPort(host, strconv.Itoa(port))}
}

func (p *tcpProbe) probe(ctx context.Context, timeout time.Duration) (probeResult, string, error) {
	if p.err != nil {
		return resultUnknown, "", p.err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := probeDialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return resultFailure, err.Error(), nil
	}
	_ = conn.Close()
	return resultSuccess, "", nil
}

// resolveProbePort returns the port number of an httpGet or tcpSocket
// probe: a number, or the name of a port the container declares (then,
// since containers share the pod's network, one another container of the
// pod declares), or a number written as a string (the kubelet's last
// resort).
func resolveProbePort(p spec.IntOrString, pod *spec.PodSpec, self *spec.Container) (int, error) {
	port := int(p.IntVal)
	if p.IsString {
		port = -1
		if n, ok := findPortByName(p.StrVal, pod, self); ok {
			port = n
		} else if n, err := strconv.Atoi(p.StrVal); err == nil {
			port = n
		} else {
			return 0, fmt.Errorf("port %s not found", p.StrVal)
		}
	}
	if port <= 0 || port > 65535 {
		return 0, fmt.Errorf("invalid port number: %d", port)
	}
	return port, nil
}

func findPortByName(name string, pod *spec.PodSpec, self *spec.Container) (int, bool) {
	for _, cp := range self.Ports {
		if cp.Name == name {
			return int(cp.ContainerPort), true
		}
	}
	if pod == nil {
		return 0, false
	}
	for i := range pod.Containers {
		for _, cp := range pod.Containers[i].Ports {
			if cp.Name == name {
				return int(cp.ContainerPort), true
			}
		}
	}
	return 0, false
}
