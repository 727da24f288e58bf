package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// The storage scenarios share TestHA's cluster (3 reconcilers, 3 agents in
// network namespaces, and a storage host): ConfigMaps and a SOPS-encrypted
// Secret reaching a running kvstore as files and env (and a ConfigMap
// change reaching its files without a restart), the Secret's plaintext in
// no log, answer or state on disk, init containers, a claim whose data
// survives its pod and its agent, a network claim whose pod moves with its
// data when its node dies, and a block claim that fills up without
// filling the node.

const (
	stNS = "st"
	// stMarker is in every plaintext value of the Secret fixtures.
	stMarker = "Plaintext-Marker"
)

// stFiles is the storage namespace's manifests, with the ConfigMap's
// greeting and the Secret fixture given.
func stFiles(c *devenv.Cluster, greeting, secretFixture string) map[string][]byte {
	secret, err := os.ReadFile(filepath.Join("testdata", secretFixture))
	if err != nil {
		panic(err)
	}
	st := c.Storage
	kv := func(name, claim string, extra string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 2
      initContainers:
        - name: prepare
          image: %[3]s
          command: ["sh", "-c", "test -f /data/init-marker || echo prepared-by-init > /data/init-marker"]
          volumeMounts: [{name: data, mountPath: /data}]
      containers:
        - name: kv
          image: %[4]s
          env: [{name: FILE_ROOTS, value: /data}]
          volumeMounts: [{name: data, mountPath: /data}]
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 1
%[6]s      volumes:
        - name: data
          persistentVolumeClaim: {claimName: %[5]s}
`, name, stNS, c.Image(devenv.BusyboxRepo), c.Image("stevedore/kvstore:v1"), claim, extra)
	}
	claim := func(name, class, size string) string {
		cls := ""
		if class != "" {
			cls = "\n  storageClassName: " + class
		}
		return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %s, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]%s
  resources: {requests: {storage: %s}}
`, name, stNS, cls, size)
	}
	classes := fmt.Sprintf(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: net}
provisioner: stevedore.dev/sshfs
parameters: {host: %q, port: "%d", user: %s, path: %s}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: block}
provisioner: stevedore.dev/local-block
volumeBindingMode: WaitForFirstConsumer
parameters: {fsType: ext4}
`, st.Host, st.Port, st.User, st.Root)
	config := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: %[1]s}
data:
  greeting.txt: %[2]q
  greeting: %[2]q
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: cfg, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: cfg}}
  template:
    metadata: {labels: {app: cfg}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: kv
          image: %[3]s
          env:
            - {name: FILE_ROOTS, value: "/etc/app:/etc/secret"}
            - {name: EXPOSE_ENV, value: "GREETING,PASSWORD,POD_NAME"}
            - name: GREETING
              valueFrom: {configMapKeyRef: {name: app-config, key: greeting}}
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: app-secret, key: password}}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
          volumeMounts:
            - {name: config, mountPath: /etc/app, readOnly: true}
            - {name: secret, mountPath: /etc/secret, readOnly: true}
      volumes:
        - name: config
          configMap: {name: app-config}
        - name: secret
          secret: {secretName: app-secret, defaultMode: 0400}
`, stNS, greeting, c.Image("stevedore/kvstore:v1"))
	return map[string][]byte{
		"namespaces/st.yaml":   []byte(namespaceYAML(stNS)),
		"storage/classes.yaml": []byte(classes),
		"st/config.yaml":       []byte(config),
		"st/secret.sops.yaml":  secret,
		"st/local.yaml":        []byte(claim("local-data", "", "100Mi") + "---\n" + kv("db", "local-data", "")),
		"st/net.yaml":          []byte(claim("net-data", "net", "100Mi") + "---\n" + kv("netdb", "net-data", "")),
		"st/block.yaml":        []byte(claim("block-data", "block", "32Mi") + "---\n" + kv("blockdb", "block-data", "")),
	}
}

