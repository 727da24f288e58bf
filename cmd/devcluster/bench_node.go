package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/agent/containerlog"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

const secNode = "node"

// The node section: what 50 pods writing 1 MB/s of logs each cost the
// agents and the log drivers, beside the same containers logging straight
// through containerd's shim; how long a line takes from the container to
// `ctl logs -f`; what a stats sample costs per pod.
const (
	nodeWriters  = 50
	nodeWindow   = 30 * time.Second
	nodeLatLines = 100
	nodeNS       = "bn"
)

// nodeFloodCmd writes 1 MB (10,000 lines of 100 bytes) every second.
const nodeFloodCmd = `yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 10000 > /tmp/chunk; while true; do cat /tmp/chunk; sleep 1; done`

const benchNodeYAML = `apiVersion: v1
kind: Namespace
metadata: {name: bn}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: flood, namespace: bn}
spec:
  replicas: %[1]d
  selector: {matchLabels: {app: flood}}
  template:
    metadata: {labels: {app: flood}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: %[2]s
          command: ["sh", "-c", %[3]q]
          resources: {requests: {cpu: 1m, memory: 8Mi}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tick, namespace: bn}
spec:
  replicas: 1
  selector: {matchLabels: {app: tick}}
  template:
    metadata: {labels: {app: tick}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: %[2]s
          command: ["sh", "-c", "while true; do echo tick; usleep 100000; done"]
          resources: {requests: {cpu: 1m, memory: 8Mi}}
`

type nodeResult struct {
	agentCPU, agentRSS   []float64 // per agent: % of a core, MiB
	loggerCPU, shimCPU   float64   // % of a core, all of them
	floorShimCPU         float64
	diskBytes, diskBound int64
	latency              []time.Duration
	statsPerPod          time.Duration
	statsPods            int
}

func benchNode(ctx context.Context, o options, out io.Writer) (string, error) {
	st := newStamp()
	o.reconcilers = 1
	var res nodeResult
	var ferr error
	err := withBenchCluster(ctx, &o, fmt.Sprintf("bnd%d", os.Getpid()%1000), func(bc *benchCluster) {
		res, ferr = measureNode(ctx, bc, out)
	})
	if err != nil {
		return "", err
	}
	if ferr != nil {
		return "", ferr
	}
	return renderNode(res, o.agents, st), nil
}

func measureNode(ctx context.Context, bc *benchCluster, out io.Writer) (nodeResult, error) {
	c := bc.c
	var res nodeResult
	image := c.Image(devenv.BusyboxRepo)
	if _, err := c.Repo.Commit(ctx, "node bench", map[string][]byte{
		"bn.yaml": fmt.Appendf(nil, benchNodeYAML, nodeWriters, image, nodeFloodCmd),
	}); err != nil {
		return res, err
	}
	wctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if _, err := c.Client.WaitFor(wctx, nodeNS, 100*time.Millisecond, func(ps []rapi.Pod) bool {
		n := 0
		for _, p := range rapi.CurrentPods(ps) {
			if p.Phase == api.PodRunning {
				n++
			}
		}
		return n == nodeWriters+1
	}); err != nil {
		return res, fmt.Errorf("waiting for %d log writers: %w", nodeWriters+1, err)
	}
	fmt.Fprintf(out, "node: %d log writers running\n", nodeWriters)

	// CPU over the window: agents, log drivers, shims of the agents.
	var agentPIDs []int
	for i := range c.Agents {
		agentPIDs = append(agentPIDs, c.AgentPID(i))
	}
	before := sampleProcs(agentPIDs)
	time.Sleep(nodeWindow) // a measurement window, not a wait for a condition
	after := sampleProcs(agentPIDs)
	secs := after.at.Sub(before.at).Seconds()
	pct := func(d int64) float64 { return float64(d) / clkTck / secs * 100 }
	for _, pid := range agentPIDs {
		res.agentCPU = append(res.agentCPU, pct(after.ticks[pid]-before.ticks[pid]))
		res.agentRSS = append(res.agentRSS, float64(after.rss[pid])/(1<<20))
	}
	res.loggerCPU = pct(after.logger - before.logger)
	res.shimCPU = pct(after.shimNS["stevedore"] - before.shimNS["stevedore"])
	fmt.Fprintf(out, "node: agents %v %% of a core, log drivers %.1f%%, shims %.1f%%\n", res.agentCPU, res.loggerCPU, res.shimCPU)
	for _, a := range c.Agents {
		res.diskBytes += dirBytes(filepath.Join(a.DataDir, "logs"))
	}
	res.diskBound = int64(nodeWriters+1) * 10 << 20 * 5

	lat, err := measureLogLatency(ctx, c)
	if err != nil {
		return res, err
	}
	res.latency = lat
	res.statsPerPod, res.statsPods, err = measureStatsCost(ctx, c)
	if err != nil {
		return res, err
	}

	// Tear down before the floor so it has the machine to itself.
	if _, err := c.Repo.Commit(ctx, "node bench: remove", map[string][]byte{"bn.yaml": nil}); err != nil {
		return res, err
	}
	if _, err := c.Client.WaitFor(wctx, nodeNS, 100*time.Millisecond, func(ps []rapi.Pod) bool { return len(ps) == 0 }); err != nil {
		return res, err
	}
	if err := waitNoContainers(wctx, c); err != nil {
		return res, err
	}
	floor, err := measureLogFloor(ctx, c, image, nodeWriters)
	if err != nil {
		return res, fmt.Errorf("floor: %w", err)
	}
	res.floorShimCPU = floor
	fmt.Fprintf(out, "node: floor shims %.1f%%\n", floor)
	return res, nil
}

