// Package webhook turns Git hosting push notifications (GitHub, GitLab,
// Gitea) into sync triggers, checking their HMAC-SHA256 signature when a
// secret is set.
//
// A notification only says "look now": the handler never trusts the commit
// named in the payload, it calls trigger and the reconciler fetches the
// branch itself. So a forged or replayed payload can at worst cause an
// extra fetch, and a lost one is covered by polling.
//
// Providers are told apart by their event header:
//
//	GitHub          X-GitHub-Event: push    X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>
//	Gitea, Forgejo  X-Gitea-Event: push     X-Gitea-Signature: <hex HMAC-SHA256 of the body>
//	(and Gogs)      X-Forgejo-Event, X-Gogs-Event with X-Forgejo-Signature, X-Gogs-Signature
//	GitLab          X-Gitlab-Event: Push Hook   X-Gitlab-Token: <the secret itself>
//
// Status codes: 202 when a push to the tracked branch triggered a sync or
// when a well-formed event was ignored (another branch, a tag, another
// event kind: the sender did nothing wrong, and a 4xx would make the forge
// mark the hook as failing); 200 for ping; 400 for an unknown sender or a
// malformed payload; 401 for a missing or wrong signature; 405 for a method
// other than POST; 413 for a body over the limit.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxBodyBytes bounds a payload: GitHub's own cap, 25 MiB, so no
// payload a forge sends is refused (a push of thousands of commits lists
// every file of each). Past it the request is answered 413 unread.
const DefaultMaxBodyBytes = 25 << 20

