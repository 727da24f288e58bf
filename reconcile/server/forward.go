package server

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	agentapi "github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// headerForwarded marks a request a follower forwarded, so that two
// reconcilers that disagree about the leader never bounce it between them.
const headerForwarded = "X-Stevedore-Forwarded-By"

// leaderWait bounds how long a request waits for an election to end.
const leaderWait = 5 * time.Second

// leaderOnly serves h on the leader and forwards the request to the leader
// on a follower: reads need the leader's observed state, writes its
// controller. ctl can therefore talk to any reconciler.
func (s *Server) leaderOnly(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A leader that went away (killed, cut off) is not yet replaced
		// when the first requests arrive: a request without a body is
		// tried once more on the next leader instead of failing.
		var gone string
		for attempt := 0; ; attempt++ {
			leader, ok := s.awaitLeader(w, r, gone)
			if !ok {
				return
			}
			if leader == "" {
				h(w, r)
				return
			}
			retry := attempt == 0 && r.ContentLength == 0
			if s.forward(w, r, leader, retry) || !retry {
				return
			}
			gone = leader
		}
	})
}

// awaitLeader waits (at most leaderWait) for a leader other than gone and
// returns its name, "" when this reconciler leads. It answers the request
// itself, and returns false, when no leader can be had.
func (s *Server) awaitLeader(w http.ResponseWriter, r *http.Request, gone string) (string, bool) {
	// During an election (or the first one after start) a request waits
	// for a leader rather than failing at once.
	deadline := time.Now().Add(leaderWait)
	for s.ctrl.Load() == nil && time.Now().Before(deadline) && r.Context().Err() == nil {
		if _, id := s.el.raft.LeaderWithID(); id != "" && string(id) != s.cfg.Name && string(id) != gone {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.ctrl.Load() != nil {
		return "", true
	}
	if by := r.Header.Get(headerForwarded); by != "" {
		errs.WriteHTTP(w, errUnavailable(
			"reconciler "+by+" forwarded this to "+s.cfg.Name+", which does not lead (an election is under way): retry"))
		return "", false
	}
	_, id := s.el.raft.LeaderWithID()
	switch leader := string(id); {
	case leader == "" || leader == gone:
		errs.WriteHTTP(w, errUnavailable("no leader elected yet (quorum lost?): retry"))
	case leader == s.cfg.Name:
		errs.WriteHTTP(w, errUnavailable("this reconciler was just elected and is taking over: retry"))
	default:
		return leader, true
	}
	return "", false
}

// forward proxies r to leader. It reports false, having written nothing,
// when retry is set and the leader could not be reached at all.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, leader string, retry bool) bool {
	p, ok := s.members.peer(leader)
	target, err := url.Parse(p.tags[agentapi.TagAPI])
	if !ok || !p.alive || err != nil || target.Host == "" {
		if retry {
			return false
		}
		errs.WriteHTTP(w, errUnavailable("the leader "+leader+" has no known API address: retry"))
		return true
	}
	unreachable := false
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set(headerForwarded, s.cfg.Name)
			if s.sec != nil {
				forwardIdentity(pr.In, pr.Out)
			}
		},
		Transport:     s.forwardTransport(r),
		FlushInterval: -1, // logs stream
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var op *net.OpError
			if retry && errors.As(err, &op) && op.Op == "dial" {
				unreachable = true
				return
			}
			// 503, not 502: a client that knows several reconcilers
			// tries the next one, which may know the new leader.
			errs.WriteHTTP(w, errUnavailable("failed to forward to the leader "+leader+": "+err.Error()))
		},
	}
	rp.ServeHTTP(w, r)
	return !unreachable
}

// forwardTimeout bounds how long a forwarded request waits for the leader's
// answer to begin; a sync that waits for its plan, and a log stream, are
// bounded by their own request instead.
const forwardTimeout = 30 * time.Second

// forwardTransport is the transport a forwarded request goes through.
func (s *Server) forwardTransport(r *http.Request) http.RoundTripper {
	if r.URL.Path == api.PathLogs || r.URL.Query().Get("wait") != "" {
		return s.peerHC.Transport
	}
	s.fwdOnce.Do(func() {
		t := s.peerHC.Transport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = forwardTimeout
		s.fwdTransport = t
	})
	return s.fwdTransport
}
