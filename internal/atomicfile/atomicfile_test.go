package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatalf("WriteFile new: %v", err)
	}
	if err := WriteFile(path, []byte("two"), 0o640); err != nil {
		t.Fatalf("WriteFile replace: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "two" {
		t.Fatalf("content = %q, %v; want \"two\"", b, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, %v; want 0640", st.Mode().Perm(), err)
	}
	assertOnly(t, dir, "state.json")
}

func TestFailedWriteKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fence.json")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	testHookBeforeRename = func() error { return boom }
	t.Cleanup(func() { testHookBeforeRename = nil })

	err := WriteFile(path, []byte("new"), 0o600)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want the hook's error naming %s", err, path)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "old" {
		t.Fatalf("content after a failed write = %q, want \"old\"", b)
	}
	assertOnly(t, dir, "fence.json")
}

func TestErrorNamesPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "pod.json")
	err := WriteFile(path, []byte("x"), 0o600)
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want a not-exist error naming %s", err, path)
	}
}

// assertOnly fails unless dir holds exactly the named entries (no
// temporary file left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("dir holds %v, want %v", got, names)
	}
}
