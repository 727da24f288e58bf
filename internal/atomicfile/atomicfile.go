// Package atomicfile replaces files so that a crash at any moment leaves
// either the old content or the new, never a torn or empty file: state that
// a daemon reads at start (an agent's fence and pod records, the
// reconciler's files) is written only through it.
//
// The recipe is the usual one: write a temporary file in the same
// directory, fsync it, rename it over the target, then fsync the directory
// so that the rename itself is durable.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, with permissions perm (for
// a new file; the temporary file is created 0600 and then chmodded). It
// returns only once data and the rename are on disk. On error the old
// content, if any, is untouched and no temporary file is left behind.
// Errors name path.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		if err != nil && !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("failed to set mode of %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("failed to sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to write %s: %w", path, err)
	}
	if testHookBeforeRename != nil {
		if err := testHookBeforeRename(); err != nil {
			return fmt.Errorf("failed to replace %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("failed to replace %s: %w", path, err)
	}
	renamed = true
	// From here the new content is in place: a failure to sync the
	// directory is reported but must not remove what was renamed.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("failed to sync directory of %s: %w", path, err)
	}
	return nil
}

// testHookBeforeRename, when set, runs after the temporary file is written
// and synced; an error it returns fails WriteFile there (tests simulate a
// write that fails late, which root cannot provoke with permissions).
var testHookBeforeRename func() error

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