func (h *haCluster) stCommit(t *testing.T, msg string, files map[string][]byte) string {
	t.Helper()
	hash, err := h.c.Repo.Commit(h.ctx, msg, files)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

// stPod waits for the one Ready pod of app and returns it.
func (h *haCluster) stPod(t *testing.T, app string, timeout time.Duration, avoid ...string) rapi.Pod {
	t.Helper()
	pods := waitPodsWhy(t, h.ctx, h.c, app+" Ready", stNS, timeout, func(ps []rapi.Pod) string {
		var ready []rapi.Pod
		for _, p := range rapi.CurrentPods(ps) {
			if p.Labels["app"] != app {
				continue
			}
			if !podIsReady(p) || p.PodIP == "" {
				return fmt.Sprintf("%s is %s %s %s", p.Name, p.Phase, p.Reason, p.Message)
			}
			for _, n := range avoid {
				if p.Node == n {
					return fmt.Sprintf("%s still on %s", p.Name, n)
				}
			}
			ready = append(ready, p)
		}
		if len(ready) != 1 {
			return fmt.Sprintf("%d Ready pods of %s", len(ready), app)
		}
		return ""
	})
	for _, p := range rapi.CurrentPods(pods) {
		if p.Labels["app"] == app {
			return p
		}
	}
	t.Fatalf("no pod of %s", app)
	return rapi.Pod{}
}

// kvURL is a path on a kvstore pod.
func kvURL(p rapi.Pod, path string) string { return "http://" + p.PodIP + ":8080" + path }

// kvPut stores a key on a kvstore pod.
func kvPut(t *testing.T, p rapi.Pod, key, val string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, kvURL(p, "/kv/"+key), strings.NewReader(val))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT %s: %s", key, resp.Status)
	}
}

// waitBody waits until GET url answers 200 with a body containing want.
func waitBody(t *testing.T, url, want string, timeout time.Duration) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := hc.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%s: %s", resp.Status, b)
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), want) {
				return string(b)
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s: want %q within %v, last answer %s", url, want, timeout, last)
	return ""
}

