package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/devenv"
	rapi "github.com/stevedore-dev/stevedore/reconcile/api"
)

// The workload kinds' steps of TestHA, in namespace wl: a StatefulSet
// (ordered start, stable names, DNS and data across the deletion of a
// pod), a DaemonSet (following a node that leaves and joins), an Indexed
// Job (every index exactly once across a leader's death) and a CronJob
// whose slots fire once each, across the failovers the other steps cause
// meanwhile (it is committed first and checked last, so its minutes of
// schedule cost the run no time of their own).

const wlNS = "wl"

// wlCronYAML is a CronJob firing every minute; a run takes a few seconds,
// so Forbid never has to skip a slot, and a slot fired twice would show as
// two Jobs of one name or a Job with two pods.
const wlCronYAML = `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: wl}
spec:
  schedule: "* * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 10
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
            - name: tick
              image: %[1]s
              command: ["sh", "-c", "date; sleep 2"]
              resources: {requests: {cpu: 5m, memory: 8Mi}}
`

// wlStatefulSetYAML is kvstore as a 3-ordinal StatefulSet, each ordinal
// with its own claim, behind a headless Service.
const wlStatefulSetYAML = `apiVersion: v1
kind: Service
metadata: {name: kv, namespace: wl}
spec:
  clusterIP: None
  selector: {app: kv}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kv, namespace: wl}
spec:
  replicas: 3
  serviceName: kv
  selector: {matchLabels: {app: kv}}
  template:
    metadata: {labels: {app: kv}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: kv
          image: %[1]s
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
            periodSeconds: 1
          volumeMounts: [{name: data, mountPath: /data}]
          resources: {requests: {cpu: 10m, memory: 16Mi}}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 10Mi}}
`