// measureLogLatency follows the tick pod's log through the reconciler with
// timestamps: each line's latency is when ctl's client read it minus the
// time its log driver stamped on it.
func measureLogLatency(ctx context.Context, c *devenv.Cluster) ([]time.Duration, error) {
	ps, err := c.Client.Pods(ctx, nodeNS)
	if err != nil {
		return nil, err
	}
	var pod string
	for _, p := range rapi.CurrentPods(ps) {
		if strings.HasPrefix(p.Name, "tick-") {
			pod = p.Name
		}
	}
	if pod == "" {
		return nil, fmt.Errorf("no tick pod")
	}
	lctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, err := c.Client.Logs(lctx, rapi.LogsOptions{Namespace: nodeNS, Pod: pod, LogOptions: api.LogOptions{Follow: true, Timestamps: true, Tail: 1}})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	var lat []time.Duration
	skip := 1 // the tail line was written before the request
	for sc.Scan() && len(lat) < nodeLatLines {
		now := time.Now()
		ts, _, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("line without a timestamp: %q", sc.Text())
		}
		if skip > 0 {
			skip--
			continue
		}
		lat = append(lat, now.Sub(t))
	}
	if len(lat) < nodeLatLines {
		return nil, fmt.Errorf("followed only %d lines: %v", len(lat), sc.Err())
	}
	return lat, nil
}

// measureStatsCost reads each agent's own account of its last stats
// sample.
func measureStatsCost(ctx context.Context, c *devenv.Cluster) (time.Duration, int, error) {
	var total time.Duration
	pods := 0
	for i := range c.Agents {
		ns, err := c.AgentClient(i).Stats(ctx)
		if err != nil {
			return 0, 0, err
		}
		total += ns.CollectDuration
		pods += len(ns.Pods)
	}
	if pods == 0 {
		return 0, 0, fmt.Errorf("no pod in any agent's stats")
	}
	return total / time.Duration(pods), pods, nil
}

