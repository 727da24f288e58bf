package dns

import (
	"errors"
	"fmt"
	"github.com/stevedore-dev/stevedore/internal/resolvconf"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults for Config's zero values.
const (
	DefaultDomain = "cluster.local"
	// DefaultTTL is short so that clients follow endpoints closely: a
	// headless Service's answer changes as soon as a pod turns Ready or
	// goes. CoreDNS's kubernetes plugin defaults to 5 s too; the Corefile
	// Kubernetes deploys sets 30 s to spare a shared DNS Service, which a
	// node-local server does not need.
	DefaultTTL = 5 * time.Second
	// DefaultForwardTimeout bounds one attempt at one upstream, so that a
	// dead first upstream costs the client 2 s, under glibc's 5 s retry.
	DefaultForwardTimeout = 2 * time.Second
	DefaultResolvConf     = resolvconf.HostPath
	// DefaultMaxConcurrentForwards is the limit Kubernetes' Corefile sets on
	// CoreDNS's forward plugin.
	DefaultMaxConcurrentForwards = 1000
)

// Config configures a Server.
type Config struct {
	// Listen are the host:port addresses served, each on UDP and TCP (a
	// node's bridge address, "10.244.3.1:53"). Port 0 picks a free port,
	// the same for UDP and TCP (tests). Required.
	Listen []string
	// Domain is the cluster domain answered locally; zero means
	// "cluster.local".
	Domain string
	// Upstreams are the host:port resolvers that every other name is
	// forwarded to, tried in order (":53" is added when the port is
	// missing). Zero means the nameservers of ResolvConf minus loopback
	// ones (a loopback resolver does not answer from inside a network
	// namespace), or systemd-resolved's upstream list when only loopback
	// ones are left. No upstream at all makes every forwarded query
	// SERVFAIL.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty; zero means
	// /etc/resolv.conf.
	ResolvConf string
	// TTL of every record the server answers itself, and of the negative
	// answers (SOA minimum); zero means DefaultTTL.
	TTL time.Duration
	// ForwardTimeout bounds one attempt at one upstream; zero means
	// DefaultForwardTimeout.
	ForwardTimeout time.Duration
	// MaxConcurrentForwards bounds the queries waiting on upstreams at once;
	// more are REFUSED. Zero means DefaultMaxConcurrentForwards.
	MaxConcurrentForwards int
	// Logger zero means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with its defaults filled in, except Listen
// (which has none) and Upstreams (read from the host when the Server is made).
func DefaultConfig() Config {
	return Config{
		Domain:         DefaultDomain,
		ResolvConf:     DefaultResolvConf,
		TTL:            DefaultTTL,
		ForwardTimeout: DefaultForwardTimeout,

		MaxConcurrentForwards: DefaultMaxConcurrentForwards,
	}
}

var (
	errNoListen   = errors.New("no listen address")
	errRootDomain = errors.New("the root cannot be the cluster domain")
)

// validate fills zero values and rejects what cannot work.
func (c *Config) validate() error {
	if len(c.Listen) == 0 {
		return errNoListen
	}
	for _, l := range c.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return fmt.Errorf("failed to parse listen address %q: %w", l, err)
		}
	}
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	c.Domain = dns.Fqdn(strings.ToLower(strings.Trim(c.Domain, ".")))
	for _, l := range dns.SplitDomainName(c.Domain) {
		if !isLabel(l) {
			return fmt.Errorf("failed to parse cluster domain %q: %q is no DNS label", c.Domain, l)
		}
	}
	if c.Domain == "." {
		return fmt.Errorf("failed to parse cluster domain: %w", errRootDomain)
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.TTL < time.Second {
		return fmt.Errorf("failed to validate TTL %s: below one second", c.TTL)
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = DefaultForwardTimeout
	}
	if c.MaxConcurrentForwards == 0 {
		c.MaxConcurrentForwards = DefaultMaxConcurrentForwards
	}
	if c.MaxConcurrentForwards < 0 {
		return fmt.Errorf("failed to validate MaxConcurrentForwards %d: negative", c.MaxConcurrentForwards)
	}
	if c.ResolvConf == "" {
		c.ResolvConf = DefaultResolvConf
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(c.Upstreams) == 0 {
		c.Upstreams = hostUpstreams(c.ResolvConf, c.Logger)
	}
	ups := make([]string, 0, len(c.Upstreams))
	for _, u := range c.Upstreams {
		hp, err := withPort(u)
		if err != nil {
			return err
		}
		ups = append(ups, hp)
	}
	c.Upstreams = ups
	return nil
}

// withPort returns u as host:port, adding port 53 when u is a bare address.
func withPort(u string) (string, error) {
	if a, err := netip.ParseAddr(strings.Trim(u, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(u)
	if err != nil || host == "" || port == "" {
		return "", fmt.Errorf("failed to parse upstream %q: want host:port or an IP address", u)
	}
	return u, nil
}

// hostUpstreams reads the host's resolvers (resolvconf.Host: the
// non-loopback nameservers of path, else systemd-resolved's own list), on
// port 53. A file that cannot be read gives none (logged): the server still
// answers cluster names.
func hostUpstreams(path string, log *slog.Logger) []string {
	rc, err := resolvconf.Host(path)
	if err != nil {
		log.Warn("no upstream resolvers: cannot read resolv.conf", "path", path, "err", err)
		return nil
	}
	var ups []string
	for _, s := range rc.Nameservers {
		ups = append(ups, net.JoinHostPort(s, "53"))
	}
	if len(ups) == 0 {
		log.Warn("no upstream resolvers: resolv.conf names only loopback ones; names outside the cluster will fail", "path", path)
	}
	return ups
}
