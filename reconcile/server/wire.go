package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// This file is where the core's views become reconcile/api's wire types,
// and where errors become answers. The core's views carry no JSON tags;
// reconcile/api does not import the core. The wire types mirror the views
// field for field, so each conversion below is a Go conversion, which the
// compiler refuses the day the two shapes part: a new field of the core
// then needs a decision about the wire, not a silent omission.

// wirePod is a pod view as the API shows it.
func wirePod(v reconcile.PodView) api.Pod {
	return api.Pod{PodView: api.PodView(v)}
}

// wireWorkloads converts workload views; nil stays nil.
func wireWorkloads(ws []reconcile.WorkloadView) []api.Workload {
	if ws == nil {
		return nil
	}
	out := make([]api.Workload, len(ws))
	for i, w := range ws {
		out[i] = api.Workload(w)
	}
	return out
}

// wireEvents converts events; the answer is never nil, so that it encodes
// as [], not null.
func wireEvents(evs []reconcile.Event) []api.Event {
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		out[i] = api.Event(e)
	}
	return out
}

// wireChanges converts a diff; the answer is never nil.
func wireChanges(chs []reconcile.ObjectChange) []api.ObjectChange {
	out := make([]api.ObjectChange, len(chs))
	for i, ch := range chs {
		out[i] = wireChange(ch)
	}
	return out
}

// wireChange converts one object change of the core to the wire.
func wireChange(ch reconcile.ObjectChange) api.ObjectChange {
	w := api.ObjectChange{Key: ch.Key, Action: ch.Action, Diff: ch.Diff, PodsStarted: ch.PodsStarted, PodsStopped: ch.PodsStopped}
	for _, f := range ch.Fields {
		w.Fields = append(w.Fields, api.FieldChange(f))
	}
	return w
}

// Errors. A handler answers an error with errs.WriteHTTP: the error's
// category (internal/errs, containerd/errdefs) gives the status and the
// code, in the one table of internal/errs. These build errors of the
// categories the reconciler answers with, keeping msg as the message.

func errInvalid(msg string) error     { return errs.Mark(errors.New(msg), errs.ErrInvalid) }
func errNotFound(msg string) error    { return errs.Mark(errors.New(msg), errs.ErrNotFound) }
func errUnavailable(msg string) error { return errs.Mark(errors.New(msg), errs.ErrUnavailable) }

// writeUpstreamError answers a failure of something this reconciler
// depends on (the Git remote, an agent) with 502
// Bad Gateway and the code of err's category. Not 503: a client that knows
// several reconcilers fails over on 503, and another reconciler would only
// reach the same remote, agent or leader.
func writeUpstreamError(w http.ResponseWriter, err error) {
	errs.WriteHTTPStatus(w, http.StatusBadGateway, err)
}

// writeNotScheduled answers a request for the logs of a pod without a
// node: unavailable (not yet), but with 409 Conflict rather than 503, since
// the pod's state, not this reconciler, refuses it, and a client that knows
// several reconcilers fails over on 503 to ask each one in turn for an
// answer that is the same everywhere.
func writeNotScheduled(w http.ResponseWriter, key string) {
	errs.WriteHTTPStatus(w, http.StatusConflict, errUnavailable(fmt.Sprintf("pod %s is not scheduled", key)))
}
