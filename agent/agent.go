// Package agent is Stevedore's node daemon. It joins serf membership,
// advertising its API URL, allocatable resources, labels, taints and (when
// overridden) pod CIDR as tags; serves the versioned agent API (agent/api)
// through which the leader hands it the node's full desired pod set and
// network; fences those sets by the leader's term so a deposed leader cannot
// start pods; applies the network (pod network, routes between nodes,
// Service rules, DNS) before the pods; and streams the runtime's pod status
// back, with the runtime's events (numbered and kept by an EventLog). Running the pods is the runtime's job (agent/runtime), the network
// pieces are agent/netnode, agent/proxy and agent/dns; the daemon only needs
// small interfaces (PodRuntime, Networking), so it is tested with
// hand-written fakes.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/version"
)

// PodRuntime is what the daemon needs of a pod runtime: agent/runtime's
// (containerd) or agent/runtime/hollow's; agent/runtime/runtimetest is the
// behavioural suite both pass.
//
// Sync is called by one goroutine at a time; Status, Pods and Logs may be
// called concurrently with it and with each other. Changes is read by a single
// goroutine that the Agent owns. Logs reports an unknown pod or container
// with an error matching api.ErrNotFound (served as 404); runtime.ErrNotFound
// is that same sentinel (internal/errs), and going through this interface
// keeps this package free of containerd.
type PodRuntime interface {
	Sync(ctx context.Context, pods []api.Pod) error
	Status() []api.PodStatus
	Changes() <-chan struct{}
	Logs(ctx context.Context, namespace, pod string, o api.LogOptions) (io.ReadCloser, error)
	// Pods returns the desired pods the runtime holds (those of the last
	// Sync, or adopted after a restart) as they were given.
	Pods() []api.Pod
	// SetNetwork configures the pod network (bridge holding the pod CIDR's
	// first address, pod IPs from the pod CIDR, pods' resolv.conf) before
	// the pods of the same set are synced. Idempotent; called with applyMu
	// held, never concurrently with Sync.
	SetNetwork(ctx context.Context, n api.Network) error
}

