package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stevedore-dev/stevedore/internal/pki"

	"github.com/containerd/errdefs"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/policy/rbac"
	"github.com/stevedore-dev/stevedore/reconcile/api"
	"github.com/stevedore-dev/stevedore/spec"
)

// Authorization of the API (docs/security.md, section RBAC): every route
// is checked by its ServeMux pattern against RBAC, with the user authn.go
// put in the request's context. routeAttrs maps each pattern to the
// Kubernetes-style attributes of its requests; a pattern without a mapping
// is refused to everyone (TestEveryRouteIsAuthorized fails first), so a
// route added later cannot skip authorization.

type userKey struct{}

// withUser returns ctx carrying the authenticated caller.
func withUser(ctx context.Context, u policy.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// userFrom returns the caller authn.go authenticated, if any.
func userFrom(ctx context.Context) (policy.User, bool) {
	u, ok := ctx.Value(userKey{}).(policy.User)
	return u, ok
}

// publicRoutes are answered without a user: the webhook proves itself by
// its HMAC signature, the join by its bootstrap token (join.go), and the
// health check says nothing worth hiding.
var publicRoutes = map[string]bool{
	"POST " + api.PathWebhook: true,
	"GET " + api.PathHealthz:  true,
	"POST " + pki.PathJoin:    true,
	"GET " + api.PathUI:       true,
	"GET /{$}":                true,
}

// attrsFunc returns the attributes of one request of a route.
type attrsFunc func(s *Server, r *http.Request) (policy.Attributes, error)

// Helpers building attrsFuncs.
func nonResource(path string) attrsFunc {
	return func(*Server, *http.Request) (policy.Attributes, error) {
		return policy.Attributes{Verb: "get", NonResourcePath: path}, nil
	}
}

// listOf is a list (or, with ?watch=1, a watch) of resource in
// ?namespace= ("" is every namespace).
func listOf(group, resource string) attrsFunc {
	return func(_ *Server, r *http.Request) (policy.Attributes, error) {
		verb := "list"
		if isWatch(r) {
			verb = "watch"
		}
		return policy.Attributes{Verb: verb, APIGroup: group, Resource: resource, Namespace: r.URL.Query().Get("namespace")}, nil
	}
}

// clusterList is a list or watch of a cluster-scoped resource.
func clusterList(group, resource string) attrsFunc {
	return func(_ *Server, r *http.Request) (policy.Attributes, error) {
		verb := "list"
		if isWatch(r) {
			verb = "watch"
		}
		return policy.Attributes{Verb: verb, APIGroup: group, Resource: resource}, nil
	}
}

// named is verb on the object {namespace}/{name} of the path.
func named(verb, group, resource, sub string) attrsFunc {
	return func(_ *Server, r *http.Request) (policy.Attributes, error) {
		return policy.Attributes{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub,
			Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}, nil
	}
}

// clusterNamed is verb on the cluster-scoped object {name} of the path.
func clusterNamed(verb, group, resource, sub string) attrsFunc {
	return func(_ *Server, r *http.Request) (policy.Attributes, error) {
		return policy.Attributes{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: r.PathValue("name")}, nil
	}
}

// podQuery is verb on pods/sub of ?namespace= (default "default") and
// ?pod=, as logs and exec name their pod.
func podQuery(verb, sub string) attrsFunc {
	return func(_ *Server, r *http.Request) (policy.Attributes, error) {
		q := r.URL.Query()
		ns := q.Get("namespace")
		if ns == "" {
			ns = spec.DefaultNamespace
		}
		return policy.Attributes{Verb: verb, Resource: "pods", Subresource: sub, Namespace: ns, Name: q.Get("pod")}, nil
	}
}

// appQuery is verb on the application ?app= (the bootstrap application
// when absent, named by its configured name, so that resourceNames can
// name it).
func appQuery(verb, sub string) attrsFunc {
	return func(s *Server, r *http.Request) (policy.Attributes, error) {
		name := r.URL.Query().Get("app")
		if name == "" {
			name = s.bootstrapName()
		}
		return policy.Attributes{Verb: verb, APIGroup: rbac.GroupStevedore, Resource: "applications", Subresource: sub, Name: name}, nil
	}
}

// topPods is GET /v1/top/pods: ?all=1 is every namespace whatever
// ?namespace= says, and no namespace is "default" (as handleTopPods reads
// them).
func topPods(_ *Server, r *http.Request) (policy.Attributes, error) {
	q := r.URL.Query()
	ns := q.Get("namespace")
	if q.Get(api.QueryAllNamespaces) == "1" {
		ns = ""
	} else if ns == "" {
		ns = spec.DefaultNamespace
	}
	return policy.Attributes{Verb: "list", APIGroup: rbac.GroupMetrics, Resource: "pods", Namespace: ns}, nil
}

// maxPeekBody bounds the body authorization reads to find a namespace.
const maxPeekBody = 64 << 10

// bodyTooLarge is a body over maxPeekBody: 413, as decodeBody answers.
type bodyTooLarge struct{ err error }

func (e *bodyTooLarge) Error() string { return e.err.Error() }
func (e *bodyTooLarge) Unwrap() error { return e.err }

// peekJSON decodes the request's body into v and puts the body back for
// the handler.
func peekJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxPeekBody+1))
	if err != nil {
		return errInvalid("failed to read the request: " + err.Error())
	}
	if len(b) > maxPeekBody {
		return &bodyTooLarge{errInvalid(fmt.Sprintf("the request larger than %d bytes: refused unread", maxPeekBody))}
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err := json.Unmarshal(b, v); err != nil {
		return errInvalid("failed to decode the request: " + err.Error())
	}
	return nil
}

