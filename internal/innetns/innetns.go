// Package innetns runs a piece of code inside another network namespace:
// a socket made there (a listener, a connection) belongs to that namespace
// for its whole life, though the goroutine that made it goes back. The
// harness dials into its hosts' namespaces this way, and the browser tests
// listen inside the browser's.
package innetns

import (
	"fmt"
	"io"
	goruntime "runtime"

	"github.com/vishvananda/netns"
)

// Run calls fn on an OS thread switched into the network namespace at path
// (/var/run/netns/NAME) and back, and returns what fn returned.
//
// The thread is switched back rather than left to die with the goroutine
// (Go's way with a thread left locked): processes started with Pdeathsig
// are tied by Linux to the thread that forked them, so a dying thread
// could kill one of them. Only when switching back fails is the thread
// left locked, to be discarded rather than reused in the wrong namespace;
// what fn made is then closed and an error returned.
func Run[T io.Closer](path string, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var zero T
		goruntime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{zero, fmt.Errorf("failed to open the current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			goruntime.UnlockOSThread()
			ch <- result{zero, fmt.Errorf("failed to open %s: %w", path, err)}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			goruntime.UnlockOSThread()
			ch <- result{zero, fmt.Errorf("failed to enter %s: %w", path, err)}
			return
		}
		v, err := fn()
		if rerr := netns.Set(orig); rerr != nil {
			if err == nil {
				v.Close()
			}
			ch <- result{zero, fmt.Errorf("failed to leave %s: %w", path, rerr)}
			return
		}
		goruntime.UnlockOSThread()
		ch <- result{v, err}
	}()
	r := <-ch
	return r.v, r.err
}
