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

const secJobs = "jobs"

// The jobs section: a Job of many short completions against the same
// containers run straight through containerd, and how late a CronJob's
// runs start after their slots.
const (
	jobCompletions = 1000
	jobParallelism = 30
	jobNS          = "jb"
)

// benchJobYAML is the measured Job: %[1]d completions, %[2]d at a time,
// of %[3]s running `true`.
const benchJobYAML = `apiVersion: v1
kind: Namespace
metadata: {name: jb}
---
apiVersion: batch/v1
kind: Job
metadata: {name: many, namespace: jb}
spec:
  completions: %[1]d
  parallelism: %[2]d
  backoffLimit: 10
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: %[3]s
          command: ["true"]
          resources: {requests: {cpu: 1m, memory: 4Mi}}
`

// benchCronYAML fires every minute.
const benchCronYAML = `apiVersion: v1
kind: Namespace
metadata: {name: jb}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: jb}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: main
              image: %[1]s
              command: ["true"]
              resources: {requests: {cpu: 1m, memory: 4Mi}}
`

func benchJobs(ctx context.Context, o options, cronSlots int, out io.Writer) (string, error) {
	st := newStamp()
	o.reconcilers = 1
	var res jobResult
	var ferr error
	err := withBenchCluster(ctx, &o, fmt.Sprintf("bjb%d", os.Getpid()%1000), func(bc *benchCluster) {
		res, ferr = measureJobs(ctx, bc, cronSlots, out)
	})
	if err != nil {
		return "", err
	}
	if ferr != nil {
		return "", ferr
	}
	return renderJobs(res, o.agents, st), nil
}

type jobResult struct {
	job, floor time.Duration
	// created and started are, per CronJob slot, how long after the slot
	// the run's pod was created and its container started.
	created, started []time.Duration
}

func measureJobs(ctx context.Context, bc *benchCluster, cronSlots int, out io.Writer) (jobResult, error) {
	c := bc.c
	image := c.Image(devenv.BusyboxRepo)
	var res jobResult
	floor, err := measureJobFloor(ctx, c, image, jobCompletions, jobParallelism)
	if err != nil {
		return res, err
	}
	res.floor = floor
	fmt.Fprintf(out, "jobs: floor %d containers, %d at a time, straight through containerd: %s\n", jobCompletions, jobParallelism, floor.Round(time.Millisecond))

	start := time.Now()
	if _, err := c.Repo.Commit(ctx, "jobs bench", map[string][]byte{"jb.yaml": fmt.Appendf(nil, benchJobYAML, jobCompletions, jobParallelism, image)}); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	// The Job's view counts its completions (a run keeps only its most
	// recent finished pods).
	last := time.Now()
	if err := waitFor(wctx, func() bool {
		jobs, err := c.Client.Jobs(wctx, jobNS)
		n := int32(0)
		for _, j := range jobs {
			if err == nil && j.Name == "many" {
				n = j.Succeeded
			}
		}
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(out, "jobs: %d of %d completions after %s\n", n, jobCompletions, time.Since(start).Round(time.Second))
		}
		return n >= jobCompletions
	}); err != nil {
		return res, fmt.Errorf("the %d-completion job: %w", jobCompletions, err)
	}
	res.job = time.Since(start)
	fmt.Fprintf(out, "jobs: %d completions, parallelism %d: %s\n", jobCompletions, jobParallelism, res.job.Round(time.Millisecond))
	if _, err := c.Repo.Commit(ctx, "jobs bench: clear", map[string][]byte{"jb.yaml": nil}); err != nil {
		return res, err
	}
	gctx, gcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer gcancel()
	if _, err := c.Client.WaitFor(gctx, jobNS, 200*time.Millisecond, func(ps []rapi.Pod) bool { return len(ps) == 0 }); err != nil {
		return res, err
	}

	// CronJob: every minute; each slot's run is the child Job named
	// tick-<minutes since the epoch>.
	if _, err := c.Repo.Commit(ctx, "jobs bench: cron", map[string][]byte{"jb.yaml": fmt.Appendf(nil, benchCronYAML, image)}); err != nil {
		return res, err
	}
	seen := map[int64]bool{}
	cctx, ccancel := context.WithTimeout(ctx, time.Duration(cronSlots+2)*time.Minute)
	defer ccancel()
	if _, err := c.Client.WaitFor(cctx, jobNS, 100*time.Millisecond, func(ps []rapi.Pod) bool {
		for _, p := range ps {
			j := p.Labels["batch.kubernetes.io/job-name"]
			mins, err := strconv.ParseInt(strings.TrimPrefix(j, "tick-"), 10, 64)
			if err != nil || seen[mins] || p.Status == nil || p.Status.StartTime == nil {
				continue
			}
			seen[mins] = true
			slot := time.Unix(mins*60, 0)
			res.created = append(res.created, p.Created.Sub(slot))
			res.started = append(res.started, p.Status.StartTime.Sub(slot))
			fmt.Fprintf(out, "jobs: slot %s: pod created after %s, started after %s\n", slot.UTC().Format(time.TimeOnly),
				p.Created.Sub(slot).Round(time.Millisecond), p.Status.StartTime.Sub(slot).Round(time.Millisecond))
		}
		return len(res.created) >= cronSlots
	}); err != nil {
		return res, fmt.Errorf("CronJob slots: %d of %d seen: %w", len(res.created), cronSlots, err)
	}
	if _, err := c.Repo.Commit(ctx, "jobs bench: clear", map[string][]byte{"jb.yaml": nil}); err != nil {
		return res, err
	}
	return res, nil
}

