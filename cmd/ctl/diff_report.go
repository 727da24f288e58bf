package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// diffReport is a DiffResult arranged for printing, whatever the format:
// objects in a stable order (kind, namespace, name), each started pod with
// where it would land, and the totals.
type diffReport struct {
	from, to string // short commits, "nothing applied", "local DIR"
	// fromHash is the applied commit's full hash, for -o json; empty when
	// nothing is applied.
	fromHash                                    string
	objects                                     []diffObject
	created, changed, deleted, started, stopped int
}

// diffObject is one changed object.
type diffObject struct {
	api.ObjectChange
	landings []podLanding // one per PodsStarted, in order
}

// podLanding is a pod a change starts and where it would land.
type podLanding struct {
	pod       string
	node      string // empty: Pending (or unknown when known is false)
	reason    string // why it stays Pending
	known     bool   // the reconciler placed it (an old reconciler may not)
	placement api.PodPlacement
}

func newDiffReport(res *api.DiffResult) *diffReport {
	r := &diffReport{from: "nothing applied", to: "?"}
	if res.Applied != nil {
		r.from, r.fromHash = short(res.Applied.Hash), res.Applied.Hash
	}
	if res.Head != nil {
		r.to = short(res.Head.Hash)
	}
	placed := make(map[string]api.PodPlacement, len(res.Placements))
	for _, p := range res.Placements {
		placed[p.Pod] = p
	}
	for _, ch := range res.Changes {
		o := diffObject{ObjectChange: ch}
		for _, pod := range ch.PodsStarted {
			p, ok := placed[pod]
			l := podLanding{pod: pod, known: ok, placement: p, node: p.Node}
			if ok && p.Node == "" {
				l.reason = cmp.Or(p.Message, p.Reason)
			}
			o.landings = append(o.landings, l)
		}
		switch ch.Action {
		case api.ActionCreated:
			r.created++
		case api.ActionChanged:
			r.changed++
		case api.ActionDeleted:
			r.deleted++
		}
		r.started += len(ch.PodsStarted)
		r.stopped += len(ch.PodsStopped)
		r.objects = append(r.objects, o)
	}
	slices.SortStableFunc(r.objects, func(a, b diffObject) int {
		return cmp.Or(cmp.Compare(a.Key.Kind, b.Key.Kind), cmp.Compare(a.Key.Namespace, b.Key.Namespace), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	return r
}

// totals is the closing line: "3 object(s) changed: 1 created, …".
func (r *diffReport) totals() string {
	return fmt.Sprintf("%d object(s) changed: %d created, %d changed, %d deleted; %d pod(s) started, %d stopped.",
		len(r.objects), r.created, r.changed, r.deleted, r.started, r.stopped)
}

// where renders where a started pod would land: "→ node-2", "→ Pending:
// 0/3 nodes are available: …", or "" when the reconciler did not say.
func (l podLanding) where() string {
	switch {
	case !l.known:
		return ""
	case l.node != "":
		return "→ " + l.node
	case l.reason != "":
		return "→ Pending: " + l.reason
	}
	return "→ Pending"
}

// fieldLine renders one field change: "spec.replicas: 3 → 5", with
// "(none)" for the missing side of an added or removed field, and only
// that a Secret's value changed.
func fieldLine(f api.FieldChange) string {
	return f.Path + ": " + fieldValues(f)
}

func fieldValues(f api.FieldChange) string {
	if f.Redacted {
		switch f.Op {
		case api.FieldAdded:
			return "(value added)"
		case api.FieldRemoved:
			return "(value removed)"
		}
		return "(value changed)"
	}
	old, nu := f.Old, f.New
	if f.Op == api.FieldAdded {
		old = "(none)"
	}
	if f.Op == api.FieldRemoved {
		nu = "(none)"
	}
	return old + " → " + nu
}

// diffLines splits a unified diff into its lines (without "\n") and, for a
// created or deleted object past max lines (0: no limit), keeps the
// headers and the first max lines of the body and says how many more there
// are. A changed object's hunks are always kept whole: they are what
// changed.
func diffLines(o *diffObject, max int) (lines []string, more int) {
	d := strings.TrimRight(o.Diff, "\n")
	if d == "" {
		return nil, 0
	}
	lines = strings.Split(d, "\n")
	if o.Action == api.ActionChanged || max <= 0 {
		return lines, 0
	}
	head := 0 // the "---", "+++" and "@@" lines
	for head < min(3, len(lines)) && isDiffHeader(lines[head]) {
		head++
	}
	if len(lines)-head <= max {
		return lines, 0
	}
	return lines[:head+max], len(lines) - head - max
}

func isDiffHeader(l string) bool {
	return strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "+++ ") || strings.HasPrefix(l, "@@")
}
