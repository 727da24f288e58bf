package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/hashicorp/serf/serf"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// The pod-facing lease endpoint (docs/leases.md). A pod campaigns for a
// lease with no credentials of its own: it asks its node's agent, on the
// address its resolv.conf names (the bridge address, where the DNS server
// listens) at port Config.LeasePort, and the agent names the pod by the
// request's source address, which only that pod's network namespace can
// send from (the bridge carries no other pods' addresses, and the pod
// network's addresses are not routed from outside the cluster). The agent
// asks the reconciler's lease API with the pod's name as the holder, in
// the pod's namespace, and its own node name, which the reconciler checks
// against the pod's placement. A pod therefore cannot campaign as another
// pod, nor for a lease of another namespace.

// leaseTimeout bounds one pod request, every reconciler tried.
const leaseTimeout = 10 * time.Second

// maxPodLeaseQuery bounds what a pod may send (nothing but the duration).
const maxPodLeaseBody = 1 << 10

// leaseServer is the running endpoint.
type leaseServer struct {
	srv  *http.Server
	done chan struct{}
}

// ensureLease runs the lease endpoint on ip, replacing one that listens
// elsewhere. It runs while the DNS server does (ensureDNS, stopDNS).
func (a *Agent) ensureLease(ip netip.Addr) error {
	if a.net.LeaseListen == nil || a.cfg.LeasePort < 0 {
		return nil
	}
	addr := net.JoinHostPort(ip.String(), strconv.Itoa(a.cfg.LeasePort))
	if a.lease != nil && a.leaseAddr == addr {
		return nil
	}
	a.stopLease()
	ln, err := a.net.LeaseListen(addr)
	if err != nil {
		return fmt.Errorf("failed to listen for pods' lease requests on %s: %w", addr, err)
	}
	ls := &leaseServer{
		srv: &http.Server{
			Handler:           a.leaseRoutes(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      2 * leaseTimeout,
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(ls.done)
		if err := ls.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("lease endpoint stopped", "addr", addr, "err", err)
		}
	}()
	a.lease, a.leaseAddr = ls, ln.Addr().String()
	if a.leaseAddr != addr {
		// A test's listener on another address: remember the asked one so
		// the next apply does not restart it.
		a.leaseAddr = addr
	}
	a.log.Info("lease endpoint started", "listen", ln.Addr().String())
	return nil
}

// stopLease stops the lease endpoint, if any, within 5 seconds.
func (a *Agent) stopLease() {
	if a.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.lease.srv.Shutdown(ctx); err != nil {
		a.lease.srv.Close()
	}
	<-a.lease.done
	a.lease, a.leaseAddr = nil, ""
}

// leaseRoutes is the pod-facing API.
func (a *Agent) leaseRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathPodLease, a.handlePodLease)
	mux.HandleFunc("PUT "+api.PathPodLease, a.handlePodLease)
	mux.HandleFunc("POST "+api.PathPodLease, a.handlePodLease)
	mux.HandleFunc("DELETE "+api.PathPodLease, a.handlePodLease)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		errs.WriteHTTP(w, errs.Mark(errors.New("no such path: "+r.Method+" "+r.URL.Path+" (try /lease/NAME)"), errs.ErrNotFound))
	})
	return mux
}

// podByAddr names the running pod whose IP is addr, and its incarnation.
//
// Host-network pods are never named: their IP is the node's, shared with
// every process of the host and every other host-network pod on it, so a
// source address cannot tell which pod (if any) calls. They cannot use the
// lease endpoint (docs/leases.md).
func (a *Agent) podByAddr(addr netip.Addr) (namespace, name, uid string, ok bool) {
	hostNet := map[string]bool{}
	for _, p := range a.rt.Pods() {
		if p.Spec.HostNetwork {
			hostNet[p.UID] = true
		}
	}
	for _, p := range a.rt.Status() {
		if p.PodIP == "" || p.Phase == api.PodSucceeded || p.Phase == api.PodFailed || hostNet[p.UID] {
			continue
		}
		if ip, err := netip.ParseAddr(p.PodIP); err == nil && ip.Unmap() == addr {
			return p.Namespace, p.Name, p.UID, true
		}
	}
	return "", "", "", false
}

