package spec

import (
	"math"
	"testing"
	"time"
)

func TestWorkloadNames(t *testing.T) {
	if got := StatefulSetPodName("web", 2); got != "web-2" {
		t.Errorf("StatefulSetPodName = %q", got)
	}
	if got := StatefulSetClaimName("www", "web", 0); got != "www-web-0" {
		t.Errorf("StatefulSetClaimName = %q", got)
	}
	slot := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
	if got, want := CronJobJobName("backup", slot), "backup-29538870"; got != want {
		t.Errorf("CronJobJobName = %q, want %q", got, want)
	}
	// Any time in the same minute names the same Job.
	if CronJobJobName("backup", slot.Add(59*time.Second)) != CronJobJobName("backup", slot) {
		t.Error("one slot, two names")
	}
	for _, tc := range []struct {
		replicas    *int32
		start       int32
		first, last int32
	}{
		{nil, 0, 0, 0},
		{int32Ptr(3), 0, 0, 2},
		{int32Ptr(3), 5, 5, 7},
		{int32Ptr(0), 5, 5, 4},
		{int32Ptr(math.MaxInt32), 10, 10, math.MaxInt32},
	} {
		s := &StatefulSetSpec{Replicas: tc.replicas, Ordinals: &StatefulSetOrdinals{Start: tc.start}}
		if first, last := s.OrdinalRange(); first != tc.first || last != tc.last {
			t.Errorf("replicas %v start %d: ordinals %d..%d, want %d..%d", tc.replicas, tc.start, first, last, tc.first, tc.last)
		}
	}
}

// TestStatefulSetNameAndOrdinals: the pod-name bound counts ordinals.start.
func TestStatefulSetNameAndOrdinals(t *testing.T) {
	name := "w123456789012345678901234567890123456789012345678901234567890" // 61 characters
	runRuleCases(t, []ruleCase{
		{"start pushes the last ordinal to 3 digits", headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: " + name + "} #!\nspec:\n  replicas: 1\n  ordinals: {start: 100}\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n" + stsTemplate,
			"metadata.name", `"` + name + `-100"`},
	})
	if _, err := loadOne(headlessWeb + "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: " + name + "}\nspec:\n  replicas: 1\n  serviceName: web\n  selector: {matchLabels: {app: web}}\n" + stsTemplate); err != nil {
		t.Errorf("61 characters and ordinal 0 make a 63-character pod name: %v", err)
	}
}
