package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
)

// secScale is the scale benchmark's section.
const secScale = "scale"

// scaleOptions are the scale benchmark's flags.
type scaleOptions struct {
	nodes, pods, deployments int
	perHost                  int
	killPercent              int
	// maxPods is each hollow node's pod capacity (at most 250: a pod CIDR
	// is a /24).
	maxPods int
	// pprof serves net/http/pprof from hollow process h on 127.0.0.1:6160+h.
	pprof bool
	// hollowBin is the devcluster binary that runs `hollow`; zero means
	// this one (a test sets it).
	hollowBin string
	// reconcilerArgs are added to the reconciler's flags (a test shortens
	// its grace); idle is how long the idle CPU is measured (zero: 10 s).
	reconcilerArgs []string
	idle           time.Duration
	// apps is how many applications the last phase declares in one commit.
	apps int
	// logsDir receives the run's logs; zero means
	// $TMPDIR/stevedore-scale-logs (replaced by every run).
	logsDir string
}

// scaleDeployments is one Deployment of the scale commit; the image is
// never pulled (hollow nodes run nothing) but must be a valid reference.
const scaleDeployment = `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%04d
  namespace: scale
spec:
  replicas: %d
  selector:
    matchLabels: {app: app-%04d}
  template:
    metadata:
      labels: {app: app-%04d}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: main
          image: registry.invalid/scale/app:%s
          resources:
            requests: {cpu: 100m, memory: 128Mi}
`

// scaleFiles renders the scale commit: d Deployments sharing pods
// replicas, 100 to a file, the first one's image tagged tag0.
func scaleFiles(d, pods int, tag0 string) map[string][]byte {
	files := map[string][]byte{"scale/namespace.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: scale\n")}
	per, extra := pods/d, pods%d
	var b strings.Builder
	for i := range d {
		r := per
		if i < extra {
			r++
		}
		tag := "v1"
		if i == 0 {
			tag = tag0
		}
		fmt.Fprintf(&b, scaleDeployment, i, r, i, i, tag)
		if i%100 == 99 || i == d-1 {
			files[fmt.Sprintf("scale/apps-%02d.yaml", i/100)] = []byte(b.String())
			b.Reset()
		}
	}
	return files
}

// hollowProc is one `devcluster hollow` process of the benchmark.
type hollowProc struct {
	cmd   *exec.Cmd
	dir   string
	nodes int
	// done is closed when the process has exited, with err its Wait's.
	done chan struct{}
	err  error
}

// scaleRun holds what the benchmark measured.
type scaleRun struct {
	opts        scaleOptions
	hosts       int
	total       int           // pods in the cluster: the commit's and the warm-up's
	formed      time.Duration // hollow processes started → every node Ready at the leader
	pushed      time.Duration // commit and git push (the hook calls the webhook)
	applied     time.Duration // push → the leader applies the commit (its pods are planned)
	running     time.Duration // push → every pod Running
	cpu         time.Duration // the leader's CPU over the commit
	peakRSS     int64         // the leader's VmHWM at the end of the commit
	rssAfter    int64
	raftBefore  int64
	raftAfter   int64
	apiBytes    int64 // agents' API bytes (both ways) over the commit
	hollowCPU   time.Duration
	changed     time.Duration // one Deployment's new template: push → all its pods Running
	idleCPU     time.Duration // the leader's CPU over idleWindow with nothing changed
	idleWindow  time.Duration
	killed      int
	killedPods  int
	seenFailed  time.Duration
	rescheduled time.Duration
	// apps applications converged from one commit in appsConverged.
	apps          int
	appsConverged time.Duration
}

