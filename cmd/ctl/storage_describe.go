package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// claimDescription is what ctl describe pvc shows; -o json|yaml prints it
// whole.
type claimDescription struct {
	Claim api.Claim `json:"claim"`
	// Events are the reconciler's and agents' about the claim, oldest
	// first.
	Events []api.Event `json:"events"`
}

// describeClaim runs `ctl describe pvc NAME`: the claim from the
// reconciler, and its events (a failure to read them is a warning).
func (c *cli) describeClaim(ctx context.Context, cl *api.Client, namespace, name, output string) error {
	claim, err := cl.Claim(ctx, namespace, name)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: fmt.Errorf("persistentvolumeclaim %s/%s not found", namespace, name)}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	d := &claimDescription{Claim: *claim, Events: []api.Event{}}
	about := spec.KindPersistentVolumeClaim + "/" + namespace + "/" + name
	if evs, err := cl.EventsIn(ctx, namespace, about); err == nil {
		for _, e := range evs {
			// Filtered here too: a reconciler before the filters sends all.
			if api.EventMatches(&e, namespace, about) {
				d.Events = append(d.Events, e)
			}
		}
	} else {
		fmt.Fprintf(c.errOut, "warning: failed to read the events: %v\n", err)
	}
	return c.emit(output, d, func(w io.Writer) { printClaim(w, d) })
}

// printClaim prints a claim as kubectl describe pvc does, with Stevedore's
// lines: why it is Pending, the node holding its data, and where it is
// declared.
func printClaim(w io.Writer, d *claimDescription) {
	p := describer{w}
	c := d.Claim
	p.line(0, "Name", c.Name)
	p.line(0, "Namespace", c.Namespace)
	p.line(0, "StorageClass", c.StorageClass)
	p.line(0, "Status", c.Phase)
	if c.Reason != "" {
		p.line(0, "Reason", c.Reason)
	}
	if c.Message != "" {
		p.line(0, "Message", c.Message)
	}
	p.line(0, "Volume", c.Volume)
	printMap(p, "Labels", c.Labels)
	printMap(p, "Annotations", c.Annotations)
	if !c.Created.IsZero() {
		p.line(0, "CreationTimestamp", fmt.Sprintf("%s (%s ago)", stamp(c.Created), age(c.Created)))
	}
	capacity, modes := "", ""
	if c.Phase == "Bound" {
		capacity, modes = storageSize(c.Capacity), accessModes(c.AccessModes)
	}
	p.line(0, "Capacity", capacity)
	p.line(0, "Access Modes", modes)
	if c.Requested > 0 {
		p.line(0, "Requested", storageSize(c.Requested))
	}
	p.line(0, "VolumeMode", spec.VolumeModeFilesystem)
	var used []string
	for _, u := range c.UsedBy {
		// kubectl names the pods of the claim's namespace by name.
		used = append(used, strings.TrimPrefix(u, c.Namespace+"/"))
	}
	multiLine(p, "Used By", used)
	p.line(0, "Node", orNone(c.Node))
	if c.Owner != "" {
		// Made by a StatefulSet's volumeClaimTemplates: kubectl's
		// "Controlled By".
		p.line(0, "Controlled By", c.Owner)
	}
	p.line(0, "Source", sourceString(c.Source))
	if len(d.Events) == 0 {
		p.line(0, "Events", "<none>")
		return
	}
	printEvents(p, w, d.Events)
}