// measureLogFloor runs n writers straight through containerd with the
// shim writing their output to a file (cio.LogFile): no rotation, no CRI
// format, no agent. It returns the shims' CPU as % of a core.
func measureLogFloor(ctx context.Context, c *devenv.Cluster, image string, n int) (float64, error) {
	ctx, cl, img, done, err := floorClient(ctx, c, image)
	if err != nil {
		return 0, err
	}
	defer done()
	dir, err := os.MkdirTemp(c.Dir, "logfloor")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	var ids []string
	defer func() { cleanupFloor(context.WithoutCancel(ctx), cl, ids) }()
	for i := range n {
		id := fmt.Sprintf("logfloor-%d-%d", os.Getpid(), i)
		ctr, err := cl.NewContainer(ctx, id, client.WithNewSnapshot(id, img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sh", "-c", nodeFloodCmd), oci.WithHostname(id)))
		if err != nil {
			return 0, err
		}
		ids = append(ids, id)
		task, err := ctr.NewTask(ctx, cio.LogFile(filepath.Join(dir, id+".log")))
		if err != nil {
			return 0, err
		}
		if err := task.Start(ctx); err != nil {
			return 0, err
		}
	}
	before := sampleProcs(nil)
	time.Sleep(nodeWindow) // a measurement window
	after := sampleProcs(nil)
	secs := after.at.Sub(before.at).Seconds()
	return float64(after.shimNS["bench-floor"]-before.shimNS["bench-floor"]) / clkTck / secs * 100, nil
}

// clkTck is USER_HZ, 100 on Linux's supported architectures.
const clkTck = 100

type procSample struct {
	at     time.Time
	ticks  map[int]int64 // of the given pids
	rss    map[int]int64
	logger int64            // every log driver process
	shimNS map[string]int64 // containerd shims by namespace prefix ("stevedore", "bench-floor")
}

// sampleProcs reads /proc: the CPU ticks and RSS of pids, and the ticks of
// every log driver and shim.
func sampleProcs(pids []int) procSample {
	s := procSample{at: time.Now(), ticks: map[int]int64{}, rss: map[int]int64{}, shimNS: map[string]int64{}}
	for _, pid := range pids {
		s.ticks[pid] = procTicks(pid)
		s.rss[pid] = procRSS(pid)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		switch {
		case len(argv) > 1 && argv[1] == containerlog.DriverArg:
			s.logger += procTicks(pid)
		case strings.HasSuffix(argv[0], "containerd-shim-runc-v2"):
			for i, a := range argv {
				if a == "-namespace" && i+1 < len(argv) {
					ns := argv[i+1]
					if strings.HasPrefix(ns, "stevedore") {
						ns = "stevedore"
					}
					s.shimNS[ns] += procTicks(pid)
				}
			}
		}
	}
	return s
}

func procTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	// Fields 14 and 15 of stat (utime, stime); f starts at field 3.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

func procRSS(pid int) int64 { return procStatusBytes(pid, "VmRSS:") }

// procStatusBytes reads a "<field> N kB" line of /proc/<pid>/status, in
// bytes; 0 when the process or the field is gone.
func procStatusBytes(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func renderNode(r nodeResult, agents int, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secNode))
	fmt.Fprintln(&b, "## "+sectionTitles[secNode])
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%d pods each writing 1 MB of log lines every second (10,000 lines of 100 bytes), plus one\n", nodeWriters)
	fmt.Fprintf(&b, "pod writing a line every 100 ms, on 1 reconciler and %d agents, measured over %s. The floor runs\n", agents, nodeWindow)
	fmt.Fprintln(&b, "the same writers straight through containerd with the shim writing each container's output to a")
	fmt.Fprintln(&b, "file (`cio.LogFile`): no CRI format, no rotation, no agent.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| measurement | figure | target or floor |")
	fmt.Fprintln(&b, "|---|---|---|")
	maxCPU, maxRSS := 0.0, 0.0
	for i := range r.agentCPU {
		maxCPU, maxRSS = max(maxCPU, r.agentCPU[i]), max(maxRSS, r.agentRSS[i])
	}
	fmt.Fprintf(&b, "| agent CPU (busiest agent) | %.1f%% of a core | target ≤ 5%% |\n", maxCPU)
	fmt.Fprintf(&b, "| agent RSS (largest) | %.0f MiB | |\n", maxRSS)
	fmt.Fprintf(&b, "| log drivers' CPU, all %d | %.1f%% of a core | |\n", nodeWriters+1, r.loggerCPU)
	fmt.Fprintf(&b, "| shims' CPU, Stevedore's pods | %.1f%% of a core | |\n", r.shimCPU)
	fmt.Fprintf(&b, "| logging CPU, drivers + shims | %.1f%% of a core | floor: shims writing files %.1f%% (%.2f×) |\n",
		r.loggerCPU+r.shimCPU, r.floorShimCPU, (r.loggerCPU+r.shimCPU)/max(r.floorShimCPU, 0.1))
	fmt.Fprintf(&b, "| log bytes on disk after the window | %.0f MiB | bound %.0f MiB (10Mi × 5 per container) |\n",
		float64(r.diskBytes)/(1<<20), float64(r.diskBound)/(1<<20))
	fmt.Fprintf(&b, "| stats sample per pod | %s | (%d pods) |\n", r.statsPerPod.Round(time.Microsecond), r.statsPods)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "`ctl logs -f --timestamps` latency, through the reconciler, while the 50 writers run: from the log")
	fmt.Fprintf(&b, "driver's timestamp on a line to the client reading it (%d lines).\n", nodeLatLines)
	fmt.Fprintln(&b)
	fmt.Fprint(&b, durationTableHeader)
	sort.Slice(r.latency, func(i, j int) bool { return r.latency[i] < r.latency[j] })
	durationRow(&b, "line written → read by ctl", r.latency)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secNode))
	return b.String()
}