func benchScale(ctx context.Context, o options, so scaleOptions, out io.Writer) (string, error) {
	st := newStamp()
	if so.deployments <= 0 {
		so.deployments = max(1, so.pods/150)
	}
	if so.perHost <= 0 {
		// Killing one process kills killPercent of the nodes.
		so.perHost = max(1, (so.nodes*so.killPercent+99)/100)
		if so.killPercent <= 0 {
			// Small processes: a host of 150 nodes paused long enough
			// in its garbage collections for probes to time out.
			so.perHost = 30
		}
	}
	if so.maxPods <= 0 || so.maxPods > 250 {
		return "", fmt.Errorf("--max-pods %d: want 1 to 250 (a node's pod CIDR is a /24)", so.maxPods)
	}
	// Every pod needs a place on the nodes left once killPercent of them
	// are killed: the commit's, the warm-up pod and one per application.
	if left := so.nodes - so.nodes*so.killPercent/100; so.pods+1+so.apps > left*so.maxPods {
		return "", fmt.Errorf("%d pods (and the warm-up pod) do not fit on the %d nodes of %d pods left after the kill", so.pods, left, so.maxPods)
	}
	run := scaleRun{opts: so}
	o.agents = -1
	o.reconcilers = 1
	o.registry = ""
	prefix := fmt.Sprintf("scl%d", os.Getpid()%1000)
	c, err := o.startScale(ctx, prefix, so)
	if err != nil {
		return "", fmt.Errorf("failed to start the reconciler: %w", err)
	}
	defer func() {
		// The logs outlive the cluster, for a look at what was slow.
		keep := so.logsDir
		if keep == "" {
			keep = filepath.Join(os.TempDir(), "stevedore-scale-logs")
		}
		_ = os.RemoveAll(keep)
		if err := exec.Command("cp", "-r", filepath.Join(c.Dir, "logs"), keep).Run(); err == nil {
			fmt.Fprintf(out, "scale: logs kept in %s\n", keep)
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "devcluster: cleanup:", err)
		}
	}()
	reapScaleDirs()
	tmpfs := "/dev/shm"
	if fi, err := os.Stat(tmpfs); err != nil || !fi.IsDir() {
		tmpfs = os.TempDir() // slower (fsyncs reach a disk), but it runs
	}
	shm := filepath.Join(tmpfs, fmt.Sprintf("stevedore-scale-%d", os.Getpid()))
	if err := os.MkdirAll(shm, 0o700); err != nil {
		return "", err
	}
	defer os.RemoveAll(shm)
	m := &scaleMeter{c: c, hc: c.AdminHTTPClient()}

	fmt.Fprintf(out, "scale: starting %d hollow nodes\n", so.nodes)
	t0 := time.Now()
	procs, err := startHollows(ctx, o, c, so, shm)
	defer stopHollows(procs)
	if err != nil {
		return "", err
	}
	run.hosts = len(procs)
	if err := m.waitFor(ctx, 10*time.Minute, func(s metricsSample) bool { return s.nodesReady >= so.nodes },
		func(s metricsSample) string { return fmt.Sprintf("%d of %d nodes ready", s.nodesReady, so.nodes) }, out); err != nil {
		return "", err
	}
	run.formed = time.Since(t0)
	fmt.Fprintf(out, "scale: %d nodes ready in %s\n", so.nodes, secs(run.formed))

	// A new leader plans nothing before its node-loss grace has passed
	// (it may be adopting what agents run, docs/ha.md): a warm-up pod
	// Running says the cluster is past that, as a cluster in use is.
	warm := scaleFiles(1, 1, "v1")
	for k, v := range warm {
		delete(warm, k)
		warm[strings.Replace(k, "scale/", "warm/", 1)] = []byte(strings.NewReplacer("namespace: scale", "namespace: warm", "name: scale", "name: warm").Replace(string(v)))
	}
	if _, err := c.Repo.Commit(ctx, "warm-up", warm); err != nil {
		return "", err
	}
	if err := m.waitFor(ctx, 2*time.Minute, func(s metricsSample) bool { return s.running >= 1 },
		func(s metricsSample) string { return "waiting for the warm-up pod" }, out); err != nil {
		return "", err
	}
	run.total = so.pods + 1 // the warm-up pod counts in every gauge from here on

	leader := c.ReconcilerPID(0)
	run.raftBefore = dirBytes(filepath.Join(c.Reconcilers[0].DataDir))
	bytes0 := hollowBytes(procs)
	hcpu0 := hollowTicks(procs)
	ticks0 := procTicks(leader)
	files := scaleFiles(so.deployments, so.pods, "v1")
	start := time.Now()
	hash, err := c.Repo.Commit(ctx, fmt.Sprintf("%d Deployments, %d pods", so.deployments, so.pods), files)
	if err != nil {
		return "", err
	}
	run.pushed = time.Since(start)
	var appliedAt time.Time
	if err := m.waitFor(ctx, 10*time.Minute, func(s metricsSample) bool {
		if appliedAt.IsZero() && s.applied == hash {
			appliedAt = time.Now()
		}
		return s.applied == hash && s.running >= run.total
	}, func(s metricsSample) string {
		return fmt.Sprintf("%d of %d pods Running (%d in all, %d Pending, %d Unknown)", s.running, run.total, s.pods, s.pending, s.unknown)
	}, out); err != nil {
		return "", err
	}
	run.running = time.Since(start)
	run.applied = appliedAt.Sub(start)
	run.cpu = ticksToDuration(procTicks(leader) - ticks0)
	run.hollowCPU = ticksToDuration(hollowTicks(procs) - hcpu0)
	run.peakRSS = procHWM(leader)
	run.rssAfter = procRSS(leader)
	run.apiBytes = hollowBytes(procs) - bytes0
	run.raftAfter = dirBytes(filepath.Join(c.Reconcilers[0].DataDir))
	fmt.Fprintf(out, "scale: commit to all Running: %s (leader CPU %s, peak RSS %d MiB)\n", secs(run.running), secs(run.cpu), run.peakRSS>>20)

	// Nothing changes: what does the leader spend?
	run.idleWindow = 10 * time.Second
	if so.idle > 0 {
		run.idleWindow = so.idle
	}
	t1 := procTicks(leader)
	idleProf := so.profile("idle", run.idleWindow)
	time.Sleep(run.idleWindow) // the measurement is of an interval
	idleProf()
	run.idleCPU = ticksToDuration(procTicks(leader) - t1)

	// One Deployment changes its template.
	start = time.Now()
	changeProf := so.profile("change", 5*time.Second)
	hash2, err := c.Repo.Commit(ctx, "app-0000 v2", scaleFiles(so.deployments, so.pods, "v2"))
	if err != nil {
		return "", err
	}
	m.watchDep = "app-0000"
	err = m.waitFor(ctx, 5*time.Minute, func(s metricsSample) bool {
		d := s.dep
		return s.applied == hash2 && d != nil && slices.ContainsFunc(d.Images, func(im string) bool { return strings.HasSuffix(im, ":v2") }) &&
			d.UpToDate == d.Replicas && d.Available == d.Replicas && d.Current == d.Replicas && s.running == run.total
	}, func(s metricsSample) string {
		if d := s.dep; d != nil {
			return fmt.Sprintf("app-0000: %d of %d updated, %d available, %d pods", d.UpToDate, d.Replicas, d.Available, d.Current)
		}
		return "app-0000: not listed"
	}, out)
	m.watchDep = ""
	if err != nil {
		return "", err
	}
	run.changed = time.Since(start)
	changeProf()
	fmt.Fprintf(out, "scale: one Deployment changed, converged in %s\n", secs(run.changed))

	// Kill hosts holding killPercent of the nodes.
	if err := run.killNodes(ctx, m, procs, out); err != nil {
		return "", err
	}
	if so.apps > 0 {
		if err := run.applications(ctx, c, m, so.apps, out); err != nil {
			return "", err
		}
	}
	return renderScale(run, st), nil
}

