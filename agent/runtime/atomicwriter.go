package runtime

// The files of configMap, secret, downwardAPI and projected volumes are
// written the way the kubelet's AtomicWriter writes them, so that a
// process reading the volume sees either the old set of files or the new
// one, never a mix:
//
//	<volume>/..2026_11_30_10_00_00.123456789/   the data, one dir per version
//	<volume>/..data -> ..2026_11_30_10_00_00.123456789
//	<volume>/<name> -> ..data/<name>            one per top-level entry
//
// An update writes a new timestamped directory, points a new symlink
// ..data_tmp at it, renames ..data_tmp over ..data (the atomic step), adds
// the top-level symlinks of new entries, removes those of entries gone,
// then removes the old directory. A crash at any point leaves ..data
// pointing at a complete directory; the next write removes what the crash
// left (..data_tmp, directories ..data does not point at).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// fileProjection is one file of a volume's payload.
type fileProjection struct {
	data []byte
	mode os.FileMode
}

// atomicWriter writes payloads into dir.
type atomicWriter struct {
	dir string
	// gid, when >= 0, group-owns every file and directory written, as
	// the kubelet's fsGroup does for read-only volumes: files get group
	// read (0440 added), directories setgid and group search.
	gid int
	// step, when set (tests), is called after each step with its name;
	// an error stops the write there, as a crash would.
	step func(name string) error
}

// validatePayload checks every path is relative, clean and free of ".."
// elements and of the reserved ".." prefix.
func validatePayload(payload map[string]fileProjection) error {
	for p := range payload {
		if p == "" || filepath.IsAbs(p) || len(p) > 4096 {
			return fmt.Errorf("invalid path %q", p)
		}
		for _, el := range strings.Split(p, "/") {
			if el == "" || el == "." || el == ".." || strings.HasPrefix(el, "..") || len(el) > 255 {
				return fmt.Errorf("invalid path %q", p)
			}
		}
	}
	return nil
}

// write projects payload into the writer's directory; a payload equal to
// the current one (contents and modes) changes nothing. It reports whether
// it wrote.
func (w *atomicWriter) write(payload map[string]fileProjection) (bool, error) {
	if err := validatePayload(payload); err != nil {
		return false, err
	}
	step := func(name string) error {
		if w.step == nil {
			return nil
		}
		return w.step(name)
	}
	oldTs, err := os.Readlink(filepath.Join(w.dir, dataDirName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("failed to read %s: %w", dataDirName, err)
	}
	w.removeLeftovers(oldTs)
	if oldTs != "" && w.same(filepath.Join(w.dir, oldTs), payload) {
		// A crash after the swap may have left the links unfinished.
		return false, w.repairVisible(payload)
	}
	oldPaths := w.userVisible(oldTs)

	// 1. the new data directory, with every file
	tsName := ".." + time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	tsDir := filepath.Join(w.dir, tsName)
	for i := 0; ; i++ {
		err := os.Mkdir(tsDir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return false, fmt.Errorf("failed to create data dir: %w", err)
		}
		tsName = fmt.Sprintf("%s_%d", tsName, i)
		tsDir = filepath.Join(w.dir, tsName)
	}
	if err := step("mkdir"); err != nil {
		return false, err
	}
	if err := w.writePayload(tsDir, payload); err != nil {
		return false, err
	}
	if err := step("payload"); err != nil {
		return false, err
	}
	// 2. ..data_tmp -> new, renamed over ..data
	tmpLink := filepath.Join(w.dir, newDataDirName)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(tsName, tmpLink); err != nil {
		return false, fmt.Errorf("failed to link %s: %w", newDataDirName, err)
	}
	if err := step("symlink"); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(w.dir, dataDirName)); err != nil {
		return false, fmt.Errorf("failed to swap %s: %w", dataDirName, err)
	}
	if err := step("rename"); err != nil {
		return false, err
	}
	// 3. top-level symlinks of new entries, then away with those gone
	newPaths := topLevel(payload)
	for name := range newPaths {
		link := filepath.Join(w.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirName, name), link); err != nil {
			return false, fmt.Errorf("failed to link %s: %w", name, err)
		}
	}
	if err := step("visible"); err != nil {
		return false, err
	}
	for name := range oldPaths {
		if !newPaths[name] {
			if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return false, fmt.Errorf("failed to remove %s: %w", name, err)
			}
		}
	}
	// 4. the old data
	if oldTs != "" {
		if err := os.RemoveAll(filepath.Join(w.dir, oldTs)); err != nil {
			return true, fmt.Errorf("failed to remove old data: %w", err)
		}
	}
	return true, nil
}

