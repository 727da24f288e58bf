// Package server is the reconciler daemon: the loops around the pure core in
// package reconcile, split by lifetime.
//
//   - server.go wires the pieces (New, Start, Shutdown); config.go nests
//     their configs.
//   - leader.go is the elector: a hashicorp/raft node whose leadership
//     starts and stops the leader-scoped work (run, with a term context).
//   - store.go is the raft FSM: the control plane's durable state (applied
//     revision, inventory, fencing base, cordons), written as deltas.
//     store_format.go versions it (snapshot encoding, the refusal of a
//     newer store); format_gate.go is the leader's move to a newer format
//     once every raft server reads it.
//   - cluster.go forms and grows the raft cluster from serf (bootstrap
//     expect, adding reconcilers that join) and describes its peers.
//   - controller.go and plan.go are the leader's ordered steps for one
//     term: fetch → load → persist the revision; plan → persist the delta
//     → push; push.go holds the agent connections.
//   - apps.go, sync.go and store_apps.go are the applications: the
//     bootstrap repository (Config.Source) and those its Application
//     objects declare, each synced by its own goroutine from its own
//     source, the desired state being the union of their revisions;
//     health.go and apps_http.go show them (GET /v1/applications).
//   - membership.go turns serf's events into the node and peer tables.
//   - view.go is the immutable snapshot published after each plan; the
//     HTTP layer (http.go, nodes.go, describe.go) reads only it and
//     forwards what only the leader can answer (forward.go).
//   - events.go is the event list (the core's, the reconciler's and the
//     agents' events, repeats folded), published as its own snapshot.
//
// State that must survive a restart lives in Config.DataDir, in raft's log
// and snapshots; the fencing token agents check is the raft term plus a
// base kept in the store.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/policy/signature"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// fetcher is what the server needs of sync/source.
type fetcher interface {
	Fetch(ctx context.Context) (*source.Revision, error)
}

