package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogFileFlags: --log-file sends the agent's log (and slog's default)
// to a file rotated at --log-max-size, keeping --log-max-files; bad values
// are refused.
func TestLogFileFlags(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	path := filepath.Join(t.TempDir(), "agent.log")
	cfg, err := parse(t, "--node", "n1", "--log-file", path, "--log-max-size", "1Ki", "--log-max-files", "2")
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		cfg.Logger.Info("a line of the agent's log", "pad", strings.Repeat("x", 40))
	}
	slog.Info("through the default logger")
	for _, p := range []string{path, path + ".1"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if fi.Size() > 1024 {
			t.Errorf("%s is %d bytes, want at most 1Ki", p, fi.Size())
		}
	}
	if _, err := os.Stat(path + ".2"); !os.IsNotExist(err) {
		t.Errorf("a third file with --log-max-files 2: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "through the default logger") {
		t.Errorf("slog's default does not write to --log-file:\n%s", b)
	}
	for _, args := range [][]string{{"--log-max-size", "lots"}, {"--log-max-files", "0"}, {"--log-max-size", "-1"}} {
		if _, err := parse(t, append([]string{"--node", "n1"}, args...)...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
