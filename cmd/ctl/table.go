package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// tableOpts are the table's variations: a NAMESPACE column (-A), more
// columns (-o wide), names prefixed with their type (get all), an ERROR
// column for nodes (when any node has an error).
type tableOpts struct {
	withNS, wide, prefix, nodeErrors bool
	// rcAlias names ReplicationControllers rc/NAME in the deployments
	// table, which lists both kinds.
	rcAlias bool
}

// tableRows builds the header and rows of a table of items of one kind
// (Deployments and ReplicationControllers share one).
func tableRows(kind string, items []*item, o tableOpts) (header []string, rows [][]string) {
	switch kind {
	case spec.KindPod:
		header = []string{"NAME", "READY", "STATUS", "RESTARTS", "NODE", "IP", "AGE"}
		if o.wide {
			header = append(header, "OWNER", "UID")
		}
	case spec.KindDeployment, spec.KindReplicationController:
		header = []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}
		if kind == spec.KindReplicationController && !o.rcAlias {
			// kubectl's columns for ReplicationControllers listed alone.
			header = []string{"NAME", "DESIRED", "CURRENT", "READY", "AGE"}
		}
		if o.wide {
			header = append(header, "CONTAINERS", "IMAGES", "SELECTOR")
		}
	case spec.KindStatefulSet, spec.KindReplicaSet:
		header = appsHeader(kind, o.wide)
	case spec.KindNode:
		header = []string{"NAME", "STATUS", "SINCE", "PODS", "CPU", "MEMORY"}
		if o.wide {
			header = append(header, "AGE", "STATE", "API", "GOSSIP", "POD-CIDR", "LABELS", "VERSION", "PROTOCOL")
		}
		if o.nodeErrors {
			header = append(header, "ERROR")
		}
	case spec.KindDaemonSet:
		header = daemonSetHeader(o.wide)
	case spec.KindNamespace:
		header = []string{"NAME", "STATUS", "PODS"}
	case spec.KindService:
		header = serviceHeader(o.wide)
	case kindEndpoints:
		header = []string{"NAME", "ENDPOINTS", "AGE"}
	case kindEvent:
		header = []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}
	default:
		header = storageHeader(kind, o.wide)
		if h := jobHeader(kind, o.wide); h != nil {
			header = h
		}
		if h := quotaHeader(kind); h != nil {
			header = h
		}
	}
	if o.withNS && !clusterScoped(kind) {
		header = append([]string{"NAMESPACE"}, header...)
	}
	for _, it := range items {
		rows = append(rows, tableRow(it, o))
	}
	return header, rows
}

func tableRow(it *item, o tableOpts) []string {
	name := it.name
	if o.prefix {
		name = resourceName(it.kind) + "/" + name
	}
	var vals []string
	switch w := it.wire.(type) {
	case api.Pod:
		ready, total := podReady(w)
		vals = []string{name, fmt.Sprintf("%d/%d", ready, total), podStatus(w), strconv.Itoa(int(podRestarts(w))),
			orNone(w.Node), orNone(w.PodIP), age(podCreated(w))}
		if o.wide {
			vals = append(vals, orNone(w.Owner), w.UID)
		}
	case api.Workload:
		if w.Kind == spec.KindDaemonSet {
			vals = daemonSetRow(name, w, o.wide)
			break
		}
		if v, ok := appsRow(name, w, o.wide); ok {
			vals = v
			break
		}
		if w.Kind == spec.KindReplicationController && o.rcAlias && !o.prefix {
			name = "rc/" + name
		}
		vals = []string{name, fmt.Sprintf("%d/%d", w.Ready, w.Replicas), strconv.Itoa(int(w.UpToDate)), strconv.Itoa(int(w.Available)), age(w.Created)}
		if w.Kind == spec.KindReplicationController && !o.rcAlias {
			vals = []string{name, strconv.Itoa(int(w.Replicas)), strconv.Itoa(int(w.Current)), strconv.Itoa(int(w.Ready)), age(w.Created)}
		}
		if o.wide {
			vals = append(vals, strings.Join(w.Containers, ","), strings.Join(w.Images, ","), orNone(labelString(w.Selector)))
		}
	case api.Node:
		since := w.StatusSince
		if since.IsZero() {
			since = w.Since
		}
		vals = []string{name, nodeStatus(w), age(since), fmt.Sprintf("%d/%d", w.Pods, w.Allocatable.Pods),
			cpuString(w.Requested.MilliCPU) + "/" + cpuString(w.Allocatable.MilliCPU),
			bytesString(w.Requested.Memory) + "/" + bytesString(w.Allocatable.Memory)}
		if o.wide {
			vals = append(vals, age(w.Since), w.State, orNone(w.APIAddr), orNone(w.Addr), orNone(w.PodCIDR), orNone(labelString(w.Labels)),
				orNone(w.Version), nodeProtocol(w))
		}
		if o.nodeErrors {
			vals = append(vals, orNone(w.Error))
		}
		return vals
	case api.Namespace:
		return []string{name, w.Status, strconv.Itoa(w.Pods)}
	case api.Service:
		vals = serviceRow(name, w, o.wide)
	case api.Endpoints:
		vals = endpointsRow(name, w)
	case eventRow:
		vals = []string{lastSeen(w.Event), w.typ, w.Reason, w.object, strings.TrimSpace(w.Message)}
	default:
		var ok bool
		if vals, ok = jobRow(name, w, o.wide, now()); !ok {
			if vals, ok = quotaTableRow(name, w); !ok {
				vals, _ = storageRow(name, w, o.wide)
			}
		}
	}
	if o.withNS && !clusterScoped(it.kind) {
		vals = append([]string{it.namespace}, vals...)
	}
	return vals
}

// printTable prints a kind's table, or kubectl's "No X found." line.
func printTable(w io.Writer, kind string, items []*item, o tableOpts) {
	if len(items) == 0 {
		fmt.Fprintf(w, "No %s found.\n", plural(kind))
		return
	}
	if kind == kindApplication {
		apps := make([]api.Application, len(items))
		for i, it := range items {
			apps[i] = it.wire.(api.Application)
		}
		printApplications(w, apps, o.wide)
		return
	}
	header, rows := tableRows(kind, items, o)
	tw := newTable(w)
	row(tw, header...)
	for _, r := range rows {
		row(tw, r...)
	}
	tw.Flush()
}

func plural(kind string) string {
	switch kind {
	case spec.KindReplicationController:
		return "replicationcontrollers"
	case spec.KindDeployment:
		return "deployments"
	case kindEndpoints:
		return "endpoints"
	case spec.KindStorageClass:
		return "storageclasses"
	case spec.KindResourceQuota:
		return "resourcequotas"
	}
	return strings.ToLower(kind) + "s"
}

// columnWidths are the widths of a table's columns, so that the rows a
// watch prints later line up with the table it printed first.
func columnWidths(header []string, rows [][]string) []int {
	widths := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, c := range r {
			if i < len(widths) && len(c) > widths[i] {
				widths[i] = len(c)
			}
		}
	}
	return widths
}

// formatRow pads cells as newTable's tabwriter does (3 spaces after the
// widest cell; the last cell unpadded), growing widths as needed.
func formatRow(widths []int, cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		if i < len(widths) && len(c) > widths[i] {
			widths[i] = len(c)
		}
		w := len(c)
		if i < len(widths) {
			w = widths[i]
		}
		b.WriteString(c)
		b.WriteString(strings.Repeat(" ", w-len(c)+3))
	}
	b.WriteString("\n")
	return b.String()
}
