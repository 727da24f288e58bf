package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// The rollout scenarios share TestHA's cluster (3 reconcilers, 3 agents in
// network namespaces): a rolling update of 10 replicas under continuous
// requests through their Service, a failover of the leader in the middle
// of one, a broken image that stops, liveness restarts with preStop before
// SIGTERM, and readiness keeping a pod out of its Service.

const (
	roNS       = "ro"
	roReplicas = 10
	// roSurge and roUnavailable are the rolling update's bounds.
	roSurge       = 3
	roUnavailable = 2
)

// roManifests is the rollout namespace: the web Deployment (greeting and
// image vary), its Service, and the probe pods.
func roManifests(c *devenv.Cluster, greeting, image string) map[string]string {
	web := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: %[2]d
  progressDeadlineSeconds: 25
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: %[3]d, maxUnavailable: %[4]d}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: hello
          image: %[5]s
          env: [{name: GREETING, value: %[6]q}]
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 1
          lifecycle:
            # The endpoints leave every node's rules before the server
            # stops: what Kubernetes users do too.
            preStop: {sleep: {seconds: 2}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
`, roNS, roReplicas, roSurge, roUnavailable, image, greeting)
	probes := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: hang, namespace: %[1]s}
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: main
      image: %[2]s
      # Healthy for 2 s, then hung: the liveness probe fails, preStop
      # appends to /tmp/order, and the TERM trap leaves the order in the
      # termination message.
      command: ["sh", "-c", "trap 'echo $(cat /tmp/order) term > /dev/termination-log; exit 0' TERM; touch /tmp/alive; sleep 2; rm /tmp/alive; while true; do sleep 1; done"]
      livenessProbe:
        exec: {command: [cat, /tmp/alive]}
        periodSeconds: 1
        failureThreshold: 1
      lifecycle:
        preStop:
          exec: {command: [sh, -c, "echo prestop >> /tmp/order"]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: %[1]s}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: %[2]s
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: unready, namespace: %[1]s, labels: {app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: %[2]s
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
      readinessProbe:
        exec: {command: [cat, /tmp/ready]}
        periodSeconds: 1
`, roNS, c.Image(devenv.BusyboxRepo))
	return map[string]string{
		"namespaces/ro.yaml":  namespaceYAML(roNS),
		"apps/ro-web.yaml":    web,
		"apps/ro-probes.yaml": probes,
	}
}

// roCommit commits the rollout namespace with the web template at
// greeting and image.
func (h *haCluster) roCommit(greeting, image string) string {
	h.t.Helper()
	files := map[string][]byte{}
	for k, v := range roManifests(h.c, greeting, image) {
		files[k] = []byte(v)
	}
	hash, err := h.c.Repo.Commit(h.ctx, "web: "+greeting, files)
	if err != nil {
		h.t.Fatal(err)
	}
	return hash
}

// podIsReady is the pod's Ready condition as its agent reports it.
func podIsReady(p rapi.Pod) bool {
	if p.Status == nil {
		return false
	}
	c := p.Status.Condition(api.PodReady)
	return c != nil && c.Status == api.ConditionTrue
}

