package main

import (
	"encoding/json"
	"io"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// diffJSON is what `ctl diff -o json` prints; docs/ctl.md documents every
// field. It is ctl's own document, stable for scripts: fields may be added,
// none removed or renamed.
type diffJSON struct {
	APIVersion string `json:"apiVersion"` // "stevedore.dev/v1"
	Kind       string `json:"kind"`       // "Diff"
	// From and To are the compared revisions: full commit hashes, To
	// "local DIR" for --local; From is empty when nothing is applied yet.
	From    string           `json:"from"`
	To      string           `json:"to"`
	Summary diffJSONSummary  `json:"summary"`
	Objects []diffJSONObject `json:"objects"`
}

type diffJSONSummary struct {
	Objects     int `json:"objects"`
	Created     int `json:"created"`
	Changed     int `json:"changed"`
	Deleted     int `json:"deleted"`
	PodsStarted int `json:"podsStarted"`
	PodsStopped int `json:"podsStopped"`
}

type diffJSONObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Action    string `json:"action"` // created, changed, deleted
	// Fields are a changed object's changed fields (path, op, old, new,
	// redacted), as the reconciler's API sends them.
	Fields []api.FieldChange `json:"fields"`
	// Diff is the whole unified diff, never cut.
	Diff        string        `json:"diff"`
	PodsStarted []diffJSONPod `json:"podsStarted"`
	PodsStopped []string      `json:"podsStopped"`
}

// diffJSONPod is a pod a change starts: the node the dry run places it on,
// or, Pending, the reason and the scheduler's message (all three empty
// when the reconciler did not say).
type diffJSONPod struct {
	Pod     string `json:"pod"`
	Node    string `json:"node,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

func printDiffJSON(w io.Writer, r *diffReport, res *api.DiffResult) error {
	out := diffJSON{APIVersion: "stevedore.dev/v1", Kind: "Diff", From: r.fromHash, Objects: []diffJSONObject{},
		Summary: diffJSONSummary{Objects: len(r.objects), Created: r.created, Changed: r.changed, Deleted: r.deleted, PodsStarted: r.started, PodsStopped: r.stopped}}
	if res.Head != nil {
		out.To = res.Head.Hash
	}
	for _, o := range r.objects {
		j := diffJSONObject{Kind: o.Key.Kind, Namespace: o.Key.Namespace, Name: o.Key.Name, Action: o.Action,
			Fields: o.Fields, Diff: o.Diff, PodsStarted: []diffJSONPod{}, PodsStopped: o.PodsStopped}
		if j.Fields == nil {
			j.Fields = []api.FieldChange{}
		}
		if j.PodsStopped == nil {
			j.PodsStopped = []string{}
		}
		for _, l := range o.landings {
			j.PodsStarted = append(j.PodsStarted, diffJSONPod{Pod: l.pod, Node: l.node, Reason: l.placement.Reason, Message: l.placement.Message})
		}
		out.Objects = append(out.Objects, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
