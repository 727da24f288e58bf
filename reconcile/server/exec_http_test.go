package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// handleExec is the fake agent's exec: it names where it ran, echoes
// stdin (to its end) in upper case on stdout and exits 3.
func (a *fakeAgent) handleExec(w http.ResponseWriter, r *http.Request) {
	o, err := agentapi.ParseExecOptions(r.URL.Query())
	if err != nil || o.Container == "missing" {
		errs.WriteHTTP(w, errs.Mark(errors.New("container missing is not valid"), errs.ErrNotFound))
		return
	}
	conn, br, err := agentapi.Upgrade(w)
	if err != nil {
		return
	}
	defer conn.Close()
	fw := agentapi.NewFrameWriter(conn)
	_ = fw.WriteFrame(agentapi.StreamStdout, fmt.Appendf(nil, "%s in %s/%s/%s on %s tty=%v\n", strings.Join(o.Command, " "), o.Namespace, o.Pod, o.Container, a.name, o.TTY))
	fr := agentapi.NewFrameReader(br)
	for {
		s, p, err := fr.ReadFrame()
		if err != nil {
			return // the client went: no exit
		}
		if s != agentapi.StreamStdin {
			continue
		}
		if len(p) == 0 {
			break
		}
		_ = fw.WriteFrame(agentapi.StreamStdout, []byte(strings.ToUpper(string(p))))
	}
	_ = fw.WriteJSON(agentapi.StreamExit, agentapi.ExecExit{Code: 3})
}

// checkExec runs an exec through cl (a follower's client in
// TestThreeReconcilers: forwarded, upgrade and all, to the leader, which
// splices it to the pod's agent) and checks refusals arrive as errors.
func checkExec(t *testing.T, cl *api.Client, pod api.Pod) {
	t.Helper()
	ctx := context.Background()
	o := agentapi.ExecOptions{Namespace: pod.Namespace, Pod: pod.Name, Container: "web", Command: []string{"sh", "-c", "x"}, Stdin: true, TTY: true}
	rwc, err := cl.Exec(ctx, o)
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	defer rwc.Close()
	fw := agentapi.NewFrameWriter(rwc)
	_ = fw.WriteFrame(agentapi.StreamStdin, []byte("hello"))
	_ = fw.WriteFrame(agentapi.StreamStdin, nil)
	var out string
	code := -1
	fr := agentapi.NewFrameReader(rwc)
	for code < 0 {
		s, p, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("exec stream: %v (output %q)", err, out)
		}
		switch s {
		case agentapi.StreamStdout:
			out += string(p)
		case agentapi.StreamExit:
			var e agentapi.ExecExit
			_ = json.Unmarshal(p, &e)
			code = e.Code
		}
	}
	want := "sh -c x in " + pod.Namespace + "/" + pod.Name + "/web on " + pod.Node + " tty=true\nHELLO"
	if out != want || code != 3 {
		t.Errorf("exec: output %q code %d, want %q and 3", out, code, want)
	}
	missing := o
	missing.Pod = "nope"
	if _, err := cl.Exec(ctx, missing); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("exec in a missing pod: %v", err)
	}
	missing = o
	missing.Container = "missing"
	if _, err := cl.Exec(ctx, missing); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "node "+pod.Node) {
		t.Errorf("exec in a missing container: %v, want the agent's not found", err)
	}
}
