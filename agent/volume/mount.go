package volume

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file holds the mount helpers the built-in drivers and the manager
// share: whether a path is a mount point (from /proc/self/mountinfo, which
// also sees a dead FUSE mount that stat cannot), bind mounts with a
// read-only remount, and an unmount that treats "not mounted" as done.

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	Source, FSType, MountPoint string
}

// mounts parses /proc/self/mountinfo.
func mounts() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("failed to read mount table: %w", err)
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f1, f2 := strings.Fields(pre), strings.Fields(post)
		if len(f1) < 5 || len(f2) < 2 {
			continue
		}
		out = append(out, mountInfo{Source: unescapeMount(f2[1]), FSType: f2[0], MountPoint: unescapeMount(f1[4])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read mount table: %w", err)
	}
	return out, nil
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountAt returns the topmost mount at path (cleaned, symlinks not
// resolved: the agent's paths have none), or ok=false.
func mountAt(path string) (m mountInfo, ok bool, err error) {
	all, err := mounts()
	if err != nil {
		return m, false, err
	}
	path = filepath.Clean(path)
	for _, mi := range all {
		if mi.MountPoint == path {
			m, ok = mi, true // later lines are mounted on top
		}
	}
	return m, ok, nil
}

// IsMountPoint reports whether something is mounted at path.
func IsMountPoint(path string) (bool, error) {
	_, ok, err := mountAt(path)
	return ok, err
}

// bindMount bind-mounts src at target, read-only when asked (a bind mount
// is made read-only by a remount of the bind, as mount(8) does). It does
// nothing when target is already a mount point.
func bindMount(src, target string, readOnly bool) error {
	if ok, err := IsMountPoint(target); err != nil || ok {
		return err
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("failed to bind %s at %s: %w", src, target, err)
	}
	if readOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("failed to make %s read-only: %w", target, err)
		}
	}
	return nil
}

// unmountAll unmounts everything stacked at path; a path that is not a
// mount point, or does not exist, is done. A busy mount is detached
// lazily: it goes away when its last user does.
func unmountAll(path string) error {
	for range 16 {
		ok, err := IsMountPoint(path)
		if err != nil || !ok {
			return err
		}
		err = unix.Unmount(path, 0)
		switch {
		case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("failed to unmount %s: %w", path, err)
			}
		default:
			return fmt.Errorf("failed to unmount %s: %w", path, err)
		}
	}
	return fmt.Errorf("failed to unmount %s: still mounted after 16 unmounts", path)
}

// removeEmptyDir removes dir if it is not a mount point; a missing dir
// is done. It never removes contents: a path the agent believes
// unmounted but which still holds a volume's files keeps them.
func removeEmptyDir(dir string) error {
	if ok, err := IsMountPoint(dir); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("failed to remove %s: still a mount point", dir)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("failed to remove %s: %w", dir, err)
	}
	return nil
}
