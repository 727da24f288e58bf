package pki

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// PathJoin is the reconciler endpoint a member joins through: the one
// request that carries the bootstrap token instead of a certificate.
const PathJoin = "/v1/join"

// Roles a joiner asks for.
const (
	RoleAgent      = "agent"
	RoleReconciler = "reconciler"
)

// MaxJoinBody bounds a join request and answer.
const MaxJoinBody = 64 << 10

// JoinRequest is POST /v1/join's body.
type JoinRequest struct {
	// Token is the bootstrap token ("stv1.<CA hash>.<secret>").
	Token string `json:"token"`
	// Role is RoleAgent or RoleReconciler.
	Role string `json:"role"`
	// Name is the node's or reconciler's name: the certificate is issued
	// to system:node:<Name> or system:reconciler:<Name>.
	Name string `json:"name"`
	// CSR is a PEM certificate request for the joiner's own key (its
	// subject is ignored).
	CSR string `json:"csr"`
	// IPs and DNSNames are the addresses the joiner serves on (its
	// certificate's SANs).
	IPs      []string `json:"ips,omitempty"`
	DNSNames []string `json:"dnsNames,omitempty"`
}

// JoinResponse is what a joiner receives.
type JoinResponse struct {
	// CACert is the cluster CA's certificate (PEM).
	CACert string `json:"caCert"`
	// Cert is the joiner's certificate (PEM).
	Cert string `json:"cert"`
	// GossipKey encrypts serf's gossip (base64).
	GossipKey string `json:"gossipKey"`
	// CAKey and TokenHash are given to reconcilers only: they issue
	// certificates and admit joiners too.
	CAKey     string `json:"caKey,omitempty"`
	TokenHash string `json:"tokenHash,omitempty"`
	// ReconcilerTokenHash is the hash of the reconcilers' own join token.
	ReconcilerTokenHash string `json:"reconcilerTokenHash,omitempty"`
}

// Join asks the first of servers (reconciler API base URLs) that answers
// to admit the joiner: the connection is pinned to the CA the token
// names before the token is sent. A refusal (the token does not match) is
// returned at once; an unreachable server is skipped. Errors never
// contain the token.
func Join(ctx context.Context, servers []string, req JoinRequest) (*JoinResponse, error) {
	tok, err := ParseToken(req.Token)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("failed to encode join request: %w", err)
	}
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:           nil,
			TLSClientConfig: PinnedTLS(tok.CAHash),
			DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
	}
	defer hc.CloseIdleConnections()
	var errs []error
	for _, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if s == "" {
			continue
		}
		if !strings.HasPrefix(s, "https://") {
			errs = append(errs, fmt.Errorf("%s: joining needs an https:// reconciler URL", s))
			continue
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s+PathJoin, bytes.NewReader(body))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			continue
		}
		hreq.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(hreq)
		if errors.Is(err, ErrWrongCA) {
			return nil, fmt.Errorf("failed to join through %s: %w", s, ErrWrongCA)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to reach %s: %w", s, err))
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxJoinBody))
		resp.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to read %s's answer: %w", s, err))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			err := &RefusedError{Server: s, Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusBadRequest {
				return nil, err
			}
			errs = append(errs, err)
			continue
		}
		var out JoinResponse
		if err := json.Unmarshal(b, &out); err != nil {
			errs = append(errs, fmt.Errorf("failed to decode %s's answer: %w", s, err))
			continue
		}
		return &out, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("failed to join: no reconciler URL given")
	}
	return nil, fmt.Errorf("failed to join: %w", errors.Join(errs...))
}

// Final reports whether a Join error is final: a refusal, a malformed
// token, or a server of another CA; others (unreachable servers) are worth
// a retry.
func Final(err error) bool {
	var refused *RefusedError
	return errors.As(err, &refused) || errors.Is(err, ErrBadToken) || errors.Is(err, ErrWrongCA)
}

// RefusedError is a reconciler's refusal of a join.
type RefusedError struct {
	Server  string
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s refused to admit this member (HTTP %d): %s", e.Server, e.Status, e.Message)
}

// Material turns a join's answer and the key the joiner generated into
// what the joiner keeps.
func (r *JoinResponse) Material(keyPEM []byte) (*Material, error) {
	var caKey []byte
	if r.CAKey != "" {
		caKey = []byte(r.CAKey)
	}
	ca, err := LoadCA([]byte(r.CACert), caKey)
	if err != nil {
		return nil, err
	}
	gk, err := DecodeGossipKey(r.GossipKey)
	if err != nil {
		return nil, err
	}
	if !SameKey([]byte(r.Cert), keyPEM) {
		return nil, errors.New("failed to join: the certificate received does not certify this member's key")
	}
	if _, err := ParseCert([]byte(r.Cert)); err != nil {
		return nil, fmt.Errorf("failed to parse the certificate received: %w", err)
	}
	return &Material{CA: ca, GossipKey: gk, Self: KeyPair{CertPEM: []byte(r.Cert), KeyPEM: keyPEM}, TokenHash: r.TokenHash, ReconcilerTokenHash: r.ReconcilerTokenHash}, nil
}