// Server is a running reconciler. Create it with New, start it with Start,
// stop it with Shutdown.
type Server struct {
	cfg Config
	log *slog.Logger
	// sec is the cluster's credentials (security.go), nil when
	// Config.Security.Disabled.
	sec     *security
	state   *stateDir
	store   *store
	el      *elector
	src     fetcher
	members *membership
	events  *eventRing
	// verifier checks commit signatures (verify.go); nil when off.
	verifier *signature.Verifier
	// cursors are how far each agent's events were read (events.go).
	cursors agentCursors
	sync    syncStatus // the bootstrap application's
	apps    appRegistry
	// dialAgent returns a client for an agent's API base URL; tests replace it.
	// proto is the protocol negotiated with the agent (protocol.go).
	dialAgent func(base string, proto int) agentClient
	hc        *http.Client

	// metrics is the /metrics registry (metrics.go).
	metrics *serverMetrics
	// view is what every read is answered from.
	view atomic.Pointer[view]
	// viewChanged wakes watch streams (watch.go) after every publish.
	viewChanged viewSignal
	// appsChanged wakes the applications watch when an application's
	// fetched head or sync error changes (syncStatus.set).
	appsChanged viewSignal
	// podWires carries the wire pods from view to view (podwire.go);
	// appsCache is the applications watch's list (ui_http.go).
	podWires  podWireCache
	appsCache appsCache
	// ctrl is the controller of the term this reconciler leads, nil while
	// it follows.
	ctrl atomic.Pointer[controller]
	// clusterID is the raft cluster this reconciler belongs to, as recorded
	// in DataDir ("" until known).
	clusterID atomic.Pointer[string]
	// clusterErr says why this reconciler cannot form or join its cluster
	// (mismatched --bootstrap-expect, another cluster's members), "" if
	// nothing is wrong.
	clusterErr atomic.Pointer[string]
	// formatSaved is the store format the data dir's marker holds (0:
	// none written by this process); formatMu orders its writes.
	formatMu    sync.Mutex
	formatSaved int

	// peerHC calls other reconcilers (forwarding, the leader's status):
	// only a reconciler's certificate answers it.
	peerHC       *http.Client
	fwdOnce      sync.Once
	fwdTransport http.RoundTripper
	// diffSlots admits maxDiffs POST /v1/diff at once.
	diffSlots chan struct{}
	// leaseClock, when set, replaces time.Now as the clock leases
	// expire by (tests).
	leaseClock atomic.Pointer[func() time.Time]
	// joined is closed once Config.Join reached a member.
	joined chan struct{}
	// rbacAuthz caches the API's RBAC Authorizer, routes the patterns
	// Handler registered (authz.go).
	rbacAuthz rbacAuthzPointer
	routes    routeLog

	mu        sync.Mutex
	started   bool
	shutdown  bool
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	serf      *serf.Serf
	serfEv    chan serf.Event
	httpSrv   *http.Server
	apiURL    string
	gossip    string
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, locks DataDir and opens the raft state in it (a
// corrupt log or snapshot is an error naming the file). It starts nothing
// but raft: call Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	st, err := openStateDir(cfg.DataDir)
	if err == nil {
		// A store too new for this binary is refused before anything is
		// written to its data dir (credentials) or raft reads it.
		if err = checkFormatMarker(cfg.DataDir, maxStoreFormat); err != nil {
			st.close()
		}
	}
	if err != nil {
		return nil, err
	}
	sec, err := initSecurity(cfg)
	if err != nil {
		st.close()
		return nil, err
	}
	s, err := newServer(cfg, st, sec)
	if err != nil {
		st.close()
		return nil, err
	}
	return s, nil
}

func newServer(cfg Config, st *stateDir, sec *security) (*Server, error) {
	sc := cfg.Source
	sc.CacheDir = st.path(dirGit)
	sc.Logger = cfg.Logger.With("component", "source")
	src, err := source.New(sc)
	if err != nil {
		return nil, fmt.Errorf("failed to create git source: %w", err)
	}
	hc := &http.Client{Transport: agentTransport(sec)}
	s := &Server{
		sec:    sec,
		cfg:    cfg,
		log:    cfg.Logger,
		state:  st,
		src:    src,
		hc:     hc,
		peerHC: &http.Client{Transport: peerTransport(sec)},
		store:  newStore(),
		events: newEventRing(maxEvents),
	}
	s.sync.changed = &s.appsChanged
	s.members = newMembership(cfg.Logger, s.events.add)
	s.joined = make(chan struct{})
	s.diffSlots = make(chan struct{}, maxDiffs)
	s.dialAgent = func(base string, proto int) agentClient { return newAgentAPI(base, proto, hc) }
	s.store.bootstrap = cfg.AppName
	if s.store.keys, err = cfg.SOPS.load(); err != nil {
		return nil, err
	}
	if s.verifier, err = cfg.Verify.load(); err != nil {
		return nil, err
	}
	s.store.onApply = s.applied
	s.store.log = cfg.Logger
	s.store.dataDir = cfg.DataDir
	s.store.onFormat = s.recordFormat
	id, err := st.loadClusterID()
	if err != nil {
		return nil, err
	}
	s.clusterID.Store(&id)
	s.view.Store(&view{})
	s.metrics = newServerMetrics(s)
	el, err := openElector(cfg.Raft, cfg.Name, cfg.DataDir, s.store, cfg.Logger, raftTLS(sec))
	if err != nil {
		return nil, err
	}
	s.el = el
	return s, nil
}

// applied runs after every entry the store applies: the leader plans again
// when a cordon or revision changed under it (a follower has no controller).
func (s *Server) applied(op string) {
	if op == opCluster || op == opRevision {
		// opRevision: a restored snapshot names its cluster too.
		if id := s.store.peek().clusterID; id != "" && id != *s.clusterID.Load() {
			s.clusterID.Store(&id)
			if err := s.state.saveClusterID(id); err != nil {
				s.log.Error("failed to record the cluster ID", "err", err)
			}
		}
	}
	if c := s.ctrl.Load(); c != nil && (op == opNode || op == opRevision || op == opAppRevision || op == opRolloutOverride || op == opDeletePod) {
		if op == opRevision {
			// A bootstrap revision may declare or delete applications.
			c.followApps()
		}
		c.requestPlan()
	}
}

// ErrStarted is returned by Start on a server already started or shut down.
var ErrStarted = errors.New("server already started")

// Start listens on APIAddr, joins serf on GossipAddr, forms or rejoins the
// raft cluster and starts following (and leading, when elected). It returns
// once everything listens; the loops run until Shutdown. ctx bounds only the
// start itself.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.shutdown {
		s.mu.Unlock()
		return ErrStarted
	}
	s.started = true
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("failed to listen on %s: %w", s.cfg.APIAddr, err)
	}
	s.apiURL = s.scheme() + "://" + advertiseAddr(ln.Addr().(*net.TCPAddr), s.raftAddr())
	ln = s.listenAPI(ln)
	if err := s.writeAdminConf(); err != nil {
		ln.Close()
		return err
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.httpSrv.RegisterOnShutdown(s.viewChanged.stop)
	s.goNamed("http", func(context.Context) {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server failed", "err", err)
		}
	})

	if err := s.startSerf(); err != nil {
		return err
	}
	s.goNamed("membership", func(ctx context.Context) { s.members.loop(ctx, s.serfEv) })
	s.goNamed("join", s.joinLoop)
	s.goNamed("bootstrap", s.bootstrapLoop)
	s.goNamed("tags", s.tagLoop)
	s.goNamed("elector", func(ctx context.Context) { s.el.run(ctx, s.lead) })
	s.log.Info("reconciler started", "name", s.cfg.Name, "api", s.apiURL, "gossip", s.gossip, "raft", s.raftAddr(),
		"bootstrap_expect", s.cfg.Raft.BootstrapExpect, "repo", StripCredentials(s.cfg.Source.URL),
		"branch", s.cfg.Source.Branch, "path", s.cfg.Source.Path)
	return nil
}

