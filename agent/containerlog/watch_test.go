package containerlog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// inotifyInstances counts this process's inotify descriptors.
func inotifyInstances(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("failed to list this process's descriptors: %v", err)
	}
	n := 0
	for _, e := range ents {
		if p, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); p == "anon_inode:inotify" {
			n++
		}
	}
	return n
}

// Followers share one inotify instance (fs.inotify.max_user_instances is
// 128 per user), and each is woken by changes of its own directory.
func TestWatchersShareOneInstance(t *testing.T) {
	base := inotifyInstances(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	var ws []*watcher
	for i := range 200 {
		ws = append(ws, newWatcher(filepath.Join(dirs[i%2], "0.log")))
	}
	if n := inotifyInstances(t) - base; n != 1 {
		t.Errorf("%d inotify instances for 200 followers, want 1", n)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "0.log"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if i%2 == 1 {
			continue
		}
		select {
		case <-w.wake:
		case <-time.After(5 * time.Second):
			t.Fatalf("follower %d of %s not woken", i, dirs[0])
		}
	}
	for i, w := range ws {
		if i%2 == 0 {
			continue // may be woken again by the write's later events
		}
		select {
		case <-w.wake:
			t.Errorf("follower %d of %s woken by a change of %s", i, dirs[1], dirs[0])
		default:
		}
	}
	// The wait of a woken follower returns at once.
	_ = os.WriteFile(filepath.Join(dirs[1], "0.log"), []byte("y"), 0o644)
	start := time.Now()
	if err := ws[1].wait(context.Background(), 5*time.Second); err != nil || time.Since(start) > 4*time.Second {
		t.Errorf("wait = %v after %v", err, time.Since(start))
	}
	for _, w := range ws {
		w.close()
	}
	if n := inotifyInstances(t) - base; n != 0 {
		t.Errorf("%d inotify instances left after every follower closed", n)
	}
	// And again after the last one went.
	w := newWatcher(filepath.Join(dirs[1], "0.log"))
	defer w.close()
	if w.wd < 0 {
		t.Error("no watch after a restart of the instance")
	}
}
