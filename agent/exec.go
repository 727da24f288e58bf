package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// execer is what PathExec needs from the runtime (agent/runtime.Runtime
// has it). ExecTarget answers before the upgrade, so that a missing pod
// or container is a plain 404; Exec runs until the process exits or ctx
// ends (then it kills the process). Both may be called concurrently with
// everything else.
type execer interface {
	ExecTarget(namespace, pod, container string) (string, error)
	Exec(ctx context.Context, id string, cmd []string, tty bool, eio api.ExecIO) (int, error)
}

// execLinger bounds how long a finished exec waits for the client to
// close its side after the exit frame (closing first with unread input
// would reset the connection and could lose that frame).
const execLinger = 5 * time.Second

func (a *Agent) handleExec(w http.ResponseWriter, r *http.Request) {
	ex, ok := a.rt.(execer)
	if !ok {
		errs.WriteHTTPStatus(w, http.StatusNotImplemented, errors.New("this agent's runtime cannot exec"))
		return
	}
	o, err := api.ParseExecOptions(r.URL.Query())
	switch {
	case err != nil:
		errs.WriteHTTP(w, invalid(err.Error()))
		return
	case o.Namespace == "" || o.Pod == "":
		errs.WriteHTTP(w, invalid("namespace and pod are required"))
		return
	case !api.IsUpgrade(r):
		errs.WriteHTTP(w, invalid("exec needs \"Connection: Upgrade\" and \"Upgrade: "+api.ExecProtocol+"\""))
		return
	}
	id, err := ex.ExecTarget(o.Namespace, o.Pod, o.Container)
	if err != nil {
		errs.WriteHTTP(w, err) // its category: not found, invalid, else internal
		return
	}
	conn, br, err := api.Upgrade(w)
	if err != nil {
		a.log.Warn("failed to upgrade exec", "err", err)
		return
	}
	defer conn.Close()
	a.log.Info("exec", "namespace", o.Namespace, "pod", o.Pod, "container", o.Container, "command", o.Command[0], "tty", o.TTY, "remote", r.RemoteAddr)
	serveExec(r.Context(), conn, br, ex, id, o)
}

// serveExec runs one upgraded exec session: frames from br feed the
// process's stdin and terminal size; its output, then its exit status,
// go back as frames on conn. The session ends when the process exits or
// the client goes (the process is then killed).
func serveExec(ctx context.Context, conn net.Conn, br *bufio.Reader, ex execer, id string, o api.ExecOptions) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw := api.NewFrameWriter(conn)
	var stdin io.Reader
	var stdinR *io.PipeReader
	var stdinW *io.PipeWriter
	if o.Stdin {
		stdinR, stdinW = io.Pipe()
		stdin = stdinR
	}
	resize := make(chan api.TerminalSize)
	execDone := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readExecFrames(ctx, execDone, br, stdinW, resize)
		// The client closed or broke the stream: the exec ends.
		cancel()
	}()
	code, err := ex.Exec(ctx, id, o.Command, o.TTY, api.ExecIO{
		Stdin: stdin, Stdout: fw.Stream(api.StreamStdout), Stderr: fw.Stream(api.StreamStderr), Resize: resize,
	})
	close(execDone) // nobody takes resizes any more
	if stdinR != nil {
		_ = stdinR.CloseWithError(io.ErrClosedPipe) // unblocks a pending stdin write
	}
	switch {
	case ctx.Err() != nil:
		// The client is gone: nobody to tell.
	case err != nil:
		_ = fw.WriteJSON(api.StreamError, api.ExecError{Message: err.Error()})
	default:
		_ = fw.WriteJSON(api.StreamExit, api.ExecExit{Code: code})
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok && ctx.Err() == nil {
		_ = cw.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(execLinger))
	} else {
		conn.Close()
	}
	<-readerDone
}

// execStdinQueue bounds the stdin frames read from the client that the
// process has not taken yet (at most this many times api.MaxExecFrame
// bytes; ctl sends 32 KiB frames). Until it is full, the frame reader
// keeps reading, so a client that goes away is noticed even while the
// process does not read its input.
const execStdinQueue = 16

// readExecFrames dispatches the client's frames until the stream ends:
// stdin to stdinW through a stdinPump (nil: dropped; an empty frame
// closes it), sizes to resize until execDone closes (then they are
// dropped). It closes resize, and stdinW once the queued input is
// written, when it returns.
func readExecFrames(ctx context.Context, execDone <-chan struct{}, br *bufio.Reader, stdinW *io.PipeWriter, resize chan<- api.TerminalSize) {
	defer close(resize)
	var stdin chan<- []byte
	if stdinW != nil {
		q := make(chan []byte, execStdinQueue)
		go pumpStdin(stdinW, q)
		defer close(q)
		stdin = q
	}
	fr := api.NewFrameReader(br)
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
			ok = deliver(ctx, execDone, stdin, append([]byte{}, p...))
			if len(p) == 0 {
				stdin = nil
			}
		case api.StreamResize:
			var sz api.TerminalSize
			if json.Unmarshal(p, &sz) == nil {
				ok = deliver(ctx, execDone, resize, sz)
			}
		}
		if !ok {
			return
		}
	}
}

// deliver sends v on ch; it drops v once the exec is over (execDone) and
// reports false when the session is (ctx).
func deliver[T any](ctx context.Context, execDone <-chan struct{}, ch chan<- T, v T) bool {
	select {
	case ch <- v:
		return true
	case <-execDone:
		return true
	case <-ctx.Done():
		return false
	}
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
