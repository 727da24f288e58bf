package main

import (
	"os"
	"testing"

	"github.com/stevedore-dev/stevedore/internal/release"
)

// TestSystemdUnitFlags: every flag the shipped unit and its example
// environment file pass to the reconciler is one it has, so that a renamed
// flag cannot leave installed hosts with a unit that fails to start.
func TestSystemdUnitFlags(t *testing.T) {
	unit, err := os.ReadFile("../../deploy/systemd/stevedore-reconciler.service")
	if err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile("../../deploy/systemd/reconciler.env")
	if err != nil {
		t.Fatal(err)
	}
	bin, flags, err := release.UnitFlags(unit, env)
	if err != nil {
		t.Fatal(err)
	}
	if bin != "/opt/stevedore/bin/reconciler" {
		t.Errorf("ExecStart runs %s, want /opt/stevedore/bin/reconciler", bin)
	}
	cmd := newCommand()
	for _, f := range flags {
		if cmd.Flags().Lookup(f) == nil {
			t.Errorf("the unit passes --%s, which reconciler does not have", f)
		}
	}
	if len(flags) < 5 {
		t.Errorf("flags %v: want at least --data-dir, --name, --repo, --api, --gossip, --raft", flags)
	}
}
