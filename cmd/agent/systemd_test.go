package main

import (
	"context"
	"os"
	"testing"

	"github.com/stevedore-dev/stevedore/agent"
	"github.com/stevedore-dev/stevedore/internal/release"
)

// TestSystemdUnitFlags: every flag the shipped unit and its example
// environment file pass to the agent is one it has.
func TestSystemdUnitFlags(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/systemd/stevedore-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("../../deploy/systemd/agent.env")
	if err != nil {
		t.Fatal(err)
	}
	bin, flags, err := release.UnitFlags(unit, env)
	if err != nil {
		t.Fatal(err)
	}
	if bin != "/opt/stevedore/bin/agent" {
		t.Errorf("ExecStart runs %s, want /opt/stevedore/bin/agent", bin)
	}
	do := func(context.Context, agent.Config) error { return nil }
	cmd := newCommand(do, do)
	for _, f := range flags {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("the unit passes --%s, which agent does not have", f)
		}
	}
	if len(flags) < 5 {
		t.Errorf("flags %v: want at least --data-dir, --containerd, --node, --join, --token-file", flags)
	}
}
