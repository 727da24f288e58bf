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
	if got := IndexedJobHostname("render", 5); got != "render-5" {
		t.Errorf("IndexedJobHostname = %q", got)
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

// TestStatefulSetVolumes: the claim templates become the pod's claims, and
// win over a template volume of their name (cockroachdb's manifest).
func TestStatefulSetVolumes(t *testing.T) {
	set := mustLoad(t, stsHead+`  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: "nginx:1.27"
        volumeMounts: [{name: www, mountPath: /www}, {name: datadir, mountPath: /data}, {name: tmp, mountPath: /tmp}]
      volumes:
      - {name: datadir, persistentVolumeClaim: {claimName: datadir}}
      - {name: tmp, emptyDir: {}}
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
  - metadata: {name: datadir}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
	sts := set.Objects[ObjectKey{Kind: KindStatefulSet, Namespace: "default", Name: "web"}].(*StatefulSet)
	got := StatefulSetVolumes(sts, 3)
	want := []string{"www=claim:www-web-3", "datadir=claim:datadir-web-3", "tmp=emptyDir"}
	if len(got) != len(want) {
		t.Fatalf("volumes = %+v", got)
	}
	for i, v := range got {
		desc := v.Name + "="
		switch {
		case v.PersistentVolumeClaim != nil:
			desc += "claim:" + v.PersistentVolumeClaim.ClaimName
		case v.EmptyDir != nil:
			desc += "emptyDir"
		}
		if desc != want[i] {
			t.Errorf("volume %d = %s, want %s", i, desc, want[i])
		}
	}
	if c := sts.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName; c != "datadir" {
		t.Errorf("the template was modified: claimName %q", c)
	}
}
