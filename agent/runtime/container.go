package runtime

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Container labels: what a restarted agent needs to recognise its
// containers (the full spec is in the pod record under DataDir).
const (
	LabelPodUID       = "stevedore.dev/pod-uid"
	LabelPodNamespace = "stevedore.dev/pod-namespace"
	LabelPodName      = "stevedore.dev/pod-name"
	LabelContainer    = "stevedore.dev/container"
	LabelNode         = "stevedore.dev/node"
	LabelPodID        = "stevedore.dev/pod-id"
)

// shimGroupAnnotation makes the runc v2 shim serve every container with the
// same value from one process.
const shimGroupAnnotation = "io.containerd.runc.v2.group"

// killWait bounds how long a SIGKILLed task may take to be reported gone.
const killWait = 10 * time.Second

// running is a started task and its exit channel.
type running struct {
	task    client.Task
	exitCh  <-chan client.ExitStatus
	started time.Time
}

// runContainer supervises one container until the pod stops (then removes
// it) or the runtime closes (then leaves it running).
func (w *podWorker) runContainer(ctx context.Context, c *ctr) {
	r := w.r
	w.waitInitialized(ctx, c)
	pullFailures, createFailures := 0, 0
	// pullCtx also ends when the pod is being removed, so that removing a
	// pod does not wait for a slow registry.
	pullCtx, cancelPull := context.WithCancel(ctx)
	defer cancelPull()
	go func() {
		select {
		case <-w.stopCh:
			cancelPull()
		case <-pullCtx.Done():
		}
	}()
	for {
		if w.stopping() {
			w.terminate(ctx, c, nil) // an adopted task, or nothing running
			return
		}
		if ctx.Err() != nil {
			return
		}
		if term := c.adoptedExit; term != nil {
			c.adoptedExit = nil
			if !w.resumeExit(ctx, c, term) {
				w.waitEnd(ctx, c)
				return
			}
			continue
		}
		run := c.adopted
		c.adopted = nil
		adopted := run != nil
		if run == nil {
			t0 := time.Now()
			pulled := false
			img, err := r.ensureImage(pullCtx, c.spec, func() {
				pulled = true
				w.event(c.spec.Name, api.EventNormal, api.EventPulling, fmt.Sprintf("Pulling image %q", c.spec.Image))
			})
			tImage := time.Since(t0)
			if err != nil {
				if ctx.Err() != nil || w.stopping() {
					continue
				}
				pullFailures++
				reason := api.ReasonErrImagePull
				if errors.Is(err, errImageNeverPull) {
					reason = "ErrImageNeverPull"
				}
				w.pullFailedEvents(c, reason, err)
				w.update(func() {
					c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: reason, Message: err.Error()}}
				})
				delay := r.backoffDelay(pullFailures)
				first := min(delay/2, time.Second)
				if !w.sleep(ctx, first) {
					continue
				}
				w.update(func() {
					c.st.State = api.ContainerState{Waiting: &api.StateWaiting{
						Reason:  api.ReasonImagePullBackOff,
						Message: fmt.Sprintf("Back-off pulling image %q: %s", c.spec.Image, err),
					}}
				})
				w.pullBackOffEvents(c)
				w.sleep(ctx, delay-first)
				continue
			}
			pullFailures = 0
			w.pulledEvent(c, pulled, tImage)
			run, err = w.startTask(ctx, c, img)
			if err != nil {
				if ctx.Err() != nil || w.stopping() {
					continue
				}
				if !errors.Is(err, errEvicted) {
					w.event(c.spec.Name, api.EventWarning, api.EventFailed, "Error: "+err.Error())
				}
				if park, handled := w.configWait(ctx, c, err); handled {
					if park {
						w.waitEnd(ctx, c)
						return
					}
					continue
				}
				if isCreateErr(err) {
					createFailures++
					w.update(func() {
						c.st.State = api.ContainerState{Waiting: &api.StateWaiting{Reason: createFailureReason(err), Message: err.Error()}}
					})
					w.sleep(ctx, r.backoffDelay(createFailures))
					continue
				}
				createFailures = 0
				now := time.Now().UTC()
				code := int32(128)
				if isNotFoundExec(err) {
					code = 127
				}
				term := &api.StateTerminated{ExitCode: code, Reason: api.ReasonContainerCannotRun, Message: err.Error(), StartedAt: now, FinishedAt: now}
				if !w.afterExit(ctx, c, term, 0) {
					w.waitEnd(ctx, c)
					return
				}
				continue
			}
			createFailures = 0
			r.imageStarted(img) // imagegc.go
			r.log.Debug("container started", "container", c.id, "image", tImage, "total", time.Since(t0))
			w.postStart(ctx, c, run)
		}
		probes := w.startProbes(ctx, c, run, adopted)
		select {
		case st := <-run.exitCh:
			probes.stop()
			if ctx.Err() != nil && !w.stopping() {
				return // closing: the next process sees the exit
			}
			term := w.exited(c, run, st)
			if !w.afterExit(ctx, c, term, term.FinishedAt.Sub(run.started)) {
				w.waitEnd(ctx, c)
				return
			}
		case <-w.stopCh:
			probes.stop()
			w.terminate(ctx, c, run)
			return
		case <-ctx.Done():
			probes.stop()
			return
		}
	}
}

