package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// watchRetry is how long ctl waits before watching again after the
// reconciler ended a stream (it stopped leading, or restarts); tests
// shorten it.
var watchRetry = time.Second

// watcher prints what a watch stream says, in the chosen format.
type watcher struct {
	c     *cli
	res   string
	names map[string]bool
	f     outputFormat
	o     getOptions
	fe    *fetcher
	// known is the last state printed of every object (wire JSON), so that
	// a stream opened again prints only what changed meanwhile.
	known  map[string][]byte
	widths []int // the table's column widths once its header is printed
	// columnsHeader is set once custom-columns printed its header.
	columnsHeader bool
	topts         tableOpts
	// about is the object an events watch follows (--for), "" for any.
	about string
}

// watchGet lists (unless --watch-only) and then prints every change the
// reconciler streams (GET ...?watch=1), until ctx ends. A stream the
// reconciler closes (it stopped leading) is opened again, through the
// reconcilers of --server, and only what changed meanwhile is printed.
func (c *cli) watchGet(ctx context.Context, cl *api.Client, res, ns string, names []string, f outputFormat, o getOptions, about string) error {
	w := &watcher{c: c, res: res, f: f, o: o, known: map[string][]byte{}, about: about,
		topts: tableOpts{withNS: o.all, wide: f.kind == outWide, rcAlias: res == resWorkloads}}
	if len(names) > 0 {
		w.names = map[string]bool{}
		for _, n := range names {
			w.names[n] = true
		}
	}
	w.fe = &fetcher{cl: cl, ns: ns, needKube: f.structured() || o.sortBy != "", needDecls: f.structured() || o.selector != "", warn: c.errOut}
	path := api.PathPods
	switch res {
	case resNodes:
		path = api.PathNodes
	case resWorkloads, resRCs, resStatefulSets, resReplicaSets, resDaemonSets:
		path = api.PathDeployments
	case resServices:
		path = api.PathServices
	case resEndpoints:
		path = api.PathEndpoints
	case resEvents:
		path = api.PathEvents
	}
	first := true
	var failingSince time.Time
	for {
		err := w.stream(ctx, cl, path, ns, first)
		if ctx.Err() != nil {
			return nil
		}
		var ee *exitErr
		if errors.As(err, &ee) {
			return err
		}
		if err == nil || errors.Is(err, io.EOF) {
			first, failingSince = false, time.Time{}
		} else {
			var se *api.StatusError
			if errors.As(err, &se) && se.StatusCode != 503 {
				return &exitErr{code: exitError, err: err}
			}
			if failingSince.IsZero() {
				failingSince = time.Now()
				// Say once why nothing is printed yet, as the retries
				// may last the whole --request-timeout.
				fmt.Fprintf(c.errOut, "watch: %v; retrying every %s for up to %s\n", err, watchRetry, c.timeout)
			}
			if c.timeout > 0 && time.Since(failingSince) > c.timeout {
				return &exitErr{code: exitError, err: fmt.Errorf("failed to watch for %s: %w", c.timeout, err)}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watchRetry):
		}
	}
}

// stream follows one watch stream until it ends.
func (w *watcher) stream(ctx context.Context, cl *api.Client, path, ns string, first bool) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// --request-timeout bounds the wait for the stream to open and send its
	// first event, not the watch.
	opened := func() {}
	if w.c.timeout > 0 {
		t := time.AfterFunc(w.c.timeout, cancel)
		opened = func() { t.Stop() }
	}
	var s *api.WatchStream
	var err error
	if w.res == resEvents {
		s, err = cl.WatchEvents(sctx, ns, w.about)
	} else {
		s, err = cl.Watch(sctx, path, ns)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	var initial []api.WatchEvent
	inInitial := true
	seen := map[string]bool{}
	for {
		ev, err := s.Next()
		opened()
		if err != nil {
			return err
		}
		if ev.Type == "" {
			// A reconciler from before watch streams answers with the
			// plain list.
			return &exitErr{code: exitError, err: fmt.Errorf("the reconciler at %s does not stream watch events (it answered %s?watch=1 with a list): upgrade it", cl.BaseURL(), path)}
		}
		if inInitial {
			if ev.Type != api.WatchBookmark {
				initial = append(initial, ev)
				continue
			}
			inInitial = false
			if err := w.printInitial(ctx, initial, first, seen); err != nil {
				return err
			}
			continue
		}
		if ev.Type == api.WatchBookmark {
			continue
		}
		it, err := w.decode(ctx, ev)
		if err != nil {
			return err
		}
		if ev.Type == api.WatchDeleted {
			delete(w.known, it.key())
		} else {
			w.known[it.key()] = ev.Object
		}
		if w.wanted(it) {
			if err := w.printEvent(ev.Type, it); err != nil {
				return err
			}
		}
	}
}

func (it *item) key() string { return it.kind + "/" + it.namespace + "/" + it.name }