// waitRollout waits until the web Deployment's view satisfies done.
func (h *haCluster) waitRollout(t *testing.T, what string, timeout time.Duration, done func(rapi.Workload) bool) rapi.Workload {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last rapi.Workload
	for {
		ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
		ws, err := h.c.Client.Deployments(ctx, roNS)
		cancel()
		if err == nil {
			for _, w := range ws {
				if w.Name == "web" {
					last = w
					if done(w) {
						return w
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last view %+v (err %v)", what, timeout, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func complete(w rapi.Workload) bool {
	return w.Progress == rapi.ProgressComplete && w.Available == roReplicas && w.UpToDate == roReplicas && w.Current == roReplicas
}

// load sends requests to url from inside netns until stopped (at most
// maxRequests, at most 4 minutes) and counts failures and answering pods.
type load struct {
	mu       sync.Mutex
	ok       int
	failed   []string
	greeting map[string]int
	stop     chan struct{}
	done     chan struct{}
}

func startLoad(ctx context.Context, netns, url string) *load {
	l := &load{greeting: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	hc := devenv.InsideHTTPClient(netns)
	hc.Timeout = 3 * time.Second
	const maxRequests = 50000
	go func() {
		defer close(l.done)
		end := time.Now().Add(4 * time.Minute)
		for i := 0; i < maxRequests && time.Now().Before(end); i++ {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %s", resp.Status)
				}
			}
			l.mu.Lock()
			if err != nil {
				l.failed = append(l.failed, time.Now().Format("15:04:05.000")+" "+err.Error())
			} else {
				l.ok++
				g, _, _ := strings.Cut(string(body), "!")
				l.greeting[g]++
			}
			l.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return l
}

func (l *load) finish() (ok int, failed []string, greeting map[string]int) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.failed, l.greeting
}

// minReady samples the number of Ready web pods every 100 ms until
// stopped, and returns the lowest it saw.
func (h *haCluster) sampleReady(stop <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		low := 1 << 30
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			pods, err := h.c.Client.Pods(ctx, roNS)
			cancel()
			if err == nil {
				n := 0
				for _, p := range pods {
					if p.Owner == "Deployment/"+roNS+"/web" && podIsReady(p) && p.Reason != "Terminating" {
						n++
					}
				}
				low = min(low, n)
			}
			select {
			case <-stop:
				out <- low
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// testRollout walks the web Deployment through a rolling update under
// load, a failover in the middle of another, and a broken image.
func (h *haCluster) testRollout(t *testing.T) {
	c := h.c
	v2 := c.Image("stevedore/hello:v2")
	if err := devenv.TagImage(h.ctx, c.Image(devenv.HelloRepo), v2); err != nil {
		t.Fatal(err)
	}
	h.roCommit("v1", c.Image(devenv.HelloRepo))
	first := h.waitRollout(t, "web at v1", 3*time.Minute, complete)
	svc := h.serviceIP(t, "web")
	// The requests start inside the client pod, as a caller of the
	// Service in the cluster would.
	var netns string
	for _, p := range h.roPods(t) {
		if p.Name == "client" && p.Phase == api.PodRunning {
			netns = strings.TrimPrefix(podNetns(p.UID), "/var/run/netns/")
		}
	}
	if netns == "" {
		t.Fatal("the client pod is not running")
	}

	// 1. A rolling update under continuous requests through the Service:
	// no request fails, and never fewer than replicas − maxUnavailable
	// pods are Ready.
	l := startLoad(h.ctx, netns, "http://"+svc+"/")
	stopSampling := make(chan struct{})
	lowest := h.sampleReady(stopSampling)
	h.roCommit("v2", v2)
	second := h.waitRollout(t, "the rolling update to v2", 3*time.Minute, func(w rapi.Workload) bool {
		return complete(w) && w.Revision != first.Revision
	})
	time.Sleep(time.Second) // requests after the last old pod is gone
	close(stopSampling)
	ok, failed, greetings := l.finish()
	low := <-lowest
	t.Logf("rolling update: %d requests answered (%v), %d failed; lowest Ready count %d", ok, greetings, len(failed), low)
	if len(failed) > 0 {
		t.Errorf("%d requests failed during the rolling update: %v", len(failed), failed[:min(len(failed), 10)])
	}
	if low < roReplicas-roUnavailable {
		t.Errorf("only %d pods Ready at one point, want at least %d (replicas − maxUnavailable)", low, roReplicas-roUnavailable)
	}
	if greetings["v2"] == 0 || greetings["v1"] == 0 {
		t.Errorf("answers by greeting %v: want both revisions to have served", greetings)
	}
	if second.RevisionNumber != first.RevisionNumber+1 || second.Commit == "" {
		t.Errorf("revision %d (commit %q) after %d, want the next number with its commit", second.RevisionNumber, second.Commit, first.RevisionNumber)
	}
	if out, err := c.Ctl(h.ctx, "get", "events", "-n", roNS); err != nil || !strings.Contains(out, "ScalingReplicaSet") {
		t.Errorf("ctl get events shows no rollout step: %v\n%s", err, out)
	}

	// 2. The leader is killed mid-rollout: the next one continues it.
	h.roCommit("v3", c.Image(devenv.HelloRepo))
	h.waitRollout(t, "the rollout to v3 to start", time.Minute, func(w rapi.Workload) bool {
		return w.Revision != second.Revision && w.UpToDate > 0 && w.UpToDate < roReplicas
	})
	li, _ := h.leader(t)
	c.KillReconciler(li)
	if _, _, err := c.WaitLeader(h.ctx, 30*time.Second, func(i int, _ string) bool { return i != li }); err != nil {
		t.Fatal(err)
	}
	third := h.waitRollout(t, "the rollout to v3 after the failover", 3*time.Minute, func(w rapi.Workload) bool {
		return complete(w) && w.Revision != second.Revision
	})
	h.restartReconciler(t, li)
	if out, err := c.Ctl(h.ctx, "rollout", "status", "deployment/web", "-n", roNS, "--timeout", "30s"); err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Errorf("ctl rollout status after the failover: %v\n%s", err, out)
	}

	// 3. A broken image: the rollout stops at maxUnavailable and reports
	// the deadline; the old pods keep serving.
	h.roCommit("broken", c.Image("stevedore/nonexistent:v9"))
	stuck := h.waitRollout(t, "the broken rollout to pass its deadline", 2*time.Minute, func(w rapi.Workload) bool {
		return w.Progress == rapi.ProgressDeadlineExceeded
	})
	pods := h.roPods(t)
	oldReady, newPods := 0, 0
	for _, p := range pods {
		if p.Owner != "Deployment/"+roNS+"/web" || p.Reason == "Terminating" {
			continue
		}
		switch p.Labels["pod-template-hash"] {
		case third.Revision:
			if podIsReady(p) {
				oldReady++
			}
		case stuck.Revision:
			newPods++
		}
	}
	if oldReady < roReplicas-roUnavailable {
		t.Errorf("%d old pods (revision %s) Ready with the broken rollout (revision %s), want at least %d; pods:\n%s",
			oldReady, third.Revision, stuck.Revision, roReplicas-roUnavailable, listPods(pods))
	}
	if newPods > roSurge+roUnavailable {
		t.Errorf("%d pods of the broken revision, want at most maxSurge + maxUnavailable = %d", newPods, roSurge+roUnavailable)
	}
	if out, err := c.Ctl(h.ctx, "rollout", "status", "deployment/web", "-n", roNS, "--timeout", "10s"); err == nil || !strings.Contains(out, "exceeded its progress deadline") {
		t.Errorf("ctl rollout status on the broken rollout: %v\n%s", err, out)
	}
	if out, err := c.Ctl(h.ctx, "status"); err != nil || !strings.Contains(out, "web") || !strings.Contains(out, "ProgressDeadlineExceeded") {
		t.Errorf("ctl status does not report the broken rollout: %v\n%s", err, out)
	}

	// Rolled back the Git way: ctl rollout undo in a clone, pushed.
	clone := filepath.Join(t.TempDir(), "clone")
	if out, err := exec.CommandContext(h.ctx, "git", "clone", "-q", c.Repo.Bare, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if out, err := c.Ctl(h.ctx, "rollout", "undo", "deployment/web", "-n", roNS, "--repo", clone, "--push"); err != nil {
		t.Fatalf("ctl rollout undo: %v\n%s", err, out)
	}
	if _, err := c.Ctl(h.ctx, "sync"); err != nil {
		t.Fatal(err)
	}
	h.waitRollout(t, "the rollback to v3", 2*time.Minute, func(w rapi.Workload) bool {
		return complete(w) && w.Revision == third.Revision
	})
	// The harness's own clone follows, for the commits of later steps.
	if out, err := exec.CommandContext(h.ctx, "git", "-C", c.Repo.Work, "pull", "-q", "--ff-only", "origin", c.Repo.Branch).CombinedOutput(); err != nil {
		t.Fatalf("git pull in the harness's clone: %v\n%s", err, out)
	}
}

// testProbes: liveness restarts a hung container, its preStop hook runs
// before SIGTERM, and a pod that is not ready stays out of Ready and of
// its Service.
func (h *haCluster) testProbes(t *testing.T) {
	pods := waitPodsOf(t, h.ctx, h.c, "the hung pod restarted", roNS, 2*time.Minute, func(ps []rapi.Pod) bool {
		for _, p := range ps {
			if p.Name == "hang" && p.Status != nil && len(p.Status.Containers) == 1 {
				cs := p.Status.Containers[0]
				return cs.RestartCount >= 1 && cs.LastTerminationState.Terminated != nil
			}
		}
		return false
	})
	for _, p := range pods {
		switch p.Name {
		case "hang":
			term := p.Status.Containers[0].LastTerminationState.Terminated
			if got := strings.TrimSpace(term.Message); got != "prestop term" {
				t.Errorf("the hung container's termination message %q, want %q (preStop, then SIGTERM)", got, "prestop term")
			}
		case "unready":
			if podIsReady(p) || p.Phase != api.PodRunning {
				t.Errorf("unready pod: phase %s, ready %v; want Running and not Ready", p.Phase, podIsReady(p))
			}
		}
	}
	out, err := h.c.Ctl(h.ctx, "get", "events", "-n", roNS)
	if err != nil || !strings.Contains(out, "Unhealthy") || !strings.Contains(out, "Killing") {
		t.Errorf("ctl get events: no Unhealthy/Killing for the hung pod: %v\n%s", err, out)
	}
	out, err = h.c.Ctl(h.ctx, "describe", "service", "-n", roNS, "web")
	if err != nil || !strings.Contains(out, "unready") || !strings.Contains(out, "NotReady") {
		t.Errorf("ctl describe service web does not show the unready pod excluded: %v\n%s", err, out)
	}
}

// roPods lists the pods of the rollout namespace, terminating ones too.
func (h *haCluster) roPods(t *testing.T) []rapi.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	pods, err := h.c.Client.Pods(ctx, roNS)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// serviceIP returns a Service's cluster IP in the rollout namespace.
func (h *haCluster) serviceIP(t *testing.T, name string) string {
	t.Helper()
	out, err := h.c.Ctl(h.ctx, "get", "svc", name, "-n", roNS, "-o", "jsonpath={.spec.clusterIP}")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Fatalf("cluster IP of %s: %v %q", name, err, out)
	}
	return strings.TrimSpace(out)
}