// Config configures the handler.
type Config struct {
	// Secret, when set, must sign every payload (GitHub/Gitea HMAC-SHA256,
	// GitLab's X-Gitlab-Token). Empty accepts unsigned payloads from anyone
	// who can reach the endpoint: harmless (a push only triggers a fetch of
	// the configured remote) but lets them make the reconciler fetch at will.
	Secret string
	// Branch is the tracked branch; pushes to other branches are ignored.
	// Empty means "main", as in sync/source. "refs/heads/x" and "x" are the
	// same branch.
	Branch string
	// MaxBodyBytes bounds a request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per request. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the defaults filled in.
func DefaultConfig() Config {
	return Config{Branch: "main", MaxBodyBytes: DefaultMaxBodyBytes}
}

func (c *Config) validate() {
	c.Branch = strings.TrimPrefix(c.Branch, "refs/heads/")
	if c.Branch == "" {
		c.Branch = "main"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Sign returns the X-Hub-Signature-256 header value GitHub would send for
// body: "sha256=" and the hex HMAC-SHA256 of body keyed with secret. A
// post-receive hook computes the same with
// `openssl dgst -sha256 -hmac "$secret"`.
func Sign(secret string, body []byte) string {
	return "sha256=" + hexMAC(secret, body)
}

func hexMAC(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// provider is one forge's way of naming the event and signing the body.
type provider struct {
	name string
	// event is the event name from its header; push and ping are the
	// provider's names for those events.
	event, push, ping string
	verify            func(secret string, h http.Header, body []byte) error
}

var (
	errNoSignature  = errors.New("missing signature")
	errBadSignature = errors.New("signature does not match")
)

// hmacHeader checks a hex HMAC-SHA256 of the body in header name, with an
// optional prefix ("sha256=" for GitHub).
func hmacHeader(name, prefix string) func(string, http.Header, []byte) error {
	return func(secret string, h http.Header, body []byte) error {
		v := h.Get(name)
		if v == "" {
			return fmt.Errorf("%w: no %s header", errNoSignature, name)
		}
		got, err := hex.DecodeString(strings.TrimPrefix(v, prefix))
		if err != nil || !strings.HasPrefix(v, prefix) {
			return fmt.Errorf("%w: malformed %s header", errBadSignature, name)
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		if !hmac.Equal(got, m.Sum(nil)) {
			return fmt.Errorf("%w: %s", errBadSignature, name)
		}
		return nil
	}
}

// gitlabToken checks GitLab's shared-secret header. Both sides are hashed
// first so the comparison takes the same time whatever their lengths.
func gitlabToken(secret string, h http.Header, _ []byte) error {
	v := h.Get("X-Gitlab-Token")
	if v == "" {
		return fmt.Errorf("%w: no X-Gitlab-Token header", errNoSignature)
	}
	a, b := sha256.Sum256([]byte(v)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fmt.Errorf("%w: X-Gitlab-Token", errBadSignature)
	}
	return nil
}

// detect picks the provider from the request's event header. Gitea and
// Forgejo also send GitHub's headers for compatibility, so their own are
// looked at first.
func detect(h http.Header) (provider, bool) {
	for _, p := range []struct{ event, sig, name string }{
		{"X-Forgejo-Event", "X-Forgejo-Signature", "forgejo"},
		{"X-Gitea-Event", "X-Gitea-Signature", "gitea"},
		{"X-Gogs-Event", "X-Gogs-Signature", "gogs"},
	} {
		if e := h.Get(p.event); e != "" {
			return provider{name: p.name, event: e, push: "push", verify: hmacHeader(p.sig, "")}, true
		}
	}
	if e := h.Get("X-GitHub-Event"); e != "" {
		return provider{name: "github", event: e, push: "push", ping: "ping", verify: hmacHeader("X-Hub-Signature-256", "sha256=")}, true
	}
	if e := h.Get("X-Gitlab-Event"); e != "" {
		return provider{name: "gitlab", event: e, push: "Push Hook", verify: gitlabToken}, true
	}
	return provider{}, false
}

// pushPayload is the part of a push payload the handler reads. GitHub,
// Gitea and GitLab all name the pushed ref "ref".
type pushPayload struct {
	Ref string `json:"ref"`
	// Repository is GitHub's, Gitea's and GitLab's; Project GitLab's.
	Repository *repoURLs `json:"repository,omitempty"`
	Project    *repoURLs `json:"project,omitempty"`
}

// repoURLs are the ways the forges name the pushed repository.
type repoURLs struct {
	CloneURL   string `json:"clone_url,omitempty"`    // GitHub, Gitea
	SSHURL     string `json:"ssh_url,omitempty"`      // GitHub, Gitea
	HTMLURL    string `json:"html_url,omitempty"`     // GitHub, Gitea
	GitURL     string `json:"git_url,omitempty"`      // GitHub
	GitHTTPURL string `json:"git_http_url,omitempty"` // GitLab
	GitSSHURL  string `json:"git_ssh_url,omitempty"`  // GitLab
	WebURL     string `json:"web_url,omitempty"`      // GitLab
	Homepage   string `json:"homepage,omitempty"`     // GitLab
}

// Push is what a push notification says: the branch pushed to and the URLs
// the forge gives for the repository (none from a bare post-receive hook
// that sends only a ref).
type Push struct {
	Branch string
	URLs   []string
}

func (p *pushPayload) urls() []string {
	var out []string
	for _, r := range []*repoURLs{p.Repository, p.Project} {
		if r == nil {
			continue
		}
		for _, u := range []string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL, r.GitHTTPURL, r.GitSSHURL, r.WebURL, r.Homepage} {
			if u != "" {
				out = append(out, u)
			}
		}
	}
	return out
}

// Handler returns an http.Handler that calls trigger for each push to the
// tracked branch. trigger is called on the request's goroutine and must not
// block (a non-blocking send on a buffered channel, say): the forge waits
// for the response and gives up after ~10 s. It must not be nil.
func Handler(cfg Config, trigger func()) http.Handler {
	if trigger == nil {
		panic("webhook: nil trigger")
	}
	cfg.validate()
	return &handler{cfg: cfg, trigger: trigger}
}

// RouteHandler is Handler for a reconciler that tracks several
// repositories and branches: it calls route with every push to a branch
// (Config.Branch is not used) and route returns how many syncs it
// triggered. The same rules as trigger's apply to route: it runs on the
// request's goroutine and must not block.
func RouteHandler(cfg Config, route func(Push) int) http.Handler {
	if route == nil {
		panic("webhook: nil route")
	}
	cfg.validate()
	return &handler{cfg: cfg, route: route}
}

type handler struct {
	cfg     Config
	trigger func()
	route   func(Push) int
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.cfg.Logger.With("remote", r.RemoteAddr)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "only POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("webhook payload too large", "limit", h.cfg.MaxBodyBytes)
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("payload larger than %d bytes", h.cfg.MaxBodyBytes))
			return
		}
		reply(w, http.StatusBadRequest, "failed to read payload")
		return
	}
	p, ok := detect(r.Header)
	if !ok {
		log.Warn("webhook from unknown sender: no X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event header")
		reply(w, http.StatusBadRequest, "unknown sender: expected an X-GitHub-Event, X-Gitea-Event, X-Forgejo-Event or X-Gitlab-Event header")
		return
	}
	log = log.With("provider", p.name, "event", p.event)
	if h.cfg.Secret != "" {
		if err := p.verify(h.cfg.Secret, r.Header, body); err != nil {
			log.Warn("webhook rejected", "reason", err)
			reply(w, http.StatusUnauthorized, err.Error())
			return
		}
	}
	switch p.event {
	case p.ping:
		log.Info("webhook ping")
		reply(w, http.StatusOK, "pong")
		return
	case p.push:
	default:
		log.Debug("webhook event ignored")
		reply(w, http.StatusAccepted, fmt.Sprintf("ignored: event %q is not a push", p.event))
		return
	}
	payload, err := parsePayload(r.Header.Get("Content-Type"), body)
	ref := payload.Ref
	if err != nil {
		log.Warn("webhook payload malformed", "err", err)
		reply(w, http.StatusBadRequest, err.Error())
		return
	}
	if h.route != nil {
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		n := 0
		if ok {
			n = h.route(Push{Branch: branch, URLs: payload.urls()})
		}
		if n == 0 {
			log.Debug("webhook push that no application tracks ignored", "ref", ref)
			reply(w, http.StatusAccepted, fmt.Sprintf("ignored: no application tracks %s of this repository", ref))
			return
		}
		log.Info("webhook push accepted", "ref", ref, "applications", n)
		reply(w, http.StatusAccepted, fmt.Sprintf("sync triggered for %d application(s)", n))
		return
	}
	if want := "refs/heads/" + h.cfg.Branch; ref != want {
		log.Debug("webhook push to another ref ignored", "ref", ref, "tracked", want)
		reply(w, http.StatusAccepted, fmt.Sprintf("ignored: push to %s, tracking %s", ref, want))
		return
	}
	h.trigger()
	log.Info("webhook push accepted", "ref", ref)
	reply(w, http.StatusAccepted, "sync triggered")
}

// parsePayload reads the pushed ref and repository from a JSON body, or
// from the "payload" form field GitHub sends when a hook's content type is
// application/x-www-form-urlencoded.
func parsePayload(contentType string, body []byte) (*pushPayload, error) {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return &pushPayload{}, fmt.Errorf("failed to parse form payload: %w", err)
		}
		body = []byte(form.Get("payload"))
	}
	var p pushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return &pushPayload{}, fmt.Errorf("failed to parse push payload: %w", err)
	}
	if p.Ref == "" {
		return &pushPayload{}, errors.New("failed to parse push payload: no \"ref\" field")
	}
	return &p, nil
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}