// removeLeftovers removes a crashed write's ..data_tmp and data
// directories ..data does not point at.
func (w *atomicWriter) removeLeftovers(current string) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == newDataDirName:
			_ = os.Remove(filepath.Join(w.dir, n))
		case n != dataDirName && n != current && strings.HasPrefix(n, "..") && e.IsDir():
			_ = os.RemoveAll(filepath.Join(w.dir, n))
		}
	}
}

// repairVisible makes the top-level links of payload and removes links of
// entries it does not have.
func (w *atomicWriter) repairVisible(payload map[string]fileProjection) error {
	want := topLevel(payload)
	for name := range want {
		link := filepath.Join(w.dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataDirName, name), link); err != nil {
			return fmt.Errorf("failed to link %s: %w", name, err)
		}
	}
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, "..") && !want[n] && e.Type()&os.ModeSymlink != 0 {
			_ = os.Remove(filepath.Join(w.dir, n))
		}
	}
	return nil
}

// topLevel returns the first element of every path.
func topLevel(payload map[string]fileProjection) map[string]bool {
	out := map[string]bool{}
	for p := range payload {
		first, _, _ := strings.Cut(p, "/")
		out[first] = true
	}
	return out
}

// userVisible returns the top-level entries of the data dir ts.
func (w *atomicWriter) userVisible(ts string) map[string]bool {
	out := map[string]bool{}
	if ts == "" {
		return out
	}
	ents, err := os.ReadDir(filepath.Join(w.dir, ts))
	if err != nil {
		return out
	}
	for _, e := range ents {
		out[e.Name()] = true
	}
	return out
}

// same reports whether dir holds exactly payload.
func (w *atomicWriter) same(dir string, payload map[string]fileProjection) bool {
	n := 0
	ok := true
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			ok = false
			return filepath.SkipAll
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		f, found := payload[rel]
		if !found {
			ok = false
			return filepath.SkipAll
		}
		n++
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != w.fileMode(f.mode) {
			ok = false
			return filepath.SkipAll
		}
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, f.data) {
			ok = false
			return filepath.SkipAll
		}
		return nil
	})
	return ok && n == len(payload)
}

// fileMode is the mode a file of the payload gets.
func (w *atomicWriter) fileMode(m os.FileMode) os.FileMode {
	if w.gid >= 0 {
		m |= 0o440
	}
	return m.Perm()
}

// writePayload writes the files under dir, directories first.
func (w *atomicWriter) writePayload(dir string, payload map[string]fileProjection) error {
	paths := make([]string, 0, len(payload))
	for p := range payload {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	dirMode := os.FileMode(0o755)
	if w.gid >= 0 {
		dirMode |= os.ModeSetgid
	}
	if err := w.own(dir, dirMode); err != nil {
		return err
	}
	for _, p := range paths {
		f := payload[p]
		full := filepath.Join(dir, p)
		// Parent directories, each owned like the data dir.
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("failed to create %s: %w", filepath.Dir(p), err)
		}
		for d := filepath.Dir(full); d != dir; d = filepath.Dir(d) {
			if err := w.own(d, dirMode); err != nil {
				return err
			}
		}
		if err := os.WriteFile(full, f.data, 0o600); err != nil {
			return fmt.Errorf("failed to write %s: %w", p, err)
		}
		if err := w.own(full, w.fileMode(f.mode)); err != nil {
			return err
		}
	}
	return nil
}

// own sets mode (chmod, so the umask does not matter) and the group.
func (w *atomicWriter) own(p string, mode os.FileMode) error {
	if w.gid >= 0 {
		if err := os.Lchown(p, -1, w.gid); err != nil {
			return fmt.Errorf("failed to set group of %s: %w", filepath.Base(p), err)
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		return fmt.Errorf("failed to set mode of %s: %w", filepath.Base(p), err)
	}
	return nil
}
