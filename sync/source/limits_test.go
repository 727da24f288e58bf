package source

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestHostileTrees: every link that does not resolve to a regular file of
// the tracked path, and every submodule, fails the fetch with the path's
// name, and the previous revision stays the Source's head.
func TestHostileTrees(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(u *upstream)
		want  string
	}{
		{"link out of the repository", func(u *upstream) { symlink(t, u, "deploy/app.yaml", "/etc/passwd") },
			"path deploy/app.yaml is a symbolic link to /etc/passwd, outside the tree"},
		{"link out of the path", func(u *upstream) { symlink(t, u, "deploy/app.yaml", "../outside.yaml") },
			"path deploy/app.yaml is a symbolic link to ../outside.yaml, outside the tree"},
		{"dangling link", func(u *upstream) { symlink(t, u, "deploy/app.yaml", "nowhere.yaml") },
			"path deploy/app.yaml is a symbolic link to nowhere.yaml, which is not a file of the tree"},
		{"link to a directory", func(u *upstream) { symlink(t, u, "deploy/app.yaml", "base") },
			"path deploy/app.yaml is a symbolic link to base, which is not a regular file"},
		{"link to a link", func(u *upstream) {
			symlink(t, u, "deploy/a.yaml", "base/ns.yaml")
			symlink(t, u, "deploy/app.yaml", "a.yaml")
		}, "path deploy/app.yaml is a symbolic link to a.yaml, itself a symbolic link"},
		{"submodule", func(u *upstream) {
			// A gitlink, as `git submodule add` records one.
			u.git(u.Work, "update-index", "--add", "--cacheinfo", "160000,"+strings.Repeat("ab", 20)+",deploy/vendored")
		}, "path deploy/vendored is a submodule (commit abababababababababababababababababababab of another repository)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			first := u.commit("files", map[string]string{"deploy/base/ns.yaml": "ns\n", "outside.yaml": "secret\n"})
			u.push("main")
			s := newSource(t, Config{URL: "file://" + u.Bare, Branch: "main", Path: "deploy"})
			if _, err := s.Fetch(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			tc.setup(u)
			if !strings.Contains(tc.name, "submodule") {
				u.git(u.Work, "add", "-A")
			}
			u.git(u.Work, "commit", "-q", "-m", "hostile")
			u.push("main")
			_, err := s.Fetch(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrLimit) {
				t.Fatalf("Fetch = %v, want an ErrLimit containing %q", err, tc.want)
			}
			if head, err := s.Head(ctxT(t)); err != nil || head.Commit != first {
				t.Fatalf("Head = %v, %v; want the first commit %s", head, err, first)
			}
		})
	}
}

func symlink(t *testing.T, u *upstream, link, to string) {
	t.Helper()
	p := filepath.Join(u.Work, filepath.FromSlash(link))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(to, p); err != nil {
		t.Fatal(err)
	}
}

// TestFileTooLarge: a 50 MB manifest is refused by name from its blob's
// header: reading the revision does not inflate it.
func TestFileTooLarge(t *testing.T) {
	u := newUpstream(t)
	u.commit("small", map[string]string{"deploy/ns.yaml": "ns\n"})
	big := u.commit("big", map[string]string{"deploy/big.yaml": "a: " + strings.Repeat("x", 50<<20) + "\n"})
	u.push("main")
	s := newSource(t, Config{URL: "file://" + u.Bare, Branch: "main"})
	_, err := s.Fetch(ctxT(t))
	want := "path deploy/big.yaml is 52428804 bytes, more than the limit of 16777216 bytes per file (reconciler --max-file-bytes); it was not read"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrLimit) {
		t.Fatalf("Fetch = %v, want %q", err, want)
	}
	// The objects are in the cache now: reading the commit again costs
	// far less memory than the file.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = s.Revision(ctxT(t), big)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Revision = %v, want %q", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("refusing the file allocated %d bytes", alloc)
	}
	// Under a raised limit the same commit reads.
	s2 := newSource(t, Config{URL: "file://" + u.Bare, Branch: "main", MaxFileBytes: 64 << 20, MaxTotalBytes: -1})
	if rev, err := s2.Fetch(ctxT(t)); err != nil || len(rev.Files["deploy/big.yaml"]) != 50<<20+4 {
		t.Fatalf("Fetch with a 64 MiB limit: %v", err)
	}
}

// TestTotalTooLarge: the files together are bounded too, a file read
// twice (through a link, or the same blob at two paths) counting twice,
// and each counting fileOverhead (512) more than its bytes.
func TestTotalTooLarge(t *testing.T) {
	u := newUpstream(t)
	body := strings.Repeat("y", 400)
	u.commit("files", map[string]string{"a.yaml": body, "b.yaml": body, "c/d.yaml": body})
	u.push("main")
	s := newSource(t, Config{URL: "file://" + u.Bare, Branch: "main", MaxTotalBytes: 2000})
	_, err := s.Fetch(ctxT(t))
	want := `the files under "/" hold more than 2000 bytes in all (reconciler --max-repo-bytes); reading stopped at path c/d.yaml`
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrLimit) {
		t.Fatalf("Fetch = %v, want %q", err, want)
	}
	s = newSource(t, Config{URL: "file://" + u.Bare, Branch: "main", MaxTotalBytes: 3 * (400 + fileOverhead)})
	if _, err := s.Fetch(ctxT(t)); err != nil {
		t.Fatalf("Fetch under the limit: %v", err)
	}
}
