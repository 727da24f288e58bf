package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"k8s.io/apimachinery/pkg/api/resource"
)

// describeNamespace prints a namespace as kubectl describe namespace does:
// name, labels, annotations, status, then each ResourceQuota's resources
// with what the desired state uses against the hard limit, and the
// LimitRanges' table.
func (c *cli) describeNamespace(ctx context.Context, cl *api.Client, name, output string) error {
	list, err := cl.Namespaces(ctx)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	for _, n := range list {
		if n.Name == name {
			return c.emit(output, n, func(w io.Writer) { printNamespace(w, n) })
		}
	}
	return &exitErr{code: exitChanges, err: fmt.Errorf("namespace %s not found", name)}
}

func printNamespace(w io.Writer, n api.Namespace) {
	d := describer{w}
	d.line(0, "Name", n.Name)
	printMap(d, "Labels", n.Labels)
	printMap(d, "Annotations", n.Annotations)
	d.line(0, "Status", n.Status)
	fmt.Fprintln(w)
	if len(n.Quotas) == 0 {
		fmt.Fprintln(w, "No resource quota.")
	} else {
		fmt.Fprintln(w, "Resource Quotas")
		for _, q := range n.Quotas {
			fmt.Fprintf(w, "  Name:    %s\n", q.Name)
			tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "  Resource\tUsed\tHard")
			fmt.Fprintln(tw, "  --------\t---\t---")
			for _, r := range sortedResources(q.Hard) {
				used, hard := q.Used[r], q.Hard[r]
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", r, used.String(), hard.String())
			}
			_ = tw.Flush()
		}
	}
	fmt.Fprintln(w)
	if len(n.LimitRanges) == 0 {
		fmt.Fprintln(w, "No LimitRange resource.")
		return
	}
	fmt.Fprintln(w, "Resource Limits")
	for _, lr := range n.LimitRanges {
		fmt.Fprintf(w, " Name:  %s\n", lr.Name)
		tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, " Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio")
		fmt.Fprintln(tw, " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------")
		for _, it := range lr.Limits {
			names := map[string]bool{}
			for _, l := range []spec.ResourceList{it.Min, it.Max, it.DefaultRequest, it.Default, it.MaxLimitRequestRatio} {
				for r := range l {
					names[r] = true
				}
			}
			for _, r := range sortedResources(names) {
				fmt.Fprintf(tw, " %s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.Type, r, quantityOrDash(it.Min, r), quantityOrDash(it.Max, r),
					quantityOrDash(it.DefaultRequest, r), quantityOrDash(it.Default, r), quantityOrDash(it.MaxLimitRequestRatio, r))
			}
		}
		_ = tw.Flush()
	}
}

func quantityOrDash(l spec.ResourceList, r string) string {
	if q, ok := l[r]; ok {
		return q.String()
	}
	return "-"
}

func sortedResources[V resource.Quantity | bool](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
