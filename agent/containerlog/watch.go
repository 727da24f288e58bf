package containerlog

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// watcher wakes a follower when its directory changes (inotify), with a
// timeout as the fallback where inotify is not available.
type watcher struct {
	f *os.File // nil: poll only
}

func newWatcher(path string) *watcher {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &watcher{}
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_DELETE_SELF)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		return &watcher{}
	}
	// Non-blocking: the runtime's poller serves it, so read deadlines
	// work.
	return &watcher{f: os.NewFile(uintptr(fd), "inotify")}
}

// wait returns after a change, after timeout, or with ctx's error.
func (w *watcher) wait(ctx context.Context, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.f == nil {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_ = w.f.SetReadDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	var buf [4096]byte
	_, _ = w.f.Read(buf[:])
	return ctx.Err()
}

func (w *watcher) close() {
	if w.f != nil {
		w.f.Close()
	}
}
