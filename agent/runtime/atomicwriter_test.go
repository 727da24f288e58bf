package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readView reads the volume as a container does: through the top-level
// entries only (symlinks followed), returning path → content.
func readView(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		top := filepath.Join(dir, e.Name())
		if _, err := os.Stat(top); errors.Is(err, os.ErrNotExist) {
			// A dangling link of a key the new data no longer has (the
			// moment between the swap and its removal): the key is gone.
			continue
		}
		err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				if p == top {
					// a symlink to a directory: walk it through the link
					sub, err := os.ReadDir(p)
					if err != nil {
						return err
					}
					for _, s := range sub {
						b, err := readTree(filepath.Join(p, s.Name()))
						if err != nil {
							return err
						}
						for k, v := range b {
							rel, _ := filepath.Rel(dir, filepath.Join(p, s.Name(), k))
							out[filepath.Clean(rel)] = v
						}
					}
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[rel] = string(b)
			return nil
		})
		if err != nil {
			t.Fatalf("reading %s: %v", e.Name(), err)
		}
	}
	return out
}

func readTree(p string) (map[string]string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(p)
		return map[string]string{"": string(b)}, err
	}
	out := map[string]string{}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		sub, err := readTree(filepath.Join(p, e.Name()))
		if err != nil {
			return nil, err
		}
		for k, v := range sub {
			out[filepath.Join(e.Name(), k)] = v
		}
	}
	return out, nil
}

func payloadOf(m map[string]string) map[string]fileProjection {
	out := map[string]fileProjection{}
	for k, v := range m {
		out[k] = fileProjection{data: []byte(v), mode: 0o644}
	}
	return out
}

func TestAtomicWriterLayoutAndUpdate(t *testing.T) {
	dir := t.TempDir()
	w := &atomicWriter{dir: dir, gid: -1}
	v1 := map[string]string{"a": "1", "sub/b": "2", "c": "3"}
	if wrote, err := w.write(payloadOf(v1)); err != nil || !wrote {
		t.Fatalf("write: %v %v", wrote, err)
	}
	if diff := cmp.Diff(v1, readView(t, dir)); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}
	data, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(data, "..20") {
		t.Errorf("..data -> %q, %v", data, err)
	}
	for _, n := range []string{"a", "sub", "c"} {
		if l, err := os.Readlink(filepath.Join(dir, n)); err != nil || l != "..data/"+n {
			t.Errorf("%s -> %q, %v", n, l, err)
		}
	}
	// The same payload writes nothing.
	if wrote, err := w.write(payloadOf(v1)); err != nil || wrote {
		t.Errorf("rewrite of the same payload: %v %v", wrote, err)
	}
	// An update: c goes, d comes, a changes; one data dir is left.
	v2 := map[string]string{"a": "one", "sub/b": "2", "d": "4"}
	if _, err := w.write(payloadOf(v2)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v2, readView(t, dir)); diff != "" {
		t.Errorf("view after update (-want +got):\n%s", diff)
	}
	if got := names(t, dir); !cmp.Equal(got, []string{"..data", "a", "d", "sub"}) {
		t.Errorf("entries %v", got)
	}
	// Bad paths are refused.
	for _, p := range []string{"../x", "/abs", "..hidden", "a/../b", ""} {
		if _, err := w.write(payloadOf(map[string]string{p: "x"})); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

// names lists dir's entries, timestamped data dirs left out.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "..20") {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// A crash after any step leaves the old view or the new one, complete;
// the next write gets to the new one and leaves one data dir.
func TestAtomicWriterCrashBetweenSteps(t *testing.T) {
	v1 := map[string]string{"a": "1", "old": "x", "sub/b": "2"}
	v2 := map[string]string{"a": "2", "new": "y", "sub/b": "3"}
	crash := errors.New("crash")
	for _, step := range []string{"mkdir", "payload", "symlink", "rename", "visible"} {
		t.Run(step, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := (&atomicWriter{dir: dir, gid: -1}).write(payloadOf(v1)); err != nil {
				t.Fatal(err)
			}
			w := &atomicWriter{dir: dir, gid: -1, step: func(s string) error {
				if s == step {
					return crash
				}
				return nil
			}}
			if _, err := w.write(payloadOf(v2)); !errors.Is(err, crash) {
				t.Fatalf("write: %v", err)
			}
			got := readView(t, dir)
			// Before the rename: v1. After it: v2's files through ..data,
			// but the top-level links of v1 and v2 as they were made.
			switch step {
			case "mkdir", "payload", "symlink":
				if diff := cmp.Diff(v1, got); diff != "" {
					t.Errorf("view (-want +got):\n%s", diff)
				}
			default:
				for k, v := range v2 {
					if _, linked := got[k]; linked && got[k] != v {
						t.Errorf("%s = %q, want %q (mixed view)", k, got[k], v)
					}
				}
				if got["a"] != "2" || got["sub/b"] != "3" {
					t.Errorf("view %v: not the new data", got)
				}
			}
			w.step = nil
			if _, err := w.write(payloadOf(v2)); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(v2, readView(t, dir)); diff != "" {
				t.Errorf("after recovery (-want +got):\n%s", diff)
			}
			ents, _ := os.ReadDir(dir)
			ts := 0
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "..20") {
					ts++
				}
				if e.Name() == "..data_tmp" {
					t.Error("..data_tmp left")
				}
			}
			if ts != 1 {
				t.Errorf("%d data dirs after recovery", ts)
			}
		})
	}
}

func TestAtomicWriterModesAndGroup(t *testing.T) {
	dir := t.TempDir()
	gid := os.Getgid() + 4242
	w := &atomicWriter{dir: dir, gid: gid}
	p := map[string]fileProjection{"key": {data: []byte("v"), mode: 0o400}, "d/x": {data: []byte("x"), mode: 0o600}}
	if _, err := w.write(p); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"key": 0o440, "d/x": 0o640} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), want)
		}
		if g := statGID(fi); g != gid {
			t.Errorf("%s gid %d, want %d", path, g, gid)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetgid == 0 || statGID(fi) != gid {
		t.Errorf("d: mode %v gid %d, want setgid and %d", fi.Mode(), statGID(fi), gid)
	}
	// Unchanged payload under a group: nothing rewritten.
	if wrote, err := w.write(p); err != nil || wrote {
		t.Errorf("rewrite: %v %v", wrote, err)
	}
}