// waitEnd parks a container that will not run again until its pod is
// removed (then the container goes) or the runtime closes.
func (w *podWorker) waitEnd(ctx context.Context, c *ctr) {
	c.markFinal()
	select {
	case <-w.stopCh:
		if err := w.r.removeContainer(context.WithoutCancel(ctx), c.id, w.gracePeriod()); err != nil {
			w.r.log.Warn("failed to remove container", "container", c.id, "err", err)
		}
	case <-ctx.Done():
	}
}

// afterExit records a termination and applies the restart policy: it
// returns false when the container stays terminated, true after the
// back-off when it should start again (or when interrupted).
func (w *podWorker) afterExit(ctx context.Context, c *ctr, term *api.StateTerminated, ranFor time.Duration) bool {
	policy := w.policyFor(c)
	// A container killed for a failed liveness or startup probe restarts
	// unless the policy is Never, whatever its exit code (kubelet).
	restart := policy == spec.RestartPolicyAlways || (policy == spec.RestartPolicyOnFailure && (term.ExitCode != 0 || c.probe.killed))
	if !restart {
		w.update(func() {
			c.st.State = api.ContainerState{Terminated: term}
			c.st.Ready, c.st.Started = false, nil
		})
		return false
	}
	var delay time.Duration
	w.update(func() {
		if ranFor >= backoffReset {
			c.crashes = 0
		}
		c.crashes++
		delay = w.r.backoffDelay(c.crashes)
		c.st.LastTerminationState = api.ContainerState{Terminated: term}
		c.st.Ready, c.st.Started = false, nil
		c.st.State = api.ContainerState{Waiting: &api.StateWaiting{
			Reason:  api.ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.spec.Name, w.pod.Name, w.pod.Namespace, w.pod.UID),
		}}
	})
	w.event(c.spec.Name, api.EventWarning, api.EventBackOff, fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.spec.Name, w.pod.Name, w.pod.Namespace, w.pod.UID))
	if !w.sleep(ctx, delay) {
		return true
	}
	w.update(func() { c.st.RestartCount++ })
	return true
}

// resumeExit applies the restart policy to an exit a previous agent process
// saw (or that happened while none ran), without counting it again: false
// when the container stays terminated; true once the rest of its back-off
// has passed (or when interrupted).
func (w *podWorker) resumeExit(ctx context.Context, c *ctr, term *api.StateTerminated) bool {
	policy := w.policyFor(c)
	if policy == spec.RestartPolicyNever || (policy == spec.RestartPolicyOnFailure && term.ExitCode == 0) {
		w.update(func() {
			c.st.State = api.ContainerState{Terminated: term}
			c.st.Ready, c.st.Started = false, nil
		})
		return false
	}
	var rest time.Duration
	w.update(func() {
		// c.crashes already counts this exit (afterExit did, before the
		// previous process stopped).
		delay := w.r.backoffDelay(max(c.crashes, 1))
		rest = max(0, delay-time.Since(term.FinishedAt))
		c.st.LastTerminationState = api.ContainerState{Terminated: term}
		c.st.Ready, c.st.Started = false, nil
		c.st.State = api.ContainerState{Waiting: &api.StateWaiting{
			Reason:  api.ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.spec.Name, w.pod.Name, w.pod.Namespace, w.pod.UID),
		}}
	})
	if !w.sleep(ctx, rest) {
		return true
	}
	w.update(func() { c.st.RestartCount++ })
	return true
}

