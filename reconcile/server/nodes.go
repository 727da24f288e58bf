package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/stevedore-dev/stevedore/internal/errs"
	"github.com/stevedore-dev/stevedore/reconcile/api"
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
	switch action {
	case "cordon", "drain", "uncordon":
	default:
		errs.WriteHTTP(w, errNotFound("no such node action "+action))
		return
	}
	// A node membership no longer knows can still be uncordoned: its mark
	// stays in raft until then.
	if _, ok := s.members.nodes()[name]; !ok {
		if _, marked := s.store.peek().overrides[name]; !marked || action != "uncordon" {
			errs.WriteHTTP(w, errNotFound("node "+name+" not found"))
			return
		}
	}
	if err := s.el.apply(&command{Op: opNode, Node: name, Action: action}, s.cfg.Raft.ApplyTimeout); err != nil {
		errs.WriteHTTP(w, errs.Mark(err, errs.ErrUnavailable))
		return
	}
	reason := map[string]string{"cordon": "NodeCordoned", "uncordon": "NodeUncordoned", "drain": "NodeDrained"}[action]
	past := map[string]string{"cordon": "cordoned", "uncordon": "uncordoned", "drain": "drained"}[action]
	s.events.add("node/"+name, reason, fmt.Sprintf("node %s %s through the API (not in Git: a Node object is the durable way)", name, past))
	c.requestPlan()
	c.publish()
	for _, n := range s.view.Load().nodeTable() {
		if n.Name == name {
			writeJSON(w, http.StatusOK, n)
			return
		}
	}
	writeJSON(w, http.StatusOK, api.Node{Name: name, Status: api.NodeNotReady})
}
