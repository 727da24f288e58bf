package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/spec"
)

// agentExecer is the exec half of an agent connection (agentAPI has it;
// test fakes may not).
type agentExecer interface {
	Exec(ctx context.Context, o agentapi.ExecOptions) (io.ReadWriteCloser, error)
}

func (a agentAPI) Exec(ctx context.Context, o agentapi.ExecOptions) (io.ReadWriteCloser, error) {
	return a.c.Exec(ctx, o)
}

var _ agentExecer = agentAPI{}

// execLinger bounds how long a finished exec waits for the client to close
// its side once the agent has ended the stream.
const execLinger = 5 * time.Second

// handleExec checks that the pod is placed on an alive node, opens the
// exec on that node's agent (whose refusal, a missing container say, is
// answered as is, before any upgrade), then upgrades the client and
// splices the two streams: frames cross unchanged (agent/api/exec.go).
// On a follower the request reaches here through the leader's forward
// (httputil.ReverseProxy relays the upgrade).
func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) {
	o, err := agentapi.ParseExecOptions(r.URL.Query())
	if err != nil {
		errs.WriteHTTP(w, errInvalid(err.Error()))
		return
	}
	if o.Namespace == "" {
		o.Namespace = spec.DefaultNamespace
	}
	key := o.Namespace + "/" + o.Pod
	switch {
	case o.Pod == "":
		errs.WriteHTTP(w, errInvalid("pod is required"))
		return
	case !agentapi.IsUpgrade(r):
		errs.WriteHTTP(w, errInvalid("exec needs \"Connection: Upgrade\" and \"Upgrade: "+agentapi.ExecProtocol+"\""))
		return
	}
	node, client, ok := s.podAgent(w, o.Namespace, o.Pod)
	if !ok {
		return
	}
	ex, ok := client.(agentExecer)
	if !ok {
		errs.WriteHTTPStatus(w, http.StatusNotImplemented, errors.New("the connection to node "+node+" cannot exec"))
		return
	}
	up, err := ex.Exec(r.Context(), o)
	if err != nil {
		writeAgentError(w, node, "exec", err)
		return
	}
	defer up.Close()
	conn, br, err := agentapi.Upgrade(w)
	if err != nil {
		s.log.Warn("failed to upgrade exec", "pod", key, "err", err)
		return
	}
	defer conn.Close()
	s.log.Info("exec", "pod", key, "container", o.Container, "node", node, "command", o.Command[0], "tty", o.TTY, "remote", r.RemoteAddr)
	toAgent := make(chan struct{})
	go func() {
		defer close(toAgent)
		_, _ = io.Copy(up, br)
		// The client went (or closed after the exit frame): the agent
		// kills a process still running.
		up.Close()
	}()
	_, _ = io.Copy(conn, up)
	// The agent ended the stream (exit frame sent): let the client read
	// it and close, rather than reset a connection with unread input.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(execLinger))
	} else {
		conn.Close()
	}
	<-toAgent
}
