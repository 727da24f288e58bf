// Package server is the reconciler daemon: the thin loop around the pure
// core in package reconcile. It fetches the config repository (poll ticker,
// webhook, API), loads each new commit with spec.Load, keeps the last good
// revision, tracks agents through serf, runs reconcile.Plan on every change,
// pushes each node's pod set to its agent and watches the agents' pod status
// streams. It serves the reconciler API (reconcile/api) that ctl uses.
//
// State that must survive a restart lives in Config.DataDir: the term (the
// fencing token agents check, incremented at every start until raft lands),
// the last good revision and the core's Memory (the inventory of pods it
// created), each written atomically.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/serf/serf"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/reconcile"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// fetcher is what the server needs of sync/source.
type fetcher interface {
	Fetch(ctx context.Context) (*source.Revision, error)
}

// applied is the last good revision and its objects.
type applied struct {
	rev *savedRevision
	set *spec.Set
	at  time.Time
}

// member is one agent as membership reports it.
type member struct {
	info  agentapi.NodeInfo
	addr  string
	state string // api.NodeAlive, NodeFailed, NodeLeft
	since time.Time
	conn  *agentConn // non-nil while alive
}

// maxEvents bounds the event ring.
const maxEvents = 1000

// Server is a running reconciler. Create it with New, start it with Start,
// stop it with Shutdown.
type Server struct {
	cfg   Config
	log   *slog.Logger
	state *stateDir
	src   fetcher
	term  uint64
	// dialAgent returns a client for an agent's API base URL; tests replace it.
	dialAgent func(base string) agentClient
	hc        *http.Client

	mu          sync.Mutex
	applied     *applied
	fetched     *api.Commit
	lastErr     *api.SyncError
	lastSync    time.Time
	members     map[string]*member
	observed    map[string][]agentapi.PodStatus
	memory      reconcile.Memory
	memJSON     []byte
	pods        []reconcile.PodView
	workloads   []reconcile.WorkloadView
	podSets     map[string][]agentapi.Pod
	gens        map[string]uint64
	events      []reconcile.Event
	planWant    uint64        // plans requested
	planDone    uint64        // highest request a finished plan covered
	planCh      chan struct{} // closed and replaced after every plan
	waiters     []chan api.SyncResult
	joinPending bool // a join-settle goroutine will request a plan
	syncKick    chan struct{}
	planKick    chan struct{}
	started     bool
	startedAt   time.Time
	shutdown    bool
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	serf        *serf.Serf
	serfEv      chan serf.Event
	httpSrv     *http.Server
	apiURL      string
	gossip      string
	closeOnce   sync.Once
	closeErr    error
}

// New validates cfg, locks and reads DataDir (last good revision, Memory)
// and starts a new term. It starts nothing: call Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st, err := openStateDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s, err := newServer(cfg, st)
	if err != nil {
		st.close()
		return nil, err
	}
	return s, nil
}

func newServer(cfg Config, st *stateDir) (*Server, error) {
	src, err := source.New(source.Config{
		URL:        cfg.RepoURL,
		Branch:     cfg.Branch,
		Path:       cfg.Path,
		CacheDir:   st.path(dirGit),
		SSHKeyFile: cfg.SSHKeyFile,
		Token:      cfg.Token,
		Logger:     cfg.Logger.With("component", "source"),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create git source: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil, // agents are on private addresses; never via a proxy
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	}}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		state:    st,
		src:      src,
		hc:       hc,
		members:  map[string]*member{},
		observed: map[string][]agentapi.PodStatus{},
		podSets:  map[string][]agentapi.Pod{},
		gens:     map[string]uint64{},
		planCh:   make(chan struct{}),
		syncKick: make(chan struct{}, 1),
		planKick: make(chan struct{}, 1),
	}
	s.dialAgent = func(base string) agentClient { return newAgentAPI(base, hc) }

	// Read everything before doing anything, so a restarted reconciler
	// neither forgets nor duplicates pods.
	rev, err := st.loadRevision()
	if err != nil {
		return nil, err
	}
	if rev != nil {
		set, err := spec.Load(rev.Files)
		if err != nil {
			// The revision loaded once; failing now means the spec package
			// changed under it. Refuse to start rather than prune everything.
			return nil, fmt.Errorf("failed to load the last good revision %s from %s: %w", rev.Commit.Hash, st.path(fileRevision), err)
		}
		s.applied = &applied{rev: rev, set: set, at: time.Now()}
	}
	if s.memory, err = st.loadMemory(); err != nil {
		return nil, err
	}
	s.memJSON = mustJSON(s.memory)
	if s.term, err = st.nextTerm(); err != nil {
		return nil, err
	}
	return s, nil
}

