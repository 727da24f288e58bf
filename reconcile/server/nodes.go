package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/stevedore-dev/stevedore/internal/errs"
)

// handleNodeAction serves ctl cordon, uncordon and drain: the mark is
// committed to raft (so a new leader keeps it), recorded as an event, and
// planned at once (a drain evicts the node's pods).
func (s *Server) handleNodeAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	c := s.ctrl.Load()
	if c == nil {
		errs.WriteHTTP(w, errUnavailable("lost leadership: retry"))
		return
	}
	if _, ok := s.members.nodes()[name]; !ok {
		errs.WriteHTTP(w, errNotFound("node "+name+" not found"))
		return
	}
	o := s.store.peek().overrides[name]
	switch action {
	case "cordon":
		o.Cordoned = true
	case "uncordon":
		o = nodeOverride{}
	case "drain":
		o = nodeOverride{Cordoned: true, Drained: true}
	default:
		errs.WriteHTTP(w, errNotFound("no such node action "+action))
		return
	}
	if err := s.el.apply(&command{Op: opNode, Node: name, Override: &o}, s.cfg.Raft.ApplyTimeout); err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
		return
	}
	reason := map[string]string{"cordon": "NodeCordoned", "uncordon": "NodeUncordoned", "drain": "NodeDrained"}[action]
	s.events.add("node/"+name, reason, fmt.Sprintf("node %s %sed through the API (not in Git: a Node object is the durable way)", name, strings.TrimSuffix(action, "e")+"e"))
	c.requestPlan()
	c.publish()
	for _, n := range s.view.Load().nodeTable() {
		if n.Name == name {
			writeJSON(w, http.StatusOK, n)
			return
		}
	}
	errs.WriteHTTP(w, errNotFound("node "+name+" not found"))
}
