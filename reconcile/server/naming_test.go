package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/naming"
)

// TestNotifyNaming: the term's first view goes to the exec hook, an
// unchanged one does not, a changed one does; the hook's goroutine ends
// with the term.
func TestNotifyNaming(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	// Each run appends the snapshot (one line of JSON) to the log.
	cmd := `cat >> ` + log + ` && echo >> ` + log
	ctx, cancel := context.WithCancel(context.Background())
	c := &controller{s: &Server{cfg: Config{Naming: naming.Config{Exec: cmd, MinBackoff: time.Millisecond}}}, ctx: ctx, log: slog.New(slog.DiscardHandler)}
	calls := func() []naming.Snapshot {
		b, _ := os.ReadFile(log)
		var out []naming.Snapshot
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var s naming.Snapshot
			if line != "" && json.Unmarshal([]byte(line), &s) == nil {
				out = append(out, s)
			}
		}
		return out
	}
	views := svcViews()
	c.notifyNaming(views)
	waitFor(t, 10*time.Second, "the first set", func() bool { return len(calls()) == 1 })
	if s := calls()[0]; len(s.Services) != 2 || s.Services[1].Name != "web" || len(s.Services[1].Endpoints) != 3 || s.Services[1].ClusterIP != "10.96.0.10" {
		t.Errorf("snapshot = %+v", s)
	}
	c.notifyNaming(svcViews()) // the same set
	changed := svcViews()
	changed[1].Resolved.Endpoints = changed[1].Resolved.Endpoints[:1]
	c.notifyNaming(changed)
	waitFor(t, 10*time.Second, "the changed set", func() bool { return len(calls()) >= 2 })
	got := calls()
	if len(got) != 2 || len(got[1].Services[1].Endpoints) != 1 {
		t.Errorf("calls = %+v, want the first set then the changed one", got)
	}
	cancel()
	c.wg.Wait()

	// No hook configured: nothing started.
	c = &controller{s: &Server{}, ctx: context.Background(), log: slog.New(slog.DiscardHandler)}
	c.notifyNaming(views)
	if c.naming.notifier != nil {
		t.Error("a notifier was started without hooks")
	}
}
