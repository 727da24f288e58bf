package devenv

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Images of real programs from the host's Debian packages: the binaries,
// the shared libraries ldd lists for them (and the dynamic loader), on top
// of the busybox layer for a shell. No image can be pulled from the
// internet here, and a debootstrap root file system is hundreds of
// megabytes; a program and its libraries are a few.

// RedisRepo is the redis image the patterns use (examples-repo/patterns):
// Debian 12's redis-server 7.0.
const RedisRepo = "stevedore/redis:7"

// redisBinaries are what Debian's redis-server and redis-tools install
// (redis-server is a link to redis-check-rdb: the binary picks its role
// from its name, so the link is kept as a link).
var redisBinaries = []string{"/usr/bin/redis-server", "/usr/bin/redis-cli"}

// HostImage describes an image of host binaries.
type HostImage struct {
	// Binaries are absolute paths of executables on the host; each is put
	// at the same path, with the link chain that leads to it.
	Binaries []string
	// Dirs are extra directories to create (absolute), mode 0777 so that
	// any user may write there (a data directory a volume may replace).
	Dirs []string
	// Entrypoint and Cmd of the image config.
	Entrypoint, Cmd []string
	// Package names the Debian package to install when a binary is
	// missing, for the error message.
	Package string
}

// RedisImage builds the redis image (redis-server and redis-cli, from the
// Debian packages redis-server and redis-tools) and pushes it to ref:
// entrypoint redis-server, a /data directory for its files.
func RedisImage(ctx context.Context, ref string) error {
	return PushHostImage(ctx, ref, HostImage{
		Binaries:   redisBinaries,
		Dirs:       []string{"/data"},
		Entrypoint: []string{"/usr/bin/redis-server"},
		Package:    "redis-server",
	})
}

// PushHostImage builds spec's image and pushes it to ref.
func PushHostImage(ctx context.Context, ref string, spec HostImage) error {
	base, err := getBusyboxLayer()
	if err != nil {
		return err
	}
	entries, err := hostImageEntries(spec)
	if err != nil {
		return err
	}
	layer, err := buildLayer(entries)
	if err != nil {
		return err
	}
	img, err := image([]v1.Layer{base, layer}, spec.Entrypoint, spec.Cmd)
	if err != nil {
		return err
	}
	return push(ctx, ref, img)
}

// hostImageEntries lists the layer's files: each binary's link chain and
// target, and every library ldd names with its own link chain, under the
// directories that lead to them.
func hostImageEntries(spec HostImage) ([]tarEntry, error) {
	files := map[string]tarEntry{}
	dirs := map[string]int64{}
	for _, d := range spec.Dirs {
		dirs[strings.Trim(d, "/")] = 0o777
	}
	for _, bin := range spec.Binaries {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("failed to find %s (install the Debian package %s): %w", bin, spec.Package, err)
		}
		if err := addHostFile(files, bin); err != nil {
			return nil, err
		}
		libs, err := sharedLibraries(bin)
		if err != nil {
			return nil, err
		}
		for _, l := range libs {
			if err := addHostFile(files, l); err != nil {
				return nil, err
			}
		}
	}
	for name := range files {
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = 0o755
			}
		}
	}
	var out []tarEntry
	dnames := make([]string, 0, len(dirs))
	for d := range dirs {
		dnames = append(dnames, d)
	}
	sort.Strings(dnames) // parents first
	for _, d := range dnames {
		out = append(out, tarEntry{name: d + "/", mode: dirs[d], typ: tar.TypeDir})
	}
	fnames := make([]string, 0, len(files))
	for f := range files {
		fnames = append(fnames, f)
	}
	sort.Strings(fnames)
	for _, f := range fnames {
		out = append(out, files[f])
	}
	return out, nil
}

// addHostFile adds p (absolute) to files: a symbolic link as a link, and
// what it points to, until a regular file. A path through a linked
// directory (/lib64 → usr/lib64 on a merged-/usr system) is added at the
// path as named, holding the final file's content.
func addHostFile(files map[string]tarEntry, p string) error {
	for range 16 {
		name := strings.TrimPrefix(filepath.Clean(p), "/")
		if _, ok := files[name]; ok {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("failed to stat %s: %w", p, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("failed to read link %s: %w", p, err)
			}
			files[name] = tarEntry{name: name, mode: 0o777, typ: tar.TypeSymlink, linkname: target}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			p = target
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return fmt.Errorf("failed to resolve %s: %w", p, err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			return fmt.Errorf("failed to read %s: %w", real, err)
		}
		files[name] = tarEntry{name: name, mode: int64(fi.Mode().Perm()), typ: tar.TypeReg, data: b}
		return nil
	}
	return fmt.Errorf("failed to resolve %s: too many levels of symbolic links", p)
}

// sharedLibraries returns the absolute paths ldd lists for bin: the
// libraries it resolved ("libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6
// (0x…)") and the dynamic loader ("/lib64/ld-linux-x86-64.so.2 (0x…)").
// A static binary has none. A library ldd cannot find is an error.
func sharedLibraries(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not a dynamic executable")) {
			return nil, nil
		}
		return nil, fmt.Errorf("failed to list the libraries of %s (ldd): %w: %s", bin, err, bytes.TrimSpace(out))
	}
	return parseLdd(bin, out)
}

// parseLdd parses ldd's output (see sharedLibraries).
func parseLdd(bin string, out []byte) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("%s needs %s, which ldd cannot find", bin, f[0])
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
		// linux-vdso.so.1 (0x…) and "statically linked" have no file.
	}
	return libs, sc.Err()
}