// routeAttrs maps every route of Handler() to its attributes (the table of
// docs/security-rbac.md).
var routeAttrs = map[string]attrsFunc{
	"GET " + api.PathStatus:  nonResource(api.PathStatus),
	"GET " + api.PathVersion: nonResource(api.PathVersion),
	"GET " + api.PathMetrics: nonResource(api.PathMetrics),

	"GET " + api.PathPods:           listOf("", "pods"),
	"GET " + api.PathPod:            named("get", "", "pods", ""),
	"DELETE " + api.PathPod:         named("delete", "", "pods", ""),
	"GET " + api.PathLogs:           podQuery("get", "log"),
	"POST " + api.PathExec:          podQuery("create", "exec"),
	"GET " + api.PathDeployments:    listOf("apps", "deployments"),
	"GET " + api.PathRolloutHistory: named("get", "apps", "deployments", ""),
	"GET " + api.PathEvents:         listOf("", "events"),
	"GET " + api.PathTopPods:        topPods,

	"GET " + api.PathNodes:         clusterList("", "nodes"),
	"GET " + api.PathNode:          clusterNamed("get", "", "nodes", ""),
	"GET " + api.PathTopNodes:      clusterList(rbac.GroupMetrics, "nodes"),
	"POST " + api.PathNodeCordon:   clusterNamed("patch", "", "nodes", ""),
	"POST " + api.PathNodeUncordon: clusterNamed("patch", "", "nodes", ""),
	"POST " + api.PathNodeDrain:    clusterNamed("create", "", "nodes", "drain"),
	// Retiring a reconciler changes the control plane's quorum.
	"POST " + api.PathReconcilerRetire: clusterNamed("delete", rbac.GroupStevedore, "reconcilers", ""),
	"GET " + api.PathNamespaces:        clusterList("", "namespaces"),

	// Who the caller is and what it may do, as Kubernetes' self reviews
	// (stevedore:discovery grants both to everyone authenticated).
	"GET " + api.PathWhoAmI:        selfReview(rbac.GroupAuthentication, rbac.ResourceSelfSubjectReviews),
	"POST " + api.PathAccessReview: selfReview(rbac.GroupAuthorization, rbac.ResourceSelfSubjectAccessReviews),

	"GET " + api.PathApplicationCommits: clusterNamed("get", rbac.GroupStevedore, "applications", ""),
	"GET " + api.PathApplications:       clusterList(rbac.GroupStevedore, "applications"),
	"GET " + api.PathApplication:        clusterNamed("get", rbac.GroupStevedore, "applications", ""),
	"GET " + api.PathRevision:           appQuery("get", ""),
	"GET " + api.PathDiff:               appQuery("get", ""),
	"POST " + api.PathDiff:              appQuery("get", ""),
	"POST " + api.PathSync:              appQuery("create", "sync"),

	"GET " + api.PathServices:    listOf("", "services"),
	"GET " + api.PathService:     named("get", "", "services", ""),
	"GET " + api.PathEndpoints:   listOf("", "endpoints"),
	"GET " + api.PathEndpointsOf: named("get", "", "endpoints", ""),

	"GET " + api.PathConfigMaps:     listOf("", "configmaps"),
	"GET " + api.PathSecrets:        listOf("", "secrets"),
	"GET " + api.PathClaims:         listOf("", "persistentvolumeclaims"),
	"GET " + api.PathClaim:          named("get", "", "persistentvolumeclaims", ""),
	"GET " + api.PathVolumes:        clusterList("", "persistentvolumes"),
	"GET " + api.PathStorageClasses: clusterList("storage.k8s.io", "storageclasses"),

	"GET " + agentapi.PathLeases:   listOf(rbac.GroupCoordination, "leases"),
	"GET " + agentapi.PathLease:    named("get", rbac.GroupCoordination, "leases", ""),
	"PUT " + agentapi.PathLease:    named("update", rbac.GroupCoordination, "leases", ""),
	"DELETE " + agentapi.PathLease: named("delete", rbac.GroupCoordination, "leases", ""),

	"GET " + api.PathJobs:     listOf("batch", "jobs"),
	"GET " + api.PathJob:      named("get", "batch", "jobs", ""),
	"GET " + api.PathCronJobs: listOf("batch", "cronjobs"),
	"GET " + api.PathCronJob:  named("get", "batch", "cronjobs", ""),
	"POST " + api.PathJobs: func(_ *Server, r *http.Request) (policy.Attributes, error) {
		var req api.CreateJobRequest
		if err := peekJSON(r, &req); err != nil {
			return policy.Attributes{}, err
		}
		ns := req.Namespace
		if ns == "" {
			ns = spec.DefaultNamespace
		}
		return policy.Attributes{Verb: "create", APIGroup: "batch", Resource: "jobs", Namespace: ns, Name: req.Name}, nil
	},

	"POST " + api.PathTokens: func(*Server, *http.Request) (policy.Attributes, error) { return tokensAttrs("create", ""), nil },
	"GET " + api.PathTokens:  func(*Server, *http.Request) (policy.Attributes, error) { return tokensAttrs("list", ""), nil },
	"DELETE " + api.PathToken: func(_ *Server, r *http.Request) (policy.Attributes, error) {
		return tokensAttrs("delete", r.PathValue("id")), nil
	},
}

