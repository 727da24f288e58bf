package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// Applications, the daemon's side (store_apps.go is the store's).
//
// Each application has its own Git source (its own cache under
// DataDir/apps/NAME/git; the bootstrap application keeps DataDir/git) and
// sync status, kept for the process's life, and, on the leader, its own
// sync goroutine (an appRunner) for the term. Fetches run at most
// Config.SyncConcurrency at once; one application failing to fetch or load
// never holds the others up.

// dirApps holds the applications' Git caches in DataDir.
const dirApps = "apps"

// appSource is one application's Git source and what it was made from.
type appSource struct {
	cfg source.Config
	src fetcher
}

// appRegistry holds what the applications keep across terms.
type appRegistry struct {
	mu      sync.Mutex
	sources map[string]*appSource
	status  map[string]*syncStatus
}

// appStatus returns an application's sync status ("" the bootstrap's).
func (s *Server) appStatus(app string) *syncStatus {
	if app == "" {
		return &s.sync
	}
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	if s.apps.status == nil {
		s.apps.status = map[string]*syncStatus{}
	}
	st := s.apps.status[app]
	if st == nil {
		st = &syncStatus{changed: &s.appsChanged}
		s.apps.status[app] = st
	}
	return st
}

// sourceConfig is the source of an application: the bootstrap's is the
// configured one; the others take theirs from their Application object and
// the reconciler's credentials.
func (s *Server) sourceConfig(app string, decl *spec.Application) source.Config {
	cfg := s.cfg.Source
	if app == "" || decl == nil {
		return cfg
	}
	cfg.URL = decl.Spec.Source.RepoURL
	cfg.Branch = decl.Spec.Source.TargetRevision
	cfg.Path = decl.Spec.Source.Path
	cfg.CacheDir = filepath.Join(s.cfg.DataDir, dirApps, app, dirGit)
	cfg.Logger = s.log.With("component", "source", "app", app)
	return cfg
}

// sourceFor returns app's fetcher, made anew (with an empty cache) when its
// Application object names another repository, branch or path.
func (s *Server) sourceFor(app string, decl *spec.Application) (fetcher, source.Config, error) {
	if app == "" {
		return s.src, s.cfg.Source, nil
	}
	cfg := s.sourceConfig(app, decl)
	s.apps.mu.Lock()
	defer s.apps.mu.Unlock()
	if as := s.apps.sources[app]; as != nil {
		if as.cfg.URL == cfg.URL && as.cfg.Branch == cfg.Branch && as.cfg.Path == cfg.Path {
			return as.src, as.cfg, nil
		}
		if err := os.RemoveAll(cfg.CacheDir); err != nil {
			return nil, cfg, fmt.Errorf("failed to clear the cache of application %q: %w", app, err)
		}
	}
	src, err := source.New(cfg)
	if err != nil {
		return nil, cfg, fmt.Errorf("failed to create the git source of application %q: %w", app, err)
	}
	if s.apps.sources == nil {
		s.apps.sources = map[string]*appSource{}
	}
	s.apps.sources[app] = &appSource{cfg: cfg, src: src}
	return src, cfg, nil
}

// appRunner is one application's sync goroutine for a term.
type appRunner struct {
	name string
	// source is the repository, branch and path it was started with: an
	// Application object that names another is synced at once.
	source  string
	kick    chan struct{}
	cancel  context.CancelFunc
	waiters []chan api.SyncResult // under c.mu
}

