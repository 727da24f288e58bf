package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Services and Endpoints: the reconciler sends them in Kubernetes' v1
// shapes already, so an item's wire and kube forms are the same object.

// Resource types of this file (see resources in getcmd.go).
const (
	resServices  = "services"
	resEndpoints = "endpoints"
	// kindEndpoints is v1 Endpoints' kind (plural in the singular).
	kindEndpoints = "Endpoints"
)

func serviceItem(s api.Service) *item {
	m := s.Metadata
	return &item{kind: spec.KindService, namespace: m.Namespace, name: m.Name, labels: m.Labels, wire: s, kube: s,
		fields: fields.Set{"metadata.name": m.Name, "metadata.namespace": m.Namespace, "spec.type": s.Spec.Type, "spec.clusterIP": s.Spec.ClusterIP}}
}

func endpointsItem(e api.Endpoints) *item {
	m := e.Metadata
	return &item{kind: kindEndpoints, namespace: m.Namespace, name: m.Name, labels: m.Labels, wire: e, kube: e,
		fields: fields.Set{"metadata.name": m.Name, "metadata.namespace": m.Namespace}}
}

// serviceHeader is kubectl's Service table header.
func serviceHeader(wide bool) []string {
	h := []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}
	if wide {
		h = append(h, "SELECTOR")
	}
	return h
}

func serviceRow(name string, s api.Service, wide bool) []string {
	vals := []string{name, s.Spec.Type, orNone(s.Spec.ClusterIP), "<none>", servicePorts(s.Spec.Ports), age(ptrTime(s.Metadata.CreationTimestamp))}
	if wide {
		vals = append(vals, orNone(labelString(s.Spec.Selector)))
	}
	return vals
}

func endpointsRow(name string, e api.Endpoints) []string {
	return []string{name, formatEndpoints(e, nil), age(ptrTime(e.Metadata.CreationTimestamp))}
}

// servicePorts is kubectl's PORT(S) column: "80/TCP", "80:30080/TCP".
func servicePorts(ports []api.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		s := strconv.Itoa(int(p.Port))
		if p.NodePort > 0 {
			s += ":" + strconv.Itoa(int(p.NodePort))
		}
		parts[i] = s + "/" + p.Protocol
	}
	return strings.Join(parts, ",")
}

