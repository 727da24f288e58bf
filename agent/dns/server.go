// Package dns is the DNS server every agent runs for its pods, on its
// bridge address: it answers the cluster domain from the node's view of
// Services and endpoints as Kubernetes' DNS specification and CoreDNS's
// kubernetes plugin do (Service A and SRV records, headless Services'
// endpoints, pod names, PTRs of cluster addresses), and forwards every
// other name to the host's resolvers.
//
// Update swaps in an immutable index built from the Services (an
// atomic.Pointer), so queries never wait on a lock and always see one
// consistent version.
package dns

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/stevedore-dev/stevedore/agent/api"
)

// Server is one node's DNS server.
type Server struct {
	cfg Config
	log *slog.Logger
	fwd *forwarder
	// dotDomain is "." + the domain: the suffix of every name under it.
	dotDomain string
	// idx is nil until the first Update: cluster names are SERVFAIL until
	// then, not a cached NXDOMAIN.
	idx atomic.Pointer[index]

	updateMu sync.Mutex // orders Updates, so serials only grow
	serial   uint32
	// records are the last Update's per-Service records by Service hash,
	// reused for the Services that did not change.
	records map[uint64]*svcRecords
	seed    maphash.Seed
	skipped int

	mu      sync.Mutex
	started bool
	stopped bool
	servers []*dns.Server
	addrs   []string
	wg      sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// New validates cfg (filling zero values, reading the host's resolvers when
// Upstreams is empty). It starts nothing.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to validate DNS config: %w", err)
	}
	log := cfg.Logger.With("component", "dns")
	return &Server{
		cfg:       cfg,
		log:       log,
		dotDomain: "." + cfg.Domain,
		seed:      maphash.MakeSeed(),
		fwd:       newForwarder(cfg.Upstreams, cfg.ForwardTimeout, cfg.MaxConcurrentForwards, log),
	}, nil
}

var errAlreadyStarted = errors.New("DNS server already started")

// Start binds every Listen address on UDP and TCP and serves them. ctx only
// bounds start-up; Shutdown stops what Start started. Addresses are bound
// with IP_FREEBIND, so the server can start before the bridge holds its
// address.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errAlreadyStarted
	}
	s.started = true
	handler := dns.HandlerFunc(s.serveDNS)
	var servers []*dns.Server
	var addrs []string
	for _, l := range s.cfg.Listen {
		pc, ln, err := listenBoth(ctx, l)
		if err != nil {
			closeAll(servers)
			return err
		}
		addrs = append(addrs, pc.LocalAddr().String())
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: handler},
			&dns.Server{Listener: ln, Handler: handler})
	}
	for _, srv := range servers {
		if err := s.serve(ctx, srv); err != nil {
			s.servers = servers
			s.stopLocked(context.Background())
			return err
		}
	}
	s.servers, s.addrs = servers, addrs
	s.log.Info("DNS server started", "listen", addrs, "domain", s.cfg.Domain, "upstreams", s.cfg.Upstreams)
	return nil
}

// serve runs srv in a tracked goroutine and waits until it serves.
func (s *Server) serve(ctx context.Context, srv *dns.Server) error {
	started := make(chan struct{})
	failed := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil {
			failed <- err
			s.log.Error("DNS listener stopped", "err", err)
		}
	}()
	select {
	case <-started:
		return nil
	case err := <-failed:
		return fmt.Errorf("failed to serve DNS: %w", err)
	case <-ctx.Done():
		return fmt.Errorf("failed to start DNS server: %w", ctx.Err())
	}
}

// listenBoth binds addr on UDP and TCP, on the same port when addr's is 0.
func listenBoth(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse listen address %q: %w", addr, err)
	}
	lc := listenConfig()
	for attempt := 0; ; attempt++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("failed to listen on %s/udp: %w", addr, err)
		}
		p := port
		if p == "0" {
			p = strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		}
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, p))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		// A random UDP port may be taken on TCP: try another, a few times.
		if port != "0" || attempt == 20 {
			return nil, nil, fmt.Errorf("failed to listen on %s/tcp: %w", net.JoinHostPort(host, p), err)
		}
	}
}

func closeAll(servers []*dns.Server) {
	for _, srv := range servers {
		if srv.PacketConn != nil {
			srv.PacketConn.Close()
		}
		if srv.Listener != nil {
			srv.Listener.Close()
		}
	}
}

// Update replaces the Services the server answers for. It builds a new
// index and swaps it in: queries in flight finish on the old one. Only the
// Services that changed are rebuilt, and nothing is when none did (the
// PodSet also changes for pods that are no endpoint). Safe to call
// concurrently with queries, before Start and after Shutdown.
func (s *Server) Update(services []api.Service) {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	start := time.Now()
	last := s.idx.Load()
	hashes := make([]uint64, len(services))
	same := last != nil && len(services) == len(s.records)
	for i := range services {
		hashes[i] = hashService(s.seed, &services[i])
		if same {
			_, same = s.records[hashes[i]]
		}
	}
	if same {
		return
	}
	s.serial++
	ix, skipped, records := buildIndex(s.cfg.Domain, s.cfg.TTL, s.serial, services, hashes, s.records, last)
	s.idx.Store(ix)
	s.records = records
	if skipped != s.skipped {
		// Said once per change, not at every Update.
		s.log.Warn("DNS skipped invalid Service entries", "skipped", skipped)
		s.skipped = skipped
	}
	s.log.Debug("DNS names updated", "services", len(services), "names", len(ix.names),
		"reverse", len(ix.reverse), "took", time.Since(start))
}

// Addrs returns the bound addresses (one host:port per Listen entry, served
// on UDP and TCP), empty before Start.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Shutdown stops every listener and waits for them. Queries being
// forwarded finish within the forward timeout. Safe to call twice and
// before Start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopped = true
		s.shutdownErr = s.stopLocked(ctx)
		if s.started {
			s.log.Info("DNS server stopped")
		}
	})
	return s.shutdownErr
}

func (s *Server) stopLocked(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		if err := srv.ShutdownContext(ctx); err != nil && !isNotStarted(err) {
			errs = append(errs, fmt.Errorf("failed to stop DNS listener: %w", err))
		}
	}
	closeAll(s.servers)
	s.servers = nil
	s.wg.Wait()
	s.fwd.close()
	return errors.Join(errs...)
}

// isNotStarted reports miekg's error for shutting down a server whose
// serving goroutine never started (its start failed): nothing to stop.
func isNotStarted(err error) bool {
	return err != nil && err.Error() == "dns: server not started"
}