// printInitial prints the list the stream opened with: all of it the first
// time (as a table, sorted by --sort-by), then only what changed while no
// stream was open.
func (w *watcher) printInitial(ctx context.Context, evs []api.WatchEvent, first bool, seen map[string]bool) error {
	var items []*item
	type change struct {
		typ string
		it  *item
	}
	var changes []change
	for _, ev := range evs {
		it, err := w.decode(ctx, ev)
		if err != nil {
			return err
		}
		k := it.key()
		seen[k] = true
		old, had := w.known[k]
		w.known[k] = ev.Object
		if first {
			items = append(items, it)
		} else if !had {
			changes = append(changes, change{api.WatchAdded, it})
		} else if string(old) != string(ev.Object) {
			changes = append(changes, change{api.WatchModified, it})
		}
	}
	if !first {
		for k, raw := range w.known {
			if !seen[k] {
				it, err := w.decode(ctx, api.WatchEvent{Type: api.WatchDeleted, Object: raw})
				if err != nil {
					return err
				}
				delete(w.known, k)
				changes = append(changes, change{api.WatchDeleted, it})
			}
		}
		for _, ch := range changes {
			if w.wanted(ch.it) {
				if err := w.printEvent(ch.typ, ch.it); err != nil {
					return err
				}
			}
		}
		return nil
	}
	items, err := selectWanted(items, w)
	if err != nil {
		return err
	}
	if w.res == resEvents {
		sortEventItems(items)
	}
	if w.o.sortBy != "" {
		if err := sortItems(items, w.o.sortBy); err != nil {
			return err
		}
	}
	if w.o.watchOnly {
		return nil
	}
	switch w.f.kind {
	case outTable, outWide:
		if len(items) == 0 {
			return nil // the header comes with the first row
		}
		w.topts.nodeErrors = anyNodeError(items)
		header, rows := tableRows(kindOf(w.res), items, w.topts)
		w.widths = columnWidths(header, rows)
		fmt.Fprint(w.c.out, formatRow(w.widths, header))
		for _, r := range rows {
			fmt.Fprint(w.c.out, formatRow(w.widths, r))
		}
		return nil
	}
	for _, it := range items {
		if err := w.printEvent(api.WatchAdded, it); err != nil {
			return err
		}
	}
	return nil
}

func selectWanted(items []*item, w *watcher) ([]*item, error) {
	var out []*item
	for _, it := range items {
		if it.kind == "" {
			continue // not of the watched type
		}
		if w.names == nil || w.names[it.name] {
			out = append(out, it)
		}
	}
	return filterItems(out, w.o.selector, w.o.fieldSelector)
}

// wanted applies the names and selectors to one object.
func (w *watcher) wanted(it *item) bool {
	out, err := selectWanted([]*item{it}, w)
	return err == nil && len(out) == 1
}

// decode turns an event's wire object into an item of the watched type.
func (w *watcher) decode(ctx context.Context, ev api.WatchEvent) (*item, error) {
	bad := func(err error) error { return fmt.Errorf("failed to decode a watch event: %w", err) }
	switch w.res {
	case resPods:
		var p api.Pod
		if err := json.Unmarshal(ev.Object, &p); err != nil {
			return nil, bad(err)
		}
		var hosts map[string]string
		if w.fe.needKube {
			hosts = w.fe.hostIPs(ctx)
		}
		return podItem(p, hosts), nil
	case resNodes:
		var n api.Node
		if err := json.Unmarshal(ev.Object, &n); err != nil {
			return nil, bad(err)
		}
		return nodeItem(n), nil
	case resServices:
		var s api.Service
		if err := json.Unmarshal(ev.Object, &s); err != nil {
			return nil, bad(err)
		}
		return serviceItem(s), nil
	case resEndpoints:
		var e api.Endpoints
		if err := json.Unmarshal(ev.Object, &e); err != nil {
			return nil, bad(err)
		}
		return endpointsItem(e), nil
	case resEvents:
		var e api.Event
		if err := json.Unmarshal(ev.Object, &e); err != nil {
			return nil, bad(err)
		}
		it := eventItem(e)
		if !api.EventMatches(&e, w.fe.ns, w.about) {
			it.kind = "" // a reconciler before the filters sends all: never wanted
		}
		return it, nil
	}
	var wl api.Workload
	if err := json.Unmarshal(ev.Object, &wl); err != nil {
		return nil, bad(err)
	}
	it := workloadItem(wl, w.fe.decls(ctx))
	if !workloadOfResource(w.res, wl.Kind) {
		it.name = "" // not of the watched type: never wanted
		it.kind = ""
	}
	return it, nil
}

// printEvent prints one change: a table row, or the object (or, with
// --output-watch-events, the event) in the structured format.
func (w *watcher) printEvent(typ string, it *item) error {
	if it.kind == "" {
		return nil
	}
	if it.kind == kindEvent && typ == api.WatchDeleted && !w.o.watchEvents {
		// An event dropped from the reconciler's bounded list: nothing
		// happened (kubectl's rows would repeat an old event).
		return nil
	}
	out := w.c.out
	switch w.f.kind {
	case outTable, outWide:
		_, rows := tableRows(kindOf(w.res), []*item{it}, w.topts)
		if w.widths == nil {
			header, _ := tableRows(kindOf(w.res), nil, w.topts)
			w.widths = columnWidths(header, rows)
			fmt.Fprint(out, formatRow(w.widths, header))
		}
		fmt.Fprint(out, formatRow(w.widths, rows[0]))
		return nil
	case "custom-columns":
		header := !w.columnsHeader
		w.columnsHeader = true
		return writeColumns(out, w.f.columns, []*item{it}, header)
	case "name":
		return writeStructured(out, w.f, []*item{it}, true)
	}
	var v any = it.kube
	if w.o.watchEvents {
		v = struct {
			Type   string `json:"type"`
			Object any    `json:"object"`
		}{typ, it.kube}
	}
	switch w.f.kind {
	case outJSON:
		return writeJSON(out, v)
	case outYAML:
		fmt.Fprintln(out, "---")
		return writeYAML(out, v)
	case "jsonpath":
		g, err := toGeneric(v)
		if err != nil {
			return err
		}
		if err := executeJSONPath(out, w.f.jp, g); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	return nil
}
