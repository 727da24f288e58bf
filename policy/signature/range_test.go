package signature

import (
	"errors"
	"strings"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/signtest"
)

// TestCheckRange applies the modes to real signed commits.
func TestCheckRange(t *testing.T) {
	kr := signtest.New(t)
	alice, bob := kr.SSH("alice@example.com"), kr.PGP("bob@example.com")
	r := kr.NewRepo(t.TempDir())
	keys := mustParse(t, alice, bob)
	base := r.Commit(alice, "base", map[string]string{"a": "1"})
	r.Git(nil, "checkout", "-q", "-b", "feature")
	f1 := r.Commit(nil, "feature \x1b[2Jclear", map[string]string{"b": "1"})
	r.Git(nil, "checkout", "-q", "main")
	merge := r.Merge(bob, "feature", "merge")
	approval := r.Commit(alice, "Approved-by: alice@example.com", nil)
	rg := func(hs ...string) Range {
		out := Range{Base: base, Ancestor: true}
		for _, h := range hs {
			out.Commits = append(out.Commits, rawCommit(t, r, h))
		}
		return out
	}
	v := NewVerifier(keys, 2)

	// all: the unsigned feature commit is refused, named without its
	// terminal escape.
	_, err := v.CheckRange(rg(merge, f1), Options{Mode: ModeAll})
	var ce *CommitError
	if !errors.As(err, &ce) || ce.Commit.Hash != f1 || reason(err) != Unsigned || strings.ContainsRune(err.Error(), 0x1b) {
		t.Errorf("all: %v", err)
	}
	// merges: the signed merge carries it; its signer approves.
	if a, err := v.CheckRange(rg(merge, f1), Options{Mode: ModeMerges}); err != nil || len(a) != 1 || a[0].Name != "bob@example.com" {
		t.Errorf("merges: %v %v", a, err)
	}
	// An empty approval commit on top: both signers of that tree approve.
	if a, err := v.CheckRange(rg(approval, merge, f1), Options{Mode: ModeMerges}); err == nil {
		t.Errorf("merges with a non-merge tip: %v", a)
	}
	if a, err := v.CheckRange(rg(approval, merge), Options{Mode: ModeAll}); err != nil || len(a) != 2 || a[0].Name != "alice@example.com" || a[1].Name != "bob@example.com" {
		t.Errorf("approval commit: %v %v", a, err)
	}
	// Force push.
	fp := rg(merge)
	fp.Ancestor = false
	var fe *ForcePushError
	if _, err := v.CheckRange(fp, Options{Mode: ModeAll}); !errors.As(err, &fe) {
		t.Errorf("force push: %v", err)
	}
	if _, err := v.CheckRange(fp, Options{Mode: ModeAll, AllowForcePush: true}); err != nil {
		t.Errorf("allowed force push: %v", err)
	}
	// Off checks nothing.
	if a, err := v.CheckRange(rg(merge, f1), Options{Mode: ModeOff}); a != nil || err != nil {
		t.Errorf("off: %v %v", a, err)
	}
	// The cache (2 verdicts here) empties when full and answers the same.
	for i := 0; i < 3; i++ {
		if _, err := v.CheckRange(rg(approval, merge), Options{Mode: ModeAll}); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.cache) > 2 {
		t.Errorf("cache holds %d verdicts, max 2", len(v.cache))
	}
	for _, m := range []string{"", "off", "ALL", "merges"} {
		if _, err := ParseMode(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	if _, err := ParseMode("some"); err == nil {
		t.Error("mode some accepted")
	}
}

// TestMergeTag: a merge of a signed tag carries a mergetag header, part of
// what the merge's signature signs.
func TestMergeTag(t *testing.T) {
	kr := signtest.New(t)
	alice := kr.SSH("alice@example.com")
	r := kr.NewRepo(t.TempDir())
	keys := mustParse(t, alice)
	r.Commit(alice, "base", map[string]string{"a": "1"})
	r.Git(nil, "checkout", "-q", "-b", "release")
	r.Commit(alice, "release", map[string]string{"b": "1"})
	r.Git(alice, "tag", "-s", "-m", "v1", "v1")
	r.Git(nil, "checkout", "-q", "main")
	r.Commit(alice, "main moves", map[string]string{"c": "1"})
	m := r.Merge(alice, "v1", "merge v1")
	c := rawCommit(t, r, m)
	if !strings.Contains(string(c.Payload), "\nmergetag object ") {
		t.Fatalf("no mergetag header in %s", c.Payload)
	}
	if _, err := keys.Verify(c.Signature, c.Payload, c.Time); err != nil {
		t.Errorf("merge of a signed tag: %v", err)
	}
}
