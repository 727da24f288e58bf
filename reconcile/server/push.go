package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// agentClient is what the server needs of an agent's API.
type agentClient interface {
	// Apply PUTs a node's full pod set. A set the agent refuses as stale
	// returns an error matching errs.ErrStale.
	Apply(ctx context.Context, set *agentapi.PodSet) error
	// Watch streams the agent's pod status, calling fn with each complete
	// list, until the stream breaks or ctx ends. The lists carry the
	// agent's events after Seq after of epoch (all it keeps when epoch is
	// not its own, or "").
	Watch(ctx context.Context, epoch string, after uint64, fn func(*agentapi.PodStatusList)) error
	// PodSet returns the set the agent last applied (for adoption).
	PodSet(ctx context.Context) (*agentapi.PodSet, error)
	// Logs streams a container's log.
	Logs(ctx context.Context, namespace, pod string, o agentapi.LogOptions) (io.ReadCloser, error)
}

// Back-off bounds of pushers and watchers.
const (
	backoffMin = 50 * time.Millisecond
	backoffMax = 5 * time.Second
)

func nextBackoff(d time.Duration) time.Duration {
	d *= 2
	if d > backoffMax {
		d = backoffMax
	}
	return d
}

// connHooks are how an agentConn reports to the controller.
type connHooks struct {
	// observe receives each status list the watcher reads.
	observe func(*agentapi.PodStatusList)
	// pushed is called after the agent applied a set.
	pushed func()
	// refused is called when the agent refused a set as stale.
	refused func(error)
	// events receives each list before observe, for its events; cursor
	// says where a (re)connecting watch asks them to start (events.go).
	events func(*agentapi.PodStatusList)
	cursor func() (epoch string, after uint64)
	// failed, when set, is told of every set not taken (metrics.go).
	failed func(stale bool)
}

// agentConn owns the two goroutines serving one alive agent: a pusher and a
// watcher. The leader creates it when membership says the agent is alive
// and closes it when it fails or leaves, or when the term ends.
type agentConn struct {
	node   string
	addr   string // the agent's API base URL
	proto  int    // the protocol the client speaks to it
	client agentClient
	log    *slog.Logger
	hooks  connHooks

	mu     sync.Mutex
	latest *agentapi.PodSet
	acked  uint64 // generation the agent acknowledged in latest's term
	force  bool   // push latest even if acked
	kick   chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

func newAgentConn(parent context.Context, node, addr string, proto int, c agentClient, log *slog.Logger, hooks connHooks) *agentConn {
	ctx, cancel := context.WithCancel(parent)
	a := &agentConn{
		node:   node,
		addr:   addr,
		proto:  proto,
		client: c,
		log:    log.With("node", node),
		hooks:  hooks,
		kick:   make(chan struct{}, 1),
		cancel: cancel,
	}
	a.wg.Add(2)
	go func() { defer a.wg.Done(); a.pushLoop(ctx) }()
	go func() { defer a.wg.Done(); a.watchLoop(ctx) }()
	return a
}

// close stops both goroutines and waits for them; safe to call twice.
func (a *agentConn) close() {
	a.once.Do(func() {
		a.cancel()
		a.wg.Wait()
	})
}

// offer hands the pusher a new set; only the latest is ever pushed.
func (a *agentConn) offer(set *agentapi.PodSet) {
	a.mu.Lock()
	a.latest = set
	a.mu.Unlock()
	a.poke()
}

// repush makes the pusher send the latest set again, acknowledged or not:
// after a reconnect the agent may have restarted and lost it.
func (a *agentConn) repush() {
	a.mu.Lock()
	a.force = true
	a.mu.Unlock()
	a.poke()
}

func (a *agentConn) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// next returns the set to push, or nil when there is nothing new.
func (a *agentConn) next() *agentapi.PodSet {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.latest == nil {
		return nil
	}
	if a.latest.Generation <= a.acked && !a.force {
		return nil
	}
	a.force = false
	return a.latest
}

func (a *agentConn) pushLoop(ctx context.Context) {
	backoff := backoffMin
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
		}
		set := a.next()
		if set == nil {
			continue
		}
		start := time.Now()
		err := a.client.Apply(ctx, set)
		switch {
		case err == nil:
			a.mu.Lock()
			if set.Generation > a.acked {
				a.acked = set.Generation
			}
			a.mu.Unlock()
			backoff = backoffMin
			a.hooks.pushed()
			a.log.Debug("pushed pod set", "term", set.Term, "generation", set.Generation, "pods", len(set.Pods), "took", time.Since(start))
		case ctx.Err() != nil:
			return
		case errors.Is(err, errs.ErrStale):
			// Another reconciler with a higher term is in charge, or the
			// control plane's state went backwards: pushing the same set
			// again cannot help. The controller decides (it raises the
			// token when the agent's term comes from lost state).
			a.log.Error("agent refused pod set as stale",
				"term", set.Term, "generation", set.Generation, "err", err)
			a.hooks.fail(true)
			a.hooks.refused(err)
		default:
			a.hooks.fail(false)
			a.log.Warn("failed to push pod set, retrying", "generation", set.Generation, "retry_in", backoff, "err", err)
			a.mu.Lock()
			a.force = true
			a.mu.Unlock()
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-a.kick: // a newer set: try it now
				t.Stop()
			}
			backoff = nextBackoff(backoff)
			a.poke()
		}
	}
}

func (a *agentConn) watchLoop(ctx context.Context) {
	backoff := backoffMin
	connected := false
	for ctx.Err() == nil {
		first := true
		start := time.Now()
		var epoch string
		var after uint64
		if a.hooks.cursor != nil {
			epoch, after = a.hooks.cursor()
		}
		err := a.client.Watch(ctx, epoch, after, func(l *agentapi.PodStatusList) {
			if first {
				first = false
				if connected {
					// A reconnect: the agent may have restarted without
					// our set; level-triggered pushes make resending safe.
					a.repush()
				}
				connected = true
			}
			a.mu.Lock()
			lost := a.latest != nil && l.Term == a.latest.Term && l.Generation < a.acked
			a.mu.Unlock()
			if lost {
				a.repush()
			}
			if a.hooks.events != nil {
				a.hooks.events(l)
			}
			a.hooks.observe(l)
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > backoffMax {
			backoff = backoffMin
		}
		a.log.Warn("pod status watch ended, reconnecting", "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = nextBackoff(backoff)
	}
}

// staleTerm returns the term an agent that refused a set says it has seen.
func staleTerm(err error) (uint64, bool) { return agentapi.StaleTerm(err) }