func (a *Agent) handlePodLease(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		errs.WriteHTTP(w, invalid("failed to parse the caller's address "+r.RemoteAddr))
		return
	}
	ns, podName, uid, ok := a.podByAddr(ap.Addr().Unmap())
	if !ok {
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("%s is not the address of a pod running on node %s: only its pods may use its lease endpoint", ap.Addr(), a.cfg.NodeName), errPermission))
		return
	}
	if msg := api.LeaseNameError(ns, name); msg != "" {
		errs.WriteHTTP(w, invalid(msg))
		return
	}
	// The holder is who the caller is: a pod that tries to name one is
	// refused rather than silently answered for itself.
	q := r.URL.Query()
	for k := range q {
		if k != "duration" {
			errs.WriteHTTP(w, invalid(fmt.Sprintf("unknown parameter %q: the lease endpoint takes only ?duration=SECONDS; the holder is the calling pod", k)))
			return
		}
	}
	if b, _ := io.ReadAll(io.LimitReader(r.Body, maxPodLeaseBody)); len(bytes.TrimSpace(b)) > 0 {
		errs.WriteHTTP(w, invalid("the lease endpoint takes no body: the holder is the calling pod, the duration ?duration=SECONDS"))
		return
	}
	// The holder is the pod's incarnation, "<name>_<uid>" (client-go's
	// hostname_uuid): a pod re-created under the same name is another
	// candidate, so the old incarnation's lease lapses or is released
	// before the new one leads, and the old one's release on SIGTERM
	// cannot clear its successor's lease.
	pod := api.PodHolderIdentity(podName, uid)
	req := api.LeaseRequest{HolderIdentity: pod, Node: a.cfg.NodeName}
	if d := q.Get("duration"); d != "" {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil || n < 1 || n > api.MaxLeaseDurationSeconds {
			errs.WriteHTTP(w, invalid(fmt.Sprintf("duration %q: want whole seconds from 1 to %d", d, api.MaxLeaseDurationSeconds)))
			return
		}
		req.LeaseDurationSeconds = int32(n)
	}
	ctx, cancel := context.WithTimeout(r.Context(), leaseTimeout)
	defer cancel()
	out := api.PodLease{Identity: pod}
	var lease *api.Lease
	if r.Method == http.MethodGet {
		lease, err = a.reconcilerLease(ctx, http.MethodGet, ns, name, nil)
		if errors.Is(err, errs.ErrNotFound) {
			writeJSON(w, http.StatusOK, out)
			return
		}
	} else {
		req.Release = r.Method == http.MethodDelete
		lease, err = a.reconcilerLease(ctx, http.MethodPut, ns, name, &req)
	}
	var fe *errs.Error
	status := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, errs.ErrConflict) && errors.As(err, &fe):
		// Another pod holds it: 409, with who does.
		var cur api.Lease
		if fe.Field("lease", &cur) {
			lease = &cur
		}
		status = http.StatusConflict
	default:
		errs.WriteHTTP(w, err)
		return
	}
	if lease != nil {
		out.Lease = lease
		if lease.Status.Held {
			out.Holder = lease.Spec.HolderIdentity
		}
	}
	out.Holding = out.Holder == pod
	if r.Method == http.MethodDelete && status == http.StatusOK {
		out.Holding, out.Holder = false, ""
	}
	writeJSON(w, status, out)
}

// errPermission is 403 (errdefs' permission-denied category).
var errPermission = errs.ToNative(http.StatusForbidden, errs.CodeForbidden)

// reconcilerLease sends one lease request to the reconcilers membership
// knows, trying the next on a transport error or 503 (a follower forwards
// to the leader itself).
func (a *Agent) reconcilerLease(ctx context.Context, method, ns, name string, req *api.LeaseRequest) (*api.Lease, error) {
	bases := a.reconcilerURLs()
	if len(bases) == 0 {
		return nil, errs.Mark(errors.New("no reconciler is known to this agent yet: retry"), errs.ErrUnavailable)
	}
	var body []byte
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("failed to encode lease request: %w", err)
		}
		body = b
	}
	var last error
	for _, base := range bases {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		resp, fail, err := api.Call(ctx, a.leaseHTTP(), base, method, api.LeasePath(ns, name), nil, rd)
		switch {
		case err != nil:
			last = errs.Mark(fmt.Errorf("failed to reach reconciler %s: %w", base, err), errs.ErrUnavailable)
			continue
		case fail != nil && errors.Is(fail, errs.ErrUnavailable):
			last = fail
			continue
		case fail != nil:
			return nil, fail
		}
		var l api.Lease
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&l)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("failed to decode lease from %s: %w", base, err)
		}
		return &l, nil
	}
	return nil, last
}

// reconcilerURLs are the API URLs of the reconcilers membership knows
// alive; tests replace them with leaseReconcilers.
func (a *Agent) reconcilerURLs() []string {
	if a.leaseReconcilers != nil {
		return a.leaseReconcilers()
	}
	var out []string
	for _, m := range a.Members() {
		if m.Tags[api.TagRole] == api.RoleReconciler && m.Status == serf.StatusAlive && m.Tags[api.TagAPI] != "" {
			out = append(out, m.Tags[api.TagAPI])
		}
	}
	return out
}

// leaseHTTP is the client lease requests go through.
func (a *Agent) leaseHTTP() *http.Client {
	if a.sec != nil {
		return a.sec.leaseHC
	}
	return &http.Client{Timeout: leaseTimeout}
}
