package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

const secRollout = "rollout"

// rolloutReplicas is the size of the rolled Deployment, as the issue asks.
const rolloutReplicas = 30

// rollDeployment is the rolled Deployment: maxSurge 25%, maxUnavailable
// 0; %[3]s is an optional readiness probe.
const rollDeployment = `apiVersion: v1
kind: Namespace
metadata: {name: roll}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: roll, namespace: roll}
spec:
  replicas: %[1]d
  selector: {matchLabels: {app: roll}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%%, maxUnavailable: 0}
  template:
    metadata: {labels: {app: roll}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: hello
          image: %[2]s
          ports: [{name: http, containerPort: 8080}]
%[3]s`

const rollReadiness = `          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 1
`

// probedPods is the probe-cost Deployment: pods pinned to one node, each
// with a liveness and a readiness probe every second when probed.
const probedPods = `apiVersion: v1
kind: Namespace
metadata: {name: probed}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: probed, namespace: probed}
spec:
  replicas: %[1]d
  selector: {matchLabels: {app: probed}}
  strategy: {type: Recreate}
  template:
    metadata: {labels: {app: probed}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {kubernetes.io/hostname: %[2]s}
      containers:
        - name: hello
          image: %[3]s
          ports: [{name: http, containerPort: 8080}]
%[4]s`

const probedProbes = `          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 1
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 1
`

// benchRollout measures rolling updates and the agent's probe cost.
func benchRollout(ctx context.Context, o options, runs int, out io.Writer) (string, error) {
	o.reconcilers = 1
	var section string
	var ferr error
	err := withBenchCluster(ctx, &o, fmt.Sprintf("bro%d", os.Getpid()%1000), func(bc *benchCluster) {
		section, ferr = measureRollout(ctx, bc, runs, o.agents, out)
	})
	if err != nil {
		return "", err
	}
	return section, ferr
}

func measureRollout(ctx context.Context, bc *benchCluster, runs, agents int, out io.Writer) (string, error) {
	st := newStamp()
	c := bc.c
	images := []string{bc.image, c.Image("stevedore/hello:v2")}
	if err := devenv.TagImage(ctx, images[0], images[1]); err != nil {
		return "", err
	}
	roll := func(i int, probe string) (time.Duration, error) {
		prev := revisionOf(ctx, c, "roll", "roll")
		start := time.Now()
		if _, err := c.Repo.Commit(ctx, fmt.Sprintf("roll %d", i), map[string][]byte{
			"roll.yaml": fmt.Appendf(nil, rollDeployment, rolloutReplicas, images[i%2], probe),
		}); err != nil {
			return 0, err
		}
		if err := waitComplete(ctx, c, "roll", "roll", prev, 3*time.Minute); err != nil {
			return 0, fmt.Errorf("rollout %d: %w", i, err)
		}
		return time.Since(start), nil
	}
	// Warm-up: both tags pulled on every node (the first rollout pulls
	// the second), then measured rollouts alternate between them.
	fmt.Fprintf(out, "rollout: warm-up, %d replicas\n", rolloutReplicas)
	for i := range 2 {
		if _, err := roll(i, ""); err != nil {
			return "", err
		}
	}
	measure := func(what, probe string) ([]time.Duration, error) {
		var ds []time.Duration
		for i := range runs {
			if err := waitNoStrayContainers(ctx, c, rolloutReplicas); err != nil {
				return nil, err
			}
			d, err := roll(i, probe)
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
			fmt.Fprintf(out, "rollout %s run %d: %s\n", what, i+1, d.Round(time.Millisecond))
		}
		return ds, nil
	}
	plain, err := measure("without probes", "")
	if err != nil {
		return "", err
	}
	probed, err := measure("with a readiness probe", rollReadiness)
	if err != nil {
		return "", err
	}
	floor, err := measureStartStopFloor(ctx, c, bc.image, rolloutReplicas, runs, out)
	if err != nil {
		return "", fmt.Errorf("floor: %w", err)
	}
	// Leave the node to the probe measurement.
	if _, err := c.Repo.Commit(ctx, "roll gone", map[string][]byte{"roll.yaml": nil}); err != nil {
		return "", err
	}
	if err := waitNoStrayContainers(ctx, c, 0); err != nil {
		return "", err
	}
	cpu, err := measureProbeCPU(ctx, bc, out)
	if err != nil {
		return "", err
	}
	return renderRollout(plain, probed, floor, cpu, agents, st), nil
}

// revisionOf returns the Deployment ns/name's current revision (template
// hash), "" when there is none yet.
func revisionOf(ctx context.Context, c *devenv.Cluster, ns, name string) string {
	ws, err := c.Client.Deployments(ctx, ns)
	if err != nil {
		return ""
	}
	for _, w := range ws {
		if w.Name == name {
			return w.Revision
		}
	}
	return ""
}

