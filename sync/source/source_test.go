package source

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newSource(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(t.TempDir(), "cache")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestFetchFilePath(t *testing.T) {
	u := newUpstream(t)
	// A symbolic link to a file within the tree is read as that file.
	if err := os.MkdirAll(filepath.Join(u.Work, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("web.yaml", filepath.Join(u.Work, "apps", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	c1 := u.commit("first\n\nwith a body", map[string]string{
		"apps/web.yaml":     "kind: Pod\n",
		"apps/db/db.yaml":   "kind: Deployment\n",
		"README.md":         "hello\n",
		"apps/empty.yaml":   "",
		"apps/.hidden.yaml": "kind: Namespace\n",
	})
	u.push("main")
	s := newSource(t, Config{URL: u.Bare})
	ctx := ctxT(t)

	rev, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if rev.Commit != c1 {
		t.Fatalf("commit = %s, want %s", rev.Commit, c1)
	}
	if rev.Author != "Ada Lovelace" || rev.AuthorEmail != "ada@example.com" {
		t.Errorf("author = %q <%s>", rev.Author, rev.AuthorEmail)
	}
	if rev.Message != "first\n\nwith a body\n" {
		t.Errorf("message = %q", rev.Message)
	}
	if time.Since(rev.Time) > time.Hour || rev.Time.IsZero() {
		t.Errorf("time = %v", rev.Time)
	}
	want := map[string]string{
		"apps/web.yaml":     "kind: Pod\n",
		"apps/db/db.yaml":   "kind: Deployment\n",
		"README.md":         "hello\n",
		"apps/empty.yaml":   "",
		"apps/.hidden.yaml": "kind: Namespace\n",
		"apps/link.yaml":    "kind: Pod\n",
	}
	checkFiles(t, rev.Files, want)

	// A new commit that edits, adds and deletes.
	c2 := u.commit("second", map[string]string{
		"apps/web.yaml":   "kind: Pod\nmetadata: {name: web}\n",
		"apps/db/db.yaml": "\x00delete",
		"apps/new.yaml":   "kind: Service\n",
	})
	u.push("main")
	rev2, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch after commit: %v", err)
	}
	if rev2.Commit != c2 {
		t.Fatalf("commit = %s, want %s", rev2.Commit, c2)
	}
	delete(want, "apps/db/db.yaml")
	want["apps/web.yaml"] = "kind: Pod\nmetadata: {name: web}\n"
	want["apps/link.yaml"] = want["apps/web.yaml"] // the link follows its target
	want["apps/new.yaml"] = "kind: Service\n"
	checkFiles(t, rev2.Files, want)

	// Unchanged remote: the same revision, and a map of its own, so one
	// caller's edits do not leak into the next caller's revision.
	rev2.Files["injected"] = []byte("x")
	rev3, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch unchanged: %v", err)
	}
	if rev3.Commit != c2 {
		t.Fatalf("commit = %s, want %s", rev3.Commit, c2)
	}
	checkFiles(t, rev3.Files, want)

	// The older commit is still readable from the cache.
	old, err := s.Revision(ctx, c1[:10])
	if err != nil {
		t.Fatalf("Revision(%s): %v", c1[:10], err)
	}
	if old.Commit != c1 || string(old.Files["apps/db/db.yaml"]) != "kind: Deployment\n" {
		t.Errorf("Revision(c1) = %s with %d files", old.Commit, len(old.Files))
	}
}

func TestFetchFileURLSubPathAndBranch(t *testing.T) {
	u := newUpstream(t)
	u.commit("main", map[string]string{"deploy/a.yaml": "a\n"})
	u.push("main")
	u.git(u.Work, "checkout", "-q", "-b", "prod")
	c := u.commit("prod", map[string]string{
		"deploy/a.yaml":       "prod a\n",
		"deploy/sub/b.yaml":   "b\n",
		"other/c.yaml":        "c\n",
		"deployment/not.yaml": "not under deploy\n",
	})
	u.push("prod")

	for _, p := range []string{"deploy", "./deploy/", "/deploy"} {
		s := newSource(t, Config{URL: "file://" + u.Bare, Branch: "prod", Path: p})
		rev, err := s.Fetch(ctxT(t))
		if err != nil {
			t.Fatalf("Fetch(path %q): %v", p, err)
		}
		if rev.Commit != c {
			t.Errorf("commit = %s, want %s", rev.Commit, c)
		}
		checkFiles(t, rev.Files, map[string]string{"a.yaml": "prod a\n", "sub/b.yaml": "b\n"})
	}
}

func TestForcePush(t *testing.T) {
	u := newUpstream(t)
	u.commit("one", map[string]string{"a.yaml": "1\n"})
	bad := u.commit("bad", map[string]string{"a.yaml": "bad\n"})
	u.push("main")
	s := newSource(t, Config{URL: u.Bare})
	ctx := ctxT(t)
	if rev, err := s.Fetch(ctx); err != nil || rev.Commit != bad {
		t.Fatalf("Fetch = %v, %v; want %s", rev, err, bad)
	}

	// Rewrite history: drop the bad commit and push a different one.
	u.git(u.Work, "reset", "-q", "--hard", "HEAD~1")
	good := u.commit("good", map[string]string{"a.yaml": "good\n"})
	u.push("--force", "main")

	rev, err := s.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch after force push: %v", err)
	}
	if rev.Commit != good {
		t.Fatalf("commit = %s, want %s", rev.Commit, good)
	}
	checkFiles(t, rev.Files, map[string]string{"a.yaml": "good\n"})
}

func TestMissingBranch(t *testing.T) {
	u := newUpstream(t)
	s := newSource(t, Config{URL: u.Bare, Branch: "release"})
	_, err := s.Fetch(ctxT(t))
	if !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("empty repo: err = %v, want ErrBranchNotFound", err)
	}

	u.commit("one", map[string]string{"a.yaml": "1\n"})
	u.push("main")
	_, err = s.Fetch(ctxT(t))
	if !errors.Is(err, ErrBranchNotFound) {
		t.Fatalf("err = %v, want ErrBranchNotFound", err)
	}
	if !strings.Contains(err.Error(), `"release"`) || !strings.Contains(err.Error(), u.Bare) {
		t.Errorf("error does not name the branch and remote: %v", err)
	}
}

func TestMissingPath(t *testing.T) {
	u := newUpstream(t)
	c := u.commit("one", map[string]string{"deploy/a.yaml": "1\n", "file": "x"})
	u.push("main")
	for _, p := range []string{"nothere", "deploy/nested", "file"} {
		s := newSource(t, Config{URL: u.Bare, Path: p})
		_, err := s.Fetch(ctxT(t))
		if !errors.Is(err, ErrPathNotFound) {
			t.Fatalf("path %q: err = %v, want ErrPathNotFound", p, err)
		}
		if !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), p) {
			t.Errorf("error does not name commit and path: %v", err)
		}
	}

	// Adding the path later heals the source: the objects are already in the
	// cache from the failed fetch and the new commit brings the rest.
	s := newSource(t, Config{URL: u.Bare, Path: "nothere"})
	if _, err := s.Fetch(ctxT(t)); !errors.Is(err, ErrPathNotFound) {
		t.Fatalf("err = %v", err)
	}
	u.commit("add", map[string]string{"nothere/x.yaml": "x\n"})
	u.push("main")
	rev, err := s.Fetch(ctxT(t))
	if err != nil {
		t.Fatalf("Fetch after adding path: %v", err)
	}
	checkFiles(t, rev.Files, map[string]string{"x.yaml": "x\n"})
}