// Agent is one node's daemon. Create it with New, then Start and Shutdown
// (or Run). An Agent is not restartable: after Shutdown, create a new one.
type Agent struct {
	cfg Config
	rt  PodRuntime
	net Networking
	log *slog.Logger
	// evlog numbers and keeps the runtime's events for the watch stream
	// (events.go); WithEvents shares one with the runtime.
	evlog *EventLog
	// vols is the volume manager (volumes.go), nil without one.
	vols VolumeManager
	// ops is the stats collector and GET /v1/node's seams (nodestats.go).
	ops nodeOps
	// metrics is the /metrics registry and statsSrc the stats it exports,
	// nil without a collector (metrics.go).
	metrics  *Metrics
	statsSrc statsSource
	// pressure is the housekeeping's state (eviction.go).
	pressure *pressureState

	// applyMu serialises applies: the fence check, persisting the fence,
	// the network and rt.Sync happen as one step, so two concurrent PUTs
	// cannot interleave. It also guards the fields below it.
	applyMu sync.Mutex
	dns     DNSServer // running DNS server, nil before the pod CIDR is known
	dnsKey  string    // its listen address and domain
	// lease is the pod-facing lease endpoint (lease.go), running with the
	// DNS server, and leaseAddr the address it was asked to listen on.
	lease     *leaseServer
	leaseAddr string
	// leaseReconcilers, when set, replaces membership as the source of
	// the reconcilers' API URLs (tests).
	leaseReconcilers func() []string
	// proxy is the Service proxy, nil before the CIDRs are known, and
	// proxyCfg what it was built with.
	proxy    ServiceProxy
	proxyCfg ProxyConfig
	// netSaved is the persisted network's encoding, to skip rewriting it.
	netSaved []byte
	// nodeKey is the node part of the network last applied successfully
	// to Networking.Node, at nodeAt.
	nodeKey string
	nodeAt  time.Time
	// netAt is when the network was last applied (retryNetwork repairs
	// it NetworkRepairInterval later).
	netAt time.Time

	mu sync.Mutex // guards the fields below
	// fence is the highest (term, generation) accepted, as persisted.
	fence fenceState
	// applied is the (term, generation) of the last successful rt.Sync, or
	// the persisted fence after a restart (the runtime adopts those pods).
	applied fenceState
	// lastHash is the content of the set last accepted in this process and
	// lastOK whether its rt.Sync succeeded; a repeat of an accepted
	// (term, generation) with the same content is then a no-op.
	lastHash [32]byte
	haveHash bool
	lastOK   bool
	watchers map[chan struct{}]struct{}
	// netCur is the last network accepted (nil before any) and netErr the
	// error of its last apply, nil when all of it is in place.
	netCur *api.Network
	netErr error
	info   api.NodeInfo
	// sec is the node's credentials (security.go), nil when
	// Config.Security.Disabled.
	sec     *security
	started bool // Start was called
	running bool // Start succeeded: there is something to shut down
	stopped bool

	ln     net.Listener
	srv    *http.Server
	serf   *serf.Serf
	events chan serf.Event
	ctx    context.Context // cancelled by Shutdown; parent of every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// New validates cfg (filling zero values), creates the data directory and
// loads the persisted fencing state. It starts nothing.
func New(cfg Config, rt PodRuntime, opts ...Option) (*Agent, error) {
	if rt == nil {
		return nil, errNilRuntime
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("failed to validate agent config: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("failed to create data dir: %w", err)
	}
	fence, err := loadFence(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:      cfg,
		rt:       rt,
		log:      cfg.Logger.With("component", "agent", "node", cfg.NodeName),
		fence:    fence,
		applied:  fence,
		watchers: map[chan struct{}]struct{}{},
	}
	for _, o := range opts {
		o(a)
	}
	if a.evlog == nil {
		a.evlog = NewEventLog(cfg.EventsKept)
	}
	if a.metrics == nil {
		a.metrics = NewMetrics()
	}
	if err := a.metrics.register(a); err != nil {
		return nil, err
	}
	return a, nil
}

var (
	errNilRuntime     = errors.New("agent needs a runtime")
	errAlreadyStarted = errors.New("agent already started")
)

// Start binds the API listener, creates the serf member and starts serving.
// Joining Config.Join continues in the background until it succeeds. ctx only
// bounds start-up; Shutdown stops what Start started.
func (a *Agent) Start(ctx context.Context) error {
	a.mu.Lock()
	if a.started || a.stopped {
		a.mu.Unlock()
		return errAlreadyStarted
	}
	a.started = true
	a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		if a.ln != nil { // given by WithListener
			a.ln.Close()
		}
		return fmt.Errorf("failed to start agent: %w", err)
	}

	a.ctx, a.cancel = context.WithCancel(context.Background())
	// Before anything can reach the leader: routes, rules and DNS of the
	// last network come back for the pods the runtime adopted.
	a.restoreNetwork()
	if err := a.initSecurity(ctx); err != nil {
		a.abortStart()
		return fmt.Errorf("failed to start agent: %w", err)
	}
	ln := a.ln
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.APIAddr); err != nil {
			a.abortStart()
			return fmt.Errorf("failed to listen on API address %s: %w", a.cfg.APIAddr, err)
		}
		a.ln = ln
	}
	apiURL := a.cfg.AdvertiseAPI
	if apiURL == "" {
		apiURL = advertiseURL(ln.Addr().(*net.TCPAddr), a.cfg.GossipAddr)
	}
	if a.sec != nil {
		// The API is HTTPS whatever --advertise-api says.
		apiURL = "https://" + strings.TrimPrefix(apiURL, "http://")
	}
	info := api.NodeInfo{
		Name:    a.cfg.NodeName,
		APIAddr: apiURL,
		Allocatable: api.Resources{
			MilliCPU: a.cfg.AllocatableMilliCPU,
			Memory:   a.cfg.AllocatableMemory,
			Pods:     a.cfg.MaxPods,
			Extended: a.cfg.ExtendedResources,
		},
		Labels:  a.cfg.Labels,
		Taints:  a.cfg.Taints,
		PodCIDR: a.cfg.PodCIDR,
		// What the reconciler negotiates with (docs/versions.md).
		Version:  version.Get().ReleaseVersion(),
		Protocol: api.Supported(),
	}
	a.mu.Lock()
	a.info = info
	a.mu.Unlock()

	if err := a.startSerf(info); err != nil {
		a.abortStart()
		return err
	}

	a.srv = &http.Server{
		Handler:           a.requireReconciler(a.checkProtocol(a.routes())),
		ReadHeaderTimeout: 10 * time.Second,
		// No WriteTimeout: the watch stream is long-lived; it sets its own
		// per-write deadline instead.
		BaseContext: func(net.Listener) context.Context { return a.ctx },
		ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.goroutine("http", func() {
		if err := a.srv.Serve(a.listenTLS(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("API server stopped", "err", err)
		}
	})
	a.goroutine("status-fanout", a.fanOut)
	a.goroutine("network-retry", a.retryNetwork)
	a.initPressure(ctx) // first: it finds the image file system stats report
	a.startStats()
	a.goroutine("housekeeping", a.housekeeping)
	a.mu.Lock()
	a.running = true
	a.mu.Unlock()
	a.log.Info("agent started", "api", apiURL, "listen", ln.Addr().String(),
		"gossip", a.GossipAddr(), "term", a.fence.Term, "generation", a.fence.Generation)
	return nil
}

// abortStart undoes what a failed Start did before it failed: the context,
// and the DNS server the restored network started (routes and rules stay,
// as after any stop).
func (a *Agent) abortStart() {
	a.cancel()
	if a.ln != nil { // given by WithListener, or bound before the failure
		a.ln.Close()
	}
	a.applyMu.Lock()
	defer a.applyMu.Unlock()
	if err := a.stopDNS(); err != nil {
		a.log.Warn("failed to stop the DNS server", "err", err)
	}
}

// Run starts the agent and blocks until ctx is cancelled, then shuts it down
// gracefully (leaving the cluster) within 10 seconds.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.Shutdown(sctx)
}

