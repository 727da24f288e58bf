package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// TestExecHelperProcess is ctl's main when the test runs this binary as
// ctl (under a pseudo-terminal); otherwise it does nothing.
func TestExecHelperProcess(*testing.T) {
	if os.Getenv("STEVEDORE_CTL_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(context.Background(), args, os.Stdout, os.Stderr, func(string) string { return "" }))
}

// shellServer is a reconciler's exec endpoint in process whose "pod" web
// runs a real local sh: in a pseudo-terminal (creack/pty) with -t, so
// that raw mode, echo and window sizes behave as in a container.
func shellServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathExec, func(w http.ResponseWriter, r *http.Request) {
		o, err := agentapi.ParseExecOptions(r.URL.Query())
		switch {
		case err != nil:
			errs.WriteHTTP(w, errs.Mark(err, errs.ErrInvalid))
			return
		case o.Pod != "web" || o.Namespace != "default":
			errs.WriteHTTP(w, errs.Mark(errors.New("pod "+o.Namespace+"/"+o.Pod+" not found"), errs.ErrNotFound))
			return
		}
		conn, br, err := agentapi.Upgrade(w)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer conn.Close()
		runShell(t, o, br, agentapi.NewFrameWriter(conn))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runShell(t *testing.T, o agentapi.ExecOptions, br io.Reader, fw *agentapi.FrameWriter) {
	cmd := exec.Command(o.Command[0], o.Command[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "PS1=$ ", "TERM=xterm"}
	var in io.WriteCloser
	var ptmx *os.File
	var err error
	if o.TTY {
		ptmx, err = pty.Start(cmd)
		in = ptmx
	} else {
		cmd.Stdout, cmd.Stderr = fw.Stream(agentapi.StreamStdout), fw.Stream(agentapi.StreamStderr)
		if in, err = cmd.StdinPipe(); err == nil {
			err = cmd.Start()
		}
	}
	if err != nil {
		_ = fw.WriteJSON(agentapi.StreamError, agentapi.ExecError{Message: err.Error()})
		return
	}
	var copied sync.WaitGroup
	if ptmx != nil {
		copied.Add(1)
		go func() {
			defer copied.Done()
			_, _ = io.Copy(fw.Stream(agentapi.StreamStdout), ptmx)
		}()
	}
	go func() {
		fr := agentapi.NewFrameReader(br)
		for {
			stream, p, err := fr.ReadFrame()
			if err != nil {
				_ = cmd.Process.Kill()
				return
			}
			switch stream {
			case agentapi.StreamStdin:
				if len(p) == 0 && ptmx == nil {
					in.Close()
				} else {
					_, _ = in.Write(p)
				}
			case agentapi.StreamResize:
				var sz agentapi.TerminalSize
				if json.Unmarshal(p, &sz) == nil && ptmx != nil {
					_ = pty.Setsize(ptmx, &pty.Winsize{Cols: sz.Width, Rows: sz.Height})
				}
			}
		}
	}()
	err = cmd.Wait()
	if ptmx != nil {
		// The pty's output ends with EIO once the shell is gone.
		copied.Wait()
		ptmx.Close()
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	_ = fw.WriteJSON(agentapi.StreamExit, agentapi.ExecExit{Code: code})
}

// TestExecInteractiveTTY drives `ctl exec -it web -- sh` through a
// pseudo-terminal as a person would: types commands, reads their output,
// resizes the window, exits with a code that becomes ctl's.
func TestExecInteractiveTTY(t *testing.T) {
	srv := shellServer(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecHelperProcess$", "--", "--server", srv.URL, "exec", "-it", "web", "--", "sh")
	cmd.Env = append(os.Environ(), "STEVEDORE_CTL_HELPER=1")
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 90})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	// type sends a line until want shows (the first size may trail the
	// shell's start; everything else shows at once).
	typeUntil := func(line, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(shown(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("typed %q, no %q on the screen: %q", line, want, shown())
			}
			if _, err := io.WriteString(ptmx, line+"\r"); err != nil {
				t.Fatal(err)
			}
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !strings.Contains(shown(), want); {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	typeUntil("echo $((6*7))x", "42x")
	typeUntil("stty size", "30 90")
	// The window grows: the kernel sends ctl SIGWINCH, ctl the new size.
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	typeUntil("stty size", "50 120")
	if _, err := io.WriteString(ptmx, "exit 3\r"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("ctl exit: %v, want code 3; screen %q", err, shown())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("ctl did not exit; screen %q", shown())
	}
	// ctl wrote the message before it exited, but the reader above may not
	// have drained the pty yet.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(shown(), "command terminated with exit code 3"); {
		if time.Now().After(deadline) {
			t.Errorf("no exit message: %q", shown())
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExecNoTTY: separate stdout and stderr, the command's exit code as
// ctl's, a refusal as an error.
func TestExecNoTTY(t *testing.T) {
	srv := shellServer(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--server", srv.URL, "exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 5"}, &out, &errOut, func(string) string { return "" })
	if code != 5 || out.String() != "out\n" || !strings.Contains(errOut.String(), "err\n") || !strings.Contains(errOut.String(), "command terminated with exit code 5") {
		t.Errorf("exec: code %d stdout %q stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	code = run(context.Background(), []string{"--server", srv.URL, "exec", "nope", "--", "true"}, &out, &errOut, func(string) string { return "" })
	if code != exitChanges || !strings.Contains(errOut.String(), "pod default/nope not found") {
		t.Errorf("missing pod: code %d stderr %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"--server", srv.URL, "exec", "web"}, &out, &errOut, func(string) string { return "" }); code != exitError {
		t.Errorf("no command: code %d", code)
	}
}