// formatEndpoints is kubectl's ENDPOINTS column: the first three ready
// "ip:port" pairs (of the ports named in only, nil for all), then "+ N
// more...". kubectl leaves the cell empty when every address is not Ready;
// ctl says <none>, as for no subsets.
func formatEndpoints(e api.Endpoints, only map[string]bool) string {
	const most = 3
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < most {
			list = append(list, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			if only != nil && !only[p.Name] {
				continue
			}
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	if len(list) == 0 {
		return "<none>"
	}
	s := strings.Join(list, ",")
	if count > most {
		s += fmt.Sprintf(" + %d more...", count-most)
	}
	return s
}

// printServiceDescription prints `ctl describe service` as kubectl does,
// with Stevedore's section on the pods that are not endpoints.
func printServiceDescription(w io.Writer, desc *api.ServiceDescription) {
	d := describer{w}
	s := desc.Service
	m := s.Metadata
	d.line(0, "Name", m.Name)
	d.line(0, "Namespace", m.Namespace)
	multiLine(d, "Labels", sortedLabels(m.Labels))
	multiLine(d, "Annotations", sortedLabels(m.Annotations))
	d.line(0, "Selector", orNone(labelString(s.Spec.Selector)))
	d.line(0, "Type", s.Spec.Type)
	if s.Spec.IPFamilyPolicy != "" {
		d.line(0, "IP Family Policy", s.Spec.IPFamilyPolicy)
	}
	if len(s.Spec.IPFamilies) > 0 {
		d.line(0, "IP Families", strings.Join(s.Spec.IPFamilies, ","))
	}
	d.line(0, "IP", orNone(s.Spec.ClusterIP))
	if len(s.Spec.ClusterIPs) > 0 {
		d.line(0, "IPs", strings.Join(s.Spec.ClusterIPs, ","))
	}
	for _, p := range s.Spec.Ports {
		name := p.Name
		if name == "" {
			name = "<unset>"
		}
		d.line(0, "Port", fmt.Sprintf("%s  %d/%s", name, p.Port, p.Protocol))
		d.line(0, "TargetPort", fmt.Sprintf("%s/%s", p.TargetPort.String(), p.Protocol))
		if p.NodePort != 0 {
			d.line(0, "NodePort", fmt.Sprintf("%s  %d/%s", name, p.NodePort, p.Protocol))
		}
		d.line(0, "Endpoints", formatEndpoints(desc.Endpoints, map[string]bool{p.Name: true}))
	}
	if len(s.Spec.Ports) == 0 {
		d.line(0, "Endpoints", formatEndpoints(desc.Endpoints, nil))
	}
	d.line(0, "Session Affinity", s.Spec.SessionAffinity)
	if c := s.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		d.line(0, "Affinity Timeout", fmt.Sprintf("%ds", *c.ClientIP.TimeoutSeconds))
	}
	printNotReady(d, desc.Endpoints)
	printExcluded(w, desc)
	d.line(0, "Events", "<none>")
}

// multiLine prints a key with one value per line, or <none>.
func multiLine(d describer, key string, vals []string) {
	if len(vals) == 0 {
		d.line(0, key, "<none>")
		return
	}
	for i, v := range vals {
		if i == 0 {
			d.line(0, key, v)
		} else {
			fmt.Fprintf(d.w, "%s%s\n", strings.Repeat(" ", valueColumn), v)
		}
	}
}

// printNotReady lists the not-Ready addresses, which kubectl's Endpoints
// lines leave out.
func printNotReady(d describer, e api.Endpoints) {
	var list []string
	for _, ss := range e.Subsets {
		for _, a := range ss.NotReadyAddresses {
			s := a.IP
			if a.TargetRef != nil {
				s += " (" + a.TargetRef.Name + ")"
			}
			list = append(list, s)
		}
	}
	if len(list) > 0 {
		d.line(0, "Not Ready", strings.Join(list, ","))
	}
}

// printExcluded is Stevedore's section: the pods that are not endpoints and
// why, or that no pod matches the selector at all.
func printExcluded(w io.Writer, desc *api.ServiceDescription) {
	s := desc.Service
	switch {
	case len(s.Spec.Selector) == 0:
		fmt.Fprintln(w, "Not endpoints:      the Service has no selector, so it has no endpoints")
		return
	case desc.MatchingPods == 0:
		fmt.Fprintf(w, "Not endpoints:      no pods match the selector %s in namespace %s\n", labelString(s.Spec.Selector), s.Metadata.Namespace)
	case len(desc.Excluded) == 0:
		fmt.Fprintln(w, "Not endpoints:      <none>")
		return
	default:
		fmt.Fprintln(w, "Not endpoints:")
	}
	if len(desc.Excluded) == 0 {
		return
	}
	tw := newTable(w)
	if desc.MatchingPods == 0 {
		fmt.Fprintln(w, "  Pods that match part of it:")
	}
	row(tw, "  POD", "NODE", "REASON", "MESSAGE")
	for _, e := range desc.Excluded {
		row(tw, "  "+e.Pod, orNone(e.Node), e.Reason, e.Message)
	}
	tw.Flush()
}

// describeService runs `ctl describe service NAME`.
func (c *cli) describeService(ctx context.Context, cl *api.Client, namespace, name, output string) error {
	d, err := cl.DescribeService(ctx, namespace, name)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: fmt.Errorf("service %s/%s not found", namespace, name)}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	return c.emit(output, d, func(w io.Writer) { printServiceDescription(w, d) })
}

// The fields --field-selector may name for Services and Endpoints, as the
// Kubernetes API server selects them.
func init() {
	fieldLabels[spec.KindService] = []string{"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"}
	fieldLabels[kindEndpoints] = []string{"metadata.name", "metadata.namespace"}
}
