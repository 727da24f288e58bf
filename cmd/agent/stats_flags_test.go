package main

import (
	"testing"
	"time"
)

func TestStatsFlags(t *testing.T) {
	got, err := parse(t, "--node", "n1", "--stats-interval", "3s", "--containerd-root", "/cr")
	if err != nil {
		t.Fatal(err)
	}
	if got.StatsInterval != 3*time.Second || got.ContainerdRoot != "/cr" {
		t.Errorf("StatsInterval %v, ContainerdRoot %q; want 3s and /cr", got.StatsInterval, got.ContainerdRoot)
	}
}
