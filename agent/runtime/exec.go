package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// maxExecOutput bounds what execIn keeps of a command's output, as the
// kubelet bounds a probe's or hook's (10 KiB).
const maxExecOutput = 10 << 10

// execIOWait bounds how long execIn waits for a command's output to drain
// after it exited (a child it left behind may hold the pipe open).
const execIOWait = time.Second

// execIn runs cmd in the running container c (its namespaces, root
// filesystem, environment, user and working directory, as `kubectl exec`
// does) and returns its exit code and combined output (the first 10 KiB).
// A command still running after timeout (zero: none; ctx bounds it too) is
// killed and reported as an error. err is nil whenever the command ran to
// an exit status, whatever the code.
func (w *podWorker) execIn(ctx context.Context, c *ctr, cmd []string, timeout time.Duration) (exitCode int, output []byte, err error) {
	if len(cmd) == 0 {
		return -1, nil, errors.New("failed to exec: empty command")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cont, err := w.r.client.LoadContainer(ctx, c.id)
	if err != nil {
		return -1, nil, fmt.Errorf("failed to exec in container %s: %w", c.spec.Name, err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return -1, nil, fmt.Errorf("failed to exec in container %s: %w", c.spec.Name, err)
	}
	sp, err := cont.Spec(ctx)
	if err != nil || sp.Process == nil {
		return -1, nil, fmt.Errorf("failed to read the spec of container %s: %w", c.spec.Name, errors.Join(err, errors.New("no process")))
	}
	pspec := *sp.Process
	pspec.Args = append([]string(nil), cmd...)
	pspec.Terminal = false
	pspec.ConsoleSize = nil

	var out capBuffer
	proc, err := task.Exec(ctx, "exec-"+randomHex(6), &pspec, cio.NewCreator(cio.WithStreams(nil, &out, &out)))
	if err != nil {
		return -1, nil, fmt.Errorf("failed to exec %q in container %s: %w", cmd[0], c.spec.Name, err)
	}
	// Cleanup and the exit wait outlive ctx: a timed-out command is still
	// killed and deleted.
	bg := context.WithoutCancel(ctx)
	defer func() {
		if _, derr := proc.Delete(bg, client.WithProcessKill); derr != nil && err == nil {
			w.r.log.Debug("failed to delete exec process", "container", c.id, "err", derr)
		}
	}()
	wctx, wcancel := context.WithCancel(bg)
	defer wcancel()
	exitCh, err := proc.Wait(wctx)
	if err != nil {
		return -1, nil, fmt.Errorf("failed to wait for exec in container %s: %w", c.spec.Name, err)
	}
	if err := proc.Start(ctx); err != nil {
		return -1, nil, fmt.Errorf("failed to start %q in container %s: %w", cmd[0], c.spec.Name, err)
	}
	select {
	case st := <-exitCh:
		code, _, xerr := st.Result()
		waitIO(proc.IO())
		if xerr != nil {
			return -1, out.Bytes(), fmt.Errorf("failed to run %q in container %s: %w", cmd[0], c.spec.Name, xerr)
		}
		return int(code), out.Bytes(), nil
	case <-ctx.Done():
		_ = proc.Kill(bg, syscall.SIGKILL)
		select {
		case <-exitCh:
		case <-time.After(killWait):
		}
		waitIO(proc.IO())
		what := "was cancelled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
			what = "timed out after " + timeout.String()
		}
		return -1, out.Bytes(), fmt.Errorf("command %q in container %s %s", cmd[0], c.spec.Name, what)
	}
}

// waitIO waits for an exec's output to be copied, at most execIOWait.
func waitIO(io cio.IO) {
	if io == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(execIOWait):
	}
}

// capBuffer is an io.Writer, safe for the two copiers of stdout and
// stderr, that keeps the first maxExecOutput bytes and drops the rest.
type capBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := maxExecOutput - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *capBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
