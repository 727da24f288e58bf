package main

import (
	"bytes"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/version"
)

// TestVersionFlag: --version prints the build's version and starts nothing
// (no --repo or --data-dir needed).
func TestVersionFlag(t *testing.T) {
	cmd := newCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := "reconciler version " + version.Get().String() + "\n"; out.String() != want {
		t.Errorf("--version printed %q, want %q", out.String(), want)
	}
}
