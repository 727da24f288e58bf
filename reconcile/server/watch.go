package server

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// viewSignal tells watchers that a new view was published. It is a channel
// closed (and replaced) on every publish: publishing never blocks on a
// watcher, and a watcher that was busy writing sees only the latest view
// when it looks again, so a slow client gets the changes coalesced instead
// of queued.
type viewSignal struct {
	mu      sync.Mutex
	ch      chan struct{}
	stopped chan struct{} // closed when the API server shuts down
}

func (s *viewSignal) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
		s.stopped = make(chan struct{})
	}
}

// changed returns a channel closed at the next publish.
func (s *viewSignal) changed() <-chan struct{} {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// notify wakes every watcher.
func (s *viewSignal) notify() {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// stop ends every watch stream (http.Server.Shutdown waits for them
// otherwise). Safe to call twice.
func (s *viewSignal) stop() {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
}

func (s *viewSignal) done() <-chan struct{} {
	s.init()
	return s.stopped
}

// keyed is one object of a watched list and its identity.
type keyed struct {
	key string
	obj any
}

// isWatch reports whether a list request asks for a watch stream.
func isWatch(r *http.Request) bool {
	switch r.URL.Query().Get(api.QueryWatch) {
	case "", "0", "false":
		return false
	}
	return true
}

// watchWriteTimeout drops a client that has not read a batch of events in
// this long: it holds a goroutine and its last state, nothing else.
const watchWriteTimeout = time.Minute

// serveWatch streams the changes of list (what a GET of the list would
// answer, from a view) as newline-delimited api.WatchEvents: first an
// ADDED event per object and a BOOKMARK, then, after every published view,
// ADDED, MODIFIED and DELETED events for what changed. The stream ends when
// this reconciler stops leading (the client watches again, through any
// reconciler, from the new leader), when the server shuts down, or when
// the client goes away.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, list func(*view) []keyed) {
	s.serveWatchOf(w, r, list, nil)
}

// serveWatchOf is serveWatch for a list that also changes between
// publishes (the event list): wake, when set, returns a channel closed at
// its next change.
func (s *Server) serveWatchOf(w http.ResponseWriter, r *http.Request, list func(*view) []keyed, wake func() <-chan struct{}) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	enc := json.NewEncoder(w)
	prev := map[string]any{}
	first := true
	for {
		// Take the signal before the view: a publish in between wakes the
		// next wait at once instead of being missed.
		changed := s.viewChanged.changed()
		var more <-chan struct{} // nil: never
		if wake != nil {
			more = wake()
		}
		v := s.view.Load()
		if !v.leader {
			if s.ctrl.Load() == nil {
				return // no longer leading: the client watches again
			}
			// Leading, but the term's first view is not published yet.
		} else {
			_ = rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout))
			if err := writeChanges(enc, prev, list(v)); err != nil {
				return
			}
			if first {
				if err := enc.Encode(api.WatchEvent{Type: api.WatchBookmark}); err != nil {
					return
				}
				first = false
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
		select {
		case <-changed:
		case <-more:
		case <-r.Context().Done():
			return
		case <-s.viewChanged.done():
			return
		}
	}
}

// writeChanges writes the events that turn prev into cur, and updates prev.
func writeChanges(enc *json.Encoder, prev map[string]any, cur []keyed) error {
	seen := make(map[string]bool, len(cur))
	for _, k := range cur {
		seen[k.key] = true
		old, ok := prev[k.key]
		typ := api.WatchAdded
		if ok {
			// The views share what did not change, so this is mostly a
			// pointer comparison.
			if reflect.DeepEqual(old, k.obj) {
				continue
			}
			typ = api.WatchModified
		}
		if err := writeEvent(enc, typ, k.obj); err != nil {
			return err
		}
		prev[k.key] = k.obj
	}
	var gone []string
	for key := range prev {
		if !seen[key] {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		if err := writeEvent(enc, api.WatchDeleted, prev[key]); err != nil {
			return err
		}
		delete(prev, key)
	}
	return nil
}

func writeEvent(enc *json.Encoder, typ string, obj any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return enc.Encode(api.WatchEvent{Type: typ, Object: b})
}

// The lists a watch can follow, as their GET answers them.

func watchPods(namespace string, f *listFilter) func(*view) []keyed {
	return func(v *view) []keyed {
		out := make([]keyed, 0, len(v.views))
		for i := range v.views {
			if p := &v.views[i]; namespace == "" || p.Namespace == namespace {
				wp := wirePod(*p)
				if !f.pod(&wp) {
					continue
				}
				key := p.Namespace + "/" + p.Name
				if p.Terminating() {
					// Beside the current incarnation of the same name.
					key += "@" + p.UID
				}
				out = append(out, keyed{key: key, obj: f.view(wp)})
			}
		}
		return out
	}
}

func watchWorkloads(namespace string, f *listFilter) func(*view) []keyed {
	return func(v *view) []keyed {
		out := make([]keyed, 0, len(v.workloads))
		for _, wl := range v.workloads {
			if a := api.Workload(wl); (namespace == "" || wl.Namespace == namespace) && f.workload(&a, v.objectLabels(wl.Kind, wl.Namespace, wl.Name)) {
				out = append(out, keyed{key: wl.Kind + "/" + wl.Namespace + "/" + wl.Name, obj: a})
			}
		}
		return out
	}
}

func watchNodes(v *view) []keyed {
	nodes := v.nodeTable()
	out := make([]keyed, len(nodes))
	for i, n := range nodes {
		out[i] = keyed{key: n.Name, obj: n}
	}
	return out
}
