package logfile

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestRotationKeepsAtMostMaxFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "agent.log")
	w, err := Open(Config{Path: path, MaxSize: 1000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(w, nil))
	for i := range 2000 {
		log.Info("flood", "i", i)
	}
	log.Info("last line")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var total int64
	for _, e := range entries {
		fi, _ := e.Info()
		names = append(names, e.Name())
		total += fi.Size()
		if fi.Size() > 1000 {
			t.Errorf("%s is %d bytes, over MaxSize 1000", e.Name(), fi.Size())
		}
	}
	sort.Strings(names)
	if want := []string{"agent.log", "agent.log.1", "agent.log.2"}; fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("files %v, want %v", names, want)
	}
	if total > 3000 {
		t.Errorf("%d bytes on disk, want at most 3000", total)
	}
	cur, _ := os.ReadFile(path)
	if !strings.Contains(string(cur), "last line") {
		t.Errorf("current file lacks the last line: %q", cur)
	}
	// The rotated files are older: .1 holds lines just before the current.
	one, _ := os.ReadFile(path + ".1")
	two, _ := os.ReadFile(path + ".2")
	if !bytes.Contains(one, []byte("i=19")) || !bytes.Contains(two, []byte("i=19")) {
		t.Errorf("rotated files should hold the most recent lines; .1=%q .2=%q", firstLine(one), firstLine(two))
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestOpenAppendsAndOneFileTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Config{Path: path, MaxSize: 20, MaxFiles: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("0123456789\n")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "before\n0123456789\n" {
		t.Errorf("appended file = %q", b)
	}
	if _, err := w.Write([]byte("abcdefghij\n")); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if string(b) != "abcdefghij\n" {
		t.Errorf("after rotation with MaxFiles 1 = %q", b)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("MaxFiles 1 kept a rotated file: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := Open(Config{Path: filepath.Join(t.TempDir(), "x"), MaxSize: -1}); err == nil {
		t.Error("negative size accepted")
	}
	c := Config{Path: "p"}
	if err := c.validate(); err != nil || c.MaxSize != DefaultMaxSize || c.MaxFiles != DefaultMaxFiles {
		t.Errorf("validate = %v, %+v", err, c)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
