package source

import (
	"context"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"golang.org/x/net/proxy"
)

// go-git's SSH transport dials with context.Background and runs the SSH
// handshake with no deadline, so a server that accepts the connection and
// never answers would hang a Fetch, and the Source's lock, forever,
// whatever the caller's context says. go-git's only per-call hook into the
// SSH dial is its proxy option: a proxy URL with our own scheme routes the
// dial through ctxDialer, which closes the connection when the operation's
// context ends, unblocking the handshake and every read after it.

// dialScheme is the proxy scheme registered with golang.org/x/net/proxy;
// the URL's host is the Source's id in dialCtxs.
const dialScheme = "stevedore-ctx"

var (
	registerOnce sync.Once
	dialSeq      atomic.Uint64
	dialMu       sync.Mutex
	dialCtxs     = map[string]context.Context{}
)

// newSSHDialer registers the dial scheme once and returns the proxy
// option that routes one Source's SSH dials through it.
func newSSHDialer() (transport.ProxyOptions, string) {
	registerOnce.Do(func() {
		proxy.RegisterDialerType(dialScheme, func(u *url.URL, _ proxy.Dialer) (proxy.Dialer, error) {
			return ctxDialer{id: u.Host}, nil
		})
	})
	id := "s" + strconv.FormatUint(dialSeq.Add(1), 10)
	return transport.ProxyOptions{URL: dialScheme + "://" + id}, id
}

// bindDialContext makes ctx the context SSH connections dialed for id live
// under, until the returned func is called. A Source's operations are
// serialised, so one binding per id is enough.
func bindDialContext(id string, ctx context.Context) func() {
	if id == "" {
		return func() {}
	}
	dialMu.Lock()
	dialCtxs[id] = ctx
	dialMu.Unlock()
	return func() {
		dialMu.Lock()
		delete(dialCtxs, id)
		dialMu.Unlock()
	}
}

type ctxDialer struct{ id string }

var _ proxy.ContextDialer = ctxDialer{}

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d ctxDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	dialMu.Lock()
	op := dialCtxs[d.id]
	dialMu.Unlock()
	if op == nil {
		op = context.Background()
	}
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(op, cancel)
	defer stop()
	var nd net.Dialer
	conn, err := nd.DialContext(dctx, network, addr)
	if err != nil {
		return nil, err
	}
	// AfterFunc starts no goroutine until op ends; Close unregisters it.
	return &watchedConn{Conn: conn, stop: context.AfterFunc(op, func() { conn.Close() })}, nil
}

type watchedConn struct {
	net.Conn
	stop func() bool
}

func (c *watchedConn) Close() error {
	c.stop()
	return c.Conn.Close()
}
