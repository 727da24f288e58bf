package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stevedore-dev/stevedore/reconcile/api"
)

// statusProbe asks GET /v1/status every 20 ms until stop is called and
// returns the slowest answer: the API must stay responsive while a hostile
// revision is refused.
func statusProbe(t *testing.T, s *Server) (stop func() time.Duration) {
	t.Helper()
	var (
		mu      sync.Mutex
		slowest time.Duration
		fails   []string
		wg      sync.WaitGroup
	)
	done := make(chan struct{})
	cl := &http.Client{Timeout: 10 * time.Second}
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			resp, err := cl.Get(s.APIURL() + api.PathStatus)
			d := time.Since(start)
			mu.Lock()
			slowest = max(slowest, d)
			if err != nil {
				fails = append(fails, err.Error())
			} else {
				if resp.StatusCode != http.StatusOK {
					fails = append(fails, resp.Status)
				}
				resp.Body.Close()
			}
			mu.Unlock()
		}
	})
	return func() time.Duration {
		close(done)
		wg.Wait()
		if len(fails) > 0 {
			t.Errorf("GET /v1/status failed during the sync: %v", fails)
		}
		return slowest
	}
}

// TestHostileRevisions: a commit of 100,000 documents, one of 50 MB and
// one with an out-of-repository link are each refused with a message that
// names the file, the last good revision stays applied, and the API
// answers throughout.
func TestHostileRevisions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	good := repo.commit("good", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 10*time.Second, "first sync", func() bool { st := s.Status(); return st.Applied != nil && st.Applied.Hash == good })

	var many strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&many, "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: ns%d}\n", i)
	}
	type hostile struct {
		name  string
		files map[string]string
		setup func()
		stage string
		want  string
	}
	for _, h := range []hostile{
		{name: "100,000 documents", files: map[string]string{"many.yaml": many.String()}, stage: api.StageLoad,
			want: "many.yaml: too many objects: the revision holds 100001 YAML documents (100000 in this file), more than the limit of 10000 per revision"},
		{name: "a 50 MB manifest", files: map[string]string{"many.yaml": "", "big.yaml": "a: " + strings.Repeat("x", 50<<20) + "\n"}, stage: api.StageFetch,
			want: "path big.yaml is 52428804 bytes, more than the limit of 16777216 bytes per file"},
		{name: "a link out of the repository", files: map[string]string{"big.yaml": ""}, stage: api.StageFetch,
			setup: func() {
				if err := os.Symlink("/etc/passwd", filepath.Join(repo.dir, "app.yaml")); err != nil {
					t.Fatal(err)
				}
				repo.git("add", "app.yaml")
			},
			want: "path app.yaml is a symbolic link to /etc/passwd, outside the tree"},
	} {
		t.Run(h.name, func(t *testing.T) {
			for name, content := range h.files {
				if content == "" {
					repo.git("rm", "-q", "--ignore-unmatch", name)
					delete(h.files, name)
				}
			}
			if h.setup != nil {
				h.setup()
			}
			bad := repo.commitStaged("hostile: "+h.name, h.files)
			stop := statusProbe(t, s)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			res, err := s.SyncNow(ctx)
			cancel()
			took := time.Since(start)
			slowest := stop()
			t.Logf("refused in %v; slowest GET /v1/status meanwhile %v", took, slowest)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error == nil || res.Error.Stage != h.stage || !strings.Contains(res.Error.Message, h.want) {
				t.Fatalf("sync result %+v, want a %s error containing %q", res.Error, h.stage, h.want)
			}
			st := s.Status()
			if st.Applied == nil || st.Applied.Hash != good {
				t.Fatalf("applied %v, want the last good %s", st.Applied, good)
			}
			if st.LastError == nil || !strings.Contains(st.LastError.Message, h.want) {
				t.Fatalf("status error %+v, want %q", st.LastError, h.want)
			}
			if h.stage == api.StageFetch && !strings.Contains(st.LastError.Message, bad) {
				t.Errorf("status error %q does not name the commit %s", st.LastError.Message, bad)
			}
			if slowest > 2*time.Second {
				t.Errorf("GET /v1/status took %v during the sync", slowest)
			}
			if h.name == "100,000 documents" && took > 5*time.Second {
				t.Errorf("refusing 100,000 documents took %v", took)
			}
		})
	}
	// And a good commit after them all applies.
	repo.git("rm", "-q", "--ignore-unmatch", "app.yaml")
	next := repo.commitStaged("good again", map[string]string{"more.yaml": strings.Replace(nsYAML, "shop", "more", 1)})
	if res, err := s.SyncNow(context.Background()); err != nil || res.Error != nil {
		t.Fatalf("good commit: %v %+v", err, res.Error)
	}
	if st := s.Status(); st.Applied.Hash != next {
		t.Fatalf("applied %s, want %s", st.Applied.Hash, next)
	}
}

