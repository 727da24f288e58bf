package dns

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// errNoUpstream is why a forwarded query fails when the host has none.
var (
	errNoUpstream      = errors.New("no upstream resolver configured")
	errTooManyForwards = errors.New("too many queries being forwarded")
)

// forwarder sends the queries the cluster cannot answer to the host's
// resolvers, one after the other.
type forwarder struct {
	upstreams []*upstream
	udp, tcp  *dns.Client
	log       *slog.Logger
	// slots bounds the queries waiting on upstreams: a pod flooding names
	// that time out would otherwise pile up a goroutine per query.
	slots chan struct{}
	// lastWarn (unix nanoseconds) rate-limits the warning that every
	// upstream failed: a dead network would otherwise log once per query.
	lastWarn atomic.Int64
}

// upstream is one resolver with its idle UDP sockets: dialing a socket per
// query cost as much CPU as the rest of the exchange (as CoreDNS's forward
// plugin, connections are kept).
type upstream struct {
	addr string
	idle chan *dns.Conn
}

// maxIdlePerUpstream bounds the sockets kept per upstream.
const maxIdlePerUpstream = 64

func newForwarder(addrs []string, timeout time.Duration, maxConcurrent int, log *slog.Logger) *forwarder {
	f := &forwarder{
		udp:   &dns.Client{Net: "udp", Timeout: timeout},
		tcp:   &dns.Client{Net: "tcp", Timeout: timeout},
		log:   log,
		slots: make(chan struct{}, maxConcurrent),
	}
	for _, a := range addrs {
		f.upstreams = append(f.upstreams, &upstream{addr: a, idle: make(chan *dns.Conn, maxIdlePerUpstream)})
	}
	return f
}

// close closes the idle sockets. Exchanges still running put theirs back
// or close them; the server calls it once its listeners are stopped.
func (f *forwarder) close() {
	for _, up := range f.upstreams {
		for {
			select {
			case co := <-up.idle:
				co.Close()
				continue
			default:
			}
			break
		}
	}
}

// forward asks each upstream in turn (over TCP when the client asked over
// TCP, or when the UDP answer came back truncated) and returns the first
// answer with the client's id; SERVFAIL when none answers, REFUSED when
// too many queries are being forwarded already (as CoreDNS's max_concurrent).
func (f *forwarder) forward(r *dns.Msg, tcp bool) *dns.Msg {
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	default:
		f.warn(r, errTooManyForwards)
		return reply(r, dns.RcodeRefused)
	}
	q := r.Copy()
	// A fresh id per upstream exchange: the client's id is restored on the
	// answer, and ours is not guessable from the client's.
	var errs []error
	for _, up := range f.upstreams {
		q.Id = dns.Id()
		resp, err := f.exchange(q, up, tcp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", up.addr, err))
			continue
		}
		resp.Id = r.Id
		return resp
	}
	if len(errs) == 0 {
		errs = append(errs, errNoUpstream)
	}
	f.warn(r, errors.Join(errs...))
	return reply(r, dns.RcodeServerFailure)
}

func (f *forwarder) exchange(q *dns.Msg, up *upstream, tcp bool) (*dns.Msg, error) {
	if !tcp {
		resp, err := f.exchangeUDP(q, up)
		if err != nil || !resp.Truncated {
			return resp, err
		}
	}
	resp, _, err := f.tcp.Exchange(q, up.addr)
	return resp, err
}

// exchangeUDP asks over an idle socket of up, or a new one. A socket is
// kept only after a clean exchange; a late answer to an earlier query on it
// is skipped by its id.
func (f *forwarder) exchangeUDP(q *dns.Msg, up *upstream) (*dns.Msg, error) {
	var co *dns.Conn
	select {
	case co = <-up.idle:
	default:
		var err error
		if co, err = f.udp.Dial(up.addr); err != nil {
			return nil, err
		}
	}
	resp, _, err := f.udp.ExchangeWithConn(q, co)
	if err != nil {
		co.Close()
		return nil, err
	}
	select {
	case up.idle <- co:
	default:
		co.Close()
	}
	return resp, nil
}

const warnEvery = 10 * time.Second

func (f *forwarder) warn(r *dns.Msg, err error) {
	now := time.Now().UnixNano()
	last := f.lastWarn.Load()
	if now-last < int64(warnEvery) || !f.lastWarn.CompareAndSwap(last, now) {
		f.log.Debug("failed to forward DNS query", "name", r.Question[0].Name, "err", err)
		return
	}
	f.log.Warn("failed to forward DNS query (repeats logged at debug for 10 s)",
		"name", r.Question[0].Name, "err", err)
}