// exited turns a task's exit into a termination state and deletes the task.
func (w *podWorker) exited(c *ctr, run *running, st client.ExitStatus) *api.StateTerminated {
	ctx := context.WithoutCancel(w.r.ctx)
	code := int32(st.ExitCode())
	finished := st.ExitTime().UTC()
	if finished.IsZero() || finished.Year() < 2000 {
		finished = time.Now().UTC()
	}
	term := &api.StateTerminated{ExitCode: code, StartedAt: run.started, FinishedAt: finished}
	if code > 128 && code < 128+65 {
		term.Signal = code - 128
	}
	oom := false
	if term.Signal == int32(syscall.SIGKILL) {
		oom = cgroupOOMKilled(path.Join(w.podCgroup(), c.id)) || cgroupOOMKilled(path.Join("/", w.r.cfg.Namespace, c.id)) || w.r.oom.killed(c.id, run.started, 300*time.Millisecond)
	}
	switch {
	case oom:
		term.Reason = api.ReasonOOMKilled
	case code == 0:
		term.Reason = api.ReasonCompleted
	default:
		term.Reason = api.ReasonError
	}
	if st.Error() != nil {
		term.Message = st.Error().Error()
	}
	// Deleting the task waits for the shim to finish copying the
	// container's output into its log: the log's tail (the message of
	// FallbackToLogsOnError) is read only after.
	if _, err := run.task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		w.r.log.Warn("failed to delete task", "container", c.id, "err", err)
	}
	w.addTermMessage(c, term)
	w.r.oom.forget(c.id)
	return term
}

// startTask (re)creates the container from img and starts its task. A
// container left from a previous run is replaced, as the kubelet does:
// every start gets a fresh root filesystem.
func (w *podWorker) startTask(ctx context.Context, c *ctr, img client.Image) (*running, error) {
	r := w.r
	if c.mayExist {
		if err := r.removeContainer(ctx, c.id, 0); err != nil {
			return nil, &errCreate{err}
		}
	}
	c.mayExist = true
	cont, err := w.createContainer(ctx, c, img)
	if err != nil {
		r.images.forget(img.Name())
		return nil, &errCreate{err}
	}
	w.event(c.spec.Name, api.EventNormal, api.EventCreated, "Created container "+c.spec.Name)
	select {
	case <-w.sandboxUp:
	case <-w.stopCh:
		return nil, errors.New("pod stopping")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	logIO, err := w.logIO(c)
	if err != nil {
		return nil, err
	}
	task, err := cont.NewTask(ctx, logIO)
	if err != nil {
		return nil, fmt.Errorf("failed to create task: %w", err)
	}
	// Wait before Start so an immediate exit is not missed; not bound to
	// ctx, so closing the runtime is not mistaken for an exit.
	exitCh, err := task.Wait(context.WithoutCancel(r.ctx))
	if err != nil {
		_, _ = task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		return nil, fmt.Errorf("failed to wait for task: %w", err)
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(context.WithoutCancel(ctx), client.WithProcessKill)
		return nil, fmt.Errorf("failed to start task: %w", err)
	}
	now := time.Now().UTC()
	imageID := ""
	if d := img.Target().Digest; d != "" {
		imageID = img.Name() + "@" + d.String()
	}
	w.update(func() {
		c.startedAt = now
		c.st.ContainerID = "containerd://" + c.id
		c.st.ImageID = imageID
		c.st.State = api.ContainerState{Running: &api.StateRunning{StartedAt: now}}
		c.resetProbesLocked()
		if hasPostStart(c.spec) {
			// Neither started nor ready until the hook succeeds
			// (postStart resets the probes' state then).
			c.probe.started, c.probe.ready = false, false
			c.applyProbesLocked()
		}
	})
	w.event(c.spec.Name, api.EventNormal, api.EventStarted, "Started container "+c.spec.Name)
	return &running{task: task, exitCh: exitCh, started: now}, nil
}

func (w *podWorker) createContainer(ctx context.Context, c *ctr, img client.Image) (client.Container, error) {
	r := w.r
	ic, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed to read image config: %w", err)
	}
	// Env (with the Services of this start, not of the pod's: a restarted
	// container sees the Services that exist at its restart, as in
	// Kubernetes) and volume mounts (volumes_mount.go).
	cfgOpts, env, err := w.containerConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	args := processArgs(ic.Config.Entrypoint, ic.Config.Cmd, c.spec, env)
	if len(args) == 0 {
		return nil, errors.New("failed to create container: no command specified")
	}
	ro := func(name, dst string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: filepath.Join(w.dir, name), Options: []string{"rbind", "ro"}}
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithHostname(w.hostname()),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: w.netnsPath()}),
		oci.WithMounts([]specs.Mount{ro("hosts", "/etc/hosts"), ro("hostname", "/etc/hostname"), ro("resolv.conf", "/etc/resolv.conf")}),
		w.termMessageOpt(c),
		// One shim per pod rather than per container, as CRI does.
		oci.WithAnnotations(map[string]string{shimGroupAnnotation: netnsPrefix + w.id}),
	}
	opts = append(opts, cfgOpts...)
	if c.spec.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(c.spec.WorkingDir))
	}
	opts = append(opts, resourceOpts(c.spec.Resources)...)
	opts = append(opts, withCgroupsPath(path.Join(w.podCgroup(), c.id)))
	if limit := r.cfg.podPidsLimit(); limit >= 0 { // none: runc creates the pod's cgroup
		if err := ensurePodCgroup(cgroupRoot, w.podCgroup(), limit); err != nil {
			return nil, err
		}
	}
	sec, err := w.securityOpts(c, ic.Config.User)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	labels := map[string]string{
		LabelPodUID:       w.pod.UID,
		LabelPodNamespace: w.pod.Namespace,
		LabelPodName:      w.pod.Name,
		LabelContainer:    c.spec.Name,
		LabelNode:         r.cfg.NodeName,
		LabelPodID:        w.id,
	}
	create := func() (client.Container, error) {
		return r.client.NewContainer(ctx, c.id,
			client.WithImage(img),
			client.WithSnapshotter(r.cfg.Snapshotter),
			client.WithNewSnapshot(c.id, img),
			client.WithNewSpec(opts...),
			client.WithContainerLabels(labels),
		)
	}
	cont, err := create()
	if errdefs.IsAlreadyExists(err) {
		// A snapshot left by an interrupted create (the agent died
		// between snapshot and container): remove it and retry once.
		if rerr := r.client.SnapshotService(r.cfg.Snapshotter).Remove(ctx, c.id); rerr == nil {
			cont, err = create()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create container: %w", err)
	}
	return cont, nil
}