// waitComplete waits until the Deployment ns/name reports the rollout of
// a revision other than prev complete.
func waitComplete(ctx context.Context, c *devenv.Cluster, ns, name, prev string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ws, err := c.Client.Deployments(ctx, ns)
		if err == nil {
			for _, w := range ws {
				if w.Name == name && w.Revision != prev && w.Progress == rapi.ProgressComplete && w.Current == w.Replicas && w.Available == w.Replicas {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("deployment %s/%s not complete within %s (%v)", ns, name, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitNoStrayContainers waits until the nodes run exactly want containers
// in all (an old revision's terminating containers are gone).
func waitNoStrayContainers(ctx context.Context, c *devenv.Cluster, want int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n := 0
		for _, a := range c.Agents {
			ctrs, err := c.NodeContainers(ctx, a.Name)
			if err != nil {
				return err
			}
			n += len(ctrs)
		}
		if n == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d containers on the nodes, want %d", n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// measureStartStopFloor starts n new containers and stops n old ones
// straight through the containerd client, all at once: the same container
// starts and stops as a rollout of n replicas, with no Git, reconciler,
// agent, pod network or waves.
func measureStartStopFloor(ctx context.Context, c *devenv.Cluster, image string, n, runs int, out io.Writer) ([]time.Duration, error) {
	ctx, cl, img, done, err := floorClient(ctx, c, image)
	if err != nil {
		return nil, err
	}
	defer done()
	start := func(id string) error {
		ctr, err := cl.NewContainer(ctx, id, client.WithNewSnapshot(id, img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithHostname(id)))
		if err != nil {
			return fmt.Errorf("failed to create container %s: %w", id, err)
		}
		task, err := ctr.NewTask(ctx, cio.NullIO)
		if err != nil {
			return fmt.Errorf("failed to create task %s: %w", id, err)
		}
		return task.Start(ctx)
	}
	stop := func(id string) error {
		ctr, err := cl.LoadContainer(ctx, id)
		if err != nil {
			return err
		}
		task, err := ctr.Task(ctx, nil)
		if err != nil {
			return err
		}
		exit, err := task.Wait(ctx)
		if err != nil {
			return err
		}
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil {
			return err
		}
		<-exit
		if _, err := task.Delete(ctx); err != nil {
			return err
		}
		return ctr.Delete(ctx, client.WithSnapshotCleanup)
	}
	all := func(ids []string, fn func(string) error) error {
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = fn(id) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	ids := func(gen int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "rollfloor-" + strconv.Itoa(gen) + "-" + strconv.Itoa(i)
		}
		return out
	}
	if err := all(ids(0), start); err != nil {
		return nil, err
	}
	var times []time.Duration
	gen := 0
	for r := range runs {
		t0 := time.Now()
		var wg sync.WaitGroup
		var e1, e2 error
		wg.Add(2)
		go func() { defer wg.Done(); e1 = all(ids(gen+1), start) }()
		go func() { defer wg.Done(); e2 = all(ids(gen), stop) }()
		wg.Wait()
		if e1 != nil || e2 != nil {
			cleanupFloor(context.WithoutCancel(ctx), cl, append(ids(gen), ids(gen+1)...))
			return nil, fmt.Errorf("floor run %d: %v %v", r+1, e1, e2)
		}
		gen++
		d := time.Since(t0)
		times = append(times, d)
		fmt.Fprintf(out, "rollout floor run %d: %s\n", r+1, d.Round(time.Millisecond))
	}
	cleanupFloor(context.WithoutCancel(ctx), cl, ids(gen))
	return times, nil
}

// probeCPU is the probe cost measurement.
type probeCPU struct {
	pods         int
	probesPerSec float64
	window       time.Duration
	// base and probed are the agent's CPU use, in cores, over window
	// without and with the probes.
	base, probed float64
}

// perHundred is the agent's extra CPU per 100 probes a second, in percent
// of one core.
func (p probeCPU) perHundred() float64 {
	return (p.probed - p.base) * 100 / (p.probesPerSec / 100)
}

// measureProbeCPU runs 50 pods on the first agent, first without probes
// then with a liveness and a readiness probe each every second (100
// probes/s), and reads the agent's CPU time from /proc over 30 s each.
func measureProbeCPU(ctx context.Context, bc *benchCluster, out io.Writer) (probeCPU, error) {
	c := bc.c
	const pods = 50
	const window = 30 * time.Second
	node := c.Agents[0].Name
	res := probeCPU{pods: pods, probesPerSec: 2 * pods, window: window}
	run := func(probes string) (float64, error) {
		prev := revisionOf(ctx, c, "probed", "probed")
		if _, err := c.Repo.Commit(ctx, "probed", map[string][]byte{
			"probed.yaml": fmt.Appendf(nil, probedPods, pods, node, bc.image, probes),
		}); err != nil {
			return 0, err
		}
		if err := waitComplete(ctx, c, "probed", "probed", prev, 3*time.Minute); err != nil {
			return 0, err
		}
		if err := waitNoStrayContainers(ctx, c, pods); err != nil {
			return 0, err
		}
		time.Sleep(3 * time.Second) // the start's own work settles
		pid := c.AgentPID(0)
		t0, err := cpuTicks(pid)
		if err != nil {
			return 0, err
		}
		w0 := time.Now()
		time.Sleep(window)
		t1, err := cpuTicks(pid)
		if err != nil {
			return 0, err
		}
		// Clock ticks are 1/100 s on Linux.
		return float64(t1-t0) / 100 / time.Since(w0).Seconds(), nil
	}
	var err error
	if res.base, err = run(""); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "probe cost: agent at %.2f%% of a core with %d pods and no probes\n", res.base*100, pods)
	if res.probed, err = run(probedProbes); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "probe cost: agent at %.2f%% of a core with %.0f probes/s\n", res.probed*100, res.probesPerSec)
	if _, err := c.Repo.Commit(ctx, "probed gone", map[string][]byte{"probed.yaml": nil}); err != nil {
		return res, err
	}
	return res, nil
}

// cpuTicks returns a process's user+system CPU time in clock ticks.
func cpuTicks(pid int) (int64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("agent not running")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name (which may hold spaces) start
	// after the last ')'; utime and stime are fields 14 and 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return u + k, nil
}

func renderRollout(plain, probed, floor []time.Duration, cpu probeCPU, agents int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secRollout))
	fmt.Fprintln(&b, "## "+sectionTitles[secRollout])
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "A Deployment of %d replicas (maxSurge 25%%, maxUnavailable 0) on 1 reconciler and %d agents is\n", rolloutReplicas, agents)
	fmt.Fprintln(&b, "rolled to another image reference (already on every node: the tags alternate) by a commit; the")
	fmt.Fprintln(&b, "clock stops when the reconciler reports the rollout complete (every replica of the new template")
	fmt.Fprintln(&b, "available, no old pod kept). The rollout goes in waves of 8 (25% surge): each old pod is stopped")
	fmt.Fprintln(&b, "only once a new one is available. The floor starts the same number of new containers and stops")
	fmt.Fprintln(&b, "as many old ones straight through the containerd client, all at once: no Git, reconciler, agent,")
	fmt.Fprintln(&b, "pod network, probes or waves.")
	fmt.Fprintln(&b)
	fmt.Fprint(&b, durationTableHeader)
	row := func(what string, ds []time.Duration) { durationRow(&b, what, ds) }
	row(fmt.Sprintf("rolling update of %d replicas, ready when running", rolloutReplicas), plain)
	row(fmt.Sprintf("rolling update of %d replicas, httpGet readiness probe every 1 s", rolloutReplicas), probed)
	row(fmt.Sprintf("floor: %d container starts and %d stops via the containerd client", rolloutReplicas, rolloutReplicas), floor)
	f := float64(percentile(floor, 50))
	fmt.Fprintf(&b, "| ratio of p50s (no probe / with probe) | | %.2f× / %.2f× | | | |\n", float64(percentile(plain, 50))/f, float64(percentile(probed, 50))/f)
	fmt.Fprintln(&b)
	per := cpu.perHundred()
	fmt.Fprintf(&b, "Probe cost: %d pods on one agent, each with an httpGet liveness and readiness probe every second\n", cpu.pods)
	fmt.Fprintf(&b, "(%.0f probes/s), against the same pods without probes; the agent's CPU time is read from /proc over\n", cpu.probesPerSec)
	fmt.Fprintf(&b, "%s each.\n", cpu.window)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | value | target | |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	fmt.Fprintf(&b, "| agent CPU, %d pods, no probes | %.2f%% of a core | | |\n", cpu.pods, cpu.base*100)
	fmt.Fprintf(&b, "| agent CPU, %d pods, %.0f probes/s | %.2f%% of a core | | |\n", cpu.pods, cpu.probesPerSec, cpu.probed*100)
	fmt.Fprintf(&b, "| agent CPU per 100 probes/s | %.2f%% of a core | ≤ 2%% | %s |\n", per, verdict(per <= 2))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secRollout))
	return b.String()
}

// currentPods lists the pods of ns that are not terminating.
func currentPods(ctx context.Context, cl *rapi.Client, ns string) ([]rapi.Pod, error) {
	ps, err := cl.Pods(ctx, ns)
	return rapi.CurrentPods(ps), err
}