func TestMissingRepository(t *testing.T) {
	s := newSource(t, Config{URL: filepath.Join(t.TempDir(), "nope.git")})
	_, err := s.Fetch(ctxT(t))
	if err == nil {
		t.Fatal("Fetch of a missing repository succeeded")
	}
	if !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("err = %v, want ErrRepositoryNotFound", err)
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	u := newUpstream(t)
	c1 := u.commit("one", map[string]string{"a.yaml": "1\n"})
	u.push("main")
	cache := filepath.Join(t.TempDir(), "cache")
	ctx := ctxT(t)

	s1 := newSource(t, Config{URL: u.Bare, CacheDir: cache})
	if _, err := s1.Head(ctx); !errors.Is(err, ErrNotFetched) {
		t.Fatalf("Head before fetch: err = %v, want ErrNotFetched", err)
	}
	if _, err := s1.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	packsBefore := countPacks(t, cache)

	// A second process reads the cache without the network.
	s2 := newSource(t, Config{URL: u.Bare, CacheDir: cache})
	rev, err := s2.Head(ctx)
	if err != nil || rev.Commit != c1 {
		t.Fatalf("Head after restart = %v, %v; want %s", rev, err, c1)
	}
	// Fetching an unmoved head writes nothing to the cache.
	if rev, err := s2.Fetch(ctx); err != nil || rev.Commit != c1 {
		t.Fatalf("Fetch after restart = %v, %v", rev, err)
	}
	if n := countPacks(t, cache); n != packsBefore {
		t.Errorf("packs after no-op fetch = %d, want %d", n, packsBefore)
	}

	// Only the new commit is fetched: one small pack more.
	c2 := u.commit("two", map[string]string{"b.yaml": "2\n"})
	u.push("main")
	s3 := newSource(t, Config{URL: u.Bare, CacheDir: cache})
	rev, err = s3.Fetch(ctx)
	if err != nil || rev.Commit != c2 {
		t.Fatalf("Fetch after restart and commit = %v, %v; want %s", rev, err, c2)
	}
	checkFiles(t, rev.Files, map[string]string{"a.yaml": "1\n", "b.yaml": "2\n"})

	// With the remote gone, Head still answers from the cache.
	if err := os.RemoveAll(u.Bare); err != nil {
		t.Fatal(err)
	}
	s4 := newSource(t, Config{URL: u.Bare, CacheDir: cache})
	if rev, err := s4.Head(ctx); err != nil || rev.Commit != c2 {
		t.Fatalf("Head with remote gone = %v, %v", rev, err)
	}
	if _, err := s4.Fetch(ctx); err == nil {
		t.Fatal("Fetch with the remote gone succeeded")
	}
}

