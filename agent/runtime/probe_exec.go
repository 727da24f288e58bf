package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// maxExecOutput bounds what is kept of an exec's stdout and stderr (the
// message of a failed exec probe); the rest is read and dropped.
const maxExecOutput = 4 << 10

// execIOWait bounds how long the output of an exited exec is awaited: a
// child it left in the background may hold its stdout open.
const execIOWait = time.Second

// errExecTimeout is returned by execSync when the command outlived its
// timeout (it is killed).
var errExecTimeout = errors.New("exec timed out")

// execIDs makes exec IDs unique within a task across agent restarts (an
// exec left by a killed agent keeps its ID until its task goes).
var (
	execPrefix = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return "exec-" + hex.EncodeToString(b) + "-"
	}()
	execSeq atomic.Uint64
)

// execProbe runs a command in the container, as kubectl exec would: exit
// status 0 is success; the combined output is the failure's message.
type execProbe struct {
	r    *Runtime
	id   string // containerd container ID
	task client.Task
	cmd  []string
	kind probeKind
	// proc is the container's process spec, loaded at the first probe
	// (from containerd: an adopted task's spec is not rebuilt).
	proc *specs.Process
}

func (p *execProbe) probe(ctx context.Context, timeout time.Duration) (probeResult, string, error) {
	if len(p.cmd) == 0 {
		return resultUnknown, "", errors.New("exec probe has no command")
	}
	if p.proc == nil {
		proc, err := p.r.containerProcess(ctx, p.id)
		if err != nil {
			return resultUnknown, "", err
		}
		p.proc = proc
	}
	code, out, err := execSync(ctx, p.task, p.proc, p.cmd, timeout)
	switch {
	case errors.Is(err, errExecTimeout):
		// The kubelet's message (ExecProbeTimeout).
		return resultFailure, fmt.Sprintf("command %q timed out", strings.Join(p.cmd, " ")), nil
	case err != nil:
		return resultUnknown, "", err
	case code == 0:
		return resultSuccess, out, nil
	default:
		return resultFailure, out, nil
	}
}

// containerProcess returns the process spec of container id.
func (r *Runtime) containerProcess(ctx context.Context, id string) (*specs.Process, error) {
	cont, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("failed to load container %s: %w", id, err)
	}
	s, err := cont.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to read spec of container %s: %w", id, err)
	}
	if s.Process == nil {
		return nil, fmt.Errorf("container %s has no process spec", id)
	}
	return s.Process, nil
}

// execSync runs args in task as a process like the container's own (base:
// its environment, working directory, user, capabilities), with no
// terminal and no stdin, and waits at most timeout for it. It returns the
// exit status and the first maxExecOutput bytes of stdout and stderr
// together. A process still running at timeout (or when ctx ends) is
// killed; the error is then errExecTimeout (or ctx's).
func execSync(ctx context.Context, task client.Task, base *specs.Process, args []string, timeout time.Duration) (int, string, error) {
	proc := *base
	proc.Args = args
	proc.Terminal = false
	proc.ConsoleSize = nil
	var out boundedBuffer
	id := execPrefix + fmt.Sprint(execSeq.Add(1))
	pr, err := task.Exec(ctx, id, &proc, cio.NewCreator(cio.WithStreams(nil, &out, &out)))
	if err != nil {
		return -1, "", fmt.Errorf("failed to exec in container: %w", err)
	}
	// Cleanup and waiting are not cut short by ctx: the process must be
	// gone and deleted whatever happens.
	dctx := context.WithoutCancel(ctx)
	defer func() {
		if _, err := pr.Delete(dctx); err != nil {
			// Still running after SIGKILL, or the task is gone.
			pr.IO().Cancel()
			pr.IO().Close()
		}
	}()
	wctx, cancelWait := context.WithCancel(dctx)
	defer cancelWait()
	statusC, err := pr.Wait(wctx)
	if err != nil {
		return -1, "", fmt.Errorf("failed to wait for exec: %w", err)
	}
	if err := pr.Start(ctx); err != nil {
		return -1, "", fmt.Errorf("failed to start exec: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var failed error
	select {
	case st := <-statusC:
		if err := st.Error(); err != nil {
			return -1, "", fmt.Errorf("failed to wait for exec: %w", err)
		}
		ioDone := make(chan struct{})
		go func() {
			pr.IO().Wait()
			close(ioDone)
		}()
		timer.Reset(execIOWait)
		select {
		case <-ioDone:
		case <-timer.C:
			pr.IO().Cancel() // ends the copy; ioDone follows
			<-ioDone
		}
		return int(st.ExitCode()), out.String(), nil
	case <-timer.C:
		failed = errExecTimeout
	case <-ctx.Done():
		failed = ctx.Err()
	}
	_ = pr.Kill(dctx, syscall.SIGKILL)
	select {
	case <-statusC:
	case <-time.After(killWait):
	}
	return -1, "", failed
}

// boundedBuffer keeps the first maxExecOutput bytes written to it and
// drops the rest (while accepting it, so the writer never blocks). Safe
// for the two copiers of stdout and stderr.
type boundedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if room := maxExecOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	b.mu.Unlock()
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
