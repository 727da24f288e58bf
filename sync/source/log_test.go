package source

import (
	"slices"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/signtest"
)

func logHashes(l *Log) []string {
	var out []string
	for _, c := range l.Commits {
		out = append(out, c.Hash)
	}
	return out
}

// TestLog: the commits of a range that change the source's path, newest
// first, bounded, without payloads unless asked; whether the base is an
// ancestor (or was dropped by a force push) is known even when the list
// stops early.
func TestLog(t *testing.T) {
	kr := signtest.New(t)
	alice := kr.SSH("alice@example.com")
	r := kr.NewRepo(t.TempDir())
	base := r.Commit(nil, "base", map[string]string{"deploy/a.yaml": "a: 1\n", "other/b.yaml": "b: 1\n"})
	r.Commit(nil, "other app only", map[string]string{"other/b.yaml": "b: 2\n"})
	c2 := r.Commit(alice, "deploy: a 2", map[string]string{"deploy/a.yaml": "a: 2\n"})
	empty := r.Commit(nil, "an approval", nil)
	r.Commit(nil, "other app again", map[string]string{"other/b.yaml": "b: 3\n"})
	c4 := r.Commit(nil, "deploy: c", map[string]string{"deploy/c.yaml": "c: 1\n"})
	// A branch from base that never saw c4: a force push of main to it
	// drops applied history.
	r.Git(nil, "checkout", "-q", "-b", "rewritten", base)
	rw := r.Commit(nil, "rewritten", map[string]string{"deploy/a.yaml": "a: 9\n"})
	r.Git(nil, "checkout", "-q", "main")
	// The cache fetches main alone: a merge that keeps main's files makes
	// the rewritten commit reachable from it.
	r.Git(nil, "merge", "-q", "--no-edit", "-s", "ours", "rewritten")

	s := newSource(t, Config{URL: r.Dir, Path: "deploy"})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	l, err := s.Log(ctxT(t), base, c4, LogOptions{Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := logHashes(l); !slices.Equal(got, []string{c4, c2}) || l.Truncated || !l.Ancestor || l.Diverged {
		t.Fatalf("log of deploy: %v (truncated %v, ancestor %v, diverged %v), want c4, c2 alone", got, l.Truncated, l.Ancestor, l.Diverged)
	}
	if c := l.Commits[1]; c.Payload != nil || c.Tree != "" || c.Signature != "" || c.Message != "deploy: a 2\n" || c.Author != "alice" || len(c.Parents) != 1 {
		t.Errorf("a commit without details: %+v", c)
	}

	l, err = s.Log(ctxT(t), base, c4, LogOptions{Max: 10, KeepEmpty: true, Details: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := logHashes(l); !slices.Equal(got, []string{c4, empty, c2}) {
		t.Fatalf("log with the empty commits: %v, want c4, the approval, c2", got)
	}
	if c := l.Commits[2]; c.Payload == nil || c.Signature == "" || c.Tree == "" {
		t.Errorf("a signed commit with details: payload %d bytes, signature %d, tree %q", len(c.Payload), len(c.Signature), c.Tree)
	}

	// Full after one: the walk still learns the base is an ancestor.
	l, err = s.Log(ctxT(t), base, c4, LogOptions{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := logHashes(l); !slices.Equal(got, []string{c4}) || !l.Truncated || !l.Ancestor {
		t.Fatalf("log of one: %v (truncated %v, ancestor %v)", got, l.Truncated, l.Ancestor)
	}
	// Limit: two commits of the range walked, and no more is known.
	l, err = s.Log(ctxT(t), base, c4, LogOptions{Max: 10, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := logHashes(l); !slices.Equal(got, []string{c4}) || !l.Truncated || l.Ancestor || l.Diverged {
		t.Fatalf("log limited to 2: %v (truncated %v, ancestor %v, diverged %v)", got, l.Truncated, l.Ancestor, l.Diverged)
	}

	// The applied c4 is not an ancestor of the rewritten branch.
	l, err = s.Log(ctxT(t), c4, rw, LogOptions{Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := logHashes(l); !slices.Equal(got, []string{rw}) || l.Ancestor || !l.Diverged || l.BaseMissing {
		t.Fatalf("log after a force push: %v (ancestor %v, diverged %v)", got, l.Ancestor, l.Diverged)
	}
}