// killNodes SIGKILLs the last hollow processes until killPercent of the
// nodes are gone and times their pods' replacement.
func (run *scaleRun) killNodes(ctx context.Context, m *scaleMeter, procs []*hollowProc, out io.Writer) error {
	so := run.opts
	want := so.nodes * so.killPercent / 100
	if want == 0 {
		return nil
	}
	before, err := m.sample(ctx)
	if err != nil {
		return err
	}
	var victims []*hollowProc
	for i := len(procs) - 1; i >= 0 && run.killed < want; i-- {
		victims = append(victims, procs[i])
		run.killed += procs[i].nodes
	}
	run.killedPods = so.pods * run.killed / so.nodes // the scheduler spreads evenly
	killProf := so.profile("kill", 20*time.Second)
	defer killProf()
	start := time.Now()
	for _, p := range victims {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	var seen time.Time
	err = m.waitFor(ctx, 5*time.Minute, func(s metricsSample) bool {
		if seen.IsZero() && s.nodesReady <= before.nodesReady-run.killed {
			seen = time.Now()
		}
		return !seen.IsZero() && s.running >= run.total && s.pending == 0 && s.unknown == 0
	}, func(s metricsSample) string {
		return fmt.Sprintf("%d nodes ready, %d of %d pods Running, %d pending, %d unknown", s.nodesReady, s.running, run.total, s.pending, s.unknown)
	}, out)
	if err != nil {
		return err
	}
	run.seenFailed = seen.Sub(start)
	run.rescheduled = time.Since(start)
	fmt.Fprintf(out, "scale: %d nodes killed, seen failed in %s, pods Running elsewhere in %s\n", run.killed, secs(run.seenFailed), secs(run.rescheduled))
	return nil
}

// startScale starts the reconciler(s) with a cluster CIDR that holds a /24
// for every node.
func (o *options) startScale(ctx context.Context, prefix string, so scaleOptions) (*devenv.Cluster, error) {
	args := []string{"--cluster-cidr", "10.0.0.0/10", "--gossip-profile", "large"}
	if so.pprof {
		args = append(args, "--pprof-addr", "127.0.0.1:6160")
	}
	args = append(args, so.reconcilerArgs...)
	cfg := devenv.ClusterConfig{
		BinDir: o.bin, Agents: -1, Reconcilers: o.reconcilers, NodePrefix: prefix, SkipSeed: true,
		// 10.0.0.0/10 holds 16,384 /24s (the harness puts Services in 10.100-199); hollow nodes route nothing.
		ReconcilerArgs: args,
		Logger:         slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	return devenv.StartCluster(ctx, cfg)
}

// startHollows starts ceil(nodes/perHost) hollow processes and waits for
// each to say it is ready.
func startHollows(ctx context.Context, o options, c *devenv.Cluster, so scaleOptions, shm string) ([]*hollowProc, error) {
	self := so.hollowBin
	if self == "" {
		var err error
		if self, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	var join, servers []string
	for _, r := range c.Reconcilers {
		join = append(join, r.Gossip)
		servers = append(servers, r.URL)
	}
	var procs []*hollowProc
	hosts := (so.nodes + so.perHost - 1) / so.perHost
	if hosts > 150 {
		return nil, fmt.Errorf("%d hollow processes: at most 150 (each takes a 127.X subnet from 127.100)", hosts)
	}
	for h := range hosts {
		n := min(so.perHost, so.nodes-h*so.perHost)
		dir := filepath.Join(shm, fmt.Sprintf("h%d", h+1))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return procs, err
		}
		cmd := exec.Command(self, "hollow", "--nodes", fmt.Sprint(n), "--prefix", fmt.Sprintf("h%d-", h+1),
			"--subnet", fmt.Sprint(100+h), "--join", strings.Join(join, ","), "--server", strings.Join(servers, ","),
			"--token-file", c.Creds.TokenFile, "--max-pods", fmt.Sprint(so.maxPods), "--milli-cpu", "64000", "--dir", dir, "--log", c.LogPath(fmt.Sprintf("hollow-%d", h+1)))
		if so.pprof {
			cmd.Args = append(cmd.Args, "--pprof", fmt.Sprintf("127.0.0.1:%d", 6160+h+1))
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return procs, err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return procs, err
		}
		p := &hollowProc{cmd: cmd, dir: dir, nodes: n, done: make(chan struct{})}
		procs = append(procs, p)
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ready") {
					close(ready)
				}
			}
			p.err = cmd.Wait()
			close(p.done)
		}()
		select {
		case <-ready:
		case <-p.done:
			return procs, fmt.Errorf("hollow host %d exited: %v (log %s)", h+1, p.err, c.LogPath(fmt.Sprintf("hollow-%d", h+1)))
		case <-time.After(10 * time.Minute):
			return procs, fmt.Errorf("hollow host %d did not start its nodes in 10 minutes", h+1)
		case <-ctx.Done():
			return procs, ctx.Err()
		}
	}
	return procs, nil
}

