package naming

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// HeaderSignature carries a webhook payload's signature when a secret is
// set: "sha256=" and the hex HMAC-SHA256 of the body keyed with the
// secret, as GitHub's X-Hub-Signature-256. Compare it in constant time.
const HeaderSignature = "X-Stevedore-Signature"

// WebhookConfig configures a Webhook.
type WebhookConfig struct {
	// URL receives the POSTs. Required.
	URL string
	// Secret signs each payload (HeaderSignature); empty sends it
	// unsigned.
	Secret []byte
	// Client sends the requests; nil means a client of its own (Timeout
	// bounds each request, not the client).
	Client *http.Client
	// Retry bounds each request and the back-off between failed ones.
	Retry
}

// Webhook POSTs each Snapshot as JSON (Content-Type application/json) to a
// URL, retrying with back-off until the receiver answers 2xx or a newer
// snapshot supersedes it.
type Webhook struct {
	cfg WebhookConfig
}

var _ Hook = (*Webhook)(nil)

// NewWebhook returns a Webhook; zero fields of cfg take their defaults.
func NewWebhook(cfg WebhookConfig) *Webhook {
	cfg.Retry.fill()
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Webhook{cfg: cfg}
}

// String names the hook in logs, without the URL's credentials.
func (w *Webhook) String() string { return "webhook " + redactURL(w.cfg.URL) }

// Notify implements Hook.
func (w *Webhook) Notify(ctx context.Context, s *Snapshot) error {
	body, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("failed to encode the naming snapshot: %w", err)
	}
	var sig string
	if len(w.cfg.Secret) > 0 {
		sig = Sign(w.cfg.Secret, body)
	}
	return retry(ctx, w.cfg.Logger, w.String(), w.cfg.MinBackoff, w.cfg.MaxBackoff, func() error {
		return w.post(ctx, body, sig)
	})
}

func (w *Webhook) post(ctx context.Context, body []byte, sig string) error {
	actx, cancel := attemptContext(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("failed to build the naming webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "stevedore-reconciler")
	if sig != "" {
		req.Header.Set(HeaderSignature, sig)
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// url.Error holds the URL: say which without its credentials.
		return fmt.Errorf("failed to post to the naming webhook %s: %w", redactURL(w.cfg.URL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("naming webhook %s answered %s: %s", redactURL(w.cfg.URL), resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Sign returns the HeaderSignature value of body keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// unwrapURLError drops the url.Error wrapper, whose message holds the
// URL (and any credentials in it).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
