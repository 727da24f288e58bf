package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Output formats of get.
const (
	outTable = ""
	outWide  = "wide"
	outJSON  = "json"
	outYAML  = "yaml"
)

// now is the clock ages are measured against; tests pin it.
var now = time.Now

func (c *cli) getCmd() *cobra.Command {
	var (
		namespace string
		all       bool
		output    string
	)
	cmd := &cobra.Command{
		Use:   "get pods|deployments|nodes|namespaces|applications",
		Short: "List pods, deployments (and replication controllers), nodes or namespaces",
		Example: `  ctl get pods                 # pods in namespace default
  ctl get pods -n shop -o wide # with owner and UID
  ctl get deployments -A       # every namespace
  ctl get nodes -o yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("get takes one resource: pods, deployments, nodes or namespaces")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case outTable, outWide, outJSON, outYAML:
			default:
				return usageErr("unknown output format %q: want wide, json or yaml", output)
			}
			ns := namespace
			if all {
				ns = ""
			} else if ns == "" {
				ns = spec.DefaultNamespace
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			var v any
			var table func(io.Writer)
			switch resource(args[0]) {
			case "pods":
				pods, err := cl.Pods(ctx, ns)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
				v, table = api.PodList{Pods: pods}, func(w io.Writer) { printPods(w, pods, all, output == outWide) }
			case "deployments":
				wl, err := cl.Deployments(ctx, ns)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
				v, table = api.WorkloadList{Workloads: wl}, func(w io.Writer) { printWorkloads(w, wl, all, output == outWide) }
			case "nodes":
				nodes, err := cl.Nodes(ctx)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
				v, table = api.NodeList{Nodes: nodes}, func(w io.Writer) { printNodes(w, nodes, output == outWide) }
			case "namespaces":
				nss, err := cl.Namespaces(ctx)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
				v, table = api.NamespaceList{Namespaces: nss}, func(w io.Writer) { printNamespaces(w, nss) }
			case "applications":
				apps, err := cl.Applications(ctx)
				if err != nil {
					return &exitErr{code: exitError, err: err}
				}
				v, table = appList(apps), func(w io.Writer) { printApplications(w, apps, output == outWide) }
			default:
				return usageErr("unknown resource %q: want pods, deployments, nodes or namespaces", args[0])
			}
			return c.emit(output, v, table)
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list every namespace")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide, json or yaml")
	return cmd
}

// resource maps kubectl's names and abbreviations to ctl's.
func resource(s string) string {
	switch strings.ToLower(s) {
	case "pod", "pods", "po":
		return "pods"
	case "deployment", "deployments", "deploy", "replicationcontroller", "replicationcontrollers", "rc", "workloads":
		return "deployments"
	case "node", "nodes", "no":
		return "nodes"
	case "namespace", "namespaces", "ns":
		return "namespaces"
	case "application", "applications", "app", "apps":
		return "applications"
	}
	return s
}

func (c *cli) emit(output string, v any, table func(io.Writer)) error {
	switch output {
	case outJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to encode json: %w", err)}
		}
		fmt.Fprintln(c.out, string(b))
	case outYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return &exitErr{code: exitError, err: fmt.Errorf("failed to encode yaml: %w", err)}
		}
		fmt.Fprint(c.out, string(b))
	default:
		table(c.out)
	}
	return nil
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 8, 3, ' ', 0) }

func row(tw io.Writer, cols ...string) { fmt.Fprintln(tw, strings.Join(cols, "\t")) }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// podStatus is kubectl's STATUS column: the first container's waiting or
// terminated reason when there is one, else the pod's reason or phase.
func podStatus(p api.Pod) string {
	if p.Status != nil {
		for _, cs := range p.Status.Containers {
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				return w.Reason
			}
			if t := cs.State.Terminated; t != nil && t.Reason != "" && p.Phase != agentapi.PodSucceeded {
				return t.Reason
			}
		}
	}
	if p.Phase == agentapi.PodSucceeded {
		return agentapi.ReasonCompleted
	}
	if p.Reason != "" && p.Phase != agentapi.PodRunning {
		return p.Reason
	}
	if p.Phase == "" {
		return agentapi.PodPending
	}
	return p.Phase
}

func podReady(p api.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	if p.Status == nil {
		return 0, total
	}
	if len(p.Status.Containers) > total {
		total = len(p.Status.Containers)
	}
	for _, cs := range p.Status.Containers {
		if cs.Ready {
			ready++
		}
	}
	return ready, total
}

func podRestarts(p api.Pod) int32 {
	var n int32
	if p.Status != nil {
		for _, cs := range p.Status.Containers {
			n += cs.RestartCount
		}
	}
	return n
}

func podCreated(p api.Pod) time.Time {
	if !p.Created.IsZero() {
		return p.Created
	}
	if p.Status != nil && p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return time.Time{}
}

func printPods(w io.Writer, pods []api.Pod, withNS, wide bool) {
	if len(pods) == 0 {
		fmt.Fprintln(w, "No pods found.")
		return
	}
	tw := newTable(w)
	cols := []string{"NAME", "READY", "STATUS", "RESTARTS", "NODE", "IP", "AGE"}
	if wide {
		cols = append(cols, "OWNER", "UID")
	}
	if withNS {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	row(tw, cols...)
	for _, p := range pods {
		ready, total := podReady(p)
		vals := []string{p.Name, fmt.Sprintf("%d/%d", ready, total), podStatus(p), strconv.Itoa(int(podRestarts(p))),
			orNone(p.Node), orNone(p.PodIP), age(podCreated(p))}
		if wide {
			vals = append(vals, orNone(p.Owner), p.UID)
		}
		if withNS {
			vals = append([]string{p.Namespace}, vals...)
		}
		row(tw, vals...)
	}
	tw.Flush()
}

func printWorkloads(w io.Writer, wl []api.Workload, withNS, wide bool) {
	if len(wl) == 0 {
		fmt.Fprintln(w, "No deployments found.")
		return
	}
	tw := newTable(w)
	cols := []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}
	if wide {
		cols = append(cols, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	if withNS {
		cols = append([]string{"NAMESPACE"}, cols...)
	}
	row(tw, cols...)
	for _, d := range wl {
		name := d.Name
		if d.Kind == spec.KindReplicationController {
			name = "rc/" + d.Name
		}
		vals := []string{name, fmt.Sprintf("%d/%d", d.Ready, d.Replicas), strconv.Itoa(int(d.UpToDate)), strconv.Itoa(int(d.Available)), age(d.Created)}
		if wide {
			vals = append(vals, strings.Join(d.Containers, ","), strings.Join(d.Images, ","), orNone(labelString(d.Selector)))
		}
		if withNS {
			vals = append([]string{d.Namespace}, vals...)
		}
		row(tw, vals...)
	}
	tw.Flush()
}

func printNamespaces(w io.Writer, nss []api.Namespace) {
	tw := newTable(w)
	row(tw, "NAME", "STATUS", "PODS")
	for _, n := range nss {
		row(tw, n.Name, n.Status, strconv.Itoa(n.Pods))
	}
	tw.Flush()
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// age renders the time since t as kubectl does ("45s", "3m12s", "5h", "12d").
func age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	d := now().Sub(t)
	if d < 0 {
		d = 0
	}
	return humanDuration(d)
}

func humanDuration(d time.Duration) string {
	s := int(d.Seconds())
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 8*time.Hour:
		h := s / 3600
		if m := (s % 3600) / 60; m > 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", s/3600)
	case d < 8*24*time.Hour:
		days, h := s/86400, (s%86400)/3600
		if h > 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	case d < 2*365*24*time.Hour:
		return fmt.Sprintf("%dd", s/86400)
	}
	return fmt.Sprintf("%dy", s/(86400*365))
}
