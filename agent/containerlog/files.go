package containerlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The files of a container's log directory: <n>.log is instance n's
// current file (n is the container's restart count), <n>.log.<stamp> its
// rotated ones (stamp sorts in time order), <n>.log.tmp a file being
// put in place by a rotation.
const (
	logSuffix = ".log"
	tmpSuffix = ".tmp"
	// stampFormat is the kubelet's rotated-file suffix (20060102-150405)
	// with nanoseconds: a writer flooding small files rotates more than
	// once a second.
	stampFormat = "20060102-150405.000000000"
)

// CurrentName is the name of instance n's current file.
func CurrentName(n int) string { return strconv.Itoa(n) + logSuffix }

// CurrentPath is the path of instance n's current file in dir.
func CurrentPath(dir string, n int) string { return filepath.Join(dir, CurrentName(n)) }

// fileName is a parsed name of a container log directory.
type fileName struct {
	instance int
	// stamp is "" for the current file.
	stamp string
	tmp   bool
}

func parseName(name string) (fileName, bool) {
	num, rest, ok := strings.Cut(name, ".")
	if !ok {
		return fileName{}, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return fileName{}, false
	}
	rest = "." + rest
	switch {
	case rest == logSuffix:
		return fileName{instance: n}, true
	case rest == logSuffix+tmpSuffix:
		return fileName{instance: n, tmp: true}, true
	case strings.HasPrefix(rest, logSuffix+"."):
		return fileName{instance: n, stamp: rest[len(logSuffix)+1:]}, true
	}
	return fileName{}, false
}

// instanceFiles returns the paths of instance n's files in dir, oldest
// first (rotated ones by stamp, then the current one if it exists).
func instanceFiles(dir string, n int) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to read log directory: %w", err)
	}
	var rotated []string
	current := false
	for _, e := range ents {
		f, ok := parseName(e.Name())
		if !ok || f.instance != n || f.tmp {
			continue
		}
		if f.stamp == "" {
			current = true
		} else {
			rotated = append(rotated, f.stamp)
		}
	}
	sort.Strings(rotated)
	out := make([]string, 0, len(rotated)+1)
	for _, s := range rotated {
		out = append(out, filepath.Join(dir, CurrentName(n)+"."+s))
	}
	if current {
		out = append(out, CurrentPath(dir, n))
	}
	return out, nil
}

// Instances returns the instance numbers with a current file in dir,
// ascending.
func Instances(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to read log directory: %w", err)
	}
	var out []int
	for _, e := range ents {
		if f, ok := parseName(e.Name()); ok && f.stamp == "" && !f.tmp {
			out = append(out, f.instance)
		}
	}
	sort.Ints(out)
	return out, nil
}

// Previous returns the instance before n that dir keeps (the highest one
// below n), or false.
func Previous(dir string, n int) (int, bool, error) {
	all, err := Instances(dir)
	if err != nil {
		return 0, false, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i] < n {
			return all[i], true, nil
		}
	}
	return 0, false, nil
}

// prune removes from dir what instance n no longer needs: every file of
// another instance except the current file of the latest one before n
// (what --previous shows), and leftovers of interrupted rotations.
func prune(dir string, n int) error {
	prev, hasPrev, err := Previous(dir, n)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("failed to read log directory: %w", err)
	}
	var errs []error
	for _, e := range ents {
		f, ok := parseName(e.Name())
		if !ok || f.instance == n && !f.tmp || hasPrev && f.instance == prev && f.stamp == "" && !f.tmp {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lastStamp is the time in the name of instance n's newest rotated file
// in dir (zero without one).
func lastStamp(dir string, n int) (time.Time, error) {
	files, err := instanceFiles(dir, n)
	if err != nil {
		return time.Time{}, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		if f, ok := parseName(filepath.Base(files[i])); ok && f.stamp != "" {
			t, err := time.Parse(stampFormat, f.stamp)
			if err != nil {
				continue // not ours
			}
			return t, nil
		}
	}
	return time.Time{}, nil
}

// endsLine says whether the file at path, of size size, ends with a
// newline (or cannot be read).
func endsLine(path string, size int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return true
	}
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], size-1)
	return err != nil || b[0] == '\n'
}

// rotatedName is the name instance n's current file gets when rotated at t.
func rotatedName(n int, t time.Time) string {
	return CurrentName(n) + "." + t.UTC().Format(stampFormat)
}