// selfReview is creating a review of oneself: the same for everyone.
func selfReview(group, resource string) attrsFunc {
	return func(*Server, *http.Request) (policy.Attributes, error) {
		return policy.Attributes{Verb: "create", APIGroup: group, Resource: resource}, nil
	}
}

func tokensAttrs(verb, name string) policy.Attributes {
	return policy.Attributes{Verb: verb, APIGroup: rbac.GroupStevedore, Resource: "tokens", Name: name}
}

// rbacState is the Authorizer of one desired state (every application's
// applied revision), rebuilt when that state changes.
type rbacState struct {
	set *spec.Set
	az  *rbac.Authorizer
}

// authorizer returns the Authorizer of the RBAC objects of the applied
// revisions of every application plus the built-ins. It is rebuilt only
// when the store's desired state is a new set, and read without a lock.
func (s *Server) authorizer() *rbac.Authorizer {
	set := s.store.publishedSet()
	if st := s.rbacAuthz.Load(); st != nil && st.set == set {
		return st.az
	}
	st := &rbacState{set: set, az: rbac.FromSets(set)}
	s.rbacAuthz.Store(st)
	return st.az
}

// rbacAuthzPointer is the Server field authorizer caches in.
type rbacAuthzPointer = atomic.Pointer[rbacState]

// authorizeRoute wraps the handler of the route registered as pattern
// with its RBAC check. Without a user in the context (Security disabled,
// tests) everything is allowed; a public route is never checked.
func (s *Server) authorizeRoute(pattern string, h http.Handler) http.Handler {
	s.routes.add(pattern)
	if publicRoutes[pattern] {
		return h
	}
	attrs, ok := routeAttrs[pattern]
	if !ok {
		attrs = func(*Server, *http.Request) (policy.Attributes, error) {
			return policy.Attributes{}, errs.Mark(fmt.Errorf("route %s has no authorization mapping: refused to everyone", pattern), errdefs.ErrPermissionDenied)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, authenticated := userFrom(r.Context())
		if !authenticated {
			h.ServeHTTP(w, r)
			return
		}
		at, err := attrs(s, r)
		if err != nil {
			var big *bodyTooLarge
			if errors.As(err, &big) {
				errs.WriteHTTPStatus(w, http.StatusRequestEntityTooLarge, big.err)
				return
			}
			errs.WriteHTTP(w, err)
			return
		}
		if allowed, reason := s.authorizer().Authorize(u, at); !allowed {
			errs.WriteHTTP(w, errs.Mark(fmt.Errorf("forbidden: %s", reason), errdefs.ErrPermissionDenied))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// publishedSet returns the desired state (every application's objects)
// without taking the store's lock.
func (s *store) publishedSet() *spec.Set { return s.published.Load() }

// routeLog records the patterns authorizeRoute wrapped, for the test that
// every route is mapped.
type routeLog struct {
	mu       sync.Mutex
	patterns []string
}

func (l *routeLog) add(p string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.patterns, p) {
		l.patterns = append(l.patterns, p)
	}
}

func (l *routeLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.patterns)
}
