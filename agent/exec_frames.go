package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// execStdinQueue bounds the stdin frames read from the client that the
// process has not taken yet (at most this many times api.MaxExecFrame
// bytes; ctl sends 32 KiB frames). Until it is full, the frame reader
// keeps reading, so a client that goes away is noticed at once even while
// the process does not read its input; once it is full, the reader probes
// the connection every execProbeEvery.
const execStdinQueue = 16

// execProbeEvery is how often a reader waiting for the process to take
// its input checks that the client is still there.
const execProbeEvery = time.Second

// clientStream is the client's side of an exec session as its frame
// reader sees it.
type clientStream struct {
	conn net.Conn
	br   *bufio.Reader
	// execDone is closed when Exec returns: input and sizes are dropped
	// from then on.
	execDone chan struct{}

	// mu orders the read deadlines of the reader's probes and of the
	// linger after the exit (lingering: the probes stop).
	mu        sync.Mutex
	lingering bool
}

// linger sets the read deadline that bounds the wait for the client's
// close after the exit frame.
func (cs *clientStream) linger(t time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.lingering = true
	_ = cs.conn.SetReadDeadline(t)
}

// readFrames dispatches the client's frames until the stream ends: stdin
// to stdinW through pumpStdin (nil: dropped; an empty frame closes it),
// sizes to resize. It closes resize, and stdinW once the queued input is
// written, when it returns.
func (cs *clientStream) readFrames(ctx context.Context, stdinW *io.PipeWriter, resize chan<- api.TerminalSize) {
	defer close(resize)
	var stdin chan<- []byte
	if stdinW != nil {
		q := make(chan []byte, execStdinQueue)
		go pumpStdin(stdinW, q)
		defer close(q)
		stdin = q
	}
	fr := api.NewFrameReader(cs.br)
	for {
		stream, p, err := fr.ReadFrame()
		if err != nil {
			return
		}
		ok := true
		switch stream {
		case api.StreamStdin:
			if stdin == nil {
				continue
			}
			// A copy: p is reused by the next ReadFrame. Empty: EOF.
			ok = deliver(ctx, cs, stdin, append([]byte{}, p...))
			if len(p) == 0 {
				stdin = nil
			}
		case api.StreamResize:
			var sz api.TerminalSize
			if json.Unmarshal(p, &sz) == nil {
				ok = deliver(ctx, cs, resize, sz)
			}
		}
		if !ok {
			return
		}
	}
}

// deliver sends v on ch; it drops v once the exec is over (execDone) and
// reports false when the session is (ctx, or the client is gone while
// waiting).
func deliver[T any](ctx context.Context, cs *clientStream, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	default:
	}
	probe := time.NewTicker(execProbeEvery)
	defer probe.Stop()
	for {
		select {
		case ch <- v:
			return true
		case <-cs.execDone:
			return true
		case <-ctx.Done():
			return false
		case <-probe.C:
			if cs.gone() {
				return false
			}
		}
	}
}

// gone probes the connection without taking a frame: it reports whether
// the client closed or broke it. Unknown (everything buffered, or the
// session lingering) is not gone.
func (cs *clientStream) gone() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := cs.br.Buffered()
	if cs.lingering || n >= cs.br.Size() {
		return false
	}
	_ = cs.conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := cs.br.Peek(n + 1)
	_ = cs.conn.SetReadDeadline(time.Time{})
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// pumpStdin writes the queued stdin frames to w until q closes, then
// closes w; an empty frame closes w at once. After a failed write (the
// process's stdin is gone) the rest is dropped.
func pumpStdin(w *io.PipeWriter, q <-chan []byte) {
	defer w.Close()
	open := true
	for b := range q {
		switch {
		case !open:
		case len(b) == 0:
			open = false
			w.Close()
		default:
			if _, err := w.Write(b); err != nil {
				open = false
			}
		}
	}
}
