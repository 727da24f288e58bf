package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stevedore-dev/stevedore/internal/devenv"
)

// prometheusBinary is Debian's package's server.
const prometheusBinary = "/usr/bin/prometheus"

// promServer is a Prometheus server a test runs with its own config and
// storage, on a free loopback port; the package's systemd unit plays no
// part.
type promServer struct {
	url string
	cmd *exec.Cmd
	log string
}

// startPrometheus installs Debian's prometheus if it is missing, runs it
// with config and waits until it is ready; it is stopped and its storage
// removed when the test ends.
func startPrometheus(t *testing.T, ctx context.Context, config string) *promServer {
	t.Helper()
	if _, err := os.Stat(prometheusBinary); err != nil {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "prometheus")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("failed to install Debian's prometheus (make deps installs it): %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p := &promServer{url: "http://" + addr, log: logf.Name()}
	p.cmd = exec.Command(prometheusBinary, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("failed to start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, promTail(p.log, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 20s:\n%s", promTail(p.log, 20))
		}
	}
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s promSample) value() float64 {
	str, _ := s.Value[1].(string)
	v, _ := strconv.ParseFloat(str, 64)
	return v
}

// query runs an instant query through Prometheus' HTTP API.
func (p *promServer) query(q string) ([]promSample, error) {
	resp, err := http.Get(p.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string       `json:"resultType"`
			Result     []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("failed to decode the answer to %s: %w", q, err)
	}
	if r.Status != "success" || r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: %s %s (%s)", q, r.Status, r.Error, r.Data.ResultType)
	}
	return r.Data.Result, nil
}

// metricsStep: Debian's Prometheus scrapes every reconciler and agent of
// the cluster each second; within a bounded wait every target is up and
// the control plane's and the nodes' own metrics are queryable: pods
// Running at the leader and on the agents, the syncs, and the failed pull
// of the ghost deployment (step 6).
func metricsStep(e *e2e) {
	t := e.t
	t.Helper()
	start := time.Now()
	p := startPrometheus(t, e.ctx, scrapeConfig(e.c, time.Second))
	targets := len(e.c.Reconcilers) + len(e.c.Agents)
	checks := []struct {
		query string
		ok    func([]promSample) bool
	}{
		{"up", func(s []promSample) bool {
			if len(s) != targets {
				return false
			}
			for _, x := range s {
				if x.value() != 1 {
					return false
				}
			}
			return true
		}},
		{`stevedore_pods{job="stevedore-reconciler",phase="Running"}`, promPositive},
		{`sum(stevedore_agent_pods{job="stevedore-agent",phase="Running"})`, promPositive},
		{`sum(stevedore_syncs_total{result="applied"})`, promPositive},
		{`sum(stevedore_agent_image_pulls_total{result="error"})`, promPositive},
		{`stevedore_raft_leader == 1`, func(s []promSample) bool { return len(s) == 1 }},
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range checks {
		for {
			s, err := p.query(c.query)
			if err == nil && c.ok(s) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("prometheus: %s = %+v (%v) after %s\nconfig:\n%s\nlog:\n%s", c.query, s, err, time.Since(start).Round(time.Second),
					scrapeConfig(e.c, time.Second), promTail(p.log, 15))
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	t.Logf("prometheus scraped %d targets, every check passed in %s", targets, time.Since(start).Round(100*time.Millisecond))
}

func promPositive(s []promSample) bool { return len(s) > 0 && s[0].value() > 0 }

// tailFile returns the last n lines of a file, for failures.
func promTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestPrometheusHarness runs Debian's Prometheus against one /metrics
// endpoint in this process, without a cluster: the config, the start and
// the queries metricsStep relies on, in seconds.
func TestPrometheusHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "stevedore_harness", Help: "A gauge the test sets."})
	reg.MustRegister(g)
	g.Set(42)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c := &devenv.Cluster{Reconcilers: []*devenv.Reconciler{{APIAddr: addr}}, Agents: []*devenv.Agent{{APIAddr: "127.0.0.1:1"}}}
	p := startPrometheus(t, ctx, scrapeConfig(c, time.Second))
	deadline := time.Now().Add(20 * time.Second)
	for {
		up, err1 := p.query(`up{job="stevedore-reconciler"}`)
		down, err2 := p.query(`up{job="stevedore-agent"}`)
		v, err3 := p.query(`stevedore_harness`)
		if err1 == nil && err2 == nil && err3 == nil && len(up) == 1 && up[0].value() == 1 &&
			len(down) == 1 && down[0].value() == 0 && len(v) == 1 && v[0].value() == 42 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("up=%+v %v, down=%+v %v, gauge=%+v %v\n%s", up, err1, down, err2, v, err3, promTail(p.log, 15))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
