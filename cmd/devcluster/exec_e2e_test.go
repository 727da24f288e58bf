package main

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
)

// execStep is TestEndToEnd's `ctl exec` step, ctl → reconciler → agent →
// containerd, on the two-container example pod: a container must be
// named; the command runs in the pod's network namespace (it reaches the
// other container on 127.0.0.1) and its exit code is ctl's; a missing pod
// is refused; `-it` runs a shell through a pseudo-terminal with the
// window's size.
func (e *e2e) execStep(bin string) {
	t := e.t
	start := time.Now()
	defer func() { t.Logf("exec step took %s", time.Since(start).Round(time.Millisecond)) }()
	ctl := func(args ...string) (string, int) {
		out, err := e.c.Ctl(e.ctx, args...)
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out, ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("ctl %v: %v", args, err)
		}
		return out, 0
	}
	if out, code := ctl("exec", "-n", "demo", "web-with-sidecar", "--", "true"); code != 1 || !strings.Contains(out, "choose one of: [web poller]") {
		t.Errorf("exec without -c in a two-container pod: exit %d\n%s", code, out)
	}
	if out, code := ctl("exec", "-n", "demo", "nope", "--", "true"); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("exec in a missing pod: exit %d\n%s", code, out)
	}
	out, code := ctl("exec", "-n", "demo", "web-with-sidecar", "-c", "poller", "--", "sh", "-c", "wget -qO- http://127.0.0.1:8080/; exit 4")
	if code != 4 || !strings.Contains(out, "Hello from the web container") || !strings.Contains(out, "command terminated with exit code 4") {
		t.Errorf("exec wget: exit %d\n%s", code, out)
	}

	// -it through a pseudo-terminal.
	cmd := exec.CommandContext(e.ctx, filepath.Join(bin, "ctl"), append(e.c.CtlArgs(), "exec", "-it", "-n", "demo", "web-with-sidecar", "-c", "web", "--", "sh")...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 33, Cols: 99})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		_, _ = io.Copy(writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return screen.Write(p)
		}), ptmx)
	}()
	shown := func() string {
		mu.Lock()
		defer mu.Unlock()
		return screen.String()
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(shown(), "33 99") {
		if time.Now().After(deadline) {
			t.Fatalf("ctl exec -it: no window size on the screen: %q", shown())
		}
		_, _ = io.WriteString(ptmx, "stty size\r")
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end) && !strings.Contains(shown(), "33 99"); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	_, _ = io.WriteString(ptmx, "exit 2\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("ctl exec -it: %v, want exit 2; screen %q", err, shown())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("ctl exec -it did not exit; screen %q", shown())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
