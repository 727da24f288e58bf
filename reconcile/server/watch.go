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
	st := newWatchState()
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
			if err := st.write(enc, list(v)); err != nil {
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

// watchState is what a watch stream has sent: by key, the object it last
// sent, to compare the next view's with. It is kept across publishes
// (nothing is allocated per publish but the events written and the
// objects first seen).
type watchState struct {
	round uint64
	sent  map[string]*sentObj
}

type sentObj struct {
	obj   any
	round uint64 // the last round that listed it
}

func newWatchState() *watchState { return &watchState{sent: map[string]*sentObj{}} }

// write writes the events that turn what was sent into cur, and
// remembers cur.
func (st *watchState) write(enc *json.Encoder, cur []keyed) error {
	st.round++
	listed := 0
	for _, k := range cur {
		typ := api.WatchAdded
		s := st.sent[k.key]
		if s != nil {
			if s.round != st.round {
				s.round = st.round
				listed++
			}
			// The views share what did not change (and the pods' wire
			// forms are carried from view to view: podwire.go), so this is
			// mostly a pointer comparison.
			if identical(s.obj, k.obj) {
				continue
			}
			if reflect.DeepEqual(s.obj, k.obj) {
				s.obj = k.obj // the same pointer next time
				continue
			}
			typ = api.WatchModified
		} else {
			s = &sentObj{round: st.round}
			st.sent[k.key] = s
			listed++
		}
		if err := writeEvent(enc, typ, k.obj); err != nil {
			return err
		}
		s.obj = k.obj
	}
	if listed == len(st.sent) {
		return nil
	}
	var gone []string
	for key, s := range st.sent {
		if s.round != st.round {
			gone = append(gone, key)
		}
	}
	sort.Strings(gone)
	for _, key := range gone {
		if err := writeEvent(enc, api.WatchDeleted, st.sent[key].obj); err != nil {
			return err
		}
		delete(st.sent, key)
	}
	return nil
}

// identical reports whether a and b are the same pointer (a pointer
// compared to itself needs no reflect.DeepEqual, which allocates).
func identical(a, b any) bool {
	if p, ok := a.(*api.Pod); ok { // the long lists: no reflect for them
		q, ok := b.(*api.Pod)
		return ok && p == q
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Pointer && va.Type() == vb.Type() && va.UnsafePointer() == vb.UnsafePointer()
}

func writeEvent(enc *json.Encoder, typ string, obj any) error {
	b, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return enc.Encode(api.WatchEvent{Type: typ, Object: b})
}

// The lists a watch can follow, as their GET answers them.

// watchPods filters the pods of each view first, on the core's views, and
// then takes the wire form of those it keeps from the view's shared ones.
// The list is made in the same buffer at every publish: the stream has
// written the last one before it asks for the next.
func watchPods(c *podWireCache, namespace string, f *listFilter) func(*view) []keyed {
	var buf []keyed
	return func(v *view) []keyed {
		var wires []*podWire
		out := buf[:0]
		for i := range v.views {
			if p := &v.views[i]; (namespace == "" || p.Namespace == namespace) && f.pod(p) {
				if wires == nil {
					wires = v.wirePods(c)
				}
				w := wires[i]
				out = append(out, keyed{key: w.key, obj: w.obj(f)})
			}
		}
		clear(out[len(out):cap(out)]) // what the last list held beyond this one's
		buf = out
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
