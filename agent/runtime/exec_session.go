package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// ExecTarget returns the containerd ID of the running container an exec in
// namespace/pod targets: container by name (an init container too), or the
// pod's only container when container is "". A pod or container it does
// not run is ErrNotFound; a missing name in a pod of several containers is
// invalid, naming them as the Kubernetes API server does.
func (r *Runtime) ExecTarget(namespace, pod, container string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.pods {
		if w.pod.Namespace != namespace || w.pod.Name != pod || w.stopping() {
			continue
		}
		if container == "" {
			if len(w.ctrs) != 1 {
				names := make([]string, 0, len(w.ctrs))
				for _, c := range w.ctrs {
					names = append(names, c.spec.Name)
				}
				return "", errs.Mark(fmt.Errorf("a container name must be specified for pod %s, choose one of: [%s]", pod, strings.Join(names, " ")), errs.ErrInvalid)
			}
			container = w.ctrs[0].spec.Name
		}
		for _, c := range w.allCtrs() {
			if c.spec.Name != container {
				continue
			}
			if c.st.State.Running == nil {
				return "", fmt.Errorf("container %s of pod %s/%s is not running: %w", container, namespace, pod, ErrNotFound)
			}
			return c.id, nil
		}
		return "", fmt.Errorf("container %s is not valid for pod %s/%s: %w", container, namespace, pod, ErrNotFound)
	}
	return "", fmt.Errorf("pod %s/%s not found: %w", namespace, pod, ErrNotFound)
}

// Exec runs cmd in the running container id (an ExecTarget) as `kubectl
// exec` does: a process like the container's own (its environment,
// working directory, user, capabilities, seccomp), with a terminal when
// tty (then stdout and stderr are one stream), wired to eio. It returns
// the process's exit status (128+n when killed by signal n). When ctx
// ends first (the client went away) the process is killed and the error
// is ctx's.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string, tty bool, eio api.ExecIO) (int, error) {
	if len(cmd) == 0 {
		return -1, errs.Mark(errors.New("failed to exec: empty command"), errs.ErrInvalid)
	}
	ctx = namespaces.WithNamespace(ctx, r.cfg.Namespace)
	cont, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return -1, fmt.Errorf("failed to exec in container %s: %w", id, err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return -1, fmt.Errorf("failed to exec in container %s: %w", id, err)
	}
	base, err := r.containerProcess(ctx, id)
	if err != nil {
		return -1, err
	}
	proc := *base
	proc.Args = cmd
	proc.Terminal = tty
	proc.ConsoleSize = nil
	// The shim holds the stdin fifo open: the process sees EOF only when
	// told (CloseIO), once its input has been copied (ctr's stdinCloser).
	var stdin io.Reader
	stdinEOF := make(chan struct{})
	if eio.Stdin != nil {
		stdin = &eofReader{r: eio.Stdin, eof: stdinEOF}
	}
	opts := []cio.Opt{cio.WithStreams(stdin, eio.Stdout, eio.Stderr)}
	if tty {
		opts = append(opts, cio.WithTerminal)
	}
	execID := execPrefix + fmt.Sprint(execSeq.Add(1))
	pr, err := task.Exec(ctx, execID, &proc, cio.NewCreator(opts...))
	if err != nil {
		return -1, fmt.Errorf("failed to exec in container: %w", err)
	}
	dctx := context.WithoutCancel(ctx)
	defer func() {
		if _, err := pr.Delete(dctx); err != nil {
			pr.IO().Cancel()
			pr.IO().Close()
		}
	}()
	wctx, cancelWait := context.WithCancel(dctx)
	defer cancelWait()
	statusC, err := pr.Wait(wctx)
	if err != nil {
		return -1, fmt.Errorf("failed to wait for exec: %w", err)
	}
	if err := pr.Start(ctx); err != nil {
		return -1, fmt.Errorf("failed to start %q: %w", cmd[0], err)
	}
	resize := eio.Resize
	for {
		select {
		case st := <-statusC:
			if err := st.Error(); err != nil {
				return -1, fmt.Errorf("failed to wait for exec: %w", err)
			}
			waitExecIO(pr.IO())
			return int(st.ExitCode()), nil
		case <-stdinEOF:
			stdinEOF = nil
			if err := pr.CloseIO(ctx, client.WithStdinCloser); err != nil {
				r.log.Debug("failed to close exec stdin", "container", id, "err", err)
			}
		case sz, ok := <-resize:
			if !ok {
				resize = nil
				continue
			}
			if tty && sz.Width > 0 && sz.Height > 0 {
				if err := pr.Resize(ctx, uint32(sz.Width), uint32(sz.Height)); err != nil {
					r.log.Debug("failed to resize exec terminal", "container", id, "err", err)
				}
			}
		case <-ctx.Done():
			_ = pr.Kill(dctx, syscall.SIGKILL)
			select {
			case <-statusC:
			case <-time.After(killWait):
			}
			return -1, ctx.Err()
		}
	}
}

// waitExecIO waits (at most execIOWait) for an exited process's output to
// be copied: a child it left in the background may hold it open.
func waitExecIO(pio cio.IO) {
	done := make(chan struct{})
	go func() {
		pio.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(execIOWait):
		pio.Cancel()
		<-done
	}
}

// eofReader closes eof the first time r reports the end of its input.
type eofReader struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}
