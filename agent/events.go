package agent

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// DefaultEventsKept is how many events an EventLog keeps when
// Config.EventsKept is zero.
const DefaultEventsKept = 1000

// foldWindow and foldScan bound the folding of repeats: an event identical
// (object, UID, container, type, reason, message) to one recorded less than
// foldWindow before, among the last foldScan, is dropped.
const (
	foldWindow = time.Second
	foldScan   = 64
)

// EventLog numbers and keeps the events of one agent process (Pulling,
// Started, Killing, Unhealthy…), for the watch stream to carry to the
// reconciler. Events are numbered from 1 (Seq) under an Epoch drawn at
// random when the log is made, so that a consumer that remembers where it
// stopped can tell a restarted agent (numbering again from 1) from the
// same one. Only the last Kept events are kept: a consumer that falls
// further behind sees a gap in Seq.
//
// Record may be called from any goroutine and never blocks for long (the
// runtime calls it as its Config.Events); the rest is safe for concurrent
// use too.
type EventLog struct {
	epoch string
	max   int

	mu    sync.Mutex
	seq   uint64      // Seq of the last event recorded
	ring  []api.Event // kept events, oldest at head once full
	head  int
	wake  chan struct{}
	folds uint64
}

// NewEventLog returns an empty log keeping the last kept events (zero or
// less means DefaultEventsKept) under a new random epoch.
func NewEventLog(kept int) *EventLog {
	if kept <= 0 {
		kept = DefaultEventsKept
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &EventLog{epoch: hex.EncodeToString(b), max: kept, wake: make(chan struct{}, 1)}
}

// Epoch identifies this log (this agent process) in the watch stream.
func (l *EventLog) Epoch() string { return l.epoch }

// Record numbers e and keeps it, dropping the oldest kept event when full,
// and signals Changes. A repeat of an identical event within a second is
// folded into the first (not recorded). A zero Time is now.
func (l *EventLog) Record(e api.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	l.mu.Lock()
	if l.repeatLocked(e) {
		l.folds++
		l.mu.Unlock()
		return
	}
	l.seq++
	e.Seq = l.seq
	if len(l.ring) < l.max {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.head] = e
		l.head = (l.head + 1) % l.max
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// repeatLocked reports whether e repeats a recent kept event.
func (l *EventLog) repeatLocked(e api.Event) bool {
	n := len(l.ring)
	for i := 0; i < n && i < foldScan; i++ {
		p := &l.ring[(l.head+n-1-i)%n]
		if e.Time.Sub(p.Time) >= foldWindow {
			return false
		}
		if p.Object == e.Object && p.UID == e.UID && p.Container == e.Container &&
			p.Type == e.Type && p.Reason == e.Reason && p.Message == e.Message {
			return true
		}
	}
	return false
}

// Folded is how many repeats Record folded.
func (l *EventLog) Folded() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.folds
}

// Changes receives a value (coalesced) after events were recorded.
func (l *EventLog) Changes() <-chan struct{} { return l.wake }

// Last is the Seq of the last event recorded, 0 before any.
func (l *EventLog) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// After returns the kept events with a Seq above after, oldest first, and
// the Seq of the last event recorded (the cursor to pass next time).
func (l *EventLog) After(after uint64) ([]api.Event, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.ring)
	if after >= l.seq || n == 0 {
		return nil, l.seq
	}
	// Kept events have consecutive Seqs ending at l.seq.
	oldest := l.seq - uint64(n) + 1
	skip := 0
	if after >= oldest {
		skip = int(after - oldest + 1)
	}
	out := make([]api.Event, 0, n-skip)
	for i := skip; i < n; i++ {
		out = append(out, l.ring[(l.head+i)%n])
	}
	return out, l.seq
}

// cursor is where a watch stream starts: after the given Seq when the
// epoch is this log's and the Seq is one it numbered, else from the start
// (every kept event).
func (l *EventLog) cursor(epoch string, after uint64) uint64 {
	if epoch != l.epoch || after > l.Last() {
		return 0
	}
	return after
}