// ErrStarted is returned by Start on a server already started or shut down.
var ErrStarted = errors.New("server already started")

// Start listens on APIAddr, joins serf on GossipAddr and starts the sync
// and plan loops. It returns once everything listens; the loops run until
// Shutdown. ctx bounds only the start itself.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.shutdown {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.startedAt = time.Now()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", s.cfg.APIAddr, err)
	}
	s.apiURL = "http://" + ln.Addr().String()
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.goNamed("http", func(context.Context) {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server failed", "err", err)
		}
	})

	if err := s.startSerf(); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	s.goNamed("serf-events", s.serfLoop)
	s.goNamed("sync", s.syncLoop)
	s.goNamed("plan", s.planLoop)
	if s.cfg.PollInterval > 0 {
		s.goNamed("poll", s.pollLoop)
	}
	s.log.Info("reconciler started", "api", s.apiURL, "gossip", s.gossip, "term", s.term,
		"repo", StripCredentials(s.cfg.RepoURL), "branch", s.cfg.Branch, "path", s.cfg.Path)
	s.TriggerSync()
	return nil
}

// goNamed runs fn in a goroutine the server owns and waits for at Shutdown.
func (s *Server) goNamed(name string, fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.log.Debug("goroutine stopped", "name", name)
		fn(s.ctx)
	}()
}

// APIURL is the base URL the API listens on (valid after Start).
func (s *Server) APIURL() string { return s.apiURL }

// GossipAddr is the host:port agents join (valid after Start).
func (s *Server) GossipAddr() string { return s.gossip }

// Term is this process's term.
func (s *Server) Term() uint64 { return s.term }

// Shutdown leaves serf, stops the API and every loop and agent connection,
// waits for them, and releases DataDir. It is safe to call twice; ctx bounds
// the graceful part (leaving serf, draining HTTP).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.shutdown = true
		started := s.started
		s.mu.Unlock()
		var errs []error
		if started {
			if s.httpSrv != nil {
				if err := s.httpSrv.Shutdown(ctx); err != nil {
					errs = append(errs, fmt.Errorf("failed to stop api server: %w", err))
					s.httpSrv.Close()
				}
			}
			if s.serf != nil {
				if err := s.serf.Leave(); err != nil {
					s.log.Warn("failed to leave serf", "err", err)
				}
				if err := s.serf.Shutdown(); err != nil {
					errs = append(errs, fmt.Errorf("failed to stop serf: %w", err))
				}
			}
			s.cancel()
			s.mu.Lock()
			conns := make([]*agentConn, 0, len(s.members))
			for _, m := range s.members {
				if m.conn != nil {
					conns = append(conns, m.conn)
					m.conn = nil
				}
			}
			waiters := s.waiters
			s.waiters = nil
			s.mu.Unlock()
			for _, c := range conns {
				c.close()
			}
			for _, w := range waiters {
				w <- api.SyncResult{Error: &api.SyncError{Stage: api.StageFetch, Message: "reconciler shutting down", Time: time.Now()}}
			}
			s.wg.Wait()
		}
		if err := s.state.close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to release data dir: %w", err))
		}
		s.hc.CloseIdleConnections()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// event records something the server decided or saw.
func (s *Server) eventLocked(object, reason, msg string) {
	s.events = append(s.events, reconcile.Event{Time: time.Now(), Object: object, Reason: reason, Message: msg})
	if len(s.events) > maxEvents {
		s.events = append(s.events[:0:0], s.events[len(s.events)-maxEvents:]...)
	}
}

// newUID returns a random RFC 4122 version 4 UUID.
func newUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("server: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
