package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/internal/version"
)

// TestVersionFlag: --version prints the build's version and runs nothing.
func TestVersionFlag(t *testing.T) {
	ran := false
	do := func(context.Context, agent.Config) error { ran = true; return nil }
	cmd := newCommand(do, do)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := "agent version " + version.Get().String() + "\n"; out.String() != want || ran {
		t.Errorf("--version printed %q (ran: %t), want %q", out.String(), ran, want)
	}
}
