package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/spec/schema"
)

// explainWidth is where descriptions wrap, as kubectl explain's.
const explainWidth = 80

func (c *cli) explainCmd() *cobra.Command {
	var (
		recursive  bool
		apiVersion string
	)
	cmd := &cobra.Command{
		Use:   "explain KIND[.FIELD...]",
		Short: "Document a kind or one of its fields (offline, from Stevedore's own schema)",
		Long: `Print the documentation of a kind, or of a field given by its path, with the type, whether it is
required and the fields below it, as kubectl explain does. The text is Stevedore's: it lists only the
fields Stevedore supports and says what each does here. No server is contacted.`,
		Example: `  ctl explain pods
  ctl explain deployment.spec.strategy
  ctl explain pod.spec.containers.resources
  ctl explain deployment.spec --recursive`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("explain takes one KIND[.FIELD...], e.g. deployment.spec.strategy; kinds: %s", strings.Join(kindNames(), ", "))
			}
			return nil
		},
		ValidArgsFunction: completeExplainPath,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := schema.Resolve(args[0])
			if err != nil {
				return &exitErr{code: exitError, err: err}
			}
			if apiVersion != "" && apiVersion != t.Kind.APIVersion {
				// An older version that loads by conversion is explained
				// by the fields it converts to, with a note.
				w := spec.DeprecationWarning(apiVersion, t.Kind.Kind)
				if w == "" {
					return usageErr("%s is %s in Stevedore, not %s", t.Kind.Kind, t.Kind.APIVersion, apiVersion)
				}
				fmt.Fprintf(c.out, "NOTE:       %s.\n            Stevedore loads it converted to %s, whose fields follow; what is\n            left out takes %s's defaults (docs/spec/api-versions.md).\n\n",
					w, t.Kind.APIVersion, apiVersion)
			}
			printExplain(c.out, t, recursive)
			return nil
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "print every field below, as a tree, without descriptions")
	cmd.Flags().StringVar(&apiVersion, "api-version", "", "the kind's apiVersion (group/version), checked: its current one, or an older one Stevedore converts from (extensions/v1beta1, apps/v1beta1, apps/v1beta2 workloads)")
	return cmd
}

// kindNames are the plural lower-case names of the kinds.
func kindNames() []string {
	var out []string
	for _, k := range schema.Kinds() {
		out = append(out, k.Resources()[0])
	}
	return out
}

// printExplain writes t in kubectl explain's plaintext layout.
func printExplain(w io.Writer, t *schema.Target, recursive bool) {
	k := t.Kind
	if g := k.Group(); g != "" {
		fmt.Fprintf(w, "GROUP:      %s\n", g)
	}
	fmt.Fprintf(w, "KIND:       %s\n", k.Kind)
	fmt.Fprintf(w, "VERSION:    %s\n\n", k.Version())
	var desc []string
	if f := t.Field; f != nil {
		fmt.Fprintf(w, "FIELD: %s <%s>%s\n\n", f.Name, f.Type, requiredMark(f))
		desc = append(desc, f.Doc)
	}
	if t.Type != nil {
		desc = append(desc, t.Type.Doc)
	}
	fmt.Fprintln(w, "DESCRIPTION:")
	for i, d := range desc {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeWrapped(w, d, "    ")
	}
	if t.Type == nil {
		return
	}
	fmt.Fprintln(w, "\nFIELDS:")
	if recursive {
		printTree(w, t.Type, "  ", map[string]bool{t.Type.Name: true})
		return
	}
	for i, f := range t.Type.Fields {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "  %s\t<%s>%s\n", f.Name, f.Type, requiredMark(&f))
		writeWrapped(w, f.Doc, "    ")
	}
	if u := t.Type.Unsupported; len(u) > 0 {
		// Where kubectl would list them: say they exist, and are refused.
		fmt.Fprintln(w, "\nNOT SUPPORTED (Kubernetes fields a manifest may not set here):")
		writeWrapped(w, strings.Join(u, ", "), "  ")
		if d := t.Type.Defaults; len(d) > 0 {
			defs := make([]string, 0, len(d))
			for f, v := range d {
				defs = append(defs, f+": "+v)
			}
			sort.Strings(defs)
			fmt.Fprintln(w, "\n  Accepted (and ignored) only at Kubernetes' default:")
			writeWrapped(w, strings.Join(defs, ", "), "  ")
		}
	}
	if d := t.Type.Dropped; len(d) > 0 {
		fmt.Fprintln(w, "\nIGNORED (written by Kubernetes' API server, as kubectl get -o yaml shows):")
		writeWrapped(w, strings.Join(d, ", "), "  ")
	}
}

// printTree lists the fields below typ, one level of indentation per
// level; seen stops a recursive type from recursing forever.
func printTree(w io.Writer, typ *schema.Type, indent string, seen map[string]bool) {
	for _, f := range typ.Fields {
		fmt.Fprintf(w, "%s%s\t<%s>%s\n", indent, f.Name, f.Type, requiredMark(&f))
		if sub := schema.TypeOf(f.Ref); sub != nil && !seen[sub.Name] {
			seen[sub.Name] = true
			printTree(w, sub, indent+"  ", seen)
			delete(seen, sub.Name)
		}
	}
}

func requiredMark(f *schema.Field) string {
	if f.Required {
		return " -required-"
	}
	return ""
}

// writeWrapped writes text's paragraphs word-wrapped at explainWidth, each
// line prefixed with indent, paragraphs separated by an empty line.
func writeWrapped(w io.Writer, text, indent string) {
	for i, para := range strings.Split(text, "\n\n") {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if strings.HasPrefix(para, " ") || strings.HasPrefix(para, "\t") {
			fmt.Fprintln(w, indent+strings.TrimSpace(para))
			continue
		}
		line := indent
		for _, word := range strings.Fields(para) {
			if line != indent && len(line)+1+len(word) > explainWidth {
				fmt.Fprintln(w, line)
				line = indent
			}
			if line != indent {
				line += " "
			}
			line += word
		}
		fmt.Fprintln(w, line)
	}
}

// completeExplainPath completes a kind, then field names after each dot.
func completeExplainPath(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	i := strings.LastIndex(toComplete, ".")
	if i < 0 {
		return withPrefix(kindNames(), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	parent, prefix := toComplete[:i], toComplete[i+1:]
	t, err := schema.Resolve(parent)
	if err != nil || t.Type == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, f := range t.Type.Fields {
		if strings.HasPrefix(f.Name, prefix) {
			out = append(out, parent+"."+f.Name)
		}
	}
	// NoSpace: the user may go on with another dot.
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
