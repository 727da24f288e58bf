package naming

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
)

// Notifier hands the latest Snapshot to every hook, coalescing: Update
// never blocks, a hook busy with an older snapshot has it superseded (its
// context is cancelled with ErrSuperseded) and gets only the latest next,
// and a snapshot whose Services equal the last one's is dropped. The
// leader runs one Notifier per term (Run with the term's context), so a
// new leader sends its first set unconditionally.
type Notifier struct {
	log     *slog.Logger
	workers []*worker

	mu   sync.Mutex
	last *Snapshot // the last snapshot handed to the hooks
}

// worker delivers snapshots to one hook, from one goroutine.
type worker struct {
	hook Hook
	name string
	wake chan struct{} // capacity 1: a pending snapshot is waiting

	mu      sync.Mutex
	pending *Snapshot
	// cancel supersedes the Notify in flight; nil while idle.
	cancel context.CancelCauseFunc
}

// NewNotifier returns a Notifier of hooks; log nil means slog.Default().
func NewNotifier(hooks []Hook, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	n := &Notifier{log: log}
	for _, h := range hooks {
		name := fmt.Sprintf("%T", h)
		if s, ok := h.(fmt.Stringer); ok {
			name = s.String()
		}
		n.workers = append(n.workers, &worker{hook: h, name: name, wake: make(chan struct{}, 1)})
	}
	return n
}

// Update hands s to every hook, unless its Services are those of the last
// snapshot handed on. It never blocks: a hook still busy with an older
// snapshot is told it is superseded. s must not be modified afterwards.
// Safe to call before Run, and from several goroutines.
func (n *Notifier) Update(s *Snapshot) {
	n.mu.Lock()
	if n.last != nil && reflect.DeepEqual(n.last.Services, s.Services) {
		n.mu.Unlock()
		return
	}
	n.last = s
	// Under n.mu, so that two Updates reach every worker in one order.
	defer n.mu.Unlock()
	for _, w := range n.workers {
		w.mu.Lock()
		w.pending = s
		if w.cancel != nil {
			w.cancel(ErrSuperseded)
		}
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Run calls the hooks until ctx ends, then returns once every hook's call
// in flight has returned.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range n.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, n.log)
		}()
	}
	wg.Wait()
}

func (w *worker) run(ctx context.Context, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		s := w.pending
		w.pending = nil
		if s == nil {
			w.mu.Unlock()
			continue
		}
		cctx, cancel := context.WithCancelCause(ctx)
		w.cancel = cancel
		w.mu.Unlock()

		err := w.hook.Notify(cctx, s)

		w.mu.Lock()
		w.cancel = nil
		w.mu.Unlock()
		superseded := context.Cause(cctx) == ErrSuperseded
		cancel(nil)
		switch {
		case err == nil:
			log.Debug("naming hook notified", "hook", w.name, "services", len(s.Services), "revision", s.Revision)
		case ctx.Err() != nil:
			return
		case superseded:
			log.Info("naming hook call superseded by a newer snapshot", "hook", w.name, "err", err)
		default:
			log.Error("naming hook failed", "hook", w.name, "err", err)
		}
	}
}
