package source

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/stevedore-dev/stevedore/internal/signtest"
	"github.com/stevedore-dev/stevedore/policy/signature"
)

func hashes(h *History) []string {
	var out []string
	for _, c := range h.Commits {
		out = append(out, c.Hash)
	}
	return out
}

// TestHistory lists ranges of a real repository the way git rev-list
// base..tip does, with the payloads git verifies signatures over.
func TestHistory(t *testing.T) {
	kr := signtest.New(t)
	alice := kr.SSH("alice@example.com")
	bob := kr.PGP("bob@example.com")
	keys, err := signature.Parse(map[string][]byte{"k": signtest.Trusted(alice, bob)})
	if err != nil {
		t.Fatal(err)
	}
	r := kr.NewRepo(t.TempDir())
	old := r.Commit(alice, "old", map[string]string{"deploy/a.yaml": "a: 1\n", "README": "x"})
	for i := 0; i < 5; i++ {
		r.Commit(nil, "history", map[string]string{"README": strings.Repeat("y", i+1)})
	}
	base := r.Commit(bob, "base", map[string]string{"deploy/b.yaml": "b: 1\n"})
	// A feature branch started long before base, merged after it: the
	// range is the branch's commits and the merge, not the history below.
	r.Git(nil, "checkout", "-q", "-b", "feature", old)
	f1 := r.Commit(alice, "feature 1", map[string]string{"deploy/c.yaml": "c: 1\n"})
	f2 := r.Commit(nil, "feature 2", map[string]string{"deploy/c.yaml": "c: 2\n"})
	r.Git(nil, "checkout", "-q", "main")
	m1 := r.Commit(bob, "main 1", map[string]string{"deploy/a.yaml": "a: 2\n"})
	merge := r.Merge(alice, "feature", "merge feature")

	s := newSource(t, Config{URL: r.Dir, Path: "deploy"})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctxT(t), base, merge, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := hashes(h)
	want := strings.Fields(r.Git(nil, "rev-list", "--topo-order", base+".."+merge))
	if !h.Ancestor || h.BaseMissing || !reflect.DeepEqual(sorted(got), sorted(want)) {
		t.Fatalf("range %v (ancestor %v), want %v", got, h.Ancestor, want)
	}
	if got[0] != merge {
		t.Errorf("tip first: %v", got)
	}
	repo, _ := s.open()
	for _, c := range h.Commits {
		// The payload is go-git's EncodeWithoutSignature's.
		if c.Signature != "" {
			gc, _ := repo.CommitObject(plumbing.NewHash(c.Hash))
			obj := &plumbing.MemoryObject{}
			if err := gc.EncodeWithoutSignature(obj); err != nil {
				t.Fatal(err)
			}
			rd, _ := obj.Reader()
			want, _ := io.ReadAll(rd)
			if string(want) != string(c.Payload) {
				t.Errorf("%s: payload\n%s\nwant\n%s", c.Hash[:8], c.Payload, want)
			}
		}
		// The payload is what the signature signs: every signed commit of
		// the range verifies, an unsigned one has no signature.
		_, err := keys.Verify(c.Signature, c.Payload, c.Time)
		signed := c.Hash == f1 || c.Hash == m1 || c.Hash == merge
		if signed != (err == nil) {
			t.Errorf("%s %q: signed %v, Verify: %v", c.Hash[:8], c.Message, signed, err)
		}
		if c.Hash == merge && len(c.Parents) != 2 {
			t.Errorf("merge parents %v", c.Parents)
		}
		if wantTree := r.Git(nil, "rev-parse", c.Hash+":deploy"); c.Tree != wantTree {
			t.Errorf("%s: tree %s, want %s", c.Hash[:8], c.Tree, wantTree)
		}
	}
	_ = f2

	// A first revision: the tip alone.
	if h, err := s.History(ctxT(t), "", merge, 0); err != nil || len(h.Commits) != 1 || h.Ancestor {
		t.Errorf("first revision: %+v, %v", h, err)
	}
	// The same commit: nothing to verify.
	if h, err := s.History(ctxT(t), merge, merge, 0); err != nil || len(h.Commits) != 0 || !h.Ancestor {
		t.Errorf("same commit: %+v, %v", h, err)
	}
	// Bounded.
	if _, err := s.History(ctxT(t), base, merge, 2); !errors.Is(err, ErrRangeTooLong) {
		t.Errorf("max 2: %v", err)
	}
	// Changes: a merge's against its first parent, relative to the path.
	if ch, err := s.Changes(ctxT(t), merge); err != nil || !reflect.DeepEqual(ch, []string{"c.yaml"}) {
		t.Errorf("merge changes %v, %v", ch, err)
	}
	if ch, err := s.Changes(ctxT(t), old); err != nil || !reflect.DeepEqual(ch, []string{"a.yaml"}) {
		t.Errorf("root commit changes %v, %v", ch, err)
	}

	// A force push that drops the applied commit.
	r.Git(nil, "reset", "-q", "--hard", old)
	forced := r.Commit(alice, "rewritten", map[string]string{"deploy/a.yaml": "a: 3\n"})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h, err = s.History(ctxT(t), merge, forced, 0)
	if err != nil || h.Ancestor || !reflect.DeepEqual(hashes(h), []string{forced}) {
		t.Errorf("force push: %+v, %v", h, err)
	}
	// A base the cache does not hold.
	h, err = s.History(ctxT(t), strings.Repeat("ab", 20), forced, 0)
	if err != nil || !h.BaseMissing || h.Ancestor || len(h.Commits) != 1 {
		t.Errorf("missing base: %+v, %v", h, err)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// TestHistoryClockSkew: committer times that go backwards (a skewed clock,
// a rebase with old dates) may make the range larger than git's, never
// smaller, and never reach beyond the tip's history.
func TestHistoryClockSkew(t *testing.T) {
	kr := signtest.New(t)
	r := kr.NewRepo(t.TempDir())
	dates := []string{"2030-01-01", "2001-01-01", "2015-06-01", "1999-01-01", "2025-01-01", "2010-01-01"}
	n := 0
	commit := func(branch string) string {
		r.Env = []string{"GIT_COMMITTER_DATE=" + dates[n%len(dates)] + "T00:00:00Z"}
		n++
		return r.Commit(nil, fmt.Sprintf("%s %d", branch, n), map[string]string{branch: fmt.Sprint(n)})
	}
	var all []string
	all = append(all, commit("main"), commit("main"))
	r.Git(nil, "checkout", "-q", "-b", "side")
	all = append(all, commit("side"), commit("side"))
	r.Git(nil, "checkout", "-q", "main")
	all = append(all, commit("main"), commit("main"))
	r.Env = []string{"GIT_COMMITTER_DATE=1995-01-01T00:00:00Z"}
	all = append(all, r.Merge(nil, "side", "merge side"))
	r.Git(nil, "checkout", "-q", "side")
	all = append(all, commit("side"))
	r.Git(nil, "checkout", "-q", "main")
	all = append(all, commit("main"))
	r.Env = []string{"GIT_COMMITTER_DATE=2040-01-01T00:00:00Z"}
	all = append(all, r.Merge(nil, "side", "merge side again"))
	all = append(all, commit("main"))
	s := newSource(t, Config{URL: r.Dir})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tip := all[len(all)-1]
	reachable := map[string]bool{}
	for _, h := range strings.Fields(r.Git(nil, "rev-list", tip)) {
		reachable[h] = true
	}
	for _, base := range all {
		h, err := s.History(ctxT(t), base, tip, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range h.Commits {
			got[c.Hash] = true
			if !reachable[c.Hash] {
				t.Errorf("base %s: %s is not in the tip's history", base[:8], c.Hash[:8])
			}
		}
		for _, w := range strings.Fields(r.Git(nil, "rev-list", base+".."+tip)) {
			if !got[w] {
				t.Errorf("base %s: range misses %s", base[:8], w[:8])
			}
		}
		if !h.Ancestor {
			t.Errorf("base %s: not an ancestor of the tip", base[:8])
		}
	}
}

// TestHistoryMergeTag: the payload of a merge of a signed tag keeps its
// mergetag header, as git verifies it.
func TestHistoryMergeTag(t *testing.T) {
	kr := signtest.New(t)
	alice := kr.SSH("alice@example.com")
	keys, err := signature.Parse(map[string][]byte{"k": alice.Trusted})
	if err != nil {
		t.Fatal(err)
	}
	r := kr.NewRepo(t.TempDir())
	base := r.Commit(alice, "base", map[string]string{"a": "1"})
	r.Git(nil, "checkout", "-q", "-b", "release")
	r.Commit(alice, "release", map[string]string{"b": "1"})
	r.Git(alice, "tag", "-s", "-m", "v1", "v1")
	r.Git(nil, "checkout", "-q", "main")
	r.Commit(alice, "main moves", map[string]string{"c": "1"})
	m := r.Merge(alice, "v1", "merge v1")
	s := newSource(t, Config{URL: r.Dir})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctxT(t), base, m, 0)
	if err != nil || len(h.Commits) != 3 || h.Commits[0].Hash != m {
		t.Fatalf("history %+v, %v", h, err)
	}
	if !strings.Contains(string(h.Commits[0].Payload), "\nmergetag object ") {
		t.Errorf("payload lost its mergetag: %s", h.Commits[0].Payload)
	}
	for _, c := range h.Commits {
		if _, err := keys.Verify(c.Signature, c.Payload, c.Time); err != nil {
			t.Errorf("%s %q: %v", c.Hash[:8], c.Message, err)
		}
	}
}

func TestStripSignature(t *testing.T) {
	raw := "tree t\nparent p\nauthor a\ncommitter c\ngpgsig -----BEGIN SSH SIGNATURE-----\n xyz\n -----END SSH SIGNATURE-----\n" +
		"gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n \n abc\n -----END PGP SIGNATURE-----\nmergetag object o\n type commit\n\n" +
		"subject\n\ngpgsig in the message stays\n body\n"
	want := "tree t\nparent p\nauthor a\ncommitter c\nmergetag object o\n type commit\n\nsubject\n\ngpgsig in the message stays\n body\n"
	if got := string(stripSignature([]byte(raw))); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := string(stripSignature([]byte("tree t\ngpgsig x\n y"))); got != "tree t\n" {
		t.Errorf("no message: %q", got)
	}
}
