package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// ANSI colours, as git diff and kubectl diff (through diff --color) use
// them.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// palette colours text, or leaves it alone when colour is off.
type palette bool

func (p palette) paint(code, s string) string {
	if !p || s == "" {
		return s
	}
	return code + s + ansiReset
}

// diffLine colours one line of a unified diff.
func (p palette) diffLine(l string) string {
	switch {
	case strings.HasPrefix(l, "--- "), strings.HasPrefix(l, "+++ "):
		return p.paint(ansiBold, l)
	case strings.HasPrefix(l, "@@"):
		return p.paint(ansiCyan, l)
	case strings.HasPrefix(l, "-"):
		return p.paint(ansiRed, l)
	case strings.HasPrefix(l, "+"):
		return p.paint(ansiGreen, l)
	}
	return l
}

func (p palette) action(a string) string {
	switch a {
	case api.ActionCreated:
		return p.paint(ansiGreen, a)
	case api.ActionDeleted:
		return p.paint(ansiRed, a)
	}
	return p.paint(ansiYellow, a)
}

// printDiffText writes the report for a reader: per object its action and
// key, its changed fields, the pods it starts (with where they land) and
// stops, then its unified YAML diff; created and deleted objects past
// maxLines lines are cut.
func printDiffText(w io.Writer, r *diffReport, color palette, maxLines int) {
	if len(r.objects) == 0 {
		fmt.Fprintf(w, "No changes: %s is up to date with %s.\n", r.from, r.to)
		return
	}
	fmt.Fprintf(w, "Changes from %s to %s:\n", r.from, r.to)
	for i := range r.objects {
		o := &r.objects[i]
		fmt.Fprintf(w, "\n%s %s\n", color.action(o.Action), color.paint(ansiBold, o.Key.String()))
		for _, f := range o.Fields {
			fmt.Fprintf(w, "  %s\n", fieldLine(f))
		}
		for _, l := range o.landings {
			fmt.Fprintf(w, "  + pod %s%s\n", l.pod, prefixed(" ", l.where()))
		}
		for _, p := range o.PodsStopped {
			fmt.Fprintf(w, "  - pod %s\n", p)
		}
		lines, more := diffLines(o, maxLines)
		for _, l := range lines {
			fmt.Fprintln(w, color.diffLine(l))
		}
		if more > 0 {
			fmt.Fprintf(w, "… %d more line(s) not shown (--max-lines %d)\n", more, maxLines)
		}
	}
	fmt.Fprintf(w, "\n%s\n", r.totals())
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}
