package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stevedore-dev/stevedore/agent/api"
	"github.com/stevedore-dev/stevedore/spec"
)

func recordPod(name string) api.Pod {
	return api.Pod{
		UID: "uid-" + name, Namespace: "default", Name: name,
		Spec:  spec.PodSpec{Containers: []spec.Container{{Name: "c", Image: "busybox"}}},
		Owner: "Deployment/default/web", Hash: "abc123",
		Created: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
	}
}

// writePodRecord writes p's record where the runtime keeps it.
func writePodRecord(t *testing.T, pods string, p api.Pod) string {
	t.Helper()
	dir := filepath.Join(pods, podID(p.UID))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, podRecord{Pod: p, Hash: specHash(p)}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRecords(t *testing.T) {
	pods := t.TempDir()
	p := recordPod("web")
	writePodRecord(t, pods, p)
	// A pod directory whose record was never written.
	bare := filepath.Join(pods, podID("uid-bare"))
	if err := os.MkdirAll(bare, 0o700); err != nil {
		t.Fatal(err)
	}
	recs, unrecorded, err := loadRecords(pods)
	if err != nil {
		t.Fatalf("loadRecords: %v", err)
	}
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	if diff := cmp.Diff(p, recs[0].Pod); diff != "" {
		t.Errorf("pod read back differs (-want +got):\n%s", diff)
	}
	if len(unrecorded) != 1 || unrecorded[0] != bare {
		t.Errorf("unrecorded = %v, want [%s]", unrecorded, bare)
	}
}

// A record that exists but is unusable stops start-up with an error naming
// the file; it is never taken as "no pod" (which would remove the pod).
func TestCorruptRecordIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(path string) error
	}{
		{"garbage", func(path string) error { return os.WriteFile(path, []byte("not json"), 0o600) }},
		{"truncated", func(path string) error {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(path, b[:len(b)/2], 0o600)
		}},
		{"empty", func(path string) error { return os.WriteFile(path, nil, 0o600) }},
		{"no uid", func(path string) error { return os.WriteFile(path, []byte(`{"pod":{}}`), 0o600) }},
		{"another pod's", func(path string) error {
			other := filepath.Join(t.TempDir(), "x")
			if err := os.MkdirAll(other, 0o700); err != nil {
				return err
			}
			if err := writeRecord(other, podRecord{Pod: recordPod("other")}); err != nil {
				return err
			}
			b, err := os.ReadFile(filepath.Join(other, recordFile))
			if err != nil {
				return err
			}
			return os.WriteFile(path, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pods := t.TempDir()
			writePodRecord(t, pods, recordPod("ok"))
			dir := writePodRecord(t, pods, recordPod("web"))
			path := filepath.Join(dir, recordFile)
			if err := tc.corrupt(path); err != nil {
				t.Fatal(err)
			}
			_, _, err := loadRecords(pods)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("loadRecords = %v, want an error naming %s", err, path)
			}
		})
	}
}