func (h *haCluster) testConfigAndSecrets(t *testing.T) {
	h.stCommit(t, "st: config v1", stFiles(h.c, "hello-v1", "st-secret.sops.yaml"))
	p := h.stPod(t, "cfg", 2*time.Minute)
	waitBody(t, kvURL(p, "/files/etc/app/greeting.txt"), "hello-v1", 10*time.Second)
	waitBody(t, kvURL(p, "/env/GREETING"), "hello-v1", 10*time.Second)
	waitBody(t, kvURL(p, "/env/POD_NAME"), p.Name, 10*time.Second)
	waitBody(t, kvURL(p, "/files/etc/secret/password"), "s3cr3t-"+stMarker, 10*time.Second)
	waitBody(t, kvURL(p, "/env/PASSWORD"), "s3cr3t-"+stMarker, 10*time.Second)
	before := containerIDs(t, h.ctx, h.c, p.Name)

	// A ConfigMap change reaches the mounted file of the running container
	// within seconds; env changes only with a new container.
	start := time.Now()
	h.stCommit(t, "st: config v2", map[string][]byte{"st/config.yaml": stFiles(h.c, "hello-v2", "st-secret.sops.yaml")["st/config.yaml"]})
	waitBody(t, kvURL(p, "/files/etc/app/greeting.txt"), "hello-v2", 20*time.Second)
	t.Logf("ConfigMap change visible in the running pod after %v", time.Since(start).Round(10*time.Millisecond))
	if got := httpGet(t, kvURL(p, "/env/GREETING")); got != "hello-v1" {
		t.Errorf("env GREETING in the running container = %q, want the old value until a restart", got)
	}
	if after := containerIDs(t, h.ctx, h.c, p.Name); after != before {
		t.Errorf("the ConfigMap change restarted the container: %s → %s", before, after)
	}

	// A pod that needs a key the ConfigMap lacks waits in
	// CreateContainerConfigError, and starts once the key is committed.
	needs := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: needs-key, namespace: %s, labels: {app: needs-key}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: %s
      command: ["sh", "-c", "trap 'exit 0' TERM; echo $LATER; while true; do sleep 1; done"]
      env:
        - name: LATER
          valueFrom: {configMapKeyRef: {name: app-config, key: later}}
`, stNS, h.c.Image(devenv.BusyboxRepo))
	h.stCommit(t, "st: a pod needing a missing key", map[string][]byte{"st/needs-key.yaml": []byte(needs)})
	waitPodsWhy(t, h.ctx, h.c, "needs-key in CreateContainerConfigError", stNS, time.Minute, func(ps []rapi.Pod) string {
		for _, q := range ps {
			if q.Name != "needs-key" || q.Status == nil || len(q.Status.Containers) == 0 {
				continue
			}
			if w := q.Status.Containers[0].State.Waiting; w != nil && w.Reason == api.ReasonCreateConfigErr && strings.Contains(w.Message, "later") {
				return ""
			}
			return fmt.Sprintf("needs-key: %+v", q.Status.Containers[0].State)
		}
		return "no needs-key pod yet"
	})
	withKey := strings.Replace(string(stFiles(h.c, "hello-v2", "st-secret.sops.yaml")["st/config.yaml"]), "data:\n", "data:\n  later: now-here\n", 1)
	h.stCommit(t, "st: the missing key", map[string][]byte{"st/config.yaml": []byte(withKey)})
	waitPodsWhy(t, h.ctx, h.c, "needs-key Running", stNS, time.Minute, func(ps []rapi.Pod) string {
		for _, q := range ps {
			if q.Name == "needs-key" && q.Phase == api.PodRunning {
				return ""
			}
		}
		return "needs-key not Running"
	})

	// A Secret encrypted for a key this cluster lacks: refused with its
	// file, and the last good revision keeps running.
	bad := h.stCommit(t, "st: secret for another key", map[string][]byte{"st/secret.sops.yaml": mustRead(t, "testdata/st-secret-otherkey.sops.yaml")})
	out := waitCtl(t, h.ctx, h.c, 30*time.Second, func(s string) bool { return strings.Contains(s, bad[:7]) && strings.Contains(s, "st/secret.sops.yaml") }, "status")
	if !strings.Contains(out, "decrypt") {
		t.Errorf("status does not say why the commit was refused:\n%s", out)
	}
	waitBody(t, kvURL(p, "/files/etc/secret/password"), "s3cr3t-"+stMarker, 5*time.Second)
	h.stCommit(t, "st: secret back", map[string][]byte{"st/secret.sops.yaml": mustRead(t, "testdata/st-secret.sops.yaml")})

	// The plaintext is in no answer, no log, no state on disk.
	for _, args := range [][]string{
		{"get", "secrets", "-n", stNS, "-o", "yaml"},
		{"get", "secrets", "-n", stNS},
		{"get", "pods", "-n", stNS, "-o", "yaml"},
		{"get", "events", "-n", stNS},
		{"describe", "pod", "-n", stNS, p.Name},
		{"status"},
	} {
		out, err := h.c.Ctl(h.ctx, args...)
		if err != nil {
			t.Errorf("ctl %v: %v\n%s", args, err, out)
		}
		if strings.Contains(out, stMarker) {
			t.Errorf("ctl %v shows the Secret's plaintext:\n%s", args, out)
		}
	}
	for _, name := range h.processNames() {
		if b, err := os.ReadFile(h.c.LogPath(name)); err == nil && bytes.Contains(b, []byte(stMarker)) {
			t.Errorf("the log of %s holds the Secret's plaintext", name)
		}
	}
	for _, r := range h.c.Reconcilers {
		if f := filesHolding(t, r.DataDir, stMarker); len(f) > 0 {
			t.Errorf("reconciler %s keeps the plaintext on disk: %v", r.Name, f)
		}
	}
	for _, a := range h.c.Agents {
		if f := filesHolding(t, a.DataDir, stMarker); len(f) > 0 {
			t.Errorf("agent %s keeps the plaintext on disk (outside tmpfs): %v", a.Name, f)
		}
	}
}

// processNames lists every reconciler and agent.
func (h *haCluster) processNames() []string {
	var out []string
	for _, r := range h.c.Reconcilers {
		out = append(out, r.Name)
	}
	for _, a := range h.c.Agents {
		out = append(out, a.Name)
	}
	return out
}

// filesHolding lists the files under dir, outside tmpfs mounts, that
// contain marker.
func filesHolding(t *testing.T, dir, marker string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		var st unix.Statfs_t
		if unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(marker)) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitCtl runs ctl args until ok accepts its output.
func waitCtl(t *testing.T, ctx context.Context, c *devenv.Cluster, timeout time.Duration, ok func(string) bool, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var out string
	for time.Now().Before(deadline) {
		out, _ = c.Ctl(ctx, args...)
		if ok(out) {
			return out
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("ctl %v: not as wanted within %v:\n%s", args, timeout, out)
	return out
}

func (h *haCluster) testPersistentVolumes(t *testing.T) {
	p := h.stPod(t, "db", 2*time.Minute)
	// The init container ran before kvstore, on the same volume.
	waitBody(t, kvURL(p, "/files/data/init-marker"), "prepared-by-init", 10*time.Second)
	kvPut(t, p, "answer", "42")

	// A new pod (a template change) on the same claim finds the data.
	h.stCommit(t, "st: db v2", map[string][]byte{"st/local.yaml": []byte(strings.Replace(string(stFiles(h.c, "hello-v2", "st-secret.sops.yaml")["st/local.yaml"]), "periodSeconds: 1", "periodSeconds: 2", 1))})
	p2 := waitNewPod(t, h, "db", p.UID)
	if p2.Node != p.Node {
		t.Errorf("the new pod of a node-local claim runs on %s, its data is on %s", p2.Node, p.Node)
	}
	waitBody(t, kvURL(p2, "/kv/answer"), "42", 10*time.Second)

	// Its agent restarts: the pod keeps running, the data is there.
	i := agentIndex(t, h.c, p2.Node)
	before := containerIDs(t, h.ctx, h.c, p2.Name)
	if err := h.c.RestartAgent(i); err != nil {
		t.Fatal(err)
	}
	if err := h.c.WaitNodes(h.ctx, len(h.c.Agents), time.Minute); err != nil {
		t.Fatal(err)
	}
	waitBody(t, kvURL(p2, "/kv/answer"), "42", 20*time.Second)
	if after := containerIDs(t, h.ctx, h.c, p2.Name); after != before {
		t.Errorf("the agent's restart restarted the pod: %s → %s", before, after)
	}
	out, err := h.c.Ctl(h.ctx, "get", "pvc", "-n", stNS)
	if err != nil || !strings.Contains(out, "local-data") || !strings.Contains(out, "Bound") {
		t.Errorf("ctl get pvc: %v\n%s", err, out)
	}
}

// waitNewPod waits for a Ready pod of app other than the one with uid.
func waitNewPod(t *testing.T, h *haCluster, app, uid string) rapi.Pod {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		p := h.stPod(t, app, 2*time.Minute)
		if p.UID != uid {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no new pod of %s", app)
	return rapi.Pod{}
}

func (h *haCluster) testNetworkVolume(t *testing.T) {
	p := h.stPod(t, "netdb", 2*time.Minute)
	waitBody(t, kvURL(p, "/files/data/init-marker"), "prepared-by-init", 10*time.Second)
	kvPut(t, p, "city", "Lisbon")
	i := agentIndex(t, h.c, p.Node)
	h.c.KillAgent(i)
	if err := h.c.Cut(h.c.Agents[i].Name); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p2 := h.stPod(t, "netdb", 2*time.Minute, p.Node)
	t.Logf("the network volume's pod runs on %s %v after its node died", p2.Node, time.Since(start).Round(100*time.Millisecond))
	waitBody(t, kvURL(p2, "/kv/city"), "Lisbon", 10*time.Second)
	if err := h.c.Heal(h.c.Agents[i].Name); err != nil {
		t.Fatal(err)
	}
	if err := h.c.RestartAgent(i); err != nil {
		t.Fatal(err)
	}
	if err := h.c.WaitNodes(h.ctx, len(h.c.Agents), time.Minute); err != nil {
		t.Fatal(err)
	}
}

func (h *haCluster) testBlockVolumeFull(t *testing.T) {
	p := h.stPod(t, "blockdb", 2*time.Minute)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Post(kvURL(p, "/fill?bytes=100000000"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "no space left on device") {
		t.Fatalf("filling a 32Mi block volume with 100 MB: %s, want ENOSPC", b)
	}
	// The pod and its node are fine: the volume still answers.
	kvPut(t, p, "after-full", "x")
	waitBody(t, kvURL(p, "/healthz"), "ok", 5*time.Second)
	pods := h.podsIn(t, stNS)
	for _, q := range pods {
		if q.Status != nil && q.Status.Reason == "Evicted" {
			t.Errorf("pod %s evicted after the block volume filled", q.Name)
		}
	}
}

func (h *haCluster) podsIn(t *testing.T, ns string) []rapi.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	pods, err := h.c.Client.Pods(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	return rapi.CurrentPods(pods)
}
