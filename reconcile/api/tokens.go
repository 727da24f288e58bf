package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// API tokens (docs/security.md): bearer credentials for a user name and
// groups, created by an admin, stored hashed by the reconcilers and shown
// once, when created.
const (
	PathTokens = "/v1/tokens"      // POST TokenRequest → CreatedToken (admin); GET → TokenList
	PathToken  = "/v1/tokens/{id}" // DELETE: revoke
)

// TokenRequest is the body of POST PathTokens.
type TokenRequest struct {
	// User is the name RBAC subjects of kind User match. Required.
	User string `json:"user"`
	// Groups are the groups RBAC subjects of kind Group match.
	Groups []string `json:"groups,omitempty"`
	// TTLSeconds, when positive, makes the token expire that long after
	// its creation; zero never expires.
	TTLSeconds int64 `json:"ttlSeconds,omitempty"`
}

// Token describes a token without its secret.
type Token struct {
	ID      string    `json:"id"`
	User    string    `json:"user"`
	Groups  []string  `json:"groups,omitempty"`
	Created time.Time `json:"created"`
	// Expires is zero for a token that does not expire.
	Expires time.Time `json:"expires,omitzero"`
	// CreatedBy is the user who created it.
	CreatedBy string `json:"createdBy,omitempty"`
}

// CreatedToken is the answer of POST PathTokens: the only time the secret
// is shown.
type CreatedToken struct {
	Token
	// Secret is the bearer credential ("Authorization: Bearer SECRET").
	Secret string `json:"secret"`
}

// TokenList is the answer of GET PathTokens.
type TokenList struct {
	Tokens []Token `json:"tokens"`
}

// CreateToken creates a token; its secret is in the answer only.
func (c *Client) CreateToken(ctx context.Context, req TokenRequest) (*CreatedToken, error) {
	var t CreatedToken
	if err := c.doBody(ctx, http.MethodPost, PathTokens, nil, req, &t); err != nil {
		return nil, err
	}
	return &t, nil
}

// Tokens lists the tokens, without secrets.
func (c *Client) Tokens(ctx context.Context) ([]Token, error) {
	var l TokenList
	err := c.do(ctx, http.MethodGet, PathTokens, nil, &l)
	return l.Tokens, err
}

// DeleteToken revokes a token by its ID.
func (c *Client) DeleteToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, PathTokens+"/"+url.PathEscape(id), nil, nil)
}