// Shutdown leaves the serf cluster (so peers see "left", not "failed"),
// stops the API server, waits for every goroutine and stops the DNS server.
// It does not touch the runtime, the routes or the Service rules: pods keep
// running and reachable until the next agent process adopts them
// (TeardownNetwork removes the network). Safe to call twice and before
// Start.
func (a *Agent) Shutdown(ctx context.Context) error {
	return a.shutdown(ctx, true)
}

// shutdown with leave=false stops gossiping without announcing it, which
// peers see as a failure, as after a crash; tests use it.
func (a *Agent) shutdown(ctx context.Context, leave bool) error {
	a.shutdownOnce.Do(func() {
		a.mu.Lock()
		a.stopped = true
		running, started := a.running, a.started
		a.mu.Unlock()
		if !running {
			if a.ln != nil && !started { // given by WithListener, never served
				a.ln.Close()
			}
			return
		}
		var errs []error
		if leave {
			if err := a.serf.Leave(); err != nil {
				errs = append(errs, fmt.Errorf("failed to leave the cluster: %w", err))
			}
		}
		if err := a.serf.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop serf: %w", err))
		}
		// Cancelling first ends watch streams, which http.Server.Shutdown
		// would otherwise wait for until ctx expires.
		a.cancel()
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop API server: %w", err))
			a.srv.Close()
		}
		a.wg.Wait()
		a.applyMu.Lock()
		if err := a.stopDNS(); err != nil {
			errs = append(errs, fmt.Errorf("failed to stop DNS server: %w", err))
		}
		a.applyMu.Unlock()
		a.shutdownErr = errors.Join(errs...)
		a.log.Info("agent stopped", "left", leave)
	})
	return a.shutdownErr
}

// goroutine starts fn as a named goroutine owned by the agent; Shutdown
// waits for it.
func (a *Agent) goroutine(name string, fn func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.log.Debug("goroutine stopped", "goroutine", name)
		fn()
	}()
}

// APIURL is the advertised base URL of the agent API; empty before Start.
func (a *Agent) APIURL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.info.APIAddr
}

// Info is what the agent advertises; zero before Start.
func (a *Agent) Info() api.NodeInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.info
}

// GossipAddr is the bound serf address (host:port); empty before Start.
func (a *Agent) GossipAddr() string {
	if a.serf == nil {
		return ""
	}
	n := a.serf.Memberlist().LocalNode()
	return net.JoinHostPort(n.Addr.String(), fmt.Sprint(n.Port))
}

// Members is serf's current view of the cluster, this node included.
func (a *Agent) Members() []serf.Member {
	if a.serf == nil {
		return nil
	}
	return a.serf.Members()
}

// fanOut turns the runtime's coalesced change signal, and the event log's,
// into a wake-up for every watch stream. Sends never block: each watcher has a one-slot channel, so a
// slow consumer just finds it full and later sends the latest state.
func (a *Agent) fanOut() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-a.rt.Changes():
			a.notifyWatchers()
		case <-a.evlog.Changes():
			a.notifyWatchers()
		case <-a.volumeChanges():
			a.notifyWatchers()
		}
	}
}

func (a *Agent) notifyWatchers() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// snapshot is the node's whole observed state now.
func (a *Agent) snapshot() api.PodStatusList {
	a.mu.Lock()
	applied := a.applied
	a.mu.Unlock()
	pods := a.rt.Status()
	if pods == nil {
		pods = []api.PodStatus{}
	}
	for i := range pods {
		if pods[i].Node == "" {
			pods[i].Node = a.cfg.NodeName
		}
	}
	return api.PodStatusList{
		Node:       a.cfg.NodeName,
		Term:       applied.Term,
		Generation: applied.Generation,
		Pods:       pods,
		Volumes:    a.volumeStatus(),
		Epoch:      a.evlog.Epoch(),
		Time:       time.Now(),
	}
}

// advertiseURL builds the API URL peers use from the bound address. An
// unspecified host is replaced by the gossip host, or by a private IP of
// this machine when that is unspecified too.
func advertiseURL(bound *net.TCPAddr, gossipAddr string) string {
	host := bound.IP
	if host == nil || host.IsUnspecified() {
		host = nil
		if gh, _, err := splitGossip(gossipAddr); err == nil {
			if ip := net.ParseIP(gh); ip != nil && !ip.IsUnspecified() {
				host = ip
			}
		}
		if host == nil {
			host = privateIP()
		}
	}
	return "http://" + net.JoinHostPort(host.String(), fmt.Sprint(bound.Port))
}

// privateIP is the first private IPv4 address of an up interface, falling
// back to any global unicast address and finally to loopback.
func privateIP() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return net.IPv4(127, 0, 0, 1)
	}
	var global net.IP
	for _, ad := range addrs {
		ipn, ok := ad.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() {
			continue
		}
		if ip4 := ipn.IP.To4(); ip4 != nil && ip4.IsPrivate() {
			return ip4
		}
		if global == nil && ipn.IP.IsGlobalUnicast() {
			global = ipn.IP
		}
	}
	if global != nil {
		return global
	}
	return net.IPv4(127, 0, 0, 1)
}
