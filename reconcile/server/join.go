package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
)

// POST /v1/join (internal/pki): an agent or a reconciler presents the
// bootstrap token and a certificate request, and receives its certificate,
// the CA and the gossip key (a reconciler the CA's key and the token's
// hash too). Every reconciler answers from its own credentials: no leader
// is needed, so reconcilers that bootstrap raft together can join first.

// joinName is what a node or reconciler name may be (a DNS label, dots
// allowed, as Kubernetes' node names).
var joinName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	if s.sec == nil {
		errs.WriteHTTP(w, errNotFound("this reconciler runs without security: there is nothing to join"))
		return
	}
	var req pki.JoinRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, pki.MaxJoinBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("failed to decode join request: %w", err), errs.ErrInvalid))
		return
	}
	tok, err := pki.ParseToken(req.Token)
	if err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errUnauthenticated))
		return
	}
	m := s.sec.m
	// Agents join with the bootstrap token, reconcilers, which receive the
	// CA's key, with the reconciler token: a token left on an agent's host
	// admits no reconciler.
	want := m.TokenHash
	if req.Role == pki.RoleReconciler {
		want = m.ReconcilerTokenHash
	}
	if want == "" || tok.CAHash != m.CA.Hash() || !tok.Matches(want) {
		s.log.Warn("refused a join with a wrong bootstrap token", "from", r.RemoteAddr, "role", req.Role, "name", req.Name)
		errs.WriteHTTP(w, errs.Mark(errors.New("bootstrap token refused"), errUnauthenticated))
		return
	}
	resp, err := s.admit(req)
	if err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrInvalid))
		return
	}
	s.log.Info("admitted a member", "role", req.Role, "name", req.Name, "from", r.RemoteAddr)
	writeJSON(w, http.StatusOK, resp)
}

// admit issues the joiner's certificate.
func (s *Server) admit(req pki.JoinRequest) (*pki.JoinResponse, error) {
	if !joinName.MatchString(req.Name) {
		return nil, fmt.Errorf("invalid name %q: want lower-case letters, digits, '-' and '.'", req.Name)
	}
	var user policy.User
	switch req.Role {
	case pki.RoleAgent:
		user = pki.NodeUser(req.Name)
	case pki.RoleReconciler:
		user = pki.ReconcilerUser(req.Name)
	default:
		return nil, fmt.Errorf("invalid role %q: want %q or %q", req.Role, pki.RoleAgent, pki.RoleReconciler)
	}
	pub, err := pki.ParseCSR([]byte(req.CSR))
	if err != nil {
		return nil, err
	}
	if len(req.IPs)+len(req.DNSNames) > 32 {
		return nil, errors.New("too many addresses: at most 32")
	}
	var ips []net.IP
	for _, a := range req.IPs {
		ip := net.ParseIP(a)
		if ip == nil {
			return nil, fmt.Errorf("invalid IP address %q", a)
		}
		ips = append(ips, ip)
	}
	for _, d := range req.DNSNames {
		if !joinName.MatchString(d) {
			return nil, fmt.Errorf("invalid DNS name %q", d)
		}
	}
	m := s.sec.m
	cert, _, err := m.CA.Issue(pki.Request{User: user, IPs: ips, DNSNames: req.DNSNames, PublicKey: pub})
	if err != nil {
		return nil, err
	}
	out := &pki.JoinResponse{CACert: string(m.CA.CertPEM), Cert: string(cert), GossipKey: pki.EncodeGossipKey(m.GossipKey)}
	if req.Role == pki.RoleReconciler {
		out.CAKey, out.TokenHash, out.ReconcilerTokenHash = string(m.CA.KeyPEM), m.TokenHash, m.ReconcilerTokenHash
	}
	return out, nil
}