func TestCacheDirNotARepository(t *testing.T) {
	u := newUpstream(t)
	u.commit("one", map[string]string{"a.yaml": "1\n"})
	u.push("main")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSource(t, Config{URL: u.Bare, CacheDir: dir})
	_, err := s.Fetch(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Fatalf("Fetch into a non-empty non-repository dir: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "objects")); !os.IsNotExist(err) {
		t.Errorf("the cache was initialised over the directory's files")
	}
	// An existing empty directory is fine.
	s = newSource(t, Config{URL: u.Bare, CacheDir: t.TempDir()})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatalf("Fetch into an empty dir: %v", err)
	}
}

func TestRepack(t *testing.T) {
	u := newUpstream(t)
	first := u.commit("c0", map[string]string{"a.yaml": "0\n", "keep.yaml": "k\n"})
	u.push("main")
	cache := filepath.Join(t.TempDir(), "cache")
	s := newSource(t, Config{URL: u.Bare, CacheDir: cache, MaxPacks: 2})
	ctx := ctxT(t)
	var last string
	for i := 1; i <= 6; i++ {
		last = u.commit("c", map[string]string{"a.yaml": strings.Repeat("x", i) + "\n"})
		u.push("main")
		rev, err := s.Fetch(ctx)
		if err != nil {
			t.Fatalf("Fetch %d: %v", i, err)
		}
		checkFiles(t, rev.Files, map[string]string{"a.yaml": strings.Repeat("x", i) + "\n", "keep.yaml": "k\n"})
		if n := countPacks(t, cache); n > 3 {
			t.Fatalf("after fetch %d: %d packs, want at most 3", i, n)
		}
	}
	// History is intact after repacking, and a new process reads it.
	if rev, err := s.Revision(ctx, first); err != nil || string(rev.Files["a.yaml"]) != "0\n" {
		t.Fatalf("Revision(first) after repack = %v, %v", rev, err)
	}
	s2 := newSource(t, Config{URL: u.Bare, CacheDir: cache})
	rev, err := s2.Head(ctx)
	if err != nil || rev.Commit != last {
		t.Fatalf("Head after repack = %v, %v", rev, err)
	}
	checkFiles(t, rev.Files, map[string]string{"a.yaml": "xxxxxx\n", "keep.yaml": "k\n"})
	// git itself agrees the repacked cache is whole.
	u.git(cache, "--git-dir="+cache, "fsck", "--no-dangling")
}

