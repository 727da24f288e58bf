package source

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// authFor picks the go-git auth method for cfg.URL's protocol. A nil method
// means go-git's own default (credentials in the URL for http, none for
// file).
func authFor(cfg Config) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("failed to parse URL: %w", err)
	}
	switch ep.Protocol {
	case "http", "https":
		if cfg.Token == "" {
			return nil, nil
		}
		return &githttp.BasicAuth{Username: cfg.TokenUser, Password: cfg.Token}, nil
	case "ssh":
		user := ep.User
		if user == "" {
			user = "git"
		}
		var hk gitssh.HostKeyCallbackHelper
		var files []string
		if cfg.KnownHostsFile != "" {
			files = []string{cfg.KnownHostsFile}
		}
		db, err := gitssh.NewKnownHostsDb(files...)
		if err != nil {
			return nil, fmt.Errorf("failed to load known_hosts: %w", err)
		}
		port := ep.Port
		if port == 0 {
			port = 22
		}
		hk.HostKeyCallback = db.HostKeyCallback()
		// Offer only the key types known_hosts has for this host, so a
		// server with several host keys presents the one we can check.
		hk.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, fmt.Sprint(port)))
		if cfg.SSHKeyFile == "" {
			a, err := gitssh.NewSSHAgentAuth(user)
			if err != nil {
				return nil, fmt.Errorf("failed to use ssh-agent (no SSHKeyFile set): %w", err)
			}
			a.HostKeyCallbackHelper = hk
			return a, nil
		}
		k, err := gitssh.NewPublicKeysFromFile(user, cfg.SSHKeyFile, cfg.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("failed to load ssh key %s: %w", cfg.SSHKeyFile, err)
		}
		k.HostKeyCallbackHelper = hk
		return k, nil
	}
	return nil, nil
}

// isSSHAuthError tells the SSH handshake's "no key was accepted" apart from
// network errors; x/crypto/ssh does not type it.
func isSSHAuthError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "ssh: unable to authenticate")
}

func isHostKeyError(err error) bool {
	var ke *knownhosts.KeyError
	return errors.As(err, &ke)
}

// Redacted returns rawURL with credentials hidden, for logs and errors:
// an http(s) URL's user info is replaced entirely (a lone user name there is
// often a token), other URLs keep the user name and lose the password.
// Strings that do not parse as URLs (paths, scp-like user@host:path) are
// returned as they are: they carry no password.
func Redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.User == nil {
		return rawURL
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx")
		}
	default:
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

// redactor scrubs secrets from error messages that libraries built from
// the raw URL or that echo a server's reply.
type redactor struct {
	url, redacted string
	secrets       []string
}

func newRedactor(cfg Config) *redactor {
	r := &redactor{url: cfg.URL, redacted: Redacted(cfg.URL)}
	add := func(s string) {
		// Short strings would scrub ordinary words out of messages.
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
	add(cfg.Token)
	add(cfg.SSHKeyPassphrase)
	if u, err := url.Parse(cfg.URL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
		} else if s := strings.ToLower(u.Scheme); s == "http" || s == "https" {
			add(u.User.Username())
		}
	}
	return r
}

// wrap returns err with secrets scrubbed from its message; errors.Is and
// errors.As still see the original chain.
func (r *redactor) wrap(err error) error {
	if err == nil {
		return nil
	}
	if isHostKeyError(err) && !errors.Is(err, ErrHostKey) {
		err = &kindError{kind: ErrHostKey, err: err}
	}
	if r.url == r.redacted && len(r.secrets) == 0 {
		return err
	}
	return &redactedError{err: err, r: r}
}

type redactedError struct {
	err error
	r   *redactor
}

func (e *redactedError) Unwrap() error { return e.err }

func (e *redactedError) Error() string {
	msg := e.err.Error()
	if e.r.url != e.r.redacted {
		msg = strings.ReplaceAll(msg, e.r.url, e.r.redacted)
	}
	for _, s := range e.r.secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	for _, s := range e.r.secrets {
		// url.URL.String percent-encodes some characters of a password.
		if q := url.QueryEscape(s); q != s {
			msg = strings.ReplaceAll(msg, q, "xxxxx")
		}
	}
	return msg
}
