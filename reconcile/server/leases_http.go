package server

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// The lease API (docs/leases.md): GET /v1/leases, GET, PUT and DELETE
// /v1/leases/{namespace}/{name}. Every request is the leader's (a follower
// forwards it): expiry is judged by the leader's clock, and a decision
// becomes a compare-and-swap entry in the raft store (store_leases.go).

// maxLeaseBody bounds a LeaseRequest.
const maxLeaseBody = 4 << 10

// leaseCASRetries bounds how often the leader decides one request again
// after another entry changed the lease between its read and its commit.
const leaseCASRetries = 5

// registerLeaseRoutes adds the lease API, served by the leader.
func (s *Server) registerLeaseRoutes(lead func(string, http.HandlerFunc)) {
	lead("GET "+agentapi.PathLeases, s.handleLeases)
	lead("GET "+agentapi.PathLease, s.handleLease)
	lead("PUT "+agentapi.PathLease, s.handlePutLease)
	lead("DELETE "+agentapi.PathLease, s.handleDeleteLease)
}

// now is the leader's clock, which leases expire by; tests replace it.
func (s *Server) now() time.Time {
	if f := s.leaseClock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// leaseKey returns the request's lease key, or writes why it is invalid.
func leaseKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	if msg := agentapi.LeaseNameError(ns, name); msg != "" {
		errs.WriteHTTP(w, errInvalid(msg))
		return "", false
	}
	return ns + "/" + name, true
}

func (s *Server) handleLeases(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	now := s.now()
	out := []agentapi.Lease{}
	for k, rec := range s.store.leases() {
		if ns == "" || strings.HasPrefix(k, ns+"/") {
			out = append(out, wireLease(k, rec, now))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Metadata, out[j].Metadata
		return a.Namespace < b.Namespace || a.Namespace == b.Namespace && a.Name < b.Name
	})
	writeJSON(w, http.StatusOK, agentapi.LeaseList{Leases: out})
}

func (s *Server) handleLease(w http.ResponseWriter, r *http.Request) {
	key, ok := leaseKey(w, r)
	if !ok {
		return
	}
	rec, found := s.store.lease(key)
	if !found {
		errs.WriteHTTP(w, errNotFound("lease "+key+" not found"))
		return
	}
	writeJSON(w, http.StatusOK, wireLease(key, rec, s.now()))
}

func (s *Server) handlePutLease(w http.ResponseWriter, r *http.Request) {
	key, ok := leaseKey(w, r)
	if !ok {
		return
	}
	var req agentapi.LeaseRequest
	if !decodeBody(w, r, maxLeaseBody, "lease request", &req, true) {
		return
	}
	if err := nodeSpeaksForItself(r, req.Node); err != nil { // authn.go
		errs.WriteHTTP(w, err)
		return
	}
	if err := s.checkLeaseRequest(key, &req); err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	l, err := s.putLease(key, req)
	if err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// checkLeaseRequest refuses a malformed request, and one an agent makes
// for a pod that is not its own (Node set: the holder must be a pod of the
// lease's namespace placed on that node).
func (s *Server) checkLeaseRequest(key string, req *agentapi.LeaseRequest) error {
	switch {
	case req.HolderIdentity == "":
		return errInvalid("lease request: holderIdentity is required")
	case len(req.HolderIdentity) > 253:
		return errInvalid("lease request: holderIdentity is longer than 253 characters")
	case req.LeaseDurationSeconds < 0 || req.LeaseDurationSeconds > agentapi.MaxLeaseDurationSeconds:
		return errInvalid(fmt.Sprintf("lease request: leaseDurationSeconds %d: must be between 1 and %d (0: %d)",
			req.LeaseDurationSeconds, agentapi.MaxLeaseDurationSeconds, agentapi.DefaultLeaseDurationSeconds))
	}
	if req.Node == "" {
		return nil
	}
	ns, _, _ := strings.Cut(key, "/")
	name, uid := agentapi.SplitPodHolderIdentity(req.HolderIdentity)
	p, found := s.view.Load().pod(ns, name)
	if !found || p.Node != req.Node || uid != "" && p.UID != uid {
		return errs.Mark(fmt.Errorf("node %s asked for lease %s on behalf of pod %s/%s, which is not placed on it",
			req.Node, key, ns, req.HolderIdentity), errdefs.ErrPermissionDenied)
	}
	return nil
}

// putLease decides req on the leader and commits the result, deciding
// again when a concurrent entry won the compare-and-swap.
func (s *Server) putLease(key string, req agentapi.LeaseRequest) (agentapi.Lease, error) {
	for attempt := 0; ; attempt++ {
		if s.ctrl.Load() == nil {
			return agentapi.Lease{}, errUnavailable("lost leadership: retry")
		}
		cur, exists := s.store.lease(key)
		now := s.now()
		next, err := decideLease(cur, exists, req, now)
		if err != nil {
			return agentapi.Lease{}, leaseRefusal(key, cur, exists, now, err)
		}
		var expect uint64
		if exists {
			expect = cur.Version
		}
		err = s.el.apply(&command{Op: opLease, Lease: &leaseCommand{Key: key, Expect: expect, Record: &next}}, s.cfg.Raft.ApplyTimeout)
		var rejected *rejectedError
		if errors.As(err, &rejected) && attempt < leaseCASRetries {
			continue
		}
		if err != nil {
			return agentapi.Lease{}, errs.Mark(err, errs.ErrUnavailable)
		}
		rec, _ := s.store.lease(key)
		return wireLease(key, rec, now), nil
	}
}

// leaseRefusal is the error of a refused request: 409 Conflict with the
// current lease in the body's "lease" field.
func leaseRefusal(key string, cur leaseRecord, exists bool, now time.Time, err error) error {
	err = errs.Mark(fmt.Errorf("lease %s: %w", key, err), errs.ErrConflict)
	if !exists {
		return err
	}
	return errs.WithFields(err, map[string]any{"lease": wireLease(key, cur, now)})
}

func (s *Server) handleDeleteLease(w http.ResponseWriter, r *http.Request) {
	key, ok := leaseKey(w, r)
	if !ok {
		return
	}
	cur, found := s.store.lease(key)
	if !found {
		errs.WriteHTTP(w, errNotFound("lease "+key+" not found"))
		return
	}
	err := s.el.apply(&command{Op: opLease, Lease: &leaseCommand{Key: key, Expect: cur.Version}}, s.cfg.Raft.ApplyTimeout)
	var rejected *rejectedError
	switch {
	case errors.As(err, &rejected):
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("lease %s: %w", key, err), errs.ErrConflict))
	case err != nil:
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
