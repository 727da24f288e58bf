package server

import (
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
		// During an election (or the first one after start) a request
		// waits for a leader rather than failing at once.
		deadline := time.Now().Add(leaderWait)
		for s.ctrl.Load() == nil && time.Now().Before(deadline) && r.Context().Err() == nil {
			if _, id := s.el.raft.LeaderWithID(); id != "" && string(id) != s.cfg.Name {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if s.ctrl.Load() != nil {
			h(w, r)
			return
		}
		if by := r.Header.Get(headerForwarded); by != "" {
			errs.WriteHTTP(w, errUnavailable(
				"reconciler "+by+" forwarded this to "+s.cfg.Name+", which does not lead (an election is under way): retry"))
			return
		}
		_, id := s.el.raft.LeaderWithID()
		leader := string(id)
		if leader == "" {
			errs.WriteHTTP(w, errUnavailable("no leader elected yet: retry"))
			return
		}
		if leader == s.cfg.Name {
			errs.WriteHTTP(w, errUnavailable("this reconciler was just elected and is taking over: retry"))
			return
		}
		p, ok := s.members.peer(leader)
		target, err := url.Parse(p.tags[agentapi.TagAPI])
		if !ok || !p.alive || err != nil || target.Host == "" {
			errs.WriteHTTP(w, errUnavailable("the leader "+leader+" has no known API address: retry"))
			return
		}
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.Header.Set(headerForwarded, s.cfg.Name)
			},
			Transport:     s.forwardTransport(r),
			FlushInterval: -1, // logs stream
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				writeUpstreamError(w, errUnavailable("failed to forward to the leader "+leader+": "+err.Error()))
			},
		}
		rp.ServeHTTP(w, r)
	})
}

// forwardTimeout bounds how long a forwarded request waits for the leader's
// answer to begin; a sync that waits for its plan, and a log stream, are
// bounded by their own request instead.
const forwardTimeout = 30 * time.Second

// forwardTransport is the transport a forwarded request goes through.
func (s *Server) forwardTransport(r *http.Request) http.RoundTripper {
	if r.URL.Path == api.PathLogs || r.URL.Query().Get("wait") != "" {
		return s.hc.Transport
	}
	s.fwdOnce.Do(func() {
		t := s.hc.Transport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = forwardTimeout
		s.fwdTransport = t
	})
	return s.fwdTransport
}
