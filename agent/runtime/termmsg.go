package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Termination messages, as the kubelet handles them: every container gets
// a host file, empty and writable by anyone (0666), bind-mounted at its
// terminationMessagePath; after the container exits the agent reads it
// (at most maxTermMessage bytes) into the terminated state's message. With
// FallbackToLogsOnError, an empty file and a failed exit, the tail of the
// container's log (maxTermLogBytes, maxTermLogLines) takes its place.
const (
	maxTermMessage  = 4096
	maxTermLogBytes = 2048
	maxTermLogLines = 80
)

// termMessagePath is where the container writes its message.
func termMessagePath(cs spec.Container) string {
	if cs.TerminationMessagePath != "" {
		return cs.TerminationMessagePath
	}
	return spec.DefaultTerminationMessagePath
}

// termFile is the host side of container's termination message file.
func (w *podWorker) termFile(container string) string {
	return filepath.Join(w.dir, "termination", container)
}

// termMessageMount empties c's termination message file (a new start gets
// a new message) and returns its bind mount. ok is false when the file
// could not be made: the container then runs without one, as under the
// kubelet.
func (w *podWorker) termMessageMount(c *ctr) (m specs.Mount, ok bool) {
	path := w.termFile(c.spec.Name)
	err := os.MkdirAll(filepath.Dir(path), 0o700)
	if err == nil {
		err = os.WriteFile(path, nil, 0o666)
	}
	if err == nil {
		// The mode, whatever the umask: the container's user may be anyone.
		err = os.Chmod(path, 0o666)
	}
	if err != nil {
		w.r.log.Warn("failed to create termination message file", "container", c.id, "err", err)
		return specs.Mount{}, false
	}
	return specs.Mount{Destination: termMessagePath(c.spec), Type: "bind", Source: path, Options: []string{"rbind", "rw"}}, true
}

// termMessageOpt adds c's termination message mount to its OCI spec.
func (w *podWorker) termMessageOpt(c *ctr) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if m, ok := w.termMessageMount(c); ok {
			s.Mounts = append(s.Mounts, m)
		}
		return nil
	}
}

// addTermMessage appends c's termination message to term's message (after
// ": " when there already is one, as the kubelet does).
func (w *podWorker) addTermMessage(c *ctr, term *api.StateTerminated) {
	msg := w.termMessage(c, term.ExitCode)
	if msg == "" {
		return
	}
	if term.Message != "" {
		term.Message += ": "
	}
	term.Message += msg
}

// termMessage reads what c left at its terminationMessagePath, or with
// FallbackToLogsOnError and nothing there after a failed exit, its log's
// tail.
func (w *podWorker) termMessage(c *ctr, exitCode int32) string {
	b, err := readAtMost(w.termFile(c.spec.Name), maxTermMessage)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("Error on reading termination log %s: %v", termMessagePath(c.spec), err)
	}
	if len(b) > 0 || exitCode == 0 || c.spec.TerminationMessagePolicy != spec.TerminationMessageFallbackToLogsOnError {
		return string(b)
	}
	w.r.mu.Lock()
	n := int(c.st.RestartCount)
	w.r.mu.Unlock()
	tail, err := logTail(w.logDir(c.spec.Name), n, maxTermLogBytes, maxTermLogLines)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	return string(tail)
}

// readAtMost returns the first n bytes of the file at path.
func readAtMost(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
