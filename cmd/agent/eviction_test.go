package main

import (
	"maps"
	"testing"
	"time"
)

func TestEvictionFlags(t *testing.T) {
	got, err := parse(t, "--eviction-hard", "memory.available<200Mi,nodefs.available<5%",
		"--eviction-pressure-transition-period", "30s", "--image-gc-high-threshold", "70", "--image-gc-low-threshold", "60",
		"--minimum-image-gc-age", "1m", "--housekeeping-interval", "2s", "--imagefs-path", "/ctr", "--eviction-memory-capacity", "1073741824")
	if err != nil {
		t.Fatal(err)
	}
	e := got.Eviction
	if !maps.Equal(e.Hard, map[string]string{"memory.available": "200Mi", "nodefs.available": "5%"}) ||
		e.PressureTransitionPeriod != 30*time.Second || e.ImageGCHighThresholdPercent != 70 || e.ImageGCLowThresholdPercent != 60 ||
		e.ImageMinimumGCAge != time.Minute || e.HousekeepingInterval != 2*time.Second || e.ImageFsPath != "/ctr" || e.MemoryCapacity != 1<<30 {
		t.Errorf("eviction config %+v", e)
	}
	for _, bad := range []string{"memory.available>1Gi", "disk.available<1Gi", "nodefs.available<200%"} {
		if _, err := parse(t, "--eviction-hard", bad); err == nil {
			t.Errorf("--eviction-hard %s accepted", bad)
		}
	}
}