// commitStaged writes files into the work tree, stages them and commits
// whatever the index holds (so an entry staged by hand stays as staged).
func (r *gitRepo) commitStaged(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		r.git("add", "--", name)
	}
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// TestRevisionLimitsConfigured: the limits follow the Config, List items
// and all, and a limit of -1 lifts them.
func TestRevisionLimitsConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	var list strings.Builder
	list.WriteString("apiVersion: v1\nkind: List\nitems:\n")
	for i := range 5 {
		fmt.Fprintf(&list, "- {apiVersion: v1, kind: Namespace, metadata: {name: ns%d}}\n", i)
	}
	repo.commit("list", map[string]string{"list.yaml": list.String()})
	s := startServer(t, repo.dir, t.TempDir(), log, func(c *Config) { c.Limits = LimitsConfig{MaxObjects: 3, MaxBytes: -1} })
	want := "list.yaml: too many objects: the revision declares 5 objects (5 from this file), more than the limit of 3 per revision"
	waitFor(t, 10*time.Second, "the refusal", func() bool {
		st := s.Status()
		return st.LastError != nil && strings.Contains(st.LastError.Message, want)
	})
	if st := s.Status(); st.Applied != nil {
		t.Fatalf("applied %v", st.Applied)
	}
	res := api.SyncResult{Error: s.Status().LastError}
	b, _ := json.Marshal(res.Error.Entries)
	if !strings.Contains(string(b), `"file":"list.yaml"`) {
		t.Errorf("entries %s do not name the file", b)
	}
}

// repeatReader is an endless stream of one byte: a body as large as a
// test wants without holding it in memory.
type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// TestBodyLimits: every route that reads a body answers 413 with a message
// naming the limit to a body past it, and the server answers on.
func TestBodyLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serf and git; not a -short test")
	}
	log, _ := testLogger(t)
	repo := newGitRepo(t)
	repo.commit("one", map[string]string{"ns.yaml": nsYAML})
	s := startServer(t, repo.dir, t.TempDir(), log)
	waitFor(t, 10*time.Second, "first sync", func() bool { return s.Status().Applied != nil })
	for _, tc := range []struct {
		method, path, prefix string
		limit                int64
		want                 string
	}{
		{"POST", api.PathDiff, `{"files":{"a.yaml":"`, maxDiffBody, "diff request larger than 67108864 bytes"},
		{"POST", api.PathJobs, `{"cronJob":"`, maxJobBody, "the request larger than 65536 bytes"},
		{"PUT", "/v1/leases/default/l", `{"holder":"`, maxLeaseBody, "lease request larger than 4096 bytes"},
		{"POST", api.PathWebhook, `{"ref":"`, 25 << 20, "payload larger than 26214400 bytes"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			body := io.MultiReader(strings.NewReader(tc.prefix), io.LimitReader(repeatReader('a'), tc.limit+1), strings.NewReader(`"}`))
			req, _ := http.NewRequest(tc.method, s.APIURL()+tc.path, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), tc.want) {
				t.Fatalf("answer %d %s, want 413 containing %q", resp.StatusCode, b, tc.want)
			}
			resp, err = http.Get(s.APIURL() + api.PathStatus)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status after the refusal: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}
