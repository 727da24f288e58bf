package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// An exec stream (PathExec, after "101 Switching Protocols" to
// ExecProtocol) is a sequence of frames in both directions on one
// connection:
//
//	+--------+-----------------------+-----------------+
//	| stream | length (uint32, BE)   | payload         |
//	| 1 byte | 4 bytes               | length bytes    |
//	+--------+-----------------------+-----------------+
//
// The client sends StreamStdin (an empty payload closes the process's
// stdin) and StreamResize (TerminalSize as JSON); the server sends
// StreamStdout, StreamStderr (none with a TTY: the terminal merges them),
// then exactly one StreamExit (ExecExit as JSON) or StreamError (an Error
// body as JSON, e.g. the command was not found) and closes. A client that
// goes away ends the exec: the process is killed. Frames of an unknown
// stream are ignored, so that a later version may add some.
//
// The reconciler relays frames as bytes (it splices the two connections),
// so a frame crosses it unchanged.
const (
	StreamStdin  byte = 0
	StreamStdout byte = 1
	StreamStderr byte = 2
	StreamResize byte = 3
	StreamExit   byte = 4
	StreamError  byte = 5
)

// MaxExecFrame bounds a frame's payload; a longer one is a protocol error.
const MaxExecFrame = 1 << 20

// ExecOptions is what PathExec is asked for (kubectl exec's options).
type ExecOptions struct {
	Namespace string
	Pod       string
	// Container zero picks the pod's only container; a pod with several
	// refuses the exec, naming them.
	Container string
	Command   []string
	// Stdin forwards the client's StreamStdin frames to the process.
	Stdin bool
	// TTY gives the process a terminal (stdout and stderr merged).
	TTY bool
}

// Query encodes o as PathExec's query.
func (o ExecOptions) Query() url.Values {
	q := url.Values{"namespace": {o.Namespace}, "pod": {o.Pod}, "command": o.Command}
	if o.Container != "" {
		q.Set("container", o.Container)
	}
	if o.Stdin {
		q.Set("stdin", "1")
	}
	if o.TTY {
		q.Set("tty", "1")
	}
	return q
}

// ParseExecOptions decodes PathExec's query; namespace and pod are left
// for the caller to check (the reconciler defaults the namespace).
func ParseExecOptions(q url.Values) (ExecOptions, error) {
	o := ExecOptions{
		Namespace: q.Get("namespace"), Pod: q.Get("pod"), Container: q.Get("container"),
		Command: q["command"], Stdin: truthy(q.Get("stdin")), TTY: truthy(q.Get("tty")),
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return o, errors.New("a command is required")
	}
	return o, nil
}

func truthy(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

// TerminalSize is a StreamResize payload, in character cells.
type TerminalSize struct {
	Width  uint16 `json:"width"`
	Height uint16 `json:"height"`
}

// ExecExit is the StreamExit payload: the process's exit status.
type ExecExit struct {
	Code int `json:"code"`
}

// ExecError is the StreamError payload: the exec could not run (or broke)
// after the upgrade.
type ExecError struct {
	Message string `json:"message"`
}

// FrameWriter writes frames; safe for concurrent use (stdout and stderr
// copiers share one).
type FrameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewFrameWriter returns a FrameWriter on w.
func NewFrameWriter(w io.Writer) *FrameWriter { return &FrameWriter{w: w} }

// WriteFrame writes one frame, splitting a payload over MaxExecFrame.
func (f *FrameWriter) WriteFrame(stream byte, p []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for first := true; first || len(p) > 0; first = false {
		n := min(len(p), MaxExecFrame)
		var hdr [5]byte
		hdr[0] = stream
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := f.w.Write(append(hdr[:], p[:n]...)); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// WriteJSON writes v as one frame's JSON payload.
func (f *FrameWriter) WriteJSON(stream byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.WriteFrame(stream, b)
}

// Stream returns a writer whose every Write is one frame of stream.
func (f *FrameWriter) Stream(stream byte) io.Writer { return streamWriter{f, stream} }

type streamWriter struct {
	f      *FrameWriter
	stream byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // an empty frame means EOF on stdin: never by accident
	}
	if err := s.f.WriteFrame(s.stream, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// FrameReader reads frames.
type FrameReader struct {
	r   io.Reader
	buf []byte
}

// NewFrameReader returns a FrameReader on r.
func NewFrameReader(r io.Reader) *FrameReader { return &FrameReader{r: r} }

// ReadFrame returns the next frame; its payload is valid until the next
// call. The error is io.EOF at a clean end between frames.
func (f *FrameReader) ReadFrame() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(f.r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, nil, fmt.Errorf("failed to read exec frame: %w", err)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxExecFrame {
		return 0, nil, fmt.Errorf("failed to read exec frame: payload of %d bytes is over %d", n, MaxExecFrame)
	}
	if cap(f.buf) < int(n) {
		f.buf = make([]byte, n)
	}
	p := f.buf[:n]
	if _, err := io.ReadFull(f.r, p); err != nil {
		return 0, nil, fmt.Errorf("failed to read exec frame: %w", err)
	}
	return hdr[0], p, nil
}

// IsUpgrade reports whether r asks to switch to ExecProtocol.
func IsUpgrade(r *http.Request) bool {
	return headerHas(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), ExecProtocol)
}

func headerHas(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Upgrade hijacks w's connection and answers 101 Switching Protocols to
// ExecProtocol. The returned reader holds what the client sent after its
// request (it may already be buffered); the caller closes the conn.
func Upgrade(w http.ResponseWriter) (net.Conn, *bufio.Reader, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to hijack the connection: %w", err)
	}
	// The server's header and read deadlines do not bound a session.
	_ = conn.SetDeadline(time.Time{})
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+ExecProtocol+"\r\n\r\n"); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("failed to answer the upgrade: %w", err)
	}
	return conn, brw.Reader, nil
}

// DialExec sends an exec request to base+path (with query q) and returns
// the upgraded connection. A refusal (404 pod not found, 400…) is returned
// as a *Failure; a server that answers 2xx without upgrading is an error.
func DialExec(ctx context.Context, hc *http.Client, base, path string, q url.Values, hdr http.Header) (io.ReadWriteCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to build exec request: %w", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", ExecProtocol)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		rwc, ok := resp.Body.(io.ReadWriteCloser)
		if !ok {
			resp.Body.Close()
			return nil, errors.New("failed to exec: the upgraded connection is not writable")
		}
		return rwc, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil, fmt.Errorf("failed to exec: the server answered %s without switching to %s", resp.Status, ExecProtocol)
	}
	return nil, errs.FromHTTP(resp.StatusCode, b)
}

// Exec starts an exec in a container of one of the agent's pods and
// returns the frame stream (see ExecProtocol); the caller closes it, which
// kills the process if it still runs.
func (c *Client) Exec(ctx context.Context, o ExecOptions) (io.ReadWriteCloser, error) {
	return DialExec(ctx, c.hc, c.base, PathExec, o.Query(), c.header())
}

// ExecIO is the local side of an exec (not on the wire): what the agent
// hands its runtime once the stream is upgraded.
type ExecIO struct {
	// Stdin nil gives the process none; EOF closes it.
	Stdin io.Reader
	// Stdout and Stderr receive the process's output; with a TTY,
	// everything goes to Stdout.
	Stdout, Stderr io.Writer
	// Resize carries the terminal's size changes (TTY only); nil or
	// closed when there are no more.
	Resize <-chan TerminalSize
}
