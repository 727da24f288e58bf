package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// execRuntime is the fake runtime with exec: pod "p" has container "c";
// the commands are scripted (cat, exit N, size, fail, block).
type execRuntime struct {
	*fakeRuntime
	cancelled chan struct{}
}

func (r *execRuntime) ExecTarget(ns, pod, ctr string) (string, error) {
	if ns != "default" || pod != "p" || (ctr != "" && ctr != "c") {
		return "", fmt.Errorf("container %s/%s/%s: %w", ns, pod, ctr, errs.ErrNotFound)
	}
	return "id-c", nil
}

func (r *execRuntime) Exec(ctx context.Context, id string, cmd []string, tty bool, eio api.ExecIO) (int, error) {
	switch cmd[0] {
	case "slowcat": // takes its input after a few probes
		time.Sleep(2*execProbeEvery + 500*time.Millisecond)
		b, err := io.ReadAll(eio.Stdin)
		fmt.Fprintf(eio.Stdout, "%d", len(b))
		return 0, err
	case "cat":
		if eio.Stdin == nil {
			return 1, nil
		}
		b, err := io.ReadAll(eio.Stdin)
		if err != nil {
			return 1, err
		}
		fmt.Fprintf(eio.Stdout, "%s|tty=%v", strings.ToUpper(string(b)), tty)
		fmt.Fprint(eio.Stderr, "to stderr")
		return 0, nil
	case "exit":
		var n int
		fmt.Sscan(cmd[1], &n)
		return n, nil
	case "size":
		sz := <-eio.Resize
		fmt.Fprintf(eio.Stdout, "%d %d", sz.Height, sz.Width)
		return 0, nil
	case "fail":
		return -1, errors.New("exec: \"fail\": executable file not found in $PATH")
	default: // block until the client goes
		<-ctx.Done()
		close(r.cancelled)
		return -1, ctx.Err()
	}
}

// session reads every frame of an exec until the end.
func session(t *testing.T, rwc io.ReadWriteCloser) (stdout, stderr string, exit *api.ExecExit, execErr string) {
	t.Helper()
	fr := api.NewFrameReader(rwc)
	for {
		s, p, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch s {
		case api.StreamStdout:
			stdout += string(p)
		case api.StreamStderr:
			stderr += string(p)
		case api.StreamExit:
			exit = &api.ExecExit{}
			_ = json.Unmarshal(p, exit)
		case api.StreamError:
			var e api.ExecError
			_ = json.Unmarshal(p, &e)
			execErr = e.Message
		}
	}
}

