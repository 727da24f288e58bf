package agent

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/agent/api"
)

func ev(reason, msg string) api.Event {
	return api.Event{Object: "Pod/default/a", UID: "uid-a", Container: "c", Type: api.EventNormal, Reason: reason, Message: msg}
}

func seqs(evs []api.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

func TestEventLogNumbersBoundsAndFolds(t *testing.T) {
	l := NewEventLog(3)
	if got, last := l.After(0); len(got) != 0 || last != 0 {
		t.Fatalf("empty log: %v, %d", got, last)
	}
	for i := 1; i <= 2; i++ {
		l.Record(ev(api.EventStarted, fmt.Sprint(i)))
	}
	if got, last := l.After(0); fmt.Sprint(seqs(got)) != "[1 2]" || last != 2 || got[0].Message != "1" || got[0].Time.IsZero() {
		t.Fatalf("After(0) = %+v, %d", got, last)
	}
	// Past the bound: the oldest go, numbering goes on.
	for i := 3; i <= 5; i++ {
		l.Record(ev(api.EventStarted, fmt.Sprint(i)))
	}
	for after, want := range map[uint64]string{0: "[3 4 5]", 1: "[3 4 5]", 3: "[4 5]", 4: "[5]", 5: "[]"} {
		got, last := l.After(after)
		if fmt.Sprint(seqs(got)) != want && !(want == "[]" && len(got) == 0) || last != 5 {
			t.Errorf("After(%d) = %v, %d; want %s, 5", after, seqs(got), last, want)
		}
	}
	// An identical event within a second is folded; a different one, or
	// the same a second later, is not.
	l.Record(ev(api.EventStarted, "5"))
	l.Record(ev(api.EventStarted, "5"))
	if l.Last() != 5 || l.Folded() != 2 {
		t.Errorf("repeats: last %d, folded %d; want 5, 2", l.Last(), l.Folded())
	}
	later := ev(api.EventStarted, "5")
	later.Time = time.Now().UTC().Add(2 * time.Second)
	l.Record(later)
	if l.Last() != 6 {
		t.Errorf("a repeat a second later was folded")
	}
	// Cursors: another epoch, or a Seq never numbered, start over.
	for _, tc := range []struct {
		epoch string
		after uint64
		want  uint64
	}{{l.Epoch(), 4, 4}, {"other", 4, 0}, {"", 4, 0}, {l.Epoch(), 99, 0}} {
		if got := l.cursor(tc.epoch, tc.after); got != tc.want {
			t.Errorf("cursor(%q, %d) = %d, want %d", tc.epoch, tc.after, got, tc.want)
		}
	}
	if NewEventLog(0).Epoch() == l.Epoch() {
		t.Error("two logs share an epoch")
	}
}

// TestWatchCarriesEvents: the watch stream's first list carries the events
// after the cursor (all of them for another epoch), each later list those
// recorded since the one before, and a new event alone wakes the stream.
func TestWatchCarriesEvents(t *testing.T) {
	rt := newFakeRuntime()
	cfg := testConfig(t, "n1")
	cfg.WatchHeartbeat = time.Hour // only changes wake the stream
	log := NewEventLog(100)
	a := startAgent(t, cfg, rt, WithEvents(log))
	c := api.NewClient(a.APIURL(), nil)
	log.Record(ev(api.EventPulled, "one"))
	log.Record(ev(api.EventCreated, "two"))

	watch := func(epoch string, after uint64) (<-chan api.PodStatusList, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ch := make(chan api.PodStatusList, 100)
		go c.WatchFrom(ctx, epoch, after, func(l api.PodStatusList) { ch <- l })
		return ch, cancel
	}
	next := func(ch <-chan api.PodStatusList) api.PodStatusList {
		t.Helper()
		select {
		case l := <-ch:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("no list")
		}
		return api.PodStatusList{}
	}
	// nextWith skips lists that carry no events (a wake-up that raced
	// with the connect) until one does.
	nextWith := func(ch <-chan api.PodStatusList) api.PodStatusList {
		t.Helper()
		for {
			if l := next(ch); len(l.Events) > 0 {
				return l
			}
		}
	}

	ch, cancel := watch("", 0)
	defer cancel()
	first := next(ch)
	if first.Epoch != log.Epoch() || fmt.Sprint(seqs(first.Events)) != "[1 2]" {
		t.Fatalf("first list: epoch %q events %v; want %q [1 2]", first.Epoch, seqs(first.Events), log.Epoch())
	}
	log.Record(ev(api.EventStarted, "three"))
	if l := nextWith(ch); fmt.Sprint(seqs(l.Events)) != "[3]" || l.Events[0].Message != "three" {
		t.Fatalf("after a new event: %v", seqs(l.Events))
	}
	// A status change with no new event carries none.
	rt.setStatus([]api.PodStatus{{UID: "u", Namespace: "default", Name: "a", Phase: api.PodRunning}})
	for {
		l := next(ch)
		if len(l.Events) != 0 {
			t.Fatalf("an event sent twice: %v", seqs(l.Events))
		}
		if len(l.Pods) == 1 {
			break
		}
	}

	// Reconnecting with the cursor: only what came after it.
	ch2, cancel2 := watch(log.Epoch(), 2)
	defer cancel2()
	if l := next(ch2); fmt.Sprint(seqs(l.Events)) != "[3]" {
		t.Errorf("resumed at 2: %v", seqs(l.Events))
	}
	// Another agent process's cursor: everything kept.
	ch3, cancel3 := watch("0123456789abcdef", 2)
	defer cancel3()
	if l := next(ch3); fmt.Sprint(seqs(l.Events)) != "[1 2 3]" {
		t.Errorf("foreign epoch: %v", seqs(l.Events))
	}
	// GET /v1/pods names the epoch and carries no events.
	if l, err := c.Pods(ctxT(t)); err != nil || l.Epoch != log.Epoch() || len(l.Events) != 0 {
		t.Errorf("GET pods: epoch %q events %d err %v", l.Epoch, len(l.Events), err)
	}
	resp, err := http.Get(a.APIURL() + api.PathPodsWatch + "?epoch=x&eventsAfter=-1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad eventsAfter: status %d, want 400", resp.StatusCode)
	}
}
