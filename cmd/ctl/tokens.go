package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// API tokens (docs/security.md): ctl create token USER [--group G]...
// [--ttl D] prints the secret once; ctl get tokens lists them without
// secrets; ctl delete token ID revokes one.

// tokenOptions are ctl create token's flags.
type tokenOptions struct {
	groups []string
	ttl    time.Duration
}

// isTokenResource reports whether a resource argument names tokens.
func isTokenResource(s string) bool {
	switch strings.ToLower(s) {
	case "token", "tokens":
		return true
	}
	return false
}

func (c *cli) createToken(ctx context.Context, user string, o tokenOptions, output string) error {
	if o.ttl < 0 {
		return usageErr("--ttl must not be negative")
	}
	if o.ttl > 0 && o.ttl < time.Second {
		return usageErr("--ttl is at least 1s")
	}
	t, err := askAPI(ctx, c, func(ctx context.Context, cl *api.Client) (*api.CreatedToken, error) {
		return cl.CreateToken(ctx, api.TokenRequest{User: user, Groups: o.groups, TTLSeconds: int64(o.ttl / time.Second)})
	})
	if err != nil {
		return err
	}
	return c.emit(output, t, func(w io.Writer) {
		fmt.Fprintf(w, "token %s created for user %q", t.ID, t.User)
		if len(t.Groups) > 0 {
			fmt.Fprintf(w, " (groups %s)", strings.Join(t.Groups, ", "))
		}
		if !t.Expires.IsZero() {
			fmt.Fprintf(w, ", expires %s", t.Expires.Format(time.RFC3339))
		}
		fmt.Fprintf(w, "; it is shown only now:\n%s\n", t.Secret)
	})
}

func (c *cli) getTokens(ctx context.Context, output string) error {
	list, err := askAPI(ctx, c, func(ctx context.Context, cl *api.Client) ([]api.Token, error) { return cl.Tokens(ctx) })
	if err != nil {
		return err
	}
	return c.emit(output, api.TokenList{Tokens: list}, func(w io.Writer) {
		tw := newTable(w)
		fmt.Fprintln(tw, "ID\tUSER\tGROUPS\tAGE\tEXPIRES\tCREATED BY")
		for _, t := range list {
			exp := "never"
			if !t.Expires.IsZero() {
				exp = t.Expires.Format(time.RFC3339)
				if !now().Before(t.Expires) {
					exp += " (expired)"
				}
			}
			groups := strings.Join(t.Groups, ",")
			if groups == "" {
				groups = "<none>"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.User, groups, age(t.Created), exp, orNone(t.CreatedBy))
		}
		tw.Flush()
	})
}

func (c *cli) deleteToken(ctx context.Context, id string) error {
	cl, err := c.client()
	if err != nil {
		return err
	}
	ctx, cancel := c.requestCtx(ctx)
	defer cancel()
	err = cl.DeleteToken(ctx, id)
	if errors.Is(err, api.ErrNotFound) {
		return &exitErr{code: exitChanges, err: err}
	}
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	fmt.Fprintf(c.out, "token %s revoked\n", id)
	return nil
}
