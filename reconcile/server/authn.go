package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/internal/pki"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// Authentication of the API (docs/security.md): a client certificate
// signed by the cluster CA, or a bearer token; the user goes into the
// request's context (authz.go) and nothing without one passes but the
// health check, the join (which carries the bootstrap token) and the
// signed webhook.

// Headers a follower forwards its caller's identity in (forward.go). They
// are believed only on a request made with a reconciler's certificate and
// removed from every other.
const (
	headerUser  = "X-Stevedore-User"
	headerGroup = "X-Stevedore-Group" // one value per group
)

// Identities of callers that are not authenticated.
var (
	// anonymousUser calls the endpoints that need no credentials (health
	// check, join, webhook), as Kubernetes names such callers.
	anonymousUser = policy.User{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}
	// insecureUser is every caller of a server whose security is disabled
	// (tests): a master.
	insecureUser = policy.User{Name: "system:insecure", Groups: []string{policy.GroupMasters, policy.GroupAuthenticated}}
)

// errUnauthenticated is 401.
var errUnauthenticated = errs.ToNative(http.StatusUnauthorized, errs.CodeUnauthenticated)

// authenticate wraps the API's handler.
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwdUser, fwdGroups := r.Header.Values(headerUser), r.Header.Values(headerGroup)
		r.Header.Del(headerUser)
		r.Header.Del(headerGroup)
		if s.sec == nil {
			// In-process tests may put a user in the context to test RBAC.
			if _, ok := userFrom(r.Context()); !ok {
				r = r.WithContext(withUser(r.Context(), insecureUser))
			}
			h.ServeHTTP(w, r)
			return
		}
		if isPublic(r) {
			h.ServeHTTP(w, r.WithContext(withUser(r.Context(), anonymousUser)))
			return
		}
		u, method, err := s.callerOf(r, fwdUser, fwdGroups)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="stevedore"`)
			errs.WriteHTTP(w, errs.Mark(err, errUnauthenticated))
			return
		}
		if !u.InGroup(policy.GroupAuthenticated) {
			u.Groups = append(u.Groups, policy.GroupAuthenticated)
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(withUser(r.Context(), u), methodKey{}, method)))
	})
}

// methodKey keys how the caller was authenticated (methodCertificate or
// methodToken) in a request's context: GET /v1/whoami reports it.
type methodKey struct{}

// methodFrom returns how authenticate authenticated the caller ("" when
// security is disabled, or for a public route).
func methodFrom(ctx context.Context) string {
	m, _ := ctx.Value(methodKey{}).(string)
	return m
}

// isPublic reports whether r is one of the requests that need no
// credentials: each is authenticated otherwise (the join by its token, the
// webhook by its HMAC signature) or tells nothing (the health check).
func isPublic(r *http.Request) bool {
	switch r.URL.Path {
	case api.PathHealthz:
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	case pki.PathJoin, api.PathWebhook:
		return r.Method == http.MethodPost
	case "/":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	if strings.HasPrefix(r.URL.Path, api.PathUI) {
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return false
}

// callerOf is the user a request authenticates as: its verified client
// certificate (or, on a reconciler's, the identity the forwarding
// follower names), else its bearer token.
func (s *Server) callerOf(r *http.Request, fwdUser, fwdGroups []string) (policy.User, string, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		u := pki.UserOf(r.TLS.PeerCertificates[0])
		if u.InGroup(policy.GroupReconcilers) && len(fwdUser) > 0 {
			if len(fwdUser) != 1 || fwdUser[0] == "" {
				return policy.User{}, "", errors.New("a forwarded request must name exactly one user")
			}
			return policy.User{Name: fwdUser[0], Groups: append([]string(nil), fwdGroups...)}, methodCertificate, nil
		}
		return u, methodCertificate, nil
	}
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return policy.User{}, "", errors.New(`unsupported Authorization header: want "Bearer TOKEN" (or a client certificate)`)
		}
		if u, ok := s.tokenUser(tok); ok {
			return u, methodToken, nil
		}
		// The token is not repeated: it may be a secret mistyped.
		return policy.User{}, "", errors.New("invalid bearer token")
	}
	return policy.User{}, "", errors.New("authentication required: present a client certificate of the cluster's CA or a bearer token (ctl --config admin.conf; docs/security.md)")
}

// nodeSpeaksForItself refuses (403) a node's certificate that names
// another node, or none, in a request made on behalf of its pods (a lease
// request's Node): a node campaigns only for pods placed on it.
func nodeSpeaksForItself(r *http.Request, node string) error {
	u, ok := userFrom(r.Context())
	if !ok || !u.InGroup(policy.GroupNodes) {
		return nil
	}
	if want := policy.NodeUserPrefix + node; node == "" || u.Name != want {
		return errs.Mark(fmt.Errorf("%s may only ask on behalf of its own pods (the request names node %q)", u.Name, node), errForbidden)
	}
	return nil
}

// errForbidden is 403.
var errForbidden = errs.ToNative(http.StatusForbidden, errs.CodeForbidden)

// forwardIdentity sets the caller's identity on a request a follower
// forwards to the leader with its own certificate.
func forwardIdentity(in, out *http.Request) {
	out.Header.Del(headerUser)
	out.Header.Del(headerGroup)
	out.Header.Del("Authorization") // the leader believes the follower's certificate, not a token it would look up again
	u, ok := userFrom(in.Context())
	if !ok {
		return
	}
	out.Header.Set(headerUser, u.Name)
	for _, g := range u.Groups {
		out.Header.Add(headerGroup, g)
	}
}
