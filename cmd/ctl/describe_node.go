package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// describeNode prints GET /v1/nodes/NAME in kubectl describe node's layout.
func (c *cli) describeNode(ctx context.Context, cl *api.Client, name, output string) error {
	d, err := cl.DescribeNode(ctx, name)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: fmt.Errorf("node %s not found", name)}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return c.emit(output, d, func(w io.Writer) { printNodeDescription(w, d) })
}

func printNodeDescription(w io.Writer, desc *api.NodeDescription) {
	d := describer{w}
	n := desc.Node
	d.line(0, "Name", n.Name)
	d.line(0, "Roles", nodeRoles(n.Labels))
	printLines(d, w, "Labels", sortedLabels(n.Labels))
	var taints []string
	for _, t := range n.Taints {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		taints = append(taints, s+":"+t.Effect)
	}
	printLines(d, w, "Taints", taints)
	d.line(0, "Unschedulable", fmt.Sprint(n.Cordoned || n.Drained))
	st := desc.Status
	printNodeConditions(d, w, n, desc)
	d.head(0, "Addresses")
	if host := apiHost(n.APIAddr); host != "" {
		d.line(1, "InternalIP", host)
	}
	d.line(1, "Hostname", n.Name)
	if st != nil {
		printResourceList(d, "Capacity", st.Capacity)
	}
	printResourceList(d, "Allocatable", n.Allocatable)
	if st != nil {
		d.head(0, "System Info")
		d.line(1, "Kernel Version", orNone(st.KernelVersion))
		d.line(1, "OS Image", orNone(st.OSImage))
		d.line(1, "Operating System", runtime.GOOS)
		d.line(1, "Architecture", orNone(n.Labels["kubernetes.io/arch"]))
	}
	if n.Version != "" || n.NegotiatedProtocol != 0 || n.VersionRefused != "" {
		// kubectl's "Kubelet Version"; an agent from before v0.16 says none.
		if st == nil {
			d.head(0, "System Info")
		}
		d.line(1, "Agent Version", orNone(n.Version))
		d.line(1, "Agent Protocol", nodeProtocol(n))
	}
	d.line(0, "PodCIDR", orNone(n.PodCIDR))
	printNodePods(d, w, desc)
	if st != nil && len(st.Images) > 0 {
		d.head(0, "Images")
		tw := newTable(w)
		row(tw, "  Name", "Size", "In Use")
		row(tw, "  ----", "----", "------")
		for _, im := range st.Images {
			row(tw, "  "+strings.Join(im.Names, ", "), bytesString(im.Size), fmt.Sprint(im.InUse))
		}
		tw.Flush()
	}
	if len(desc.Events) == 0 {
		d.line(0, "Events", "<none>")
		return
	}
	printEvents(d, w, desc.Events)
}

// printLines prints key with one value per line ("<none>" for none), as
// kubectl prints labels and taints.
func printLines(d describer, w io.Writer, key string, vals []string) {
	if len(vals) == 0 {
		d.line(0, key, "<none>")
		return
	}
	for i, v := range vals {
		if i == 0 {
			d.line(0, key, v)
		} else {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat(" ", valueColumn), v)
		}
	}
}

// nodeRoles are the node-role.kubernetes.io/ROLE labels' roles.
func nodeRoles(labels map[string]string) string {
	var roles []string
	for k := range labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

func apiHost(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		return h
	}
	return u.Host
}

// printNodeConditions prints the agent's conditions, or, when the agent
// did not answer, Ready as the node table knows it with the reason.
func printNodeConditions(d describer, w io.Writer, n api.Node, desc *api.NodeDescription) {
	d.head(0, "Conditions")
	tw := newTable(w)
	row(tw, "  Type", "Status", "LastTransitionTime", "Reason", "Message")
	row(tw, "  ----", "------", "------------------", "------", "-------")
	if n.VersionRefused != "" {
		// Refused by version: the reconciler does not ask it anything.
		row(tw, "  "+agentapi.NodeReady, "False", stampOrNone(n.StatusSince), api.EventVersionSkew, n.VersionRefused)
	} else if desc.Status == nil {
		status := "Unknown"
		if nodeStatus(n) == api.NodeNotReady {
			status = "False"
		}
		row(tw, "  "+agentapi.NodeReady, status, stampOrNone(n.StatusSince), "NodeStatusUnknown", "agent did not answer: "+desc.StatusError)
	} else {
		for _, c := range desc.Status.Conditions {
			row(tw, "  "+c.Type, c.Status, stampOrNone(c.LastTransitionTime), c.Reason, c.Message)
		}
	}
	tw.Flush()
}

func printResourceList(d describer, head string, r agentapi.Resources) {
	d.head(0, head)
	d.line(1, "cpu", cpuString(r.MilliCPU))
	if r.EphemeralStorage > 0 {
		d.line(1, "ephemeral-storage", bytesString(r.EphemeralStorage))
	}
	for _, k := range sortedKeys(r.Extended) {
		d.line(1, k, fmt.Sprint(r.Extended[k]))
	}
	d.line(1, "memory", bytesString(r.Memory))
	d.line(1, "pods", fmt.Sprint(r.Pods))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// share is kubectl's "100m (2%)": a quantity and its whole share of the
// allocatable.
func share(s string, v, alloc int64) string {
	pct := int64(0)
	if alloc > 0 {
		pct = v * 100 / alloc
	}
	return fmt.Sprintf("%s (%d%%)", s, pct)
}

func printNodePods(d describer, w io.Writer, desc *api.NodeDescription) {
	alloc := desc.Node.Allocatable
	d.line(0, "Non-terminated Pods", fmt.Sprintf("(%d in total)", len(desc.Pods)))
	tw := newTable(w)
	row(tw, "  Namespace", "Name", "CPU Requests", "CPU Limits", "Memory Requests", "Memory Limits", "Age")
	row(tw, "  ---------", "----", "------------", "----------", "---------------", "-------------", "---")
	for _, p := range desc.Pods {
		row(tw, "  "+p.Namespace, p.Name,
			share(cpuString(p.Requests.MilliCPU), p.Requests.MilliCPU, alloc.MilliCPU),
			share(cpuString(p.Limits.MilliCPU), p.Limits.MilliCPU, alloc.MilliCPU),
			share(bytesString(p.Requests.Memory), p.Requests.Memory, alloc.Memory),
			share(bytesString(p.Limits.Memory), p.Limits.Memory, alloc.Memory),
			age(p.Created))
	}
	tw.Flush()
	d.head(0, "Allocated resources")
	fmt.Fprintln(w, "  (Total limits may be over 100 percent, i.e., overcommitted.)")
	tw = newTable(w)
	row(tw, "  Resource", "Requests", "Limits")
	row(tw, "  --------", "--------", "------")
	rq, lm := desc.Requests, desc.Limits
	row(tw, "  cpu", share(cpuString(rq.MilliCPU), rq.MilliCPU, alloc.MilliCPU), share(cpuString(lm.MilliCPU), lm.MilliCPU, alloc.MilliCPU))
	row(tw, "  memory", share(bytesString(rq.Memory), rq.Memory, alloc.Memory), share(bytesString(lm.Memory), lm.Memory, alloc.Memory))
	row(tw, "  ephemeral-storage", share(bytesString(rq.EphemeralStorage), rq.EphemeralStorage, alloc.EphemeralStorage),
		share(bytesString(lm.EphemeralStorage), lm.EphemeralStorage, alloc.EphemeralStorage))
	tw.Flush()
}

func stampOrNone(t time.Time) string {
	if t.IsZero() {
		return "<none>"
	}
	return stamp(t)
}
