package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// markdownFields is how many field changes an object's row of the summary
// table lists before "and N more".
const markdownFields = 3

// printDiffMarkdown writes the report as a pull-request comment (GitHub,
// GitLab and Gitea flavoured Markdown): a title and the totals, a table with
// one row per object, then a collapsible <details> section per object with
// its field changes, its pods and its unified diff in a ```diff block.
// The whole stays under maxBytes (0: no limit; GitHub refuses comments
// over 65,536 characters): table rows, then sections, that do not fit are
// left out with a note saying how many.
func printDiffMarkdown(w io.Writer, r *diffReport, maxLines, maxBytes int) {
	var b strings.Builder
	fmt.Fprintf(&b, "### Stevedore diff: %s → %s\n\n", mdCode(r.from), mdCode(r.to))
	if len(r.objects) == 0 {
		fmt.Fprintf(&b, "No changes: %s is up to date with %s.\n", mdCode(r.from), mdCode(r.to))
		io.WriteString(w, b.String())
		return
	}
	fmt.Fprintf(&b, "%s\n\n", r.totals())

	// What is left out is noted at the end; keep room for that note.
	const noteRoom = 300
	budget := func(n int) bool { return maxBytes <= 0 || b.Len()+n+noteRoom <= maxBytes }

	b.WriteString("| Action | Object | Changes | Pods |\n|---|---|---|---|\n")
	rows := 0
	for i := range r.objects {
		row := markdownRow(&r.objects[i])
		// The table may take half the budget: the sections are the diff.
		if maxBytes > 0 && b.Len()+len(row) > maxBytes/2 {
			break
		}
		b.WriteString(row)
		rows++
	}
	if rows < len(r.objects) {
		fmt.Fprintf(&b, "| | … and %d more object(s) | | |\n", len(r.objects)-rows)
	}
	b.WriteString("\n")

	sections := 0
	for i := range r.objects {
		s := markdownSection(&r.objects[i], maxLines)
		if !budget(len(s)) {
			break
		}
		b.WriteString(s)
		sections++
	}
	if left := len(r.objects) - sections; left > 0 {
		fmt.Fprintf(&b, "_%d of %d object diffs are not shown, to keep this comment under %d bytes: run `ctl diff` for all of them._\n",
			left, len(r.objects), maxBytes)
	}
	io.WriteString(w, b.String())
}

// markdownRow is an object's row of the summary table.
func markdownRow(o *diffObject) string {
	var fields []string
	for i, f := range o.Fields {
		if i == markdownFields {
			fields = append(fields, fmt.Sprintf("and %d more", len(o.Fields)-markdownFields))
			break
		}
		fields = append(fields, mdCode(f.Path)+": "+mdValues(f))
	}
	var pods []string
	if n := len(o.PodsStarted); n > 0 {
		pods = append(pods, fmt.Sprintf("+%d", n))
	}
	if n := len(o.PodsStopped); n > 0 {
		pods = append(pods, fmt.Sprintf("−%d", n))
	}
	return fmt.Sprintf("| %s | %s | %s | %s |\n", o.Action, mdCode(o.Key.String()), strings.Join(fields, "<br>"), strings.Join(pods, " "))
}

// markdownSection is an object's collapsible section.
func markdownSection(o *diffObject, maxLines int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<details>\n<summary>%s %s</summary>\n\n", o.Action, mdCode(o.Key.String()))
	for _, f := range o.Fields {
		fmt.Fprintf(&b, "- %s: %s\n", mdCode(f.Path), mdValues(f))
	}
	for _, l := range o.landings {
		fmt.Fprintf(&b, "- pod %s %s\n", mdCode(l.pod), mdLanding(l))
	}
	for _, p := range o.PodsStopped {
		fmt.Fprintf(&b, "- pod %s stops\n", mdCode(p))
	}
	if len(o.Fields)+len(o.landings)+len(o.PodsStopped) > 0 {
		b.WriteString("\n")
	}
	lines, more := diffLines(o, maxLines)
	if len(lines) > 0 {
		body := strings.Join(lines, "\n")
		fence := codeFence(body)
		fmt.Fprintf(&b, "%sdiff\n%s\n%s\n", fence, body, fence)
		if more > 0 {
			fmt.Fprintf(&b, "\n_… %d more line(s) not shown._\n", more)
		}
		b.WriteString("\n")
	}
	b.WriteString("</details>\n\n")
	return b.String()
}

// mdValues renders a field change's values as code ("3 → 5"), a missing
// side and a Secret's values as text.
func mdValues(f api.FieldChange) string {
	if f.Redacted {
		return mdText(fieldValues(f))
	}
	side := func(v string, missing bool) string {
		if missing {
			return "(none)"
		}
		return mdCode(v)
	}
	return side(f.Old, f.Op == api.FieldAdded) + " → " + side(f.New, f.Op == api.FieldRemoved)
}

// mdLanding says where a started pod lands.
func mdLanding(l podLanding) string {
	switch {
	case !l.known:
		return "starts"
	case l.node != "":
		return "starts on " + mdCode(l.node)
	case l.reason != "":
		return "stays Pending: " + mdText(l.reason)
	}
	return "stays Pending"
}

// mdCode renders s as inline code that nothing in s can break out of:
// HTML's <code>, escaped, with "|" spelled so a table cell keeps it.
func mdCode(s string) string {
	return "<code>" + mdEscape(s) + "</code>"
}

// mdText escapes s for Markdown text (and table cells).
func mdText(s string) string { return mdEscape(s) }

func mdEscape(s string) string {
	return mdReplacer.Replace(s)
}

// mdReplacer escapes what HTML or Markdown would read as markup; quotes
// only matter inside attributes, and none is written from values.
var mdReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "&#124;", "`", "&#96;", "*", "&#42;", "_", "&#95;", "[", "&#91;", "]", "&#93;")

// codeFence returns a fence longer than any run of backticks in body, so
// that a value holding ``` cannot end the block early.
func codeFence(body string) string {
	longest, run := 0, 0
	for _, c := range body {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}