// lead is the leader-scoped work of one raft term: it returns when ctx
// ends (leadership lost or shutdown) after every goroutine of the term has
// stopped.
func (s *Server) lead(ctx context.Context, raftTerm uint64) {
	if err := s.store.failed(); err != nil {
		// A store that failed to apply an entry is not the cluster's
		// state: this reconciler must not plan from it.
		s.log.Error("not leading: this reconciler's store failed to apply the raft log; handing over", "err", err)
		s.handOver(ctx)
		return
	}
	var c *controller
	for {
		var err error
		if c, err = newController(ctx, s, raftTerm); err == nil {
			break
		}
		s.log.Error("failed to take over as leader; retrying", "raft_term", raftTerm, "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	c.begin()
	s.ctrl.Store(c)
	c.run()
	s.ctrl.CompareAndSwap(c, nil)
	// Under the controller's lock: a publish of the ended term that is
	// still running then finds its context done.
	c.mu.Lock()
	s.publishFollowerView()
	c.mu.Unlock()
}

// handOver transfers leadership to another reconciler (if there is one)
// and waits for the term to end.
func (s *Server) handOver(ctx context.Context) {
	if s.el.voters() > 1 {
		if err := s.el.raft.LeadershipTransfer().Error(); err != nil {
			s.log.Warn("leadership transfer failed", "err", err)
		}
	}
	<-ctx.Done()
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

// Name is this reconciler's name.
func (s *Server) Name() string { return s.cfg.Name }

// Term is the fencing token this reconciler pushes with while it leads
// (the raft term plus the store's base), zero while it follows.
func (s *Server) Term() uint64 {
	if c := s.ctrl.Load(); c != nil {
		return c.token()
	}
	return 0
}

// IsLeader reports whether this reconciler leads now.
func (s *Server) IsLeader() bool { return s.ctrl.Load() != nil }

// Shutdown leaves serf, stops the API, every loop and agent connection and
// raft, waits for them, and releases DataDir. It is safe to call twice; ctx
// bounds the graceful part (leaving serf, draining HTTP).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.shutdown = true
		started := s.started
		s.mu.Unlock()
		var errs []error
		if started && s.el != nil && s.el.raft.State() == raft.Leader && s.el.voters() > 1 {
			// Hand over rather than make the others wait for an election
			// timeout; a failed transfer leaves them to elect one.
			if err := s.el.raft.LeadershipTransfer().Error(); err != nil {
				s.log.Warn("leadership transfer failed", "err", err)
			}
		}
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
			s.wg.Wait()
		}
		if s.el != nil {
			if err := s.el.shutdown(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.state.close(); err != nil {
			errs = append(errs, fmt.Errorf("failed to release data dir: %w", err))
		}
		s.hc.CloseIdleConnections()
		s.peerHC.CloseIdleConnections()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// syncStatus is the outcome of the last sync, kept across terms.
type syncStatus struct {
	mu       sync.Mutex
	fetched  *api.Commit
	lastErr  *api.SyncError
	lastSync time.Time
	// changed, when set, is told when the fetched head or the error
	// changes (the applications watch, ui_http.go), not at every poll
	// that finds the same: watchers would recompute every application's
	// state for nothing.
	changed *viewSignal
}

func (st *syncStatus) set(fetched *api.Commit, lastErr *api.SyncError) {
	st.mu.Lock()
	moved := fetched != nil && (st.fetched == nil || st.fetched.Hash != fetched.Hash)
	if fetched != nil {
		st.fetched = fetched
	}
	moved = moved || !sameSyncError(st.lastErr, lastErr)
	st.lastErr, st.lastSync = lastErr, time.Now()
	st.mu.Unlock()
	if moved && st.changed != nil {
		st.changed.notify()
	}
}

// sameSyncError reports whether two sync errors say the same (a retry
// that failed again), whatever their times.
func sameSyncError(a, b *api.SyncError) bool {
	if a == nil || b == nil {
		return a == b
	}
	ca, cb := "", ""
	if a.Commit != nil {
		ca = a.Commit.Hash
	}
	if b.Commit != nil {
		cb = b.Commit.Hash
	}
	return ca == cb && a.Stage == b.Stage && a.Message == b.Message
}

func (st *syncStatus) get() (*api.Commit, *api.SyncError, time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.fetched, st.lastErr, st.lastSync
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

// advertiseAddr is the address other reconcilers reach a listener bound to
// bound at: an unspecified host (0.0.0.0, ::) is replaced by the raft
// address's host, which must be one they reach.
func advertiseAddr(bound *net.TCPAddr, raftAddr string) string {
	if !bound.IP.IsUnspecified() {
		return bound.String()
	}
	host, _, err := net.SplitHostPort(raftAddr)
	if err != nil {
		return bound.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(bound.Port))
}