// measureJobFloor runs n containers of image running `true`, parallelism
// at a time, straight through the containerd client: create, start, wait
// for the exit, delete, as the best case for what a Job's pods cost
// without Stevedore.
func measureJobFloor(ctx context.Context, c *devenv.Cluster, image string, n, parallelism int) (time.Duration, error) {
	ctx, cl, img, done, err := floorClient(ctx, c, image)
	if err != nil {
		return 0, err
	}
	defer done()
	next := make(chan int)
	errs := make(chan error, parallelism)
	var wg sync.WaitGroup
	start := time.Now()
	for range parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := runToExit(ctx, cl, img, fmt.Sprintf("jobfloor-%d-%d", os.Getpid(), i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var ferr error
feed:
	for i := range n {
		select {
		case next <- i:
		case ferr = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	d := time.Since(start)
	if ferr == nil {
		select {
		case ferr = <-errs:
		default:
		}
	}
	return d, ferr
}

// runToExit creates a container running `true`, starts it, waits for its
// exit and deletes it.
func runToExit(ctx context.Context, cl *client.Client, img client.Image, id string) error {
	ctr, err := cl.NewContainer(ctx, id,
		client.WithNewSnapshot(id, img),
		client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("true"), oci.WithHostname(id)))
	if err != nil {
		return fmt.Errorf("failed to create container %s: %w", id, err)
	}
	defer func() { _ = ctr.Delete(context.WithoutCancel(ctx), client.WithSnapshotCleanup) }()
	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return fmt.Errorf("failed to create task %s: %w", id, err)
	}
	defer func() { _, _ = task.Delete(context.WithoutCancel(ctx), client.WithProcessKill) }()
	exit, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Start(ctx); err != nil {
		return fmt.Errorf("failed to start task %s: %w", id, err)
	}
	select {
	case st := <-exit:
		if st.ExitCode() != 0 {
			return fmt.Errorf("%s exited %d", id, st.ExitCode())
		}
	case <-ctx.Done():
		_ = task.Kill(ctx, syscall.SIGKILL)
		return ctx.Err()
	}
	return nil
}

func renderJobs(r jobResult, agents int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secJobs))
	fmt.Fprintln(&b, "## "+sectionTitles[secJobs])
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "A Job of %d completions, parallelism %d, each pod one container running `true` (busybox), on 1\n", jobCompletions, jobParallelism)
	fmt.Fprintf(&b, "reconciler and %d agents: from the commit to every completion counted. The floor runs the same\n", agents)
	fmt.Fprintf(&b, "%d containers, %d at a time, straight through containerd on the same host (create, start, wait for\n", jobCompletions, jobParallelism)
	fmt.Fprintln(&b, "the exit, delete): no Git, reconciler, agent, network namespace or CNI.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | time | per completion | ratio to floor |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	per := func(d time.Duration) string { return ms(d / jobCompletions) }
	fmt.Fprintf(&b, "| floor: containerd alone | %s | %s | 1.00× |\n", secs(r.floor), per(r.floor))
	fmt.Fprintf(&b, "| Stevedore Job | %s | %s | %.2f× |\n", secs(r.job), per(r.job), float64(r.job)/float64(r.floor))
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "CronJob firing latency: a CronJob scheduled every minute; for each slot, how long after the slot")
	fmt.Fprintln(&b, "its run's pod was created (the leader's plan at the slot's wake) and its container started.")
	fmt.Fprintln(&b)
	fmt.Fprint(&b, durationTableHeader)
	durationRow(&b, "slot → pod created", r.created)
	durationRow(&b, "slot → container started", r.started)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secJobs))
	return b.String()
}
