package naming

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// ExecConfig configures an Exec hook.
type ExecConfig struct {
	// Command is run by /bin/sh -c. Required.
	Command string
	// Retry bounds each run (the command's process group is killed when
	// Timeout is exceeded) and the back-off between failed ones; failed
	// runs are logged with the tail of their standard error.
	Retry
}

// Exec runs a command with each Snapshot as JSON on its standard input.
// Exit status 0 is success; any other, or a timeout, is a failure: it is
// logged with the tail of the command's standard error and the command is
// run again (with back-off) until it succeeds or a newer snapshot
// supersedes it. Its standard output is discarded. The environment is the
// reconciler's, plus STEVEDORE_NAMING_REVISION (the snapshot's revision).
type Exec struct {
	cfg ExecConfig
}

var _ Hook = (*Exec)(nil)

// NewExec returns an Exec hook; zero fields of cfg take their defaults.
func NewExec(cfg ExecConfig) *Exec {
	cfg.Retry.fill()
	return &Exec{cfg: cfg}
}

// String names the hook in logs.
func (e *Exec) String() string { return "exec " + e.cfg.Command }

// Notify implements Hook.
func (e *Exec) Notify(ctx context.Context, s *Snapshot) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("failed to encode the naming snapshot: %w", err)
	}
	return retry(ctx, e.cfg.Logger, e.String(), e.cfg.MinBackoff, e.cfg.MaxBackoff, func() error {
		return e.run(ctx, body, s.Revision)
	})
}

// stderrTail is how much of a failed command's standard error is kept.
const stderrTail = 2048

func (e *Exec) run(ctx context.Context, body []byte, revision string) error {
	actx, cancel := attemptContext(ctx, e.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(actx, "/bin/sh", "-c", e.cfg.Command)
	cmd.Stdin = bytes.NewReader(body)
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	cmd.Env = append(cmd.Environ(), "STEVEDORE_NAMING_REVISION="+revision)
	// Its own process group, killed whole on timeout: a shell's children
	// must not outlive it holding the pipes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if actx.Err() != nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s", e.cfg.Timeout)
	}
	if t := strings.TrimSpace(tail.String()); t != "" {
		return fmt.Errorf("naming command %q failed: %w; stderr: %s", e.cfg.Command, err, t)
	}
	return fmt.Errorf("naming command %q failed: %w", e.cfg.Command, err)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
	cut bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "…" + string(t.buf)
	}
	return string(t.buf)
}
