package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// benchDeployment is the deployment the benchmark scales.
const benchDeployment = `apiVersion: v1
kind: Namespace
metadata:
  name: bench
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scale
  namespace: bench
spec:
  replicas: %d
  selector:
    matchLabels: {app: scale}
  template:
    metadata:
      labels: {app: scale}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: hello
          image: %s
`

func bench(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devcluster bench", flag.ContinueOnError)
	var o options
	o.register(fs)
	outFile := fs.String("out", "docs/benchmarks.md", "Markdown file whose sections are (re)written")
	only := fs.String("only", "all", "comma-separated sections to measure: "+strings.Join(sectionOrder, ", ")+" (all: every one)")
	runs := fs.Int("runs", 10, "commit-to-running: measured runs (after one warm-up)")
	pods := fs.Int("pods", 30, "commit-to-running: pods per run")
	recoveryRuns := fs.Int("recovery-runs", 3, "recovery: agents killed, one per run")
	failoverRuns := fs.Int("failover-runs", 10, "failover: kills of the leader of 3 reconcilers, one per run")
	perNode := fs.Int("pods-per-node", 10, "recovery and failover: pods per agent (the killed agent holds this many)")
	goTool := fs.String("go", "go", "go command that runs the scheduler's table (from the module root)")
	diffObjects := fs.Int("diff-objects", 10000, "diff: objects in the compared revisions")
	rolloutRuns := fs.Int("rollout-runs", 5, "rollout: rolling updates of 30 replicas measured")
	storageRuns := fs.Int("storage-runs", 5, "storage: pod-start runs measured with and without volumes")
	cronSlots := fs.Int("cron-slots", 3, "jobs: CronJob slots (a minute each) measured")
	kustomizeObjects := fs.Int("kustomize-objects", 1000, "kustomize: objects the overlay renders")
	policyCommits := fs.Int("policy-commits", 1000, "policy: signed commits in the verified range")
	uiRuns := fs.Int("ui-runs", 10, "ui: pushes timed to the application page (after one warm-up)")
	var so scaleOptions
	fs.IntVar(&so.nodes, "nodes", 300, "scale: hollow nodes (each a real serf member: see docs/benchmarks.md for why not 5,000 on one machine)")
	fs.IntVar(&so.pods, "scale-pods", 60000, "scale: pods in the commit (alias --pods when only scale runs)")
	fs.IntVar(&so.deployments, "deployments", 0, "scale: Deployments the pods are spread over (0: one per 150 pods)")
	fs.IntVar(&so.perHost, "nodes-per-process", 0, "scale: hollow nodes per process (0: --kill-percent of them, so that killing one process kills that share)")
	fs.IntVar(&so.maxPods, "max-pods", 250, "scale: each hollow node's pod capacity (at most 250: its pod CIDR is a /24)")
	fs.IntVar(&so.killPercent, "kill-percent", 10, "scale: share of the nodes killed")
	fs.IntVar(&so.apps, "applications", 1000, "scale: applications declared in one commit, each with a path of a second repository (0: none)")
	fs.BoolVar(&so.pprof, "scale-pprof", false, "scale: serve net/http/pprof from hollow process h on 127.0.0.1:6160+h")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want, err := parseOnly(*only)
	if err != nil {
		return err
	}
	// Every section is written as soon as it is measured, so a later failure
	// keeps what was measured; the failures are reported together at the end.
	var errs []error
	record := func(name string, section string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			fmt.Fprintf(out, "%s: %v\n", name, err)
			return
		}
		fmt.Fprintln(out)
		fmt.Fprintln(out, section)
		if err := writeNamedSection(*outFile, name, section); err != nil {
			errs = append(errs, err)
		}
	}
	// The pure benchmarks run first, before the cluster's processes exist
	// to compete for the CPU.
	if want[secScheduler] {
		s, err := benchScheduler(ctx, *goTool, out)
		record(secScheduler, s, err)
	}
	if want[secControlPlane] {
		s, err := benchControlPlane(ctx, *goTool, out)
		record(secControlPlane, s, err)
	}
	if want[secDiff] {
		s, err := benchDiff(ctx, o.bin, *diffObjects, out)
		record(secDiff, s, err)
	}
	if want[secGet] {
		s, err := benchGet(ctx, *goTool, o.bin, out)
		record(secGet, s, err)
	}
	if want[secAuth] {
		s, err := benchAuth(ctx, out)
		record(secAuth, s, err)
	}
	if want[secKustomize] {
		s, err := benchKustomize(*kustomizeObjects, out)
		record(secKustomize, s, err)
	}
	if want[secPolicy] {
		s, err := benchPolicy(ctx, *policyCommits, out)
		record(secPolicy, s, err)
	}

	// A free port: the benchmark must not disturb a running make run. The
	// repository starts empty so only the benchmark's pods run.
	o.registry = ""
	// Commit-to-running and recovery run on one reconciler, as their
	// floors and texts assume; the cluster is stopped before failover
	// starts its own of 3 so the two never compete for the CPU.
	if want[secCommit] || want[secRecovery] {
		o1 := o
		o1.reconcilers = 1
		err := withBenchCluster(ctx, &o1, fmt.Sprintf("bench%d", os.Getpid()%1000), func(bc *benchCluster) {
			if want[secCommit] {
				s, err := benchCommit(ctx, bc, *pods, *runs, o.agents, out)
				record(secCommit, s, err)
			}
			if want[secRecovery] {
				s, err := benchRecovery(ctx, bc, *perNode, *recoveryRuns, out)
				record(secRecovery, s, err)
			}
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if want[secServices] {
		s, err := benchServices(ctx, o, *goTool, out)
		record(secServices, s, err)
	}
	if want[secRollout] {
		s, err := benchRollout(ctx, o, *rolloutRuns, out)
		record(secRollout, s, err)
	}
	if want[secStorage] {
		s, err := benchStorage(ctx, o, *storageRuns, out)
		record(secStorage, s, err)
	}
	if want[secJobs] {
		s, err := benchJobs(ctx, o, *cronSlots, out)
		record(secJobs, s, err)
	}
	if want[secNode] {
		s, err := benchNode(ctx, o, out)
		record(secNode, s, err)
	}
	if want[secUI] {
		s, err := benchUI(ctx, o, *goTool, *uiRuns, out)
		record(secUI, s, err)
	}
	if want[secScale] {
		if len(want) == 1 && flagSet(fs, "pods") {
			so.pods = *pods
		}
		s, err := benchScale(ctx, o, so, out)
		record(secScale, s, err)
	}
	if want[secFailover] {
		o3 := o
		o3.reconcilers = 3
		err := withBenchCluster(ctx, &o3, fmt.Sprintf("bfo%d", os.Getpid()%1000), func(bc *benchCluster) {
			s, err := benchFailover(ctx, bc, *perNode, *failoverRuns, out)
			record(secFailover, s, err)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// withBenchCluster starts the cluster o describes (empty repository), runs
// fn on it and stops it.
func withBenchCluster(ctx context.Context, o *options, prefix string, fn func(*benchCluster)) error {
	c, err := o.start(ctx, prefix, false)
	if err != nil {
		return fmt.Errorf("failed to start a cluster of %d reconciler(s): %w", o.reconcilers, err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "devcluster: cleanup:", err)
		}
	}()
	fn(&benchCluster{c: c, image: c.Image(devenv.HelloRepo)})
	return nil
}

// flagSet reports whether name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseOnly turns --only into a set of section names.
func parseOnly(s string) (map[string]bool, error) {
	want := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "all":
			for _, n := range sectionOrder {
				want[n] = true
			}
		case sectionTitles[name] != "":
			want[name] = true
		case name == "":
		default:
			return nil, fmt.Errorf("unknown section %q in --only (want %s or all)", name, strings.Join(sectionOrder, ", "))
		}
	}
	if len(want) == 0 {
		return nil, errors.New("--only names no section")
	}
	return want, nil
}

// benchCluster is the cluster the cluster-backed sections share.
type benchCluster struct {
	c     *devenv.Cluster
	image string
	// planned is when waitRunning first saw every pod placed on a node.
	planned time.Time
}

// scale commits the bench deployment with n replicas and returns when the
// push began.
func (bc *benchCluster) scale(ctx context.Context, n int) (time.Time, error) {
	start := time.Now()
	_, err := bc.c.Repo.Commit(ctx, fmt.Sprintf("Scale bench to %d", n),
		map[string][]byte{"bench/scale.yaml": fmt.Appendf(nil, benchDeployment, n, bc.image)})
	return start, err
}

// waitRunning waits until the reconciler lists exactly n bench pods, all
// Running, noting in planned when all n were first placed: the share of
// commit-to-running spent in Git, webhook, load and plan.
func (bc *benchCluster) waitRunning(ctx context.Context, n int, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bc.planned = time.Time{}
	_, err := bc.c.Client.WaitFor(wctx, "bench", 10*time.Millisecond, func(ps []rapi.Pod) bool {
		ps = rapi.CurrentPods(ps)
		if bc.planned.IsZero() && len(ps) == n {
			placed := 0
			for _, p := range ps {
				if p.Node != "" {
					placed++
				}
			}
			if placed == n {
				bc.planned = time.Now()
			}
		}
		running := 0
		for _, p := range ps {
			if p.Phase == api.PodRunning {
				running++
			}
		}
		return running == n && len(ps) == n
	})
	return err
}

// waitGone waits until the reconciler lists no bench pod and no node has a
// container left.
func (bc *benchCluster) waitGone(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err := bc.c.Client.WaitFor(wctx, "bench", 100*time.Millisecond, func(ps []rapi.Pod) bool { return len(ps) == 0 })
	if err != nil {
		return err
	}
	// The reconciler forgets a pod before its node has removed the
	// containers; wait for the nodes too so runs do not overlap.
	return waitNoContainers(wctx, bc.c)
}

// benchCommit measures commit-to-running and its floor.
func benchCommit(ctx context.Context, bc *benchCluster, pods, runs, agents int, out io.Writer) (string, error) {
	st := newStamp()
	fmt.Fprintf(out, "commit-to-running: warm-up (pulls %s on every node)\n", bc.image)
	if _, err := bc.scale(ctx, pods); err != nil {
		return "", err
	}
	if err := bc.waitRunning(ctx, pods, 3*time.Minute); err != nil {
		return "", fmt.Errorf("warm-up: %w", err)
	}
	var ctr, plan []time.Duration
	for i := range runs + 1 {
		if _, err := bc.scale(ctx, 0); err != nil {
			return "", err
		}
		if err := bc.waitGone(ctx); err != nil {
			return "", fmt.Errorf("scaling to 0: %w", err)
		}
		if i == runs {
			break
		}
		start, err := bc.scale(ctx, pods)
		if err != nil {
			return "", err
		}
		if err := bc.waitRunning(ctx, pods, time.Minute); err != nil {
			return "", fmt.Errorf("run %d: %w", i+1, err)
		}
		d := time.Since(start)
		ctr = append(ctr, d)
		plan = append(plan, bc.planned.Sub(start))
		fmt.Fprintf(out, "commit-to-running run %d: %s (placed after %s)\n", i+1, d.Round(time.Millisecond), bc.planned.Sub(start).Round(time.Millisecond))
	}
	floor, err := measureFloor(ctx, bc.c, bc.image, pods, runs, out)
	if err != nil {
		return "", fmt.Errorf("floor: %w", err)
	}
	return renderSection(ctr, plan, floor, pods, agents, st), nil
}

// waitNoContainers waits until no agent has a container left.
func waitNoContainers(ctx context.Context, c *devenv.Cluster) error {
	for {
		left, err := c.Leftovers(ctx)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d containers or IPs left (%s): %w", len(left), strings.Join(left[:min(3, len(left))], ", "), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measureFloor creates and starts n containers of image straight through
// the containerd client, all at once, as a best case for what starting them
// costs without Stevedore (no Git, reconciler, agent or CNI). The image is
// pulled and unpacked beforehand, as it is on the nodes.
func measureFloor(ctx context.Context, c *devenv.Cluster, image string, n, runs int, out io.Writer) ([]time.Duration, error) {
	ctx, cl, img, done, err := floorClient(ctx, c, image)
	if err != nil {
		return nil, err
	}
	defer done()
	var times []time.Duration
	for r := range runs {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("floor-%d-%d", r, i)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctr, err := cl.NewContainer(ctx, id,
					client.WithNewSnapshot(id, img),
					client.WithNewSpec(oci.WithImageConfig(img), oci.WithHostname(id)))
				if err != nil {
					errs[i] = fmt.Errorf("failed to create container %s: %w", id, err)
					return
				}
				task, err := ctr.NewTask(ctx, cio.NullIO)
				if err != nil {
					errs[i] = fmt.Errorf("failed to create task %s: %w", id, err)
					return
				}
				if err := task.Start(ctx); err != nil {
					errs[i] = fmt.Errorf("failed to start task %s: %w", id, err)
				}
			}()
		}
		wg.Wait()
		d := time.Since(start)
		cleanupFloor(context.WithoutCancel(ctx), cl, ids)
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		times = append(times, d)
		fmt.Fprintf(out, "floor run %d: %s\n", r+1, d.Round(time.Millisecond))
	}
	return times, nil
}

// floorClient connects to the cluster's containerd for a floor
// measurement, in a namespace of its own, with image pulled and unpacked
// (as it is on the nodes); done deletes the image and closes the client.
func floorClient(ctx context.Context, c *devenv.Cluster, image string) (context.Context, *client.Client, client.Image, func(), error) {
	cl, err := client.New(c.Containerd.Address)
	if err != nil {
		return ctx, nil, nil, nil, fmt.Errorf("failed to connect to containerd: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, "bench-floor")
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(docker.MatchAllHosts)),
	})
	img, err := cl.Pull(ctx, image, client.WithPullUnpack, client.WithResolver(resolver))
	if err != nil {
		cl.Close()
		return ctx, nil, nil, nil, fmt.Errorf("failed to pull %s: %w", image, err)
	}
	done := func() {
		_ = cl.ImageService().Delete(context.WithoutCancel(ctx), img.Name())
		cl.Close()
	}
	return ctx, cl, img, done, nil
}

// cleanupFloor kills and deletes the floor's containers.
func cleanupFloor(ctx context.Context, cl *client.Client, ids []string) {
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctr, err := cl.LoadContainer(ctx, id)
			if err != nil {
				return
			}
			if task, err := ctr.Task(ctx, nil); err == nil {
				_ = task.Kill(ctx, syscall.SIGKILL)
				_, _ = task.Delete(ctx, client.WithProcessKill)
			}
			_ = ctr.Delete(ctx, client.WithSnapshotCleanup)
		}()
	}
	wg.Wait()
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return s[rank]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// renderSection renders the commit-to-running section.
func renderSection(ctr, plan, floor []time.Duration, pods, agents int, st stamp) string {
	p50, p99 := percentile(ctr, 50), percentile(ctr, 99)
	f50, f99 := percentile(floor, 50), percentile(floor, 99)
	ratio := float64(p50) / float64(f50)
	var b strings.Builder
	fmt.Fprintln(&b, beginMarker)
	fmt.Fprintln(&b, "## Commit to running")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "A commit scaling a Deployment from 0 to %d replicas is pushed (git CLI; the post-receive hook\n", pods)
	fmt.Fprintf(&b, "calls the reconciler's webhook) to a cluster of 1 reconciler and %d agents on one machine, with\n", agents)
	fmt.Fprintf(&b, "the image already on every node; the clock stops when the reconciler API reports all %d pods\n", pods)
	fmt.Fprintf(&b, "Running (polled every 10 ms). Between runs the deployment is scaled back to 0 and the containers\n")
	fmt.Fprintf(&b, "are gone. The floor creates and starts the same %d containers concurrently straight through the\n", pods)
	fmt.Fprintf(&b, "containerd client on the same containerd: no Git, reconciler, agent, or pod network (CNI).\n")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | runs | p50 | p99 | min | max | target | |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|")
	fmt.Fprintf(&b, "| commit-to-running, %d pods on %d agents | %d | %s | %s | %s | %s | p50 ≤ 1 s | %s |\n",
		pods, agents, len(ctr), ms(p50), ms(p99), ms(slices.Min(ctr)), ms(slices.Max(ctr)), verdict(p50 <= time.Second))
	if len(plan) > 0 {
		fmt.Fprintf(&b, "| of which commit to all %d pods placed (push, webhook, fetch, load, plan) | %d | %s | %s | %s | %s | | |\n",
			pods, len(plan), ms(percentile(plan, 50)), ms(percentile(plan, 99)), ms(slices.Min(plan)), ms(slices.Max(plan)))
	}
	fmt.Fprintf(&b, "| floor: %d containers via the containerd client | %d | %s | %s | %s | %s | | |\n",
		pods, len(floor), ms(f50), ms(f99), ms(slices.Min(floor)), ms(slices.Max(floor)))
	fmt.Fprintf(&b, "| ratio of p50s | | %.2f× | | | | ≤ 1.3× floor | %s |\n", ratio, verdict(ratio <= 1.3))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endMarker)
	return b.String()
}