func TestExecHandler(t *testing.T) {
	rt := &execRuntime{fakeRuntime: newFakeRuntime(), cancelled: make(chan struct{})}
	a := startAgent(t, testConfig(t, "n1"), rt)
	c := api.NewClient(a.APIURL(), nil)
	ctx := ctxT(t)
	opts := func(cmd ...string) api.ExecOptions {
		return api.ExecOptions{Namespace: "default", Pod: "p", Command: cmd}
	}

	// Refusals come before the upgrade, as plain errors.
	missing := opts("true")
	missing.Pod = "nope"
	if _, err := c.Exec(ctx, missing); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("missing pod: %v, want not found", err)
	}
	if _, err := c.Exec(ctx, api.ExecOptions{Namespace: "default", Pod: "p"}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("no command: %v, want invalid", err)
	}

	// stdin to EOF; stdout and stderr apart; exit 0.
	o := opts("cat")
	o.Stdin, o.TTY = true, true
	rwc, err := c.Exec(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	fw := api.NewFrameWriter(rwc)
	_ = fw.WriteFrame(api.StreamStdin, []byte("hello "))
	_ = fw.WriteFrame(api.StreamStdin, []byte("there"))
	_ = fw.WriteFrame(api.StreamStdin, nil)
	out, errOut, exit, _ := session(t, rwc)
	rwc.Close()
	if out != "HELLO THERE|tty=true" || errOut != "to stderr" || exit == nil || exit.Code != 0 {
		t.Errorf("cat: stdout %q stderr %q exit %+v", out, errOut, exit)
	}

	// Exit codes, resizes, errors.
	rwc, err = c.Exec(ctx, opts("exit", "7"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, exit, _ := session(t, rwc); exit == nil || exit.Code != 7 {
		t.Errorf("exit 7: %+v", exit)
	}
	rwc.Close()
	rwc, err = c.Exec(ctx, opts("size"))
	if err != nil {
		t.Fatal(err)
	}
	_ = api.NewFrameWriter(rwc).WriteJSON(api.StreamResize, api.TerminalSize{Width: 132, Height: 43})
	if out, _, _, _ := session(t, rwc); out != "43 132" {
		t.Errorf("resize: %q", out)
	}
	rwc.Close()
	rwc, err = c.Exec(ctx, opts("fail"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, exit, msg := session(t, rwc); exit != nil || !strings.Contains(msg, "executable file not found") {
		t.Errorf("fail: exit %+v error %q", exit, msg)
	}
	rwc.Close()

	// A client that goes away ends the exec.
	rwc, err = c.Exec(ctx, opts("block"))
	if err != nil {
		t.Fatal(err)
	}
	rwc.Close()
	select {
	case <-rt.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the exec outlived its client")
	}
}

// tcpPair is a connected loopback pair (server side, client side).
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	cli, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv := <-accepted
	if srv == nil {
		t.Fatal("failed to accept")
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// startServeExec runs serveExec on a loopback pair; the channel closes
// when it returns.
func startServeExec(t *testing.T, rt execer, o api.ExecOptions) (net.Conn, <-chan struct{}) {
	t.Helper()
	srv, cli := tcpPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveExec(context.Background(), srv, bufio.NewReader(srv), rt, "id-c", o)
	}()
	return cli, done
}

func waitServeExec(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: serveExec did not return", what)
	}
}

// A resize that nobody takes (the command failed to start, or the
// process exited) must not hold the session open.
func TestServeExecResizeAfterExit(t *testing.T) {
	rt := &execRuntime{fakeRuntime: newFakeRuntime(), cancelled: make(chan struct{})}
	cli, done := startServeExec(t, rt, api.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"fail"}, TTY: true, Stdin: true})
	_ = api.NewFrameWriter(cli).WriteJSON(api.StreamResize, api.TerminalSize{Width: 80, Height: 24})
	if _, _, exit, msg := session(t, cli); exit != nil || !strings.Contains(msg, "executable file not found") {
		t.Errorf("fail: exit %+v error %q", exit, msg)
	}
	cli.Close()
	waitServeExec(t, done, "resize after a failed start")
}

// A client that goes while the process does not read its stdin ends the
// exec.
func TestServeExecClientGoneStdinUnread(t *testing.T) {
	rt := &execRuntime{fakeRuntime: newFakeRuntime(), cancelled: make(chan struct{})}
	cli, done := startServeExec(t, rt, api.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"block"}, Stdin: true})
	fw := api.NewFrameWriter(cli)
	_ = fw.WriteFrame(api.StreamStdin, []byte("typed ahead"))
	_ = fw.WriteFrame(api.StreamStdin, []byte("and more"))
	time.Sleep(50 * time.Millisecond)
	cli.Close()
	select {
	case <-rt.cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the exec outlived its client")
	}
	waitServeExec(t, done, "client gone")
}

// Even with more unread input than the queue holds, a client that goes
// is noticed (by the reader's probe).
func TestServeExecClientGoneStdinFull(t *testing.T) {
	rt := &execRuntime{fakeRuntime: newFakeRuntime(), cancelled: make(chan struct{})}
	cli, done := startServeExec(t, rt, api.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"block"}, Stdin: true})
	fw := api.NewFrameWriter(cli)
	for range execStdinQueue + 3 {
		_ = fw.WriteFrame(api.StreamStdin, []byte(strings.Repeat("x", 100)))
	}
	time.Sleep(100 * time.Millisecond)
	cli.Close()
	select {
	case <-rt.cancelled:
	case <-time.After(3*execProbeEvery + time.Second):
		t.Fatal("the exec outlived its client")
	}
	waitServeExec(t, done, "client gone with a full queue")
}

// A client that stays while the process is slow to take its input keeps
// its session, every byte delivered (the probes take no frame).
func TestServeExecSlowStdin(t *testing.T) {
	rt := &execRuntime{fakeRuntime: newFakeRuntime(), cancelled: make(chan struct{})}
	cli, done := startServeExec(t, rt, api.ExecOptions{Namespace: "default", Pod: "p", Command: []string{"slowcat"}, Stdin: true})
	fw := api.NewFrameWriter(cli)
	const frames = execStdinQueue + 40
	go func() {
		for range frames {
			_ = fw.WriteFrame(api.StreamStdin, []byte(strings.Repeat("x", 1000)))
		}
		_ = fw.WriteFrame(api.StreamStdin, nil)
	}()
	out, _, exit, msg := session(t, cli)
	if want := fmt.Sprint(frames * 1000); out != want || exit == nil || exit.Code != 0 {
		t.Errorf("slowcat: stdout %q (want %s) exit %+v error %q", out, want, exit, msg)
	}
	cli.Close()
	waitServeExec(t, done, "slow stdin")
}
