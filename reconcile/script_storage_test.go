package reconcile

import (
	"fmt"
	"strings"
)

// formatStorage prints the claims, volumes and what each node's set
// carries beside its pods, when there are any.
func formatStorage(sb *strings.Builder, out Output) {
	if len(out.Claims) > 0 {
		sb.WriteString("claims:\n")
		for _, c := range out.Claims {
			fmt.Fprintf(sb, "  %s/%s %s class=%s", c.Namespace, c.Name, c.Phase, c.StorageClass)
			if c.Volume != "" {
				fmt.Fprintf(sb, " volume=%s", c.Volume)
			}
			if c.Node != "" {
				fmt.Fprintf(sb, " node=%s", c.Node)
			}
			if len(c.UsedBy) > 0 {
				fmt.Fprintf(sb, " usedBy=%s", strings.Join(c.UsedBy, ","))
			}
			if c.Owner != "" {
				fmt.Fprintf(sb, " owner=%s", c.Owner)
			}
			if c.Reason != "" {
				fmt.Fprintf(sb, " %s (%s)", c.Reason, c.Message)
			}
			sb.WriteString("\n")
		}
	}
	if len(out.Volumes) > 0 {
		sb.WriteString("volumes:\n")
		for _, v := range out.Volumes {
			fmt.Fprintf(sb, "  %s %s %s %s", v.Name, v.Phase, v.Driver, v.ReclaimPolicy)
			if v.Claim != "" {
				fmt.Fprintf(sb, " claim=%s", v.Claim)
			}
			if v.Node != "" {
				fmt.Fprintf(sb, " node=%s", v.Node)
			}
			if v.Reason != "" {
				fmt.Fprintf(sb, " %s (%s)", v.Reason, v.Message)
			}
			sb.WriteString("\n")
		}
	}
	nodes := map[string]bool{}
	for n := range out.NodeConfig {
		nodes[n] = true
	}
	for n := range out.NodeVolumes {
		nodes[n] = true
	}
	for n := range out.DeleteVolumes {
		nodes[n] = true
	}
	if len(nodes) == 0 {
		return
	}
	sb.WriteString("node storage:\n")
	for _, n := range sortedKeys(nodes) {
		var parts []string
		for _, c := range out.NodeConfig[n] {
			parts = append(parts, c.Key()+"@"+c.Version[:6])
		}
		for _, v := range out.NodeVolumes[n] {
			parts = append(parts, "pv:"+v.Name)
		}
		for _, v := range out.DeleteVolumes[n] {
			parts = append(parts, "delete:"+v.Name)
		}
		fmt.Fprintf(sb, "  %s: [%s]\n", n, strings.Join(parts, " "))
	}
}