// followApps starts a runner for every application the store declares
// (and the bootstrap) and stops those of applications that are gone. It
// runs at the start of a term and after every revision the store applies.
func (c *controller) followApps() {
	want := map[string]string{"": ""}
	for _, ai := range c.s.store.appInfos() {
		if ai.Name != "" && ai.Decl != nil {
			src := ai.Decl.Spec.Source
			want[ai.Name] = src.RepoURL + "\x00" + src.TargetRevision + "\x00" + src.Path
		}
	}
	orphans := map[string]int{}
	for _, ai := range c.s.store.appInfos() {
		if ai.Orphan {
			orphans[ai.Name] = len(ai.Owned)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	for name, r := range c.runners {
		if src, ok := want[name]; ok {
			if src != r.source {
				r.source = src
				select {
				case r.kick <- struct{}{}:
				default:
				}
			}
			continue
		}
		r.cancel()
		delete(c.runners, name)
		if n, ok := orphans[name]; ok {
			c.s.events.add("application/"+name, "Orphaned", fmt.Sprintf("removed from the bootstrap application %q with prune off: its %d object(s) keep running", c.s.bootstrapName(), n))
		} else {
			c.s.events.add("application/"+name, "Deleted", fmt.Sprintf("removed from the bootstrap application %q: its objects are pruned", c.s.bootstrapName()))
		}
		for _, w := range r.waiters {
			w <- api.SyncResult{App: name, Error: &api.SyncError{Stage: api.StageFetch, Message: fmt.Sprintf("application %q is no longer declared by the bootstrap application %q", name, c.s.bootstrapName()), Time: time.Now()}}
		}
	}
	for name, src := range want {
		if c.runners[name] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(c.ctx)
		r := &appRunner{name: name, source: src, kick: make(chan struct{}, 1), cancel: cancel}
		c.runners[name] = r
		r.kick <- struct{}{}
		c.goNamed("sync-"+c.s.displayName(name), func() { c.runApp(ctx, r) })
	}
}

func (s *Server) bootstrapName() string { return s.store.bootstrap }

// displayName is the name an application shows ("" is the bootstrap).
func (s *Server) displayName(app string) string { return s.store.appName(app) }

// internalName maps a name from the API to the store's ("" the bootstrap).
func (s *Server) internalName(app string) string {
	if app == s.bootstrapName() {
		return ""
	}
	return app
}

// runApp syncs one application whenever it is kicked, at most
// Config.SyncConcurrency applications at once.
func (c *controller) runApp(ctx context.Context, r *appRunner) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		// Waiters registered before this point are served by this sync:
		// it starts after their request.
		c.mu.Lock()
		waiters := r.waiters
		r.waiters = nil
		c.mu.Unlock()
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			// The application was removed or the term ended: whoever
			// stopped it has answered the waiters it could see.
			for _, w := range waiters {
				w <- api.SyncResult{App: c.s.displayName(r.name), Error: &api.SyncError{Stage: api.StageFetch, Message: "sync cancelled: the application was removed or leadership was lost", Time: time.Now()}}
			}
			return
		}
		syncStart := time.Now()
		res, planTarget := c.syncApp(ctx, r.name)
		c.s.metrics.observeSync(c.s.displayName(r.name), res, planTarget > 0, time.Since(syncStart))
		<-c.slots
		if planTarget > 0 && len(waiters) > 0 {
			if err := c.waitPlan(c.ctx, planTarget); err != nil {
				res.Error = &api.SyncError{Stage: api.StageFetch, Message: err.Error(), Time: time.Now()}
			}
		}
		res.App = c.s.displayName(r.name)
		for _, w := range waiters {
			w <- res
		}
	}
}

// triggerSync kicks every application.
func (c *controller) triggerSync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.runners {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// triggerApps kicks the applications match selects and returns how many.
func (c *controller) triggerApps(match func(app string) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for name, r := range c.runners {
		if !match(name) {
			continue
		}
		n++
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
	return n
}

// syncNow syncs app ("" the bootstrap) and waits for it, or, with all,
// syncs the bootstrap application first (it may declare new ones) and
// then every other one at once.
func (c *controller) syncNow(ctx context.Context, app string, all bool) (api.SyncResult, error) {
	res, err := c.syncOne(ctx, app)
	if err != nil || !all {
		return res, err
	}
	c.mu.Lock()
	var others []string
	for name := range c.runners {
		if name != "" {
			others = append(others, name)
		}
	}
	c.mu.Unlock()
	results := make([]api.SyncResult, len(others))
	errs := make([]error, len(others))
	var wg sync.WaitGroup
	for i, name := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.syncOne(ctx, name)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			results[i] = api.SyncResult{App: c.s.displayName(others[i]), Error: &api.SyncError{Stage: api.StageFetch, Message: err.Error(), Time: time.Now()}}
		}
	}
	sortResults(results)
	res.Applications = results
	return res, nil
}

func (c *controller) syncOne(ctx context.Context, app string) (api.SyncResult, error) {
	ch := make(chan api.SyncResult, 1)
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return api.SyncResult{}, fmt.Errorf("failed to sync: %w", errNotLeader)
	}
	r := c.runners[app]
	if r == nil {
		c.mu.Unlock()
		return api.SyncResult{}, errNotFound(fmt.Sprintf("application %q not found", c.s.displayName(app)))
	}
	r.waiters = append(r.waiters, ch)
	select {
	case r.kick <- struct{}{}:
	default:
	}
	c.mu.Unlock()
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return api.SyncResult{}, fmt.Errorf("failed to wait for sync: %w", ctx.Err())
	}
}

func sortResults(rs []api.SyncResult) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].App < rs[j].App })
}

// failRunnersLocked answers every waiting sync when the term ends. c.mu
// must be held.
func (c *controller) failRunnersLocked() {
	for _, r := range c.runners {
		for _, w := range r.waiters {
			w <- api.SyncResult{App: c.s.displayName(r.name), Error: &api.SyncError{Stage: api.StageFetch, Message: "leadership lost; retry on the new leader", Time: time.Now()}}
		}
		r.waiters = nil
	}
}
