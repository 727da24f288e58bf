package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
)

// A pod namespace made before anyone ran `ip netns add` must stay
// reachable after it: the agent makes the namespace directory a shared
// mount point first, as iproute2 does, so iproute2 does not mount the
// directory over itself on top of the pod's namespace.
func TestPodNetnsSurvivesIPNetnsAdd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces)")
	}
	id := fmt.Sprintf("dirtest%d", os.Getpid())
	path, err := createNetns(id, func(netns.NsHandle) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNetns(id) })
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mi), " /run/netns ") && !strings.Contains(string(mi), " "+netnsDir+" ") {
		t.Errorf("%s is not a mount point of its own after a pod namespace was made", netnsDir)
	}
	other := fmt.Sprintf("stv-iproute%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", other).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", other).Run() })
	h, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatalf("the pod's namespace is gone after ip netns add: %v", err)
	}
	defer h.Close()
	cur, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if h.Equal(cur) {
		t.Errorf("%s is the host's namespace: its mount is hidden", path)
	}
	// And it can still be removed: a hidden mount outlives its file.
	if err := deleteNetns(id); err != nil {
		t.Fatalf("deleteNetns: %v", err)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err != nil || strings.Contains(string(mi), netnsPrefix+id) {
		t.Errorf("the pod's namespace is still mounted after deleteNetns (err %v)", err)
	}
}
