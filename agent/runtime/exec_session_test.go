package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/runtime"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// outBuffer is a bytes.Buffer safe for a writer and a poller.
type outBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *outBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *outBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExec: `kubectl exec`'s cases against a real container: output and
// exit codes, stdin, the target's errors, a TTY whose size follows
// resizes (stty size), and a client that goes away kills the process.
func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.sync(newPod("one", "", sh("app", "exec sleep 3600")), newPod("two", "", sh("a", "exec sleep 3600"), sh("b", "exec sleep 3600")))
	e.waitPod("one", "running", 30*time.Second, running)
	e.waitPod("two", "running", 30*time.Second, running)
	ctx := context.Background()

	// Targets.
	id, err := e.rt.ExecTarget("default", "one", "")
	if err != nil || id == "" {
		t.Fatalf("ExecTarget(one, \"\") = %q, %v", id, err)
	}
	if _, err := e.rt.ExecTarget("default", "two", ""); !errors.Is(err, errs.ErrInvalid) || !strings.Contains(err.Error(), "choose one of: [a b]") {
		t.Errorf("ExecTarget(two, \"\"): %v, want invalid naming a and b", err)
	}
	for _, c := range [][2]string{{"nope", ""}, {"one", "nope"}} {
		if _, err := e.rt.ExecTarget("default", c[0], c[1]); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ExecTarget(%s, %s): %v, want not found", c[0], c[1], err)
		}
	}

	// Output, separate streams, exit codes.
	var out, errOut outBuffer
	code, err := e.rt.Exec(ctx, id, []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}, false, api.ExecIO{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 3 || out.String() != "hello\n" || errOut.String() != "oops\n" {
		t.Errorf("exec: code %d err %v stdout %q stderr %q", code, err, out.String(), errOut.String())
	}
	if _, err := e.rt.Exec(ctx, id, []string{"/no/such/binary"}, false, api.ExecIO{Stdout: io.Discard, Stderr: io.Discard}); err == nil {
		t.Errorf("exec of a missing binary: no error")
	}

	// Stdin to EOF.
	out = outBuffer{}
	code, err = e.rt.Exec(ctx, id, []string{"sh", "-c", "tr a-z A-Z; echo done"}, false, api.ExecIO{Stdin: strings.NewReader("shout\n"), Stdout: &out, Stderr: io.Discard})
	if err != nil || code != 0 || out.String() != "SHOUT\ndone\n" {
		t.Errorf("stdin: code %d err %v out %q", code, err, out.String())
	}

	// A TTY: a shell reads commands from the terminal; its size follows.
	inR, inW := io.Pipe()
	resize := make(chan api.TerminalSize)
	out = outBuffer{}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := e.rt.Exec(ctx, id, []string{"sh"}, true, api.ExecIO{Stdin: inR, Stdout: &out, Resize: resize})
		done <- result{code, err}
	}()
	resize <- api.TerminalSize{Width: 101, Height: 41}
	waitOutput(t, &out, inW, "tty -s && echo is-a-tty; stty size\n", "41 101")
	if !strings.Contains(out.String(), "is-a-tty") {
		t.Errorf("no terminal: %q", out.String())
	}
	resize <- api.TerminalSize{Width: 120, Height: 50}
	waitOutput(t, &out, inW, "stty size\n", "50 120")
	if _, err := io.WriteString(inW, "exit 7\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.code != 7 {
			t.Errorf("tty exit: code %d err %v", r.code, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("tty shell did not exit; output %q", out.String())
	}
	inW.Close()

	// A client that goes away: the process is killed.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		code, err := e.rt.Exec(cctx, id, []string{"sleep", "3600"}, false, api.ExecIO{Stdout: io.Discard, Stderr: io.Discard})
		done <- result{code, err}
	}()
	waitProcs(t, e, id, "sleep 3600", 2)
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled exec: code %d err %v", r.code, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("cancelled exec did not return")
	}
	waitProcs(t, e, id, "sleep 3600", 1)
}

// waitOutput writes cmd to the terminal until out shows want (a resize
// and the shell's reading race; the size applies before long).
func waitOutput(t *testing.T, out *outBuffer, in io.Writer, cmd, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the terminal's output: %q", want, out.String())
		}
		if _, err := io.WriteString(in, cmd); err != nil {
			t.Fatal(err)
		}
		poll(func() bool { return strings.Contains(out.String(), want) }, time.Second)
	}
}

// poll waits up to d for cond.
func poll(cond func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// waitProcs waits until the container shows n processes whose command
// line contains match (the container's own `sleep 3600` is one).
func waitProcs(t *testing.T, e *env, id, match string, n int) {
	t.Helper()
	var got string
	if !poll(func() bool {
		var out outBuffer
		if _, err := e.rt.Exec(context.Background(), id, []string{"ps", "-o", "args"}, false, api.ExecIO{Stdout: &out, Stderr: io.Discard}); err != nil {
			got = err.Error()
			return false
		}
		got = out.String()
		return strings.Count(got, match) == n
	}, 15*time.Second) {
		t.Fatalf("want %d %q processes; ps: %q", n, match, got)
	}
}
