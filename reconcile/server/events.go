package server

import (
	"container/list"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// The event list: the core's plan events, the reconciler's own (Synced,
// LoadFailed, node and cluster events) and the agents' (Pulling, Started,
// BackOff, Unhealthy…, read from their status streams by the leader).
//
// Repeats fold as Kubernetes' event correlator folds them: an event with
// the same object, UID, container, type, reason, message and source as one
// kept bumps that one's Count and Time instead of being added. The list
// keeps the maxEvents most recently seen distinct events; the fold index
// holds exactly those.
//
// Readers take no lock: every change publishes an immutable snapshot
// (atomic.Pointer), as the view is published after a plan. The events are
// not in the view itself because they change between plans (an agent's
// event needs no plan) and on followers too (membership), and because a
// view costs O(nodes) to publish while a snapshot is maxEvents pointers.

// maxEvents bounds the event list.
const maxEvents = 1000

// maxEventMessage bounds an event's message, in bytes, as Kubernetes bounds
// an event's note (1 kB); longer ones are cut.
const maxEventMessage = 1024

// storedEvent is one kept event. It is never written to once stored:
// a repeat replaces it with a copy.
type storedEvent struct {
	// id names the event while it is kept (a watch's key): a repeat keeps
	// it, an event dropped and seen again gets a new one.
	id uint64
	reconcile.Event
}

// eventKey is what makes two events repeats of one.
type eventKey struct {
	typ, source, object, uid, container, reason, message string
}

func keyOf(e *reconcile.Event) eventKey {
	return eventKey{e.Type, e.Source, e.Object, e.UID, e.Container, e.Reason, e.Message}
}

// eventRing keeps the last maxEvents distinct events, across terms.
type eventRing struct {
	mu     sync.Mutex
	max    int // maxEvents; tests lower it
	nextID uint64
	order  list.List // of *storedEvent, least recently seen first
	index  map[eventKey]*list.Element
	snap   atomic.Pointer[[]*storedEvent]
	// changed wakes event watches after every change.
	changed viewSignal
}

func newEventRing(max int) *eventRing {
	r := &eventRing{max: max, index: map[eventKey]*list.Element{}}
	r.snap.Store(&[]*storedEvent{})
	return r
}

// add records one of the reconciler's events, now; its type follows from
// its reason (api.EventType).
func (r *eventRing) add(object, reason, msg string) {
	r.append([]reconcile.Event{{Time: time.Now(), Object: object, Reason: reason, Message: msg}})
}

// append records events, folding repeats, and publishes the new list.
func (r *eventRing) append(evs []reconcile.Event) {
	if len(evs) == 0 {
		return
	}
	r.mu.Lock()
	for i := range evs {
		r.insertLocked(normalizeEvent(evs[i]))
	}
	out := make([]*storedEvent, 0, r.order.Len())
	for el := r.order.Front(); el != nil; el = el.Next() {
		out = append(out, el.Value.(*storedEvent))
	}
	r.snap.Store(&out)
	r.mu.Unlock()
	r.changed.notify()
}

func (r *eventRing) insertLocked(e reconcile.Event) {
	k := keyOf(&e)
	if el, ok := r.index[k]; ok {
		old := el.Value.(*storedEvent)
		folded := *old
		folded.Count += e.Count
		if e.Time.After(folded.Time) {
			folded.Time = e.Time
		}
		if e.FirstTime.Before(folded.FirstTime) {
			folded.FirstTime = e.FirstTime
		}
		el.Value = &folded
		r.order.MoveToBack(el)
		return
	}
	r.nextID++
	r.index[k] = r.order.PushBack(&storedEvent{id: r.nextID, Event: e})
	for r.order.Len() > r.max {
		front := r.order.Front()
		delete(r.index, keyOf(&front.Value.(*storedEvent).Event))
		r.order.Remove(front)
	}
}

// normalizeEvent fills in what a recorder may leave out: the type (from
// the reason), a count of one, the first time (the time), and cuts a long
// message.
func normalizeEvent(e reconcile.Event) reconcile.Event {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Type == "" {
		e.Type = api.EventType(e.Reason)
	}
	if e.Count <= 0 {
		e.Count = 1
	}
	if e.FirstTime.IsZero() || e.FirstTime.After(e.Time) {
		e.FirstTime = e.Time
	}
	if len(e.Message) > maxEventMessage {
		cut := maxEventMessage - len("…")
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut] + "…"
	}
	return e
}

// snapshot is the kept events, least recently seen first (read-only).
func (r *eventRing) snapshot() []*storedEvent { return *r.snap.Load() }

