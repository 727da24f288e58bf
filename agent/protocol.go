package agent

import (
	"net/http"
	"strconv"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/internal/errs"
)

// checkProtocol refuses a request in a protocol this agent does not speak
// (api.HeaderProtocol; none is api.Protocol1, a reconciler from before
// negotiation) with 400 and a message naming both sides and the one to
// upgrade, and answers every other with the protocol it was served in and
// this agent's release. A refusal is a 400 "invalid" whose body's
// "protocol" member is this agent's range (api.RefusedRange reads it). A refusal changes nothing: the pods the agent runs
// keep running whatever the reconciler speaks. Metrics are not protocol
// (a Prometheus scrape carries no header) and are never refused.
func (a *Agent) checkProtocol(h http.Handler) http.Handler {
	local := api.Supported()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := a.Info()
		w.Header().Set(api.HeaderVersion, info.Version)
		if r.URL.Path == api.PathMetrics {
			h.ServeHTTP(w, r)
			return
		}
		p, err := api.RequestProtocol(r.Header)
		if err != nil {
			errs.WriteHTTP(w, invalid(err.Error()))
			return
		}
		if !local.Contains(p) {
			msg := api.RefusedRequest(p, a.cfg.NodeName, info.Version, local)
			a.log.Warn("refused a request in a protocol this agent does not speak", "method", r.Method, "path", r.URL.Path,
				"protocol", p, "supported", local.String(), "remote", r.RemoteAddr)
			errs.WriteHTTP(w, errs.WithFields(invalid(msg), map[string]any{"protocol": local}))
			return
		}
		w.Header().Set(api.HeaderProtocol, strconv.Itoa(p))
		h.ServeHTTP(w, r)
	})
}
