package server

import (
	"sync"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/naming"
)

// namingTerm is a term's naming notifier (Config.Naming's hooks), started
// with the term's first published view and stopped with the term: a new
// leader sends its first set of Services to the hooks unconditionally,
// then only the sets that change.
type namingTerm struct {
	once     sync.Once
	notifier *naming.Notifier // nil when no hook is configured
}

// notifyNaming hands the Services of a view being published to the naming
// hooks. It never blocks on a hook (the Notifier coalesces and drops sets
// that did not change), so publish calls it on every view.
func (c *controller) notifyNaming(views []reconcile.ServiceView) {
	t := &c.naming
	t.once.Do(func() {
		cfg := c.s.cfg.Naming
		if !cfg.Enabled() || c.ctx.Err() != nil {
			return
		}
		if cfg.Logger == nil {
			cfg.Logger = c.log.With("component", "naming")
		}
		hooks, err := cfg.Hooks()
		if err != nil {
			c.log.Error("naming hooks disabled for this term", "err", err)
			return
		}
		n := naming.NewNotifier(hooks, cfg.Logger)
		c.goNamed("naming", func() { n.Run(c.ctx) })
		t.notifier = n
	})
	if t.notifier == nil {
		return
	}
	services := make([]agentapi.Service, len(views))
	for i := range views {
		services[i] = views[i].Resolved
	}
	var rev string
	if c.s.store != nil {
		if r, _ := c.s.store.revision(); r != nil {
			rev = r.Commit.Hash
		}
	}
	t.notifier.Update(naming.FromServices(rev, services))
}