// wlDaemonSetYAML runs one pod on every node.
const wlDaemonSetYAML = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: nodeagent, namespace: wl}
spec:
  selector: {matchLabels: {app: nodeagent}}
  template:
    metadata: {labels: {app: nodeagent}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: %[1]s
          command: ["sh", "-c", "echo on $NODE; exec sleep 3600"]
          env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
          resources: {requests: {cpu: 5m, memory: 8Mi}}
`

// wlJobYAML is an Indexed Job: 6 indexes, 3 at a time, each a few seconds
// long, so that a leader killed after the first completions dies mid-way.
const wlJobYAML = `apiVersion: batch/v1
kind: Job
metadata: {name: work, namespace: wl}
spec:
  completions: 6
  parallelism: 3
  completionMode: Indexed
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: work
          image: %[1]s
          command: ["sh", "-c", "echo index $JOB_COMPLETION_INDEX; sleep 4"]
          resources: {requests: {cpu: 5m, memory: 8Mi}}
`

// wlFiles are the namespace's files with the kinds in kinds ("cron",
// "sts", "ds", "job").
func wlFiles(c *devenv.Cluster, kinds ...string) map[string][]byte {
	bb, kv := c.Image(devenv.BusyboxRepo), c.Image("stevedore/kvstore:v1")
	files := map[string][]byte{"namespaces/wl.yaml": []byte(namespaceYAML(wlNS))}
	for _, k := range kinds {
		switch k {
		case "cron":
			files["wl/cron.yaml"] = []byte(fmt.Sprintf(wlCronYAML, bb))
		case "sts":
			files["wl/sts.yaml"] = []byte(fmt.Sprintf(wlStatefulSetYAML, kv))
		case "ds":
			files["wl/ds.yaml"] = []byte(fmt.Sprintf(wlDaemonSetYAML, bb))
		case "job":
			files["wl/job.yaml"] = []byte(fmt.Sprintf(wlJobYAML, bb))
		}
	}
	return files
}

// wlPods returns the current pods of namespace wl whose label key has
// value (any value when value is "*").
func (h *haCluster) wlPods(t *testing.T, key, value string) []rapi.Pod {
	t.Helper()
	var out []rapi.Pod
	for _, p := range h.podsIn(t, wlNS) {
		if v, ok := p.Labels[key]; ok && (value == "*" || v == value) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// testStatefulSet: ordinals start in order, each once the one before is
// Ready; names and DNS names are stable; a deleted ordinal comes back with
// its name, its DNS name (at its new IP) and its data.
func (h *haCluster) testStatefulSet(t *testing.T) {
	h.cronSince = time.Now()
	h.stCommit(t, "wl: cron and statefulset", wlFiles(h.c, "cron", "sts"))
	pods := waitPodsWhy(t, h.ctx, h.c, "kv-0..2 Ready", wlNS, 2*time.Minute, func(ps []rapi.Pod) string {
		ready := 0
		for _, p := range rapi.CurrentPods(ps) {
			if p.Labels["app"] == "kv" && podIsReady(p) && p.PodIP != "" {
				ready++
			}
		}
		if ready != 3 {
			return fmt.Sprintf("%d of 3 ordinals Ready", ready)
		}
		return ""
	})
	byName := map[string]rapi.Pod{}
	for _, p := range rapi.CurrentPods(pods) {
		if p.Labels["app"] == "kv" {
			byName[p.Name] = p
		}
	}
	for i := range 3 {
		if _, ok := byName[fmt.Sprintf("kv-%d", i)]; !ok {
			t.Fatalf("no pod kv-%d: %v", i, listPods(pods))
		}
	}
	// OrderedReady: ordinal i+1 was created only once ordinal i was Ready.
	for i := range 2 {
		prev, next := byName[fmt.Sprintf("kv-%d", i)], byName[fmt.Sprintf("kv-%d", i+1)]
		ready := prev.Status.Condition(api.PodReady)
		if ready == nil || next.Created.Before(ready.LastTransitionTime.Add(-time.Second)) {
			t.Errorf("kv-%d created at %v, before kv-%d was Ready (%+v)", i+1, next.Created, i, ready)
		}
	}
	// Stable network identity through the headless Service.
	kv0 := byName["kv-0"]
	netns := podNetnsName(kv0.UID)
	dnsAddr := gatewayOf(kv0.PodIP) + ":53"
	// The last ordinal's record reaches kv-0's node with the endpoints
	// pushed after it turned Ready: wait for it, bounded.
	for name, p := range byName {
		fqdn := name + ".kv.wl.svc.cluster.local."
		var got []string
		var err error
		for deadline := time.Now().Add(15 * time.Second); ; {
			got, err = tryLookup(netns, dnsAddr, fqdn, dns.TypeA)
			if (err == nil && equalSet(got, []string{p.PodIP})) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil || !equalSet(got, []string{p.PodIP}) {
			t.Errorf("A %s = %v (%v), want %s", fqdn, got, err, p.PodIP)
		}
	}
	// Data and identity across the deletion of a pod.
	kv1 := byName["kv-1"]
	kvPut(t, kv1, "greeting", "kept-across-deletion")
	d, err := h.c.Client.DeletePod(h.ctx, wlNS, "kv-1")
	if err != nil || d.UID != kv1.UID {
		t.Fatalf("delete kv-1: %+v %v", d, err)
	}
	var back rapi.Pod
	waitPodsWhy(t, h.ctx, h.c, "kv-1 back", wlNS, time.Minute, func(ps []rapi.Pod) string {
		for _, p := range rapi.CurrentPods(ps) {
			if p.Name == "kv-1" && p.UID != kv1.UID && podIsReady(p) && p.PodIP != "" {
				back = p
				return ""
			}
		}
		return "kv-1 not back Ready with a new UID"
	})
	waitBody(t, kvURL(back, "/kv/greeting"), "kept-across-deletion", 20*time.Second)
	// As above: the new record follows the endpoints pushed after the
	// pod turned Ready; wait for it, bounded.
	var got []string
	var lerr error
	for deadline := time.Now().Add(15 * time.Second); ; {
		got, lerr = tryLookup(netns, dnsAddr, "kv-1.kv.wl.svc.cluster.local.", dns.TypeA)
		if (lerr == nil && equalSet(got, []string{back.PodIP})) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lerr != nil || !equalSet(got, []string{back.PodIP}) {
		t.Errorf("A kv-1 after the deletion = %v (%v), want %s", got, lerr, back.PodIP)
	}
	out := waitCtl(t, h.ctx, h.c, 10*time.Second, func(s string) bool { return strings.Contains(s, "data-kv-2") }, "get", "pvc", "-n", wlNS)
	for i := range 3 {
		if !strings.Contains(out, fmt.Sprintf("data-kv-%d", i)) {
			t.Errorf("ctl get pvc lacks data-kv-%d:\n%s", i, out)
		}
	}
	waitCtl(t, h.ctx, h.c, 10*time.Second, func(s string) bool { return strings.Contains(s, "3/3") }, "get", "statefulsets", "-n", wlNS)
}

// testDaemonSet: one pod per node; a node that dies loses its pod (none
// moves elsewhere), and gets one again when it comes back.
func (h *haCluster) testDaemonSet(t *testing.T) {
	h.stCommit(t, "wl: daemonset", wlFiles(h.c, "cron", "sts", "ds"))
	perNode := func(want int, avoid string) func([]rapi.Pod) string {
		return func(ps []rapi.Pod) string {
			nodes := map[string]int{}
			for _, p := range rapi.CurrentPods(ps) {
				if p.Labels["app"] == "nodeagent" && p.Phase == api.PodRunning {
					nodes[p.Node]++
				}
			}
			if len(nodes) != want || nodes[avoid] > 0 {
				return fmt.Sprintf("running on %v, want %d nodes avoiding %q", nodes, want, avoid)
			}
			for n, k := range nodes {
				if k != 1 {
					return fmt.Sprintf("%d pods on %s", k, n)
				}
			}
			return ""
		}
	}
	waitPodsWhy(t, h.ctx, h.c, "one nodeagent per node", wlNS, time.Minute, perNode(3, ""))
	victim := 2
	name := h.c.Agents[victim].Name
	h.c.KillAgent(victim)
	waitPodsWhy(t, h.ctx, h.c, "nodeagent gone with "+name, wlNS, 30*time.Second, perNode(2, name))
	if err := h.c.RestartAgent(victim); err != nil {
		t.Fatal(err)
	}
	if err := h.c.WaitNodes(h.ctx, len(h.c.Agents), time.Minute); err != nil {
		t.Fatal(err)
	}
	waitPodsWhy(t, h.ctx, h.c, "nodeagent back on "+name, wlNS, time.Minute, perNode(3, ""))
	waitCtl(t, h.ctx, h.c, 10*time.Second, func(s string) bool { return strings.Contains(s, "nodeagent") }, "get", "daemonsets", "-n", wlNS)
}

// testIndexedJob: 6 indexes, 3 at a time; the leader is killed once some
// have completed; every index completes exactly once (one pod each, never
// run again by the new leader).
func (h *haCluster) testIndexedJob(t *testing.T) {
	h.stCommit(t, "wl: indexed job", wlFiles(h.c, "cron", "sts", "ds", "job"))
	jobPods := func(ps []rapi.Pod) []rapi.Pod {
		var out []rapi.Pod
		for _, p := range ps {
			if p.Labels["batch.kubernetes.io/job-name"] == "work" && !p.Terminating() {
				out = append(out, p)
			}
		}
		return out
	}
	waitPodsWhy(t, h.ctx, h.c, "some indexes done", wlNS, 2*time.Minute, func(ps []rapi.Pod) string {
		done := 0
		for _, p := range jobPods(ps) {
			if p.Phase == api.PodSucceeded {
				done++
			}
		}
		if done == 0 {
			return "no index done yet"
		}
		return ""
	})
	li, lname := h.leader(t)
	h.c.KillReconciler(li)
	t.Logf("killed leader %s mid-job", lname)
	pods := waitPodsWhy(t, h.ctx, h.c, "6 indexes done", wlNS, 2*time.Minute, func(ps []rapi.Pod) string {
		done := 0
		for _, p := range jobPods(ps) {
			if p.Phase == api.PodSucceeded {
				done++
			}
		}
		if done < 6 {
			return fmt.Sprintf("%d of 6 indexes done", done)
		}
		return ""
	})
	seen := map[string][]string{}
	for _, p := range jobPods(pods) {
		idx := p.Labels["batch.kubernetes.io/job-completion-index"]
		seen[idx] = append(seen[idx], p.Name+"@"+p.UID)
	}
	for i := range 6 {
		if got := seen[fmt.Sprint(i)]; len(got) != 1 {
			t.Errorf("index %d ran as %v, want exactly one pod", i, got)
		}
	}
	// No index ran twice: containerd, asked directly, has one container
	// per index among every agent.
	ctrs := map[string]int{}
	for _, a := range h.c.Agents {
		list, err := h.c.NodeContainers(h.ctx, a.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, ctr := range list {
			if ctr.PodNamespace == wlNS && strings.HasPrefix(ctr.PodName, "work-") {
				ctrs[ctr.PodName]++
			}
		}
	}
	if len(ctrs) != 6 {
		t.Errorf("containers of the job's pods: %v, want 6 pods with one each", ctrs)
	}
	waitCtl(t, h.ctx, h.c, 20*time.Second, func(s string) bool { return strings.Contains(s, "Complete") && strings.Contains(s, "6/6") }, "get", "jobs", "-n", wlNS)
	h.restartReconciler(t, li)
}

// testCronJob: the CronJob committed by the StatefulSet step has fired
// once per slot since, across the failover of the Job step: one Job per
// slot (named after it), each with one pod.
func (h *haCluster) testCronJob(t *testing.T) {
	// At least two slots after the commit (a minute each).
	first := h.cronSince.Truncate(time.Minute).Add(time.Minute)
	until := first.Add(time.Minute + 20*time.Second)
	if d := time.Until(until); d > 0 {
		t.Logf("waiting %s for the second slot", d.Round(time.Second))
		select {
		case <-h.ctx.Done():
			t.Fatal(h.ctx.Err())
		case <-time.After(d):
		}
	}
	pods := h.wlPods(t, "batch.kubernetes.io/job-name", "*")
	jobs := map[string][]string{}
	for _, p := range pods {
		if j := p.Labels["batch.kubernetes.io/job-name"]; strings.HasPrefix(j, "tick-") {
			jobs[j] = append(jobs[j], p.Name)
		}
	}
	slots := int(time.Since(first)/time.Minute) + 1
	if len(jobs) < 2 || len(jobs) > slots {
		t.Errorf("CronJob runs %v: want one per slot since %v (%d slots)", jobs, first, slots)
	}
	for j, ps := range jobs {
		if len(ps) != 1 {
			t.Errorf("job %s ran %d pods: %v", j, len(ps), ps)
		}
	}
	// Leave the namespace empty for the next steps.
	h.stCommit(t, "wl: none", map[string][]byte{"namespaces/wl.yaml": []byte(namespaceYAML(wlNS)), "wl/cron.yaml": nil, "wl/sts.yaml": nil, "wl/ds.yaml": nil, "wl/job.yaml": nil})
}
