package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Sort keys of top's --sort-by.
const (
	sortCPU    = "cpu"
	sortMemory = "memory"
)

func (c *cli) topCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top pods|nodes",
		Short: "Show CPU and memory use of pods or nodes",
		Long: `Show the CPU and memory use of pods (ctl top pods) or nodes (ctl top nodes), as kubectl top
does: CPU as the average rate over the agents' last stats interval (10s by default) in
millicores, memory as the working set (usage minus inactive file pages) in Mi. The figures come
from each node's agent (GET /v1/stats, sampled from the cgroups; docs/stats.md), asked by the
reconciler concurrently; a node whose agent does not answer is reported instead of failing the
command.`,
	}
	cmd.AddCommand(c.topPodsCmd(), c.topNodesCmd())
	return cmd
}

func checkSortBy(s string) error {
	if s != "" && s != sortCPU && s != sortMemory {
		return usageErr("--sort-by must be cpu or memory, not %q", s)
	}
	return nil
}

func (c *cli) topPodsCmd() *cobra.Command {
	var (
		namespace, selector, sortBy string
		all, containers, noHeaders  bool
	)
	cmd := &cobra.Command{
		Use:     "pods [NAME]",
		Aliases: []string{"pod", "po"},
		Short:   "Show CPU and memory use of pods (NAME CPU(cores) MEMORY(bytes))",
		Example: `  ctl top pods -n shop
  ctl top pods -A --sort-by cpu
  ctl top pods -n shop -l app=web --containers`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSortBy(sortBy); err != nil {
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
			l, err := cl.TopPods(ctx, namespace, selector, all)
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			for _, p := range l.Problems {
				fmt.Fprintf(c.errOut, "warning: node %s did not answer, its pods are missing: %s\n", p.Node, p.Error)
			}
			items := l.Items
			if len(args) == 1 {
				items = nil
				for _, p := range l.Items {
					if p.Name == args[0] {
						items = append(items, p)
					}
				}
				if len(items) == 0 {
					return &exitErr{code: exitChanges, err: fmt.Errorf("metrics not available for pod %s/%s", namespace, args[0])}
				}
			}
			if len(items) == 0 {
				if all {
					fmt.Fprintln(c.errOut, "No resources found")
				} else {
					fmt.Fprintf(c.errOut, "No resources found in %s namespace.\n", namespace)
				}
				return nil
			}
			sortPodMetrics(items, sortBy)
			printTopPods(c.out, items, all, containers, noHeaders)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&namespace, "namespace", "n", "", "namespace (default \"default\")")
	f.BoolVarP(&all, "all-namespaces", "A", false, "pods of every namespace")
	f.StringVarP(&selector, "selector", "l", "", "label selector (kubectl's syntax: app=web, tier in (a,b), !canary)")
	f.BoolVar(&containers, "containers", false, "one line per container")
	f.StringVar(&sortBy, "sort-by", "", "sort by cpu or memory, highest first")
	f.BoolVar(&noHeaders, "no-headers", false, "no header line")
	return cmd
}

func sortPodMetrics(items []api.PodMetrics, by string) {
	switch by {
	case sortCPU:
		sort.SliceStable(items, func(i, j int) bool { return items[i].CPUNanoCores > items[j].CPUNanoCores })
	case sortMemory:
		sort.SliceStable(items, func(i, j int) bool { return items[i].MemoryBytes > items[j].MemoryBytes })
	}
}

// milliCores is kubectl top's CPU column: "250m".
func milliCores(nano uint64) string { return fmt.Sprintf("%dm", nano/1e6) }

// mebibytes is kubectl top's memory column: "64Mi".
func mebibytes(b uint64) string { return fmt.Sprintf("%dMi", b/(1<<20)) }

func printTopPods(w io.Writer, items []api.PodMetrics, all, containers, noHeaders bool) {
	tw := newTable(w)
	var head []string
	if all {
		head = append(head, "NAMESPACE")
	}
	if containers {
		head = append(head, "POD")
	}
	head = append(head, "NAME", "CPU(cores)", "MEMORY(bytes)")
	if !noHeaders {
		row(tw, head...)
	}
	for _, p := range items {
		var pre []string
		if all {
			pre = append(pre, p.Namespace)
		}
		if !containers {
			row(tw, append(pre, p.Name, milliCores(p.CPUNanoCores), mebibytes(p.MemoryBytes))...)
			continue
		}
		for _, ct := range p.Containers {
			row(tw, append(pre, p.Name, ct.Name, milliCores(ct.CPUNanoCores), mebibytes(ct.MemoryBytes))...)
		}
	}
	tw.Flush()
}

func (c *cli) topNodesCmd() *cobra.Command {
	var (
		sortBy    string
		noHeaders bool
	)
	cmd := &cobra.Command{
		Use:     "nodes [NAME]",
		Aliases: []string{"node", "no"},
		Short:   "Show CPU and memory use of nodes (NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%)",
		Long: `Show each node's CPU and memory use, and their share of the node's allocatable (CPU%,
MEMORY%), as kubectl top node does. A node whose agent does not answer shows <unknown>.`,
		Example: "  ctl top nodes --sort-by memory",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSortBy(sortBy); err != nil {
				return err
			}
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := c.requestCtx(cmd.Context())
			defer cancel()
			l, err := cl.TopNodes(ctx)
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			items := l.Items
			if len(args) == 1 {
				items = nil
				for _, n := range l.Items {
					if n.Name == args[0] {
						items = append(items, n)
					}
				}
				if len(items) == 0 {
					return &exitErr{code: exitChanges, err: fmt.Errorf("node %s not found", args[0])}
				}
			}
			printTopNodes(c.out, c.errOut, items, sortBy, noHeaders)
			return nil
		},
	}
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "sort by cpu or memory, highest first")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "no header line")
	return cmd
}

func printTopNodes(w, errOut io.Writer, items []api.NodeMetrics, sortBy string, noHeaders bool) {
	switch sortBy {
	case sortCPU:
		sort.SliceStable(items, func(i, j int) bool { return items[i].CPUNanoCores > items[j].CPUNanoCores })
	case sortMemory:
		sort.SliceStable(items, func(i, j int) bool { return items[i].MemoryBytes > items[j].MemoryBytes })
	}
	tw := newTable(w)
	if !noHeaders {
		row(tw, "NAME", "CPU(cores)", "CPU%", "MEMORY(bytes)", "MEMORY%")
	}
	for _, n := range items {
		if n.Error != "" {
			fmt.Fprintf(errOut, "warning: node %s: %s\n", n.Name, n.Error)
			row(tw, n.Name, "<unknown>", "<unknown>", "<unknown>", "<unknown>")
			continue
		}
		row(tw, n.Name, milliCores(n.CPUNanoCores), percent(int64(n.CPUNanoCores/1e6), n.Allocatable.MilliCPU),
			mebibytes(n.MemoryBytes), percent(int64(n.MemoryBytes), n.Allocatable.Memory))
	}
	tw.Flush()
}

// percent is used as a whole share of total, as kubectl truncates it.
func percent(used, total int64) string {
	if total <= 0 {
		return "<unknown>"
	}
	return fmt.Sprintf("%d%%", used*100/total)
}