// resourceOpts maps Kubernetes resources onto cgroup settings: the memory
// limit, a CFS quota from the CPU limit and CPU shares from the request
// (a request defaults to the limit; none at all gets the minimum, 2 shares).
func resourceOpts(res spec.Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if q, ok := res.Limits[spec.ResourceMemory]; ok && q.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(q.Value())))
	}
	const period = 100000
	if q, ok := res.Limits[spec.ResourceCPU]; ok && q.MilliValue() > 0 {
		quota := q.MilliValue() * period / 1000
		if quota < 1000 {
			quota = 1000
		}
		opts = append(opts, oci.WithCPUCFS(quota, period))
	}
	var milli int64
	if q, ok := res.Requests[spec.ResourceCPU]; ok {
		milli = q.MilliValue()
	} else if q, ok := res.Limits[spec.ResourceCPU]; ok {
		milli = q.MilliValue()
	}
	shares := uint64(milli * 1024 / 1000)
	if shares < 2 {
		shares = 2
	}
	opts = append(opts, oci.WithCPUShares(shares))
	return opts
}

// removeContainer stops the container's task (SIGTERM, grace, SIGKILL)
// and deletes the task, the container and its snapshot. A missing
// container is not an error.
func (r *Runtime) removeContainer(ctx context.Context, id string, grace time.Duration) error {
	cont, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to load container %s: %w", id, err)
	}
	task, err := cont.Task(ctx, nil)
	switch {
	case err == nil:
		if err := stopTask(ctx, task, grace); err != nil {
			return err
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("failed to load task %s: %w", id, err)
	}
	if err := cont.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to delete container %s: %w", id, err)
	}
	return nil
}

// stopTask sends SIGTERM, waits up to grace, then SIGKILL, and deletes the
// task.
func stopTask(ctx context.Context, task client.Task, grace time.Duration) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exitCh, err := task.Wait(wctx)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to wait for task %s: %w", task.ID(), err)
	}
	st, err := task.Status(ctx)
	if err == nil && st.Status != client.Stopped && exitCh != nil {
		exited := false
		if grace > 0 {
			if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("failed to signal task %s: %w", task.ID(), err)
			}
			select {
			case <-exitCh:
				exited = true
			case <-time.After(grace):
			}
		}
		if !exited {
			if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
				return fmt.Errorf("failed to kill task %s: %w", task.ID(), err)
			}
			select {
			case <-exitCh:
			case <-time.After(killWait):
				return fmt.Errorf("failed to stop task %s: still running %s after SIGKILL", task.ID(), killWait)
			}
		}
	}
	if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("failed to delete task %s: %w", task.ID(), err)
	}
	return nil
}
