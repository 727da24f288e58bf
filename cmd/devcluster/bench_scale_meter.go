package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// scaleMeter reads the leader's /metrics: at 150,000 pods that is a few
// hundred kilobytes, where listing the pods would be 150 MB.
type scaleMeter struct {
	c  *devenv.Cluster
	hc *http.Client
	// watchDep, when set, is a Deployment of namespace scale whose
	// workload each sample reads too.
	watchDep string
}

// depCounts are one Deployment's gauges.
type depCounts struct{ desired, updated, available int }

// metricsSample is what one scrape says.
type metricsSample struct {
	pods, running, pending, unknown int
	nodesReady, nodesNotReady       int
	deployments                     map[string]depCounts
	// applied is the commit the leader applies.
	applied string
	// dep is scaleMeter.watchDep's workload.
	dep *rapi.Workload
}

// sample scrapes the leader's /metrics.
func (m *scaleMeter) sample(ctx context.Context) (metricsSample, error) {
	s := metricsSample{deployments: map[string]depCounts{}}
	i, _, err := m.c.Leader(ctx)
	if err != nil {
		return s, err
	}
	if st, err := m.c.ReconcilerClient(i).Status(ctx); err == nil && st.Applied != nil {
		s.applied = st.Applied.Hash
	}
	if m.watchDep != "" {
		ws, err := m.c.ReconcilerClient(i).DeploymentsFiltered(ctx, rapi.ListFilter{Namespace: "scale", FieldSelector: "metadata.name=" + m.watchDep})
		if err != nil {
			return s, err
		}
		if len(ws) == 1 {
			s.dep = &ws[0]
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.c.Reconcilers[i].URL+rapi.PathMetrics, nil)
	if err != nil {
		return s, err
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	seen := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, labels, v, ok := parseMetricLine(line)
		if !ok {
			continue
		}
		switch name {
		case "stevedore_pods":
			seen = true
			s.pods += v
			switch labels["phase"] {
			case "Running":
				s.running = v
			case "Pending":
				s.pending = v
			case "Unknown":
				s.unknown = v
			}
		case "stevedore_nodes":
			switch labels["state"] {
			case "ready", "cordoned":
				s.nodesReady += v
			default:
				s.nodesNotReady += v
			}
		case "stevedore_deployment_spec_replicas", "stevedore_deployment_status_replicas_updated", "stevedore_deployment_status_replicas_available":
			d := s.deployments[labels["deployment"]]
			switch name {
			case "stevedore_deployment_spec_replicas":
				d.desired = v
			case "stevedore_deployment_status_replicas_updated":
				d.updated = v
			default:
				d.available = v
			}
			s.deployments[labels["deployment"]] = d
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if !seen {
		return s, errNoLeaderMetrics
	}
	return s, nil
}

// parseMetricLine parses `name{k="v",…} value` (values are integers here).
func parseMetricLine(line string) (string, map[string]string, int, bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", nil, 0, false
	}
	f, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", nil, 0, false
	}
	head := line[:sp]
	name, rest, _ := strings.Cut(head, "{")
	labels := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			labels[k], _ = strconv.Unquote(v)
		}
	}
	return name, labels, int(f), true
}

// waitFor scrapes every 250 ms until done says yes, printing progress
// every 5 s.
func (m *scaleMeter) waitFor(ctx context.Context, timeout time.Duration, done func(metricsSample) bool, progress func(metricsSample) string, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last metricsSample
	var lastErr error
	printed := time.Now()
	for {
		s, err := m.sample(ctx)
		if err == nil {
			last = s
			if done(s) {
				return nil
			}
		} else {
			lastErr = err
		}
		if time.Since(printed) >= progressEvery {
			fmt.Fprintf(out, "scale: %s\n", progress(last))
			printed = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %s (last error: %v)", timeout, progress(last), lastErr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// progressEvery is how often waitFor prints progress.
const progressEvery = 5 * time.Second