// profile, with --scale-pprof, takes a CPU profile of the reconciler for d
// into /tmp/stevedore-scale-<name>.prof; the returned func waits for it.
func (so scaleOptions) profile(name string, d time.Duration) func() {
	if !so.pprof {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		url := fmt.Sprintf("http://127.0.0.1:6160/debug/pprof/profile?seconds=%d", int(d.Seconds()))
		_ = exec.Command("curl", "-s", "-o", filepath.Join(os.TempDir(), "stevedore-scale-"+name+".prof"), url).Run()
	}()
	return func() { <-done }
}

// reapScaleDirs removes the tmpfs directories of scale runs whose process
// is gone (a killed run): they hold memory until removed.
func reapScaleDirs() {
	dirs, _ := filepath.Glob("/dev/shm/stevedore-scale-*")
	more, _ := filepath.Glob(filepath.Join(os.TempDir(), "stevedore-scale-[0-9]*"))
	dirs = append(dirs, more...)
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "stevedore-scale-"))
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// stopHollows kills every hollow process still running and waits for it.
func stopHollows(procs []*hollowProc) {
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}()
	}
	wg.Wait()
}

// hollowBytes sums the hosts' agents' API bytes from their stats files.
func hollowBytes(procs []*hollowProc) int64 {
	var n int64
	for _, p := range procs {
		var s hollowStats
		if b, err := os.ReadFile(filepath.Join(p.dir, "stats.json")); err == nil && json.Unmarshal(b, &s) == nil {
			n += s.Read + s.Written
		}
	}
	return n
}

func hollowTicks(procs []*hollowProc) int64 {
	var n int64
	for _, p := range procs {
		n += procTicks(p.cmd.Process.Pid)
	}
	return n
}

// ticksToDuration converts clock ticks (USER_HZ, 100 on Linux) to time.
func ticksToDuration(t int64) time.Duration { return time.Duration(t) * 10 * time.Millisecond }

// procHWM is a process's peak resident set (VmHWM).
func procHWM(pid int) int64 { return procStatusBytes(pid, "VmHWM:") }

var errNoLeaderMetrics = errors.New("the leader's /metrics has no pods gauge yet")

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", math.Round(float64(b)/(1<<20))) }
