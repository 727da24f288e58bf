package containerlog

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// watchMask is what wakes a follower: its directory's files written,
// created, renamed, closed or removed.
const watchMask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
	unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_DELETE_SELF

// notify is the process's one inotify instance, shared by every follower:
// fs.inotify.max_user_instances (128 on most systems, per user) would
// otherwise bound how many logs an agent can follow. The first watcher
// starts it and its reader goroutine, the last one closes it and waits
// for the goroutine. Followers of one directory share its watch.
var notify struct {
	mu   sync.Mutex
	fd   int      // the raw descriptor, for add and rm watch
	f    *os.File // nil: not running; read through the runtime's poller
	done chan struct{}
	subs map[int32]map[*watcher]struct{} // by watch descriptor
}

// watcher wakes a follower when its directory changes, with a timeout as
// the fallback (where inotify is not available, or its events were lost).
type watcher struct {
	wd   int32 // -1: poll only
	wake chan struct{}
}

func newWatcher(path string) *watcher {
	w := &watcher{wd: -1, wake: make(chan struct{}, 1)}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if notify.f == nil && !startNotify() {
		return w
	}
	wd, err := unix.InotifyAddWatch(notify.fd, filepath.Dir(path), watchMask)
	if err != nil {
		return w
	}
	w.wd = int32(wd)
	if notify.subs[w.wd] == nil {
		notify.subs[w.wd] = map[*watcher]struct{}{}
	}
	notify.subs[w.wd][w] = struct{}{}
	return w
}

// startNotify opens the inotify instance and starts its reader; notify.mu
// is held.
func startNotify() bool {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return false
	}
	// Non-blocking: the runtime's poller serves it, and closing it ends
	// a read in progress.
	f := os.NewFile(uintptr(fd), "inotify")
	done := make(chan struct{})
	notify.fd, notify.f, notify.done = fd, f, done
	notify.subs = map[int32]map[*watcher]struct{}{}
	go func() {
		defer close(done)
		readEvents(f)
	}()
	return true
}

// readEvents wakes the watchers of each event's watch until f is closed.
func readEvents(f *os.File) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		wds := map[int32]bool{}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			wd := int32(binary.NativeEndian.Uint32(b[0:4]))
			size := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:16]))
			wds[wd] = true
			b = b[min(size, len(b)):]
		}
		wakeAll(f, wds)
	}
}

// wakeAll wakes the watchers of wds (every watcher after a queue overflow,
// whose wd is -1), unless f is no longer the running instance.
func wakeAll(f *os.File, wds map[int32]bool) {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if notify.f != f {
		return
	}
	for wd, ws := range notify.subs {
		if !wds[wd] && !wds[-1] {
			continue
		}
		for w := range ws {
			select {
			case w.wake <- struct{}{}:
			default: // a wake is pending already
			}
		}
	}
}

// wait returns after a change (or one since the last wait), after
// timeout, or with ctx's error.
func (w *watcher) wait(ctx context.Context, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.wake:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// close drops w's watch if it was the directory's last follower, and the
// inotify instance if it was the process's last.
func (w *watcher) close() {
	if w.wd < 0 {
		return
	}
	notify.mu.Lock()
	ws := notify.subs[w.wd]
	delete(ws, w)
	if len(ws) == 0 {
		delete(notify.subs, w.wd)
		_, _ = unix.InotifyRmWatch(notify.fd, uint32(w.wd))
	}
	var done chan struct{}
	if len(notify.subs) == 0 && notify.f != nil {
		notify.f.Close()
		notify.f, done = nil, notify.done
	}
	notify.mu.Unlock()
	w.wd = -1
	if done != nil {
		<-done
	}
}
