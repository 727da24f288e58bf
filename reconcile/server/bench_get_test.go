package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

var (
	benchGet     = flag.String("benchget", "", "measure `ctl get pods -A` at -benchget-pods running pods and write a Markdown table to this file (- for stdout)")
	benchGetCtl  = flag.String("benchget-ctl", "", "the ctl binary -benchget runs")
	benchGetPods = flag.Int("benchget-pods", 10000, "pods of the -benchget cluster (Deployments of 100 replicas on 100 nodes)")
)

// benchGetRuns is how many times each command runs; the median is
// reported.
const benchGetRuns = 5

// TestBenchGet is what `make bench` calls for the get section
// (docs/benchmarks.md):
//
//	go test ./reconcile/server -run TestBenchGet -benchget out.md -benchget-ctl bin/ctl
//
// It builds a leader in-process with 100 nodes and 10,000 running pods
// (as agents would report them), serves the real API handler on loopback
// and times the real ctl binary listing every pod, beside the floor: the
// same GET /v1/pods read raw, without ctl. Without -benchget it does
// nothing (a measurement, not a test).
func TestBenchGet(t *testing.T) {
	if *benchGet == "" {
		return
	}
	if *benchGetCtl == "" {
		t.Fatal("-benchget needs -benchget-ctl")
	}
	podCount := *benchGetPods
	start := time.Now()
	url := benchGetCluster(t, 100, podCount)
	t.Logf("cluster of %d pods ready in %s", podCount, time.Since(start))

	type cmdRun struct {
		label string
		args  []string
	}
	cmds := []cmdRun{
		{"`ctl get pods -A -o json`", []string{"get", "pods", "-A", "-o", "json"}},
		{"`ctl get pods -A -o yaml`", []string{"get", "pods", "-A", "-o", "yaml"}},
		{"`ctl get pods -A` (table, pages of 500)", []string{"get", "pods", "-A"}},
		{"`ctl get pods -A --chunk-size 0` (table, one answer)", []string{"get", "pods", "-A", "--chunk-size", "0"}},
		{"`ctl get pods -A -o jsonpath={.items[*].status.podIP}`", []string{"get", "pods", "-A", "-o", "jsonpath={.items[*].status.podIP}"}},
	}
	var rows []string
	// The floor: the same list as the reconciler serves it, read raw.
	var floorWall []time.Duration
	var floorBytes int64
	for range benchGetRuns {
		start := time.Now()
		resp, err := http.Get(url + api.PathPods)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		floorWall = append(floorWall, time.Since(start))
		floorBytes = n
	}
	fm := medianOf(floorWall)
	rows = append(rows, fmt.Sprintf("| floor: GET /v1/pods read raw (%.1f MB of wire JSON) | %s | %s | %s | | |", float64(floorBytes)/1e6,
		ms(fm), ms(slices.Min(floorWall)), ms(slices.Max(floorWall))))
	for i, c := range cmds {
		var walls, cpus []time.Duration
		var outBytes int
		for range benchGetRuns {
			cmd := exec.Command(*benchGetCtl, append([]string{"--server", url}, c.args...)...)
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			start := time.Now()
			if err := cmd.Run(); err != nil {
				t.Fatalf("ctl %v: %v\n%s", c.args, err, errOut.String())
			}
			walls = append(walls, time.Since(start))
			cpus = append(cpus, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
			outBytes = out.Len()
			if i == 0 {
				var l struct {
					Kind  string
					Items []json.RawMessage
				}
				if err := json.Unmarshal(out.Bytes(), &l); err != nil || l.Kind != "List" || len(l.Items) != podCount {
					t.Fatalf("ctl get pods -A -o json: %d items (%v), want a List of %d", len(l.Items), err, podCount)
				}
			}
		}
		m := medianOf(walls)
		t.Logf("%s: median %s", c.label, m)
		target := ""
		if i == 0 {
			target = "≤ 1 s"
		}
		rows = append(rows, fmt.Sprintf("| %s (%.1f MB printed) | %s | %s | %s | %s | %s |", c.label, float64(outBytes)/1e6,
			ms(m), ms(slices.Min(walls)), ms(slices.Max(walls)), ms(medianOf(cpus)), target))
		if i == 0 {
			rows = append(rows, fmt.Sprintf("| ratio of `-o json` to the floor | %.1f× | | | | |", float64(m)/float64(fm)))
		}
	}
	table := "| measurement | median wall | min | max | ctl CPU (median) | target |\n|---|---|---|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	if *benchGet == "-" {
		fmt.Print(table)
		return
	}
	if err := os.WriteFile(*benchGet, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchGetCluster starts a leader in-process whose view holds podCount
// running pods on nodeCount nodes, and serves its API; it returns the URL.
func benchGetCluster(t *testing.T, nodeCount, podCount int) string {
	s, _ := benchGetLeader(t, nodeCount, podCount)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// benchGetLeader is benchGetCluster's leader and its controller, the
// pods planned, reported Running and planned again.
func benchGetLeader(t *testing.T, nodeCount, podCount int) (*Server, *controller) {
	repo := newGitRepo(t)
	repo.commit("apps", bigRepo(t, podCount/100, func(int) string { return "registry.local/app:1" }))
	cfg := DefaultConfig()
	cfg.Source.URL, cfg.DataDir = repo.dir, t.TempDir()
	cfg.Raft.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	s.bootstrapWith([]peerMember{{name: cfg.Name, tags: map[string]string{tagRaft: s.raftAddr()}}})
	waitFor(t, 10*time.Second, "raft to elect this node", func() bool { return s.el.raft.State().String() == "Leader" })
	for i := range nodeCount {
		name := fmt.Sprintf("node-%03d", i)
		s.members.members[name] = &member{state: api.NodeAlive, since: time.Now(), addr: fmt.Sprintf("10.0.%d.%d:7946", i/250, i%250+1),
			info: agentapi.NodeInfo{Name: name, APIAddr: "http://127.0.0.1:1", PodCIDR: fmt.Sprintf("10.88.%d.0/24", i),
				Allocatable: agentapi.Resources{MilliCPU: 64000, Memory: 256 << 30, Pods: 250}}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := newController(ctx, s, s.el.raft.CurrentTerm())
	if err != nil {
		t.Fatal(err)
	}
	c.adopting = false
	if r, _ := c.syncApp(ctx, ""); r.Error != nil {
		t.Fatalf("sync: %+v", r.Error)
	}
	c.planOnce()
	if len(c.lastPlan.pods) != podCount {
		t.Fatalf("%d pods planned, want %d", len(c.lastPlan.pods), podCount)
	}
	// Every pod Running, as its agent would report it.
	started := time.Now().Add(-time.Hour)
	byNode := map[string][]agentapi.PodStatus{}
	for _, p := range c.lastPlan.pods {
		i := len(byNode[p.Node])
		byNode[p.Node] = append(byNode[p.Node], agentapi.PodStatus{UID: p.UID, Namespace: p.Namespace, Name: p.Name, Node: p.Node,
			Phase: agentapi.PodRunning, PodIP: fmt.Sprintf("10.88.%s.%d", strings.TrimPrefix(p.Node, "node-"), i+2), StartTime: &started,
			Containers: []agentapi.ContainerStatus{{Name: "c", Image: "registry.local/app:1", ImageID: "sha256:4f9c0a", ContainerID: "containerd://" + p.UID,
				Ready: true, State: agentapi.ContainerState{Running: &agentapi.StateRunning{StartedAt: started}}}}})
	}
	c.mu.Lock()
	for n, l := range byNode {
		c.observed[n] = l
	}
	c.mu.Unlock()
	c.planOnce()
	s.ctrl.Store(c)
	return s, c
}
