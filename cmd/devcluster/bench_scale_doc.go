package main

import (
	"fmt"
	"strings"
)

// renderScale writes the scale section.
func renderScale(r scaleRun, st stamp) string {
	so := r.opts
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secScale))
	fmt.Fprintln(&b, "## Scale: hollow nodes")
	fmt.Fprintf(&b, `
`+"`devcluster bench --only scale --nodes %d --pods %d`"+` starts the real reconciler binary and %d hollow
nodes in %d processes (`+"`devcluster hollow`"+`, internal/hollow: the real agent daemon, serf member, TLS API,
fencing, pod-set sync and status stream, over a runtime that runs nothing; each node on a loopback
address of its own, data dirs on tmpfs). One commit then adds %d Deployments (%d pods, 100m CPU and
128Mi each); the clock stops when the leader's /metrics counts every pod Running (scraped every
250 ms). Then one Deployment's image changes; then %d%% of the nodes are killed with SIGKILL.
Every process shares the machine's 2 cores: the hollow nodes' CPU is the cluster's agents', not
the reconciler's. Each hollow node is a full serf member, so n of them on one machine cost O(n²)
gossip state and, while joining, O(n²) messages: past about 300 on this machine they starve each
other's probes and never settle, which is why the run uses fewer nodes with up to 250 pods each
(their /24 pod CIDR's limit) rather than 5,000; the leader's own steps at 5,000 nodes and 150,000
pods are the control-plane section's ([scale.md](scale.md#why-not-5000-nodes-on-one-machine)).

`, so.nodes, so.pods, so.nodes, r.hosts, so.deployments, so.pods, so.killPercent)
	fmt.Fprintln(&b, "| measurement | figure | target | |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	fmt.Fprintf(&b, "| nodes joined and Ready at the leader | %s | | |\n", secs(r.formed))
	fmt.Fprintf(&b, "| git commit and push (the hook calls the webhook) | %s | | |\n", secs(r.pushed))
	fmt.Fprintf(&b, "| commit to applied by the leader (fetched, loaded, planned) | %s | | |\n", secs(r.applied))
	fmt.Fprintf(&b, "| commit to all Running: %s | %s | ≤ 60 s | %s |\n", secs(r.running), secs(r.running), verdict(r.running.Seconds() <= 60))
	fmt.Fprintf(&b, "| reconciler peak RSS: %s | %s (%s after) | ≤ 2 GiB | %s |\n", mib(r.peakRSS), mib(r.peakRSS), mib(r.rssAfter), verdict(r.peakRSS <= 2<<30))
	fmt.Fprintf(&b, "| reconciler CPU over the commit | %s | | |\n", secs(r.cpu))
	fmt.Fprintf(&b, "| hollow nodes' CPU over the commit (all processes) | %s | | |\n", secs(r.hollowCPU))
	fmt.Fprintf(&b, "| agent API bytes per node over the commit (both ways, TLS) | %s | | |\n", kib(r.apiBytes/int64(max(1, so.nodes))))
	fmt.Fprintf(&b, "| reconciler data dir growth (raft log and snapshots) | %s | | |\n", mib(r.raftAfter-r.raftBefore))
	per2s := r.idleCPU.Seconds() * 2 / r.idleWindow.Seconds()
	fmt.Fprintf(&b, "| reconciler CPU per 2 s with nothing changed | %.0f ms | ≤ 10 ms | %s |\n", per2s*1000, verdict(per2s <= 0.010))
	fmt.Fprintf(&b, "| one Deployment's image changed: commit to all its pods Running, old ones gone | %s | ≤ 1 s | %s |\n", secs(r.changed), verdict(r.changed.Seconds() <= 1))
	if r.killed > 0 {
		fmt.Fprintf(&b, "| %d of %d nodes killed: seen failed | %s | | |\n", r.killed, so.nodes, secs(r.seenFailed))
		fmt.Fprintf(&b, "| %d of %d nodes killed: their ~%d pods Running elsewhere | %s | ≤ 15 s | %s |\n", r.killed, so.nodes, r.killedPods, secs(r.rescheduled), verdict(r.rescheduled.Seconds() <= 15))
	}
	if r.apps > 0 {
		fmt.Fprintf(&b, "| %d applications declared in one commit (each its own path of a second repository: a namespace and a one-replica Deployment): every one applied and its pod Running | %s | ≤ 30 s | %s |\n", r.apps, secs(r.appsConverged), verdict(r.appsConverged.Seconds() <= 30))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Beside the published figures of GitOps controllers (theirs, not re-measured; they stop at the")
	fmt.Fprintln(&b, "API server, before any pod runs):")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| system | figure |")
	fmt.Fprintln(&b, "|---|---|")
	fmt.Fprintf(&b, "| Stevedore, this run | %d pods Running %s after the commit, reconciler peak RSS %s |\n", so.pods, secs(r.running), mib(r.peakRSS))
	fmt.Fprintln(&b, "| Flux (flux-benchmark) | 1,000 Kustomizations reconciled in 4 m 15 s, 175 MiB controller memory |")
	fmt.Fprintln(&b, "| Argo CD (user reports) | refreshes over 10 s at 700 applications; sync timeouts at 5,000 |")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secScale))
	return b.String()
}

func kib(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }
