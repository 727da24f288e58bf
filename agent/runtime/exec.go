package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// execIn runs cmd in the running container c (its namespaces, root
// filesystem, environment, user and working directory, as `kubectl exec`
// does) and returns its exit code and combined output (the first
// maxExecOutput bytes), through execSync as exec probes do. A command
// still running after timeout (zero: none; ctx bounds it too) is killed
// and reported as an error. err is nil whenever the command ran to an exit
// status, whatever the code.
func (w *podWorker) execIn(ctx context.Context, c *ctr, cmd []string, timeout time.Duration) (exitCode int, output []byte, err error) {
	if len(cmd) == 0 {
		return -1, nil, errors.New("failed to exec: empty command")
	}
	cont, err := w.r.client.LoadContainer(ctx, c.id)
	if err != nil {
		return -1, nil, fmt.Errorf("failed to exec in container %s: %w", c.spec.Name, err)
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		return -1, nil, fmt.Errorf("failed to exec in container %s: %w", c.spec.Name, err)
	}
	proc, err := w.r.containerProcess(ctx, c.id)
	if err != nil {
		return -1, nil, err
	}
	if timeout <= 0 {
		timeout = time.Duration(math.MaxInt64)
	}
	code, out, err := execSync(ctx, task, proc, cmd, timeout)
	switch {
	case errors.Is(err, errExecTimeout):
		return -1, []byte(out), fmt.Errorf("command %q in container %s timed out after %s", cmd[0], c.spec.Name, timeout)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return -1, []byte(out), fmt.Errorf("command %q in container %s was cancelled", cmd[0], c.spec.Name)
	case err != nil:
		return -1, []byte(out), fmt.Errorf("failed to run %q in container %s: %w", cmd[0], c.spec.Name, err)
	}
	return code, []byte(out), nil
}
