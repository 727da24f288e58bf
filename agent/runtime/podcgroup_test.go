package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPodCgroupFiles checks the pids limit's files on fake cgroup v1 and
// v2 roots (the real v1 hierarchy is TestPodPidsLimit's).
func TestPodCgroupFiles(t *testing.T) {
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	// v1: one directory per controller.
	v1 := t.TempDir()
	for _, c := range []string{"pids", "memory", "cpu"} {
		if err := os.Mkdir(filepath.Join(v1, c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := ensurePodCgroup(v1, "/ns/pod-a", 100); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(v1, "pids/ns/pod-a/pids.max")); got != "100" {
		t.Errorf("v1 pids.max %q", got)
	}
	if err := ensurePodCgroup(v1, "/ns/pod-a", -1); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(v1, "pids/ns/pod-a/pids.max")); got != "max" {
		t.Errorf("v1 unlimited pids.max %q", got)
	}
	// runc made the pod's directory in memory too; removal takes both
	// (a fake cgroupfs holds files, so they go first here).
	_ = os.MkdirAll(filepath.Join(v1, "memory/ns/pod-a"), 0o755)
	_ = os.Remove(filepath.Join(v1, "pids/ns/pod-a/pids.max"))
	if err := removePodCgroup(v1, "/ns/pod-a"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"pids", "memory"} {
		if _, err := os.Stat(filepath.Join(v1, c, "ns/pod-a")); !os.IsNotExist(err) {
			t.Errorf("%s pod cgroup left: %v", c, err)
		}
	}
	// Teardown's sweep: pod cgroups left under the namespace, then it.
	_ = os.MkdirAll(filepath.Join(v1, "cpu/ns/pod-x"), 0o755)
	_ = os.MkdirAll(filepath.Join(v1, "pids/ns/pod-y"), 0o755)
	removeNamespaceCgroups(v1, "ns")
	for _, c := range []string{"pids", "memory", "cpu"} {
		if _, err := os.Stat(filepath.Join(v1, c, "ns")); !os.IsNotExist(err) {
			t.Errorf("%s namespace cgroup left: %v", c, err)
		}
	}
	// v2: one hierarchy; pids delegated down the path.
	v2 := t.TempDir()
	_ = os.WriteFile(filepath.Join(v2, "cgroup.controllers"), []byte("cpu memory pids"), 0o644)
	_ = os.WriteFile(filepath.Join(v2, "cgroup.subtree_control"), []byte("memory"), 0o644)
	// A real cgroupfs makes the file in a new cgroup; the fake needs it.
	_ = os.MkdirAll(filepath.Join(v2, "ns"), 0o755)
	_ = os.WriteFile(filepath.Join(v2, "ns", "cgroup.subtree_control"), []byte("pids"), 0o644)
	if err := ensurePodCgroup(v2, "/ns/pod-b", 42); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(v2, "cgroup.subtree_control")); got != "+pids" {
		t.Errorf("v2 root subtree_control %q, want +pids written", got)
	}
	if got := read(filepath.Join(v2, "ns/cgroup.subtree_control")); got != "pids" {
		t.Errorf("v2 ns subtree_control %q, want untouched", got)
	}
	if got := read(filepath.Join(v2, "ns/pod-b/pids.max")); got != "42" {
		t.Errorf("v2 pids.max %q", got)
	}
	if err := ensurePodCgroup(t.TempDir(), "/ns/pod-c", 1); err == nil {
		t.Error("no pids controller: no error")
	}
}

func TestPodPidsLimitConfig(t *testing.T) {
	for in, want := range map[int64]int64{0: DefaultPodPidsLimit, -1: -1, -5: -1, 10: 10} {
		c := Config{PodPidsLimit: in}
		if got := c.podPidsLimit(); got != want {
			t.Errorf("PodPidsLimit %d: %d, want %d", in, got, want)
		}
	}
}

// TestCheckPidsController: a pods limit on a host without the pids
// controller is refused (once, at start) with an error that names it;
// no limit needs none.
func TestCheckPidsController(t *testing.T) {
	v1, none := t.TempDir(), t.TempDir()
	_ = os.Mkdir(filepath.Join(v1, "pids"), 0o755)
	v2, v2none := t.TempDir(), t.TempDir()
	_ = os.WriteFile(filepath.Join(v2, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644)
	_ = os.WriteFile(filepath.Join(v2none, "cgroup.controllers"), []byte("cpu memory\n"), 0o644)
	for _, tc := range []struct {
		root  string
		limit int64
		ok    bool
	}{{v1, 10, true}, {v2, 10, true}, {none, 10, false}, {v2none, 10, false}, {none, -1, true}, {v2none, -1, true}} {
		err := checkPidsController(tc.root, tc.limit)
		if (err == nil) != tc.ok || err != nil && (!strings.Contains(err.Error(), "pids cgroup controller") || !strings.Contains(err.Error(), "--pod-pids-limit=-1")) {
			t.Errorf("checkPidsController(%s, %d) = %v", tc.root, tc.limit, err)
		}
	}
}
