package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// maxVerdicts bounds the per-node lines of a text description; -o json or
// yaml has them all.
const maxVerdicts = 20

func (c *cli) describeCmd() *cobra.Command {
	var (
		namespace string
		output    string
	)
	cmd := &cobra.Command{
		Use:   "describe pod|node|namespace|service|deployment|statefulset|replicaset|daemonset|pvc|job|cronjob NAME",
		Short: "Show a pod (containers, events and, while Pending, why no node takes it), a Service (ports, endpoints and why a pod is not one) or a Deployment (rollout, revision, conditions, events) in detail",
		Long: `Show one pod as kubectl describe does: its identity, node and IP, phase, labels, every
container (image, state with reason, exit code and signal, last state, restarts, readiness,
requests and limits) and the events about it: the reconciler's, and its node's agent's (pulls,
starts, probe failures, back-offs), with kubectl's Type, Reason, Age, From and Message. For a pod
without a node, also the scheduler's reason in Kubernetes' form ("0/5 nodes are available: ...")
and each node's verdict: the filter that refused it and why, or its scores.

For a Service, what kubectl describe service shows (selector, type, IP, each port with its target
port, node port and endpoints, session affinity), then the not-Ready endpoints and the pods that
are no endpoint with the reason (NotReady, NoIP, SelectorMismatch, Terminating), or that no pod
matches the selector at all.

For a Deployment, what kubectl describe deployment shows (replicas desired, updated,
total, available and unavailable; strategy; conditions; pod template) with the current
revision and the commit that introduced it, an automatic rollback in force, and the
events about the Deployment and its pods.

For a PersistentVolumeClaim, what kubectl describe pvc shows (storage class, status, volume,
capacity, access modes, the pods using it, events) with why a Pending claim waits, the node
holding its data and the file and line that declare it.

For a StatefulSet or ReplicaSet, what kubectl describe shows (replicas, update strategy and
partition, service name, pods status, pod template, volume claim templates) with the
reconciler's progress (what an ordered start or update waits for) and the events about it and
its pods.

For a Job, its parallelism, completions, mode, start and completion times, pod counts,
completed indexes, conditions, pods and events; for a CronJob, its schedule, time zone,
concurrency policy, last and next slots, its Jobs and events.

For a namespace, what kubectl describe namespace shows: labels, annotations, status, each
ResourceQuota's resources with what the desired state uses (every application's objects in
the namespace: pods by replicas, their requests and limits) against the hard limit, and the
LimitRanges' minimums, maximums, defaults and ratios.

For a node, what kubectl describe node shows (roles, labels, taints, conditions, addresses,
capacity, allocatable, system info, pod CIDR, its pods with their requests and limits, the
allocated resources) with its images, and the events about it; conditions, capacity and images
come from the node's agent, and a node whose agent does not answer says so.`,
		Example: `  ctl describe pod web-5d9c1a2b3c-0 -n shop
  ctl describe po big-0a1b2c3d4e-0 -n shop -o yaml
  ctl describe svc web -n shop
  ctl describe deployment web -n shop
  ctl describe pvc data-db-0 -n shop
  ctl describe statefulset db -n shop
  ctl describe daemonset node-exporter -n monitoring
  ctl describe job backup-29017445 -n ops
  ctl describe cronjob backup -n ops
  ctl describe node node-1
  ctl describe namespace shop`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErr("describe takes a resource and a name: describe pod NAME, describe service NAME, describe deployment NAME or describe pvc NAME")
			}
			if r, err := resources(args[0]); err != nil || len(r) != 1 || r[0] != resPods && r[0] != resNodes && r[0] != resNamespaces && r[0] != resServices && r[0] != resWorkloads && r[0] != resClaims && appsKinds[r[0]] == "" && jobKinds[r[0]] == "" {
				return usageErr("unknown resource %q: describe supports pods, nodes, namespaces, services, deployments, statefulsets, replicasets, daemonsets, persistentvolumeclaims, jobs and cronjobs", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if namespace == "" {
				namespace = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			switch r, _ := resources(args[0]); r[0] {
			case resNodes:
				return c.describeNode(ctx, cl, args[1], output)
			case resNamespaces:
				return c.describeNamespace(ctx, cl, args[1], output)
			case resServices:
				return c.describeService(ctx, cl, namespace, args[1], output)
			case resWorkloads:
				return c.describeDeployment(ctx, cl, namespace, args[1], output)
			case resClaims:
				return c.describeClaim(ctx, cl, namespace, args[1], output)
			case resStatefulSets, resReplicaSets:
				return c.describeApps(ctx, cl, appsKinds[r[0]], namespace, args[1], output)
			case resDaemonSets:
				return c.describeDaemonSet(ctx, cl, namespace, args[1], output)
			case resJobs:
				return c.describeJob(ctx, cl, namespace, args[1], output)
			case resCronJobs:
				return c.describeCronJob(ctx, cl, namespace, args[1], output)
			}
			d, err := cl.DescribePod(ctx, namespace, args[1])
			if errors.Is(err, api.ErrNotFound) {
				return &exitErr{code: exitChanges, err: fmt.Errorf("pod %s/%s not found", namespace, args[1])}
			}
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			return c.emit(output, d, func(w io.Writer) { printDescription(w, d) })
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml")
	return cmd
}

// valueColumn is where describe's values start, whatever the key's depth,
// so that a reader's eye runs down one column as in kubectl describe.
const valueColumn = 20

// describer writes "Key:  value" lines with values aligned at valueColumn.
type describer struct {
	w io.Writer
}

func (d describer) line(indent int, key, value string) {
	pad := valueColumn - 2*indent - len(key) - 1
	if pad < 1 {
		pad = 1
	}
	fmt.Fprintf(d.w, "%s%s:%s%s\n", strings.Repeat("  ", indent), key, strings.Repeat(" ", pad), value)
}

func (d describer) head(indent int, key string) {
	fmt.Fprintf(d.w, "%s%s:\n", strings.Repeat("  ", indent), key)
}

func printDescription(w io.Writer, desc *api.PodDescription) {
	d := describer{w}
	p := desc.Pod
	d.line(0, "Name", p.Name)
	d.line(0, "Namespace", p.Namespace)
	d.line(0, "UID", p.UID)
	d.line(0, "Owner", orNone(p.Owner))
	d.line(0, "Node", orNone(p.Node))
	d.line(0, "IP", orNone(p.PodIP))
	if t := podCreated(p); !t.IsZero() {
		d.line(0, "Created", fmt.Sprintf("%s (%s ago)", t.UTC().Format("2006-01-02 15:04:05 MST"), age(t)))
	}
	phase := p.Phase
	if phase == "" {
		phase = agentapi.PodPending
	}
	d.line(0, "Status", phase)
	if p.Reason != "" {
		d.line(0, "Reason", p.Reason)
	}
	if p.Message != "" {
		d.line(0, "Message", p.Message)
	}
	labels := sortedLabels(p.Labels)
	if len(labels) == 0 {
		d.line(0, "Labels", "<none>")
	}
	for i, l := range labels {
		if i == 0 {
			d.line(0, "Labels", l)
		} else {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", valueColumn), l)
		}
	}

	var inits, ctrs []agentapi.ContainerStatus
	if p.Status != nil {
		inits, ctrs = p.Status.InitContainers, p.Status.Containers
	}
	if len(p.Spec.InitContainers) > 0 {
		printContainers(d, "Init Containers", p.Spec.InitContainers, inits)
	}
	printContainers(d, "Containers", p.Spec.Containers, ctrs)

	if sc := desc.Scheduling; sc != nil {
		printScheduling(w, sc)
	}

	if len(desc.Events) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	printEvents(d, w, desc.Events)
}

// printContainers prints the Containers (or Init Containers) section: each
// container's image, state, readiness, restarts and resources.
func printContainers(d describer, head string, specs []spec.Container, reported []agentapi.ContainerStatus) {
	d.head(0, head)
	statuses := map[string]*agentapi.ContainerStatus{}
	for i := range reported {
		statuses[reported[i].Name] = &reported[i]
	}
	for _, ct := range specs {
		d.head(1, ct.Name)
		d.line(2, "Image", ct.Image)
		cs := statuses[ct.Name]
		if cs == nil {
			d.line(2, "State", "Waiting")
			d.line(3, "Reason", "not reported by a node yet")
		} else {
			printState(d, "State", cs.State)
			if st := cs.LastTerminationState; st.Waiting != nil || st.Running != nil || st.Terminated != nil {
				printState(d, "Last State", st)
			}
			ready := "False"
			if cs.Ready {
				ready = "True"
			}
			d.line(2, "Ready", ready)
			d.line(2, "Restart Count", strconv.Itoa(int(cs.RestartCount)))
		}
		printResources(d, "Requests", ct.Resources.Requests)
		printResources(d, "Limits", ct.Resources.Limits)
	}
}

// printEvents prints kubectl describe's event table: type, reason, age
// (with the count of a repeated event: "2m (x4 over 10m)"), where from
// (the node's agent, or the reconciler) and message, by last occurrence.
func printEvents(d describer, w io.Writer, events []api.Event) {
	events = slices.Clone(events)
	sort.SliceStable(events, func(i, j int) bool { return events[i].Time.Before(events[j].Time) })
	d.head(0, "Events")
	tw := newTable(w)
	row(tw, "  Type", "Reason", "Age", "From", "Message")
	row(tw, "  ----", "------", "----", "----", "-------")
	for _, e := range events {
		row(tw, "  "+eventType(e), e.Reason, lastSeen(e), eventFrom(e), strings.TrimSpace(e.Message))
	}
	tw.Flush()
}

func printState(d describer, key string, st agentapi.ContainerState) {
	switch {
	case st.Running != nil:
		d.line(2, key, "Running")
		if !st.Running.StartedAt.IsZero() {
			d.line(3, "Started", stamp(st.Running.StartedAt))
		}
	case st.Waiting != nil:
		d.line(2, key, "Waiting")
		if st.Waiting.Reason != "" {
			d.line(3, "Reason", st.Waiting.Reason)
		}
		if st.Waiting.Message != "" {
			d.line(3, "Message", st.Waiting.Message)
		}
	case st.Terminated != nil:
		t := st.Terminated
		d.line(2, key, "Terminated")
		if t.Reason != "" {
			d.line(3, "Reason", t.Reason)
		}
		if t.Message != "" {
			d.line(3, "Message", t.Message)
		}
		d.line(3, "Exit Code", strconv.Itoa(int(t.ExitCode)))
		if t.Signal != 0 {
			d.line(3, "Signal", strconv.Itoa(int(t.Signal)))
		}
		if !t.StartedAt.IsZero() {
			d.line(3, "Started", stamp(t.StartedAt))
		}
		if !t.FinishedAt.IsZero() {
			d.line(3, "Finished", stamp(t.FinishedAt))
		}
	default:
		d.line(2, key, "Unknown")
	}
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

func printResources(d describer, key string, rl spec.ResourceList) {
	if len(rl) == 0 {
		return
	}
	d.head(2, key)
	names := make([]string, 0, len(rl))
	for n := range rl {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		q := rl[n]
		d.line(3, n, q.String())
	}
}

// printScheduling writes the scheduler's reason and one line per node.
func printScheduling(w io.Writer, sc *api.Scheduling) {
	fmt.Fprintln(w, "Scheduling:")
	switch {
	case sc.Error != "":
		fmt.Fprintf(w, "  %s\n", sc.Error)
		return
	case sc.Reason != "":
		fmt.Fprintf(w, "  %s\n", sc.Reason)
	case sc.Node != "":
		fmt.Fprintf(w, "  fits now on %s: the next plan places it\n", sc.Node)
	}
	if len(sc.Nodes) == 0 {
		return
	}
	tw := newTable(w)
	row(tw, "  NODE", "VERDICT")
	for i, v := range sc.Nodes {
		if i == maxVerdicts {
			row(tw, fmt.Sprintf("  (%d more nodes; -o yaml lists all)", len(sc.Nodes)-i), "")
			break
		}
		row(tw, "  "+v.Node, verdict(v))
	}
	tw.Flush()
}

// verdict renders a node's verdict: the refusing filter's reasons, or the
// total score and its parts.
func verdict(v api.NodeVerdict) string {
	if len(v.Reasons) > 0 || v.Filter != "" {
		s := strings.Join(v.Reasons, ", ")
		if v.Filter != "" {
			s = v.Filter + ": " + s
		}
		return s
	}
	names := make([]string, 0, len(v.Scores))
	for n := range v.Scores {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + strconv.FormatInt(v.Scores[n], 10)
	}
	s := "fits, score " + strconv.FormatInt(v.Total, 10)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func sortedLabels(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
