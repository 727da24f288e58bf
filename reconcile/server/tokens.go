package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/policy"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// API tokens (docs/security.md): POST /v1/tokens creates a bearer token for
// a user name and groups (RBAC: create tokens in stevedore.dev, which only
// cluster-admin has by default), GET lists them, DELETE revokes one. A
// token is "sdt_ID_SECRET"; the raft store keeps its ID and the SHA-256 of
// the whole token, never the token, so a store snapshot or a raft log
// grants nothing. The secret is in the creation's answer only, and in no
// log or error.

// opToken creates or deletes one token: Token.
const opToken = "token"

// maxTokens bounds the tokens the store keeps.
const maxTokens = 10000

// tokenPrefix starts every token, so that a leaked one is recognisable
// (secret scanners) and a certificate or other string is never taken for
// one.
const tokenPrefix = "sdt_"

// maxTokenLen bounds what tokenUser hashes: a token is 64 characters.
const maxTokenLen = 128

// tokenRecord is a token as the store keeps it: its hash, not its secret.
type tokenRecord struct {
	// Hash is the hex SHA-256 of the whole token.
	Hash      string    `json:"hash"`
	User      string    `json:"user"`
	Groups    []string  `json:"groups,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// tokenCommand is the payload of an opToken entry.
type tokenCommand struct {
	ID string `json:"id"`
	// Record is the new token; nil revokes ID.
	Record *tokenRecord `json:"record,omitempty"`
}

// applyTokenLocked applies an opToken entry.
func (s *store) applyTokenLocked(c *command, index uint64) error {
	tc := c.Token
	if tc == nil || tc.ID == "" {
		return fmt.Errorf("raft entry %d: token entry without a token", index)
	}
	m := maps.Clone(s.st.Tokens) // copy-on-write: readers hold the old map
	if m == nil {
		m = map[string]tokenRecord{}
	}
	if tc.Record == nil {
		delete(m, tc.ID)
	} else {
		m[tc.ID] = *tc.Record
	}
	s.st.Tokens = m
	return nil
}

// tokens returns every token (the map is replaced, never written to).
func (s *store) tokens() map[string]tokenRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.Tokens
}

// hashToken returns the hex SHA-256 of a token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenUser returns the user of a bearer token, if it is a valid token that
// has not expired. The ID in the token finds its record; the hashes are
// compared in constant time.
func (s *Server) tokenUser(token string) (policy.User, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok || len(token) > maxTokenLen {
		return policy.User{}, false
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok {
		return policy.User{}, false
	}
	rec, found := s.store.tokens()[id]
	want := rec.Hash
	if !found {
		// Compare anyway, so that an unknown ID costs what a known one does.
		want = strings.Repeat("0", sha256.Size*2)
	}
	if subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(want)) != 1 || !found {
		return policy.User{}, false
	}
	if !rec.Expires.IsZero() && !time.Now().Before(rec.Expires) {
		return policy.User{}, false
	}
	return policy.User{Name: rec.User, Groups: slices.Clone(rec.Groups)}, true
}

// registerTokenRoutes adds the token API, served by the leader.
func (s *Server) registerTokenRoutes(lead func(string, http.HandlerFunc)) {
	lead("POST "+api.PathTokens, s.handleCreateToken)
	lead("GET "+api.PathTokens, s.handleTokens)
	lead("DELETE "+api.PathToken, s.handleDeleteToken)
}

// maxTokenBody bounds a TokenRequest.
const maxTokenBody = 16 << 10

// newToken returns a new token's ID and whole secret.
func newToken() (id, token string, err error) {
	b := make([]byte, 8+32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("failed to generate a token: %w", err)
	}
	id = hex.EncodeToString(b[:8])
	return id, tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(b[8:]), nil
}

// checkTokenRequest refuses a malformed request.
func checkTokenRequest(req *api.TokenRequest) error {
	switch {
	case strings.TrimSpace(req.User) == "":
		return errInvalid("token request: user is required")
	case len(req.User) > 253:
		return errInvalid("token request: user is longer than 253 characters")
	case len(req.Groups) > 64:
		return errInvalid("token request: more than 64 groups")
	case req.TTLSeconds < 0:
		return errInvalid("token request: ttlSeconds must not be negative")
	}
	for _, g := range req.Groups {
		if strings.TrimSpace(g) == "" || len(g) > 253 {
			return errInvalid(fmt.Sprintf("token request: invalid group %q", g))
		}
	}
	return nil
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var req api.TokenRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		errs.WriteHTTP(w, errInvalid("failed to decode token request: "+err.Error()))
		return
	}
	if err := checkTokenRequest(&req); err != nil {
		errs.WriteHTTP(w, err)
		return
	}
	if u, ok := userFrom(r.Context()); ok {
		if err := s.mayImpersonate(u, &req); err != nil {
			errs.WriteHTTP(w, err)
			return
		}
	}
	if len(s.store.tokens()) >= maxTokens {
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("the cluster has %d tokens, the most it keeps: delete some first", maxTokens), errs.ErrConflict))
		return
	}
	id, token, err := newToken()
	if err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
		return
	}
	now := time.Now().UTC().Truncate(time.Second)
	rec := tokenRecord{Hash: hashToken(token), User: req.User, Groups: req.Groups, Created: now}
	if req.TTLSeconds > 0 {
		rec.Expires = now.Add(time.Duration(req.TTLSeconds) * time.Second)
	}
	if u, ok := userFrom(r.Context()); ok {
		rec.CreatedBy = u.Name
	}
	if err := s.el.apply(&command{Op: opToken, Token: &tokenCommand{ID: id, Record: &rec}}, s.cfg.Raft.ApplyTimeout); err != nil {
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("failed to store the token: %w", err), errs.ErrUnavailable))
		return
	}
	writeJSON(w, http.StatusCreated, api.CreatedToken{Token: wireToken(id, rec), Secret: token})
}

// mayImpersonate refuses (403) a token for a user or group the caller may
// not impersonate, as Kubernetes' impersonation checks it: the verb
// impersonate on users (by name) and groups (each). Creating tokens is not
// enough: it would let any token creator mint a system:masters token. A
// forwarded request arrives with the caller's identity (authn.go).
func (s *Server) mayImpersonate(u policy.User, req *api.TokenRequest) error {
	az := s.authorizer()
	check := func(res, name string) error {
		at := policy.Attributes{Verb: "impersonate", Resource: res, Name: name}
		if ok, reason := az.Authorize(u, at); !ok {
			return errs.Mark(fmt.Errorf("forbidden: a token for %s %q needs the verb impersonate on it: %s", strings.TrimSuffix(res, "s"), name, reason), errForbidden)
		}
		return nil
	}
	if err := check("users", req.User); err != nil {
		return err
	}
	for _, g := range req.Groups {
		if err := check("groups", g); err != nil {
			return err
		}
	}
	return nil
}

func wireToken(id string, rec tokenRecord) api.Token {
	return api.Token{ID: id, User: rec.User, Groups: rec.Groups, Created: rec.Created, Expires: rec.Expires, CreatedBy: rec.CreatedBy}
}

func (s *Server) handleTokens(w http.ResponseWriter, r *http.Request) {
	out := []api.Token{}
	for id, rec := range s.store.tokens() {
		out = append(out, wireToken(id, rec))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	writeJSON(w, http.StatusOK, api.TokenList{Tokens: out})
}

func (s *Server) handleDeleteToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.store.tokens()[id]; !ok {
		errs.WriteHTTP(w, errNotFound(fmt.Sprintf("token %q not found", id)))
		return
	}
	if err := s.el.apply(&command{Op: opToken, Token: &tokenCommand{ID: id}}, s.cfg.Raft.ApplyTimeout); err != nil {
		errs.WriteHTTP(w, errs.Mark(fmt.Errorf("failed to revoke the token: %w", err), errs.ErrUnavailable))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
