package agent

import (
	"bufio"
	"context"
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
	cs := &clientStream{conn: conn, br: br, execDone: make(chan struct{})}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		cs.readFrames(ctx, stdinW, resize)
		// The client closed or broke the stream: the exec ends.
		cancel()
	}()
	code, err := ex.Exec(ctx, id, o.Command, o.TTY, api.ExecIO{
		Stdin: stdin, Stdout: fw.Stream(api.StreamStdout), Stderr: fw.Stream(api.StreamStderr), Resize: resize,
	})
	close(cs.execDone) // nobody takes resizes any more
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
		cs.linger(time.Now().Add(execLinger))
	} else {
		conn.Close()
	}
	<-readerDone
}
