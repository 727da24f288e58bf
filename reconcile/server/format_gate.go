package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/version"
)

// recordFormat keeps the data dir's format marker current (the store's
// onFormat): written only when the format changes, so an entry that
// repeats the format costs no write.
func (s *Server) recordFormat(format int, release string) {
	s.formatMu.Lock()
	defer s.formatMu.Unlock()
	if format <= storeFormatJSON && s.formatSaved == 0 {
		// A format-1 store needs no marker: v0.15.0 wrote none.
		return
	}
	if format == s.formatSaved {
		return
	}
	if err := saveFormatMarker(s.cfg.DataDir, formatMarker{Format: format, Release: release}); err != nil {
		s.log.Error("failed to record the store format", "format", format, "err", err)
		return
	}
	s.formatSaved = format
}

// formatCheckInterval is how often the leader looks whether the store can
// move to a newer format.
const formatCheckInterval = time.Second

// formatLoop moves the store to the newest format this reconciler writes,
// once every server of the raft configuration advertises that it reads
// it: until then the leader goes on writing the store's current format,
// which the older reconcilers read. It returns once the store is there.
func (c *controller) formatLoop() {
	s := c.s
	want := s.store.reads()
	t := time.NewTicker(formatCheckInterval)
	defer t.Stop()
	lastBehind := ""
	for {
		cur, _ := s.store.format()
		if cur >= want {
			return
		}
		// Every server of the configuration counts, voters and
		// non-voters alike: each applies the log.
		c.configMu.Lock()
		cf := s.el.raft.GetConfiguration()
		if cf.Error() == nil {
			gate, behind := formatGate(cf.Configuration().Servers, want, func(id string) (int, bool) {
				if id == s.cfg.Name {
					return want, true
				}
				p, ok := s.members.peer(id)
				if !ok || !p.alive {
					return 0, false
				}
				return readsFormat(p.tags), true
			})
			c.formatChecks.Add(1)
			if gate > cur {
				err := s.el.apply(&command{Op: opFormat, Format: gate, Release: version.Release}, s.cfg.Raft.ApplyTimeout)
				if err != nil {
					c.log.Warn("failed to move the store to a newer format", "format", gate, "err", err)
				} else {
					c.log.Info("every reconciler reads the new store format: moved the store to it", "from", cur, "to", gate)
					s.events.add("reconciler/"+s.cfg.Name, "StoreFormat", "the raft store moved from format "+strconv.Itoa(cur)+" to "+strconv.Itoa(gate))
				}
			} else if b := strings.Join(behind, ", "); b != lastBehind {
				c.log.Info("the store stays in its format until every reconciler reads the new one", "format", cur, "new", want, "behind", b)
				lastBehind = b
			}
		}
		c.configMu.Unlock()
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
	}
}