// list returns a copy of the kept events, least recently seen first.
func (r *eventRing) list() []reconcile.Event {
	snap := r.snapshot()
	out := make([]reconcile.Event, len(snap))
	for i, e := range snap {
		out[i] = e.Event
	}
	return out
}

// matching returns the events in namespace about object (see
// api.EventMatches), by last occurrence, oldest first; never nil.
func (r *eventRing) matching(namespace, object string) []api.Event {
	out := []api.Event{}
	for _, e := range r.snapshot() {
		w := api.Event(e.Event)
		if api.EventMatches(&w, namespace, object) {
			out = append(out, w)
		}
	}
	sortEvents(out)
	return out
}

// sortEvents orders events by last occurrence; the list's own order (by
// arrival) breaks ties, and stands when agents' clocks disagree by less.
func sortEvents(evs []api.Event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
}

// watchList is what an event watch follows: the matching events, each
// keyed by its id, so that a repeat is a MODIFIED event.
func (r *eventRing) watchList(namespace, object string, f *listFilter) func(*view) []keyed {
	return func(*view) []keyed {
		snap := r.snapshot()
		out := make([]keyed, 0, len(snap))
		for _, e := range snap {
			w := api.Event(e.Event)
			if api.EventMatches(&w, namespace, object) && f.event(&w) {
				out = append(out, keyed{key: strconv.FormatUint(e.id, 10), obj: w})
			}
		}
		return out
	}
}

// podEvents returns the events about one incarnation of a pod: the
// reconciler's about its name, and the agents' about its UID.
func (r *eventRing) podEvents(namespace, name, uid string) []api.Event {
	object := "Pod/" + namespace + "/" + name
	out := []api.Event{}
	for _, e := range r.snapshot() {
		if e.Object == object && (e.UID == "" || e.UID == uid) {
			out = append(out, api.Event(e.Event))
		}
	}
	sortEvents(out)
	return out
}

// Events returns the events in namespace ("" for all) about object ("" for
// any), as GET /v1/events answers.
func (s *Server) Events(namespace, object string) []api.Event {
	return s.events.matching(namespace, object)
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseFilter(q, filterEvents) // filter.go
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	ns, object := q.Get("namespace"), q.Get(api.QueryObject)
	if isWatch(r) {
		s.serveWatchOf(w, r, s.events.watchList(ns, object, f), s.events.changed.changed)
		return
	}
	evs := s.Events(ns, object)
	out := evs[:0]
	for i := range evs {
		if f.event(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	writeJSON(w, http.StatusOK, api.EventList{Events: out})
}

// eventCursor is how far the events of one agent have been read: its
// epoch (the agent process) and the last Seq taken.
type eventCursor struct {
	epoch string
	after uint64
}

// agentCursors are the event cursors by node. A watch that reconnects asks
// its agent for what follows its cursor, so an event is neither taken twice
// nor missed across reconnects. They live as long as the event list (across
// terms: a reconciler that leads again would otherwise take again what it
// has), not across restarts: a reconciler that starts, as a new leader
// after a failover, has no cursor and takes everything each agent keeps.
type agentCursors struct {
	mu sync.Mutex
	m  map[string]eventCursor
}

// cursor returns where node's next watch starts.
func (c *agentCursors) cursor(node string) (epoch string, after uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.m[node]
	return cur.epoch, cur.after
}

// prune forgets the cursors of nodes membership no longer knows.
func (c *agentCursors) prune(known map[string]member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := range c.m {
		if _, ok := known[n]; !ok {
			delete(c.m, n)
		}
	}
}

// ingestAgentEvents adds the events of an agent's status list that follow
// its cursor to the event list, with the node as their source, and moves
// the cursor. A list of another epoch than the cursor's (a restarted
// agent, or the first list of a reconciler with no cursor) holds every
// event the agent keeps: all are new.
func (s *Server) ingestAgentEvents(node string, l *agentapi.PodStatusList) {
	c := &s.cursors
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.m[node]
	if l.Epoch != cur.epoch {
		cur = eventCursor{epoch: l.Epoch}
	}
	var evs []reconcile.Event
	for _, e := range l.Events {
		if e.Seq != 0 && e.Seq <= cur.after {
			continue // already taken (a list resent on a reconnect)
		}
		cur.after = max(cur.after, e.Seq)
		evs = append(evs, reconcile.Event{Time: e.Time, Object: e.Object, UID: e.UID, Container: e.Container,
			Type: e.Type, Reason: e.Reason, Message: e.Message, Source: node})
	}
	if c.m == nil {
		c.m = map[string]eventCursor{}
	}
	c.m[node] = cur
	// Under c.mu: two watches of one node (an address change) cannot
	// both take an event.
	s.events.append(evs)
}
