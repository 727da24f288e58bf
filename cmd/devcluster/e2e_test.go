package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// buildBinaries builds ctl, reconciler and agent into a temp dir.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/", "../ctl", "../reconciler", "../agent", "../stevedore-log-driver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("failed to build binaries: %v\n%s", err, out)
	}
	return bin
}

// e2e bundles the cluster and helpers of one end-to-end test.
type e2e struct {
	t   *testing.T
	ctx context.Context
	c   *devenv.Cluster
	// seen holds the UID of every pod the test saw, to check that none of
	// their network namespaces outlives them.
	seen map[string]bool
}

// commit writes files, commits and pushes, returning the hash.
func (e *e2e) commit(msg string, files map[string]string) string {
	e.t.Helper()
	m := map[string][]byte{}
	for k, v := range files {
		if v == "" {
			m[k] = nil
			continue
		}
		m[k] = e.c.RewriteImages(k, []byte(v))
	}
	h, err := e.c.Repo.Commit(e.ctx, msg, m)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// waitPods waits until done holds for the pods of namespace ns.
func (e *e2e) waitPods(what, ns string, timeout time.Duration, done func([]rapi.Pod) bool) []rapi.Pod {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	pods, err := e.c.Client.WaitFor(ctx, ns, 100*time.Millisecond, func(ps []rapi.Pod) bool {
		for _, p := range ps {
			e.seen[p.UID] = true
		}
		return done(ps)
	})
	if err != nil {
		out, _ := e.c.Ctl(context.Background(), "get", "pods", "-A", "-o", "wide")
		st, _ := e.c.Ctl(context.Background(), "status")
		e.t.Fatalf("waiting for %s: %v\n%s\n%s", what, err, out, st)
	}
	return pods
}

// waitStatus waits until `ctl status` mentions every string in want.
func (e *e2e) waitStatus(what string, want ...string) string {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		out, _ = e.c.Ctl(e.ctx, "status")
		ok := true
		for _, w := range want {
			if !strings.Contains(out, w) {
				ok = false
			}
		}
		if ok {
			return out
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("%s: ctl status never mentioned %q:\n%s", what, want, out)
	return ""
}

// waitApplied waits until the reconciler has applied the work clone's head
// with no error.
func (e *e2e) waitApplied(what string) {
	e.t.Helper()
	head, err := exec.CommandContext(e.ctx, "git", "-C", e.c.Repo.Work, "rev-parse", "HEAD").Output()
	if err != nil {
		e.t.Fatal(err)
	}
	want := strings.TrimSpace(string(head))
	deadline := time.Now().Add(30 * time.Second)
	var st *rapi.Status
	for time.Now().Before(deadline) {
		if st, err = e.c.Client.Status(e.ctx); err == nil && st.LastError == nil && st.Applied != nil && st.Applied.Hash == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatalf("%s: %s never applied cleanly: %+v %v", what, want, st, err)
}

// running returns a predicate: exactly n pods with label app=app, all
// Running, each passing extra (when not nil).
// examplePods is how many pods the examples repository runs: 3 hello, the
// two-container pod, the batch pod and kvstore (with its claim, ConfigMap
// and SOPS-encrypted Secret).
const examplePods = 6

func running(app string, n int, extra func(rapi.Pod) bool) func([]rapi.Pod) bool {
	return func(ps []rapi.Pod) bool {
		got := 0
		for _, p := range ps {
			if p.Labels["app"] != app {
				continue
			}
			if p.Phase != api.PodRunning || (extra != nil && !extra(p)) {
				return false
			}
			got++
		}
		return got == n
	}
}

func uids(ps []rapi.Pod, app string) map[string]bool {
	m := map[string]bool{}
	for _, p := range ps {
		if p.Labels["app"] == app {
			m[p.UID] = true
		}
	}
	return m
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: runs containerd, a registry, a reconciler and 3 agents")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	bin := buildBinaries(t)

	c, err := devenv.StartCluster(ctx, devenv.ClusterConfig{
		BinDir:   bin,
		Examples: "../../examples-repo",
		// TestHA runs the patterns.
		SeedSkip:   []string{"patterns"},
		NodePrefix: fmt.Sprintf("e2e%d", os.Getpid()%1000),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopLogging(t, c)
		if err := c.Stop(); err != nil { // safe twice
			t.Errorf("second Stop: %v", err)
		}
		// After Stop: no bridge holds an address of the pod CIDRs, and the
		// cluster's directory is gone.
		out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
		if err != nil {
			t.Errorf("ip addr: %v", err)
		}
		for _, a := range c.Agents {
			gw := strings.TrimSuffix(a.PodCIDR, "0/24") + "1/"
			if strings.Contains(string(out), gw) {
				t.Errorf("an address of %s (%s) outlived Stop:\n%s", a.Name, a.PodCIDR, out)
			}
		}
		if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
			t.Errorf("cluster dir %s outlived Stop: %v", c.Dir, err)
		}
	})
	e := &e2e{t: t, ctx: ctx, c: c, seen: map[string]bool{}}
	hello, err := os.ReadFile("../../examples-repo/apps/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	helloWith := func(replicas int, image string) string {
		s := strings.Replace(string(hello), "replicas: 3", fmt.Sprintf("replicas: %d", replicas), 1)
		return strings.Replace(s, "stevedore/hello:v1", image, 1)
	}

	// 1. The seeded examples run: 3 hello pods spread over the nodes, the
	// two-container pod, the batch pod (which completes) and kvstore on its
	// claim.
	pods := e.waitPods("the examples", "demo", 2*time.Minute, func(ps []rapi.Pod) bool {
		for _, p := range ps {
			if p.Name == "batch-count" && p.Phase != api.PodSucceeded {
				return false
			}
		}
		return allSettled(ps) && len(ps) == examplePods
	})
	nodes := map[string]bool{}
	var helloIP, helloNode string
	for _, p := range pods {
		if p.Labels["app"] == "hello" {
			nodes[p.Node] = true
			helloIP, helloNode = p.PodIP, p.Node
		}
		if p.Name == "batch-count" {
			if cs := p.Status; cs == nil || len(cs.Containers) != 1 || cs.Containers[0].State.Terminated == nil || cs.Containers[0].State.Terminated.Reason != api.ReasonCompleted {
				t.Errorf("batch pod's container did not complete: %+v", cs)
			}
		}
	}
	if len(nodes) < 2 {
		t.Errorf("3 hello pods on %d node(s), want them spread", len(nodes))
	}

	// 2. A pod answers HTTP on its own IP, through the node's bridge.
	body := httpGet(t, "http://"+helloIP+":8080/")
	if !strings.Contains(body, "Hello from Stevedore") || !strings.Contains(body, "ip="+helloIP) {
		t.Errorf("hello answered %q", body)
	}
	out, err := c.Ctl(ctx, "get", "pods", "-n", "demo", "-o", "wide")
	if err != nil || !strings.Contains(out, helloIP) || !strings.Contains(out, helloNode) {
		t.Errorf("ctl get pods -o wide: %v\n%s", err, out)
	}

	// The sidecar reaches the web container over the pod's shared localhost
	// (its log, through ctl logs, shows web's answer).
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := c.Ctl(ctx, "logs", "-n", "demo", "web-with-sidecar", "-c", "poller")
		if err == nil && strings.Contains(out, "Hello from the web container") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sidecar never reached web on 127.0.0.1: %v\n%s", err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}

	e.execStep(bin) // exec_e2e_test.go

	// 3. Scale up, then down.
	e.commit("Scale hello to 5", map[string]string{"apps/hello.yaml": helloWith(5, "stevedore/hello:v1")})
	five := uids(e.waitPods("5 hello pods", "demo", time.Minute, running("hello", 5, nil)), "hello")
	e.commit("Scale hello to 2", map[string]string{"apps/hello.yaml": helloWith(2, "stevedore/hello:v1")})
	pods = e.waitPods("2 hello pods", "demo", time.Minute, running("hello", 2, nil))
	for uid := range uids(pods, "hello") {
		if !five[uid] {
			t.Errorf("scaling down replaced pod %s instead of keeping it", uid)
		}
	}

	// 4. Change the image: every pod is replaced by one of the new image.
	if err := devenv.GoImage(ctx, c.Image("stevedore/hello:v2"), "../../examples-repo/images/hello"); err != nil {
		t.Fatal(err)
	}
	e.commit("hello v2", map[string]string{"apps/hello.yaml": helloWith(2, "stevedore/hello:v2")})
	pods = e.waitPods("2 hello v2 pods", "demo", time.Minute, running("hello", 2, func(p rapi.Pod) bool {
		return strings.HasSuffix(p.Spec.Containers[0].Image, "stevedore/hello:v2")
	}))
	good := uids(pods, "hello")
	for _, p := range pods {
		if p.Labels["app"] == "hello" {
			if b := httpGet(t, "http://"+p.PodIP+":8080/healthz"); strings.TrimSpace(b) != "ok" {
				t.Errorf("v2 pod %s /healthz = %q", p.Name, b)
			}
		}
	}

	// 4b. A kustomize overlay of hello, in its own namespace kdemo.
	kustomizeStep(e, string(hello))
	topStep(e)

	// 5. Bad input. Each bad commit also scales hello to 4: nothing of it
	// may be applied, and the last good revision keeps running.
	bad := []struct {
		name, file, content string
		want                []string
	}{
		{"invalid YAML", "apps/broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  labels: [unclosed\n", []string{"apps/broken.yaml:"}},
		{"unknown field", "apps/unknown.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: unknown\n  namespace: demo\nspec:\n  containers:\n    - name: c\n      image: 127.0.0.1:5000/stevedore/busybox:1.35\n      imagePullSecretz: x\n", []string{"apps/unknown.yaml:", "imagePullSecretz"}},
		{"bad name", "apps/badname.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\n  namespace: demo\nspec:\n  containers:\n    - name: c\n      image: 127.0.0.1:5000/stevedore/busybox:1.35\n", []string{"apps/badname.yaml:", "Bad_Name"}},
	}
	for _, b := range bad {
		h := e.commit("bad: "+b.name, map[string]string{
			"apps/hello.yaml": helloWith(4, "stevedore/hello:v2"),
			b.file:            b.content,
		})
		st := e.waitStatus(b.name, append([]string{h[:7]}, b.want...)...)
		t.Logf("ctl status after %s:\n%s", b.name, st)
		// Give a half-applying reconciler time to show it.
		time.Sleep(time.Second)
		pods, err := c.Client.Pods(ctx, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if got := uids(pods, "hello"); !sameKeys(got, good) {
			t.Errorf("%s: hello pods changed from %v to %v", b.name, good, got)
		}
		e.commit("revert: "+b.name, map[string]string{"apps/hello.yaml": helloWith(2, "stevedore/hello:v2"), b.file: ""})
	}
	e.waitApplied("recovery from bad input")

	// 6. An image that does not exist: its pod reports ErrImagePull (or its
	// back-off), the other pods keep running.
	ghost := strings.NewReplacer("name: hello", "name: ghost", "app: hello", "app: ghost").Replace(helloWith(1, "stevedore/does-not-exist:v1"))
	e.commit("ghost", map[string]string{"apps/ghost.yaml": ghost})
	e.waitPods("ErrImagePull", "demo", time.Minute, func(ps []rapi.Pod) bool {
		for _, p := range ps {
			if p.Labels["app"] == "ghost" && (p.Reason == api.ReasonErrImagePull || p.Reason == api.ReasonImagePullBackOff || strings.Contains(fmt.Sprint(p.Status), "ImagePull")) {
				return true
			}
		}
		return false
	})
	out, _ = c.Ctl(ctx, "get", "pods", "-n", "demo")
	if !strings.Contains(out, "ErrImagePull") && !strings.Contains(out, "ImagePullBackOff") {
		t.Errorf("ctl get pods does not show the pull failure:\n%s", out)
	}
	pods, _ = c.Client.Pods(ctx, "demo")
	if got := uids(pods, "hello"); !sameKeys(got, good) {
		t.Errorf("hello pods changed by the ghost deployment: %v → %v", good, got)
	}

	metricsStep(e) // 6b. Prometheus scrapes every daemon (metrics_test.go)

	// 6c. The web UI in a real browser follows commits, a refusal, a
	// rollout and logs (e2e_ui_test.go).
	uiStep(e, helloWith(2, "stevedore/hello:v2"))

	// 7. Delete everything: every pod goes, and nothing is left behind.
	e.commit("Delete everything", kustomizeDeleted(map[string]string{
		"apps/hello.yaml": "", "apps/hello-service.yaml": "", "apps/ghost.yaml": "", "apps/web-with-sidecar.yaml": "",
		"jobs/batch.yaml": "", "namespaces/demo.yaml": "", "apps/kvstore.yaml": "", "apps/kvstore-credentials.sops.yaml": "",
	}))
	e.waitPods("no pods", "", time.Minute, func(ps []rapi.Pod) bool { return len(ps) == 0 })
	deadline = time.Now().Add(30 * time.Second)
	for {
		left, err := c.Leftovers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for uid := range e.seen {
			if _, err := os.Stat(podNetns(uid)); err == nil {
				left = append(left, "netns "+podNetns(uid))
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left behind after deleting everything: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// httpGet GETs url with a few bounded retries (a pod may be Running a
// moment before it listens).
func httpGet(t *testing.T, url string) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for range 20 {
		resp, err := hc.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		last = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}