func TestConcurrentFetch(t *testing.T) {
	u := newUpstream(t)
	u.commit("one", map[string]string{"a.yaml": "1\n"})
	u.push("main")
	s := newSource(t, Config{URL: u.Bare})
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				rev, err := s.Fetch(ctx)
				if err != nil {
					errs <- err
					return
				}
				if string(rev.Files["a.yaml"]) == "" {
					errs <- errors.New("empty a.yaml")
					return
				}
				rev.Files["mine"] = nil
			}
		}()
	}
	u.commit("two", map[string]string{"a.yaml": "2\n"})
	u.push("main")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rev, err := s.Fetch(ctx)
	if err != nil || string(rev.Files["a.yaml"]) != "2\n" {
		t.Fatalf("final Fetch = %v, %v", rev, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{CacheDir: "x"},
		{URL: "x"},
		{URL: "x", CacheDir: "x", Path: "../etc"},
		{URL: "x", CacheDir: "x", Branch: "bad branch"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	s, err := New(Config{URL: "x", CacheDir: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Branch != "main" || c.Timeout != DefaultConfig().Timeout || c.TokenUser != "git" {
		t.Errorf("defaults not filled: %+v", c)
	}
}

func checkFiles(t *testing.T, got map[string][]byte, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		names := make([]string, 0, len(got))
		for n := range got {
			names = append(names, n)
		}
		t.Errorf("got %d files %v, want %d", len(got), names, len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing file %s", name)
			continue
		}
		if string(g) != w {
			t.Errorf("%s = %q, want %q", name, g, w)
		}
	}
}

func countPacks(t *testing.T, cache string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cache, "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	loose, _ := filepath.Glob(filepath.Join(cache, "objects", "??", "*"))
	return len(m) + len(loose)
}

// TestSymlinks: a link to a file within the tracked path is read as that
// file (ctl reads a work tree's links the same way); a link leaving the
// tracked path fails the fetch with its name, rather than losing the file
// silently (TestHostileTrees has the other refused links).
func TestSymlinks(t *testing.T) {
	u := newUpstream(t)
	u.commit("files", map[string]string{"deploy/base/ns.yaml": "ns\n", "outside.yaml": "secret\n"})
	for link, to := range map[string]string{
		"deploy/apps/ns.yaml": "../base/ns.yaml",
	} {
		p := filepath.Join(u.Work, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(to, p); err != nil {
			t.Fatal(err)
		}
	}
	u.git(u.Work, "add", "-A")
	u.git(u.Work, "commit", "-q", "-m", "links")
	u.push("main")
	s := newSource(t, Config{URL: "file://" + u.Bare, Branch: "main", Path: "deploy"})
	rev, err := s.Fetch(ctxT(t))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	checkFiles(t, rev.Files, map[string]string{"base/ns.yaml": "ns\n", "apps/ns.yaml": "ns\n"})

	if err := os.Symlink("../../outside.yaml", filepath.Join(u.Work, "deploy", "apps", "out.yaml")); err != nil {
		t.Fatal(err)
	}
	u.git(u.Work, "add", "-A")
	u.git(u.Work, "commit", "-q", "-m", "a link out of the tracked path")
	u.push("main")
	_, err = s.Fetch(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "apps/out.yaml is a symbolic link to ../../outside.yaml, outside the tree") {
		t.Fatalf("Fetch with a link out of the path = %v, want an error naming it", err)
	}
}
