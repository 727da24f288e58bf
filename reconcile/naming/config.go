package naming

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"time"
)

// Config is the reconciler's naming hooks (its flags map onto it). Nothing
// configured, nothing called.
type Config struct {
	// WebhookURL (--naming-webhook) receives each changed Snapshot as a
	// JSON POST; empty means no webhook.
	WebhookURL string
	// WebhookSecretFile (--naming-webhook-secret-file) holds the secret
	// the webhook's payloads are signed with (HMAC-SHA256, header
	// X-Stevedore-Signature; surrounding whitespace is ignored). Empty
	// sends them unsigned. It is read when the hooks are built, at the
	// start of every leader term, so a rotated secret is picked up then.
	WebhookSecretFile string
	// Exec (--naming-exec) is a command run by /bin/sh -c with each
	// changed Snapshot as JSON on its standard input; empty means none.
	Exec string
	// Timeout bounds each webhook request and each run of the command;
	// zero means 10s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between the attempts of a
	// failed call, doubling from one to the other; zero means 1s and 30s.
	// A call is retried until it succeeds or a newer snapshot supersedes
	// it.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the hooks' failures; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with no hook and the default timings.
func DefaultConfig() Config {
	c := Config{}
	_ = c.validate()
	return c
}

// validate fills zero values and checks the webhook URL.
func (c *Config) validate() error {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid naming webhook URL %q: want http(s)://host/path", redactURL(c.WebhookURL))
		}
	}
	if c.WebhookSecretFile != "" && c.WebhookURL == "" {
		return errors.New("a naming webhook secret file is set without a naming webhook URL")
	}
	return nil
}

// Enabled reports whether any hook is configured.
func (c Config) Enabled() bool { return c.WebhookURL != "" || c.Exec != "" }

// Hooks builds the configured hooks: the webhook first, then the command.
// It reads the webhook's secret file; an unreadable or empty one is an
// error (a typo must not turn signing off).
func (c Config) Hooks() ([]Hook, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	var hooks []Hook
	if c.WebhookURL != "" {
		var secret []byte
		if c.WebhookSecretFile != "" {
			b, err := os.ReadFile(c.WebhookSecretFile)
			if err != nil {
				return nil, fmt.Errorf("failed to read the naming webhook secret: %w", err)
			}
			if secret = bytes.TrimSpace(b); len(secret) == 0 {
				return nil, fmt.Errorf("the naming webhook secret file %s is empty", c.WebhookSecretFile)
			}
		}
		hooks = append(hooks, NewWebhook(WebhookConfig{URL: c.WebhookURL, Secret: secret, Retry: c.retry()}))
	}
	if c.Exec != "" {
		hooks = append(hooks, NewExec(ExecConfig{Command: c.Exec, Retry: c.retry()}))
	}
	return hooks, nil
}

// redactURL drops a URL's user information (a token in it) for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User("redacted")
	return u.String()
}

// retry calls attempt until it succeeds or ctx ends, waiting between
// attempts from minWait doubling to maxWait, and logging each failure.
func retry(ctx context.Context, log *slog.Logger, hook string, minWait, maxWait time.Duration, attempt func() error) error {
	wait := minWait
	for n := 1; ; n++ {
		err := attempt()
		if err == nil {
			if n > 1 {
				log.Info("naming hook succeeded after retrying", "hook", hook, "attempts", n)
			}
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		log.Warn("naming hook failed; retrying", "hook", hook, "attempt", n, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// attemptContext is the context of one attempt: bounded by timeout, and
// cancelled when ctx is, unless ctx was cancelled because a newer snapshot
// is waiting (ErrSuperseded), in which case the attempt may finish.
func attemptContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), ErrSuperseded) {
			cancel()
		}
	})
	return actx, func() { stop(); cancel() }
}

func (c Config) retry() Retry {
	return Retry{Timeout: c.Timeout, MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff, Logger: c.Logger}
}

// Retry bounds a hook's attempts and the back-off between failed ones; the
// Exec and Webhook hooks share it.
type Retry struct {
	// Timeout bounds each attempt; zero means 10s.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between failed attempts;
	// zero means 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives failed attempts; nil means slog.Default().
	Logger *slog.Logger
}

// fill sets the zero fields to their defaults.
func (r *Retry) fill() {
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	if r.MinBackoff <= 0 {
		r.MinBackoff = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}
