// Command plugin-example is an out-of-process Stevedore volume driver, an
// example of the exec protocol (docs/volume-drivers.md): a local-dir-like
// driver that keeps one directory per volume under a root (the
// StorageClass parameter "root", else $STEVEDORE_EXAMPLE_VOLUME_ROOT,
// else /var/lib/stevedore-example-volumes), bind-mounts it at the staging
// path and the staging path at each target.
//
// Install it as <plugin dir>/<provisioner with / replaced by ~>, e.g.
// /usr/libexec/stevedore/volume/example.com~dir, and name example.com/dir
// as a StorageClass's provisioner. It uses only the standard library, so
// it can be copied out of this repository as a starting point.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

type volume struct {
	Name       string            `json:"name"`
	Handle     string            `json:"handle"`
	Parameters map[string]string `json:"parameters"`
}

type request struct {
	Volume      *volume `json:"volume"`
	StagingPath string  `json:"stagingPath"`
	TargetPath  string  `json:"targetPath"`
	ReadOnly    bool    `json:"readOnly"`
}

type response struct {
	Status       string `json:"status"`
	Message      string `json:"message,omitempty"`
	Capabilities *caps  `json:"capabilities,omitempty"`
}

type caps struct {
	NodeLocal        bool `json:"nodeLocal"`
	EnforcesCapacity bool `json:"enforcesCapacity"`
}

func main() {
	resp := response{Status: "Success"}
	if err := run(os.Args[1:], &resp); err != nil {
		resp = response{Status: "Failure", Message: err.Error()}
	}
	_ = json.NewEncoder(os.Stdout).Encode(resp)
}

func run(args []string, resp *response) error {
	if len(args) != 1 {
		return errors.New("usage: plugin-example capabilities|provision|delete|stage|unstage|publish|unpublish < request.json")
	}
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("failed to decode request: %w", err)
	}
	op := args[0]
	if op == "capabilities" {
		resp.Capabilities = &caps{NodeLocal: true}
		return nil
	}
	if req.Volume == nil {
		return fmt.Errorf("%s: the request has no volume", op)
	}
	dir, err := volumeDir(req.Volume)
	if err != nil {
		return err
	}
	switch op {
	case "provision":
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		return os.Chmod(dir, 0o777)
	case "delete":
		if mounted(dir) {
			return fmt.Errorf("%s is mounted", dir)
		}
		return os.RemoveAll(dir)
	case "stage":
		return bind(dir, req.StagingPath, false)
	case "publish":
		if !mounted(req.StagingPath) {
			return fmt.Errorf("%s is not staged", req.StagingPath)
		}
		return bind(req.StagingPath, req.TargetPath, req.ReadOnly)
	case "unstage":
		return unmount(req.StagingPath)
	case "unpublish":
		return unmount(req.TargetPath)
	}
	return fmt.Errorf("unknown operation %q", op)
}

func volumeDir(v *volume) (string, error) {
	if v.Handle == "" || strings.ContainsAny(v.Handle, "/\x00") || v.Handle == "." || v.Handle == ".." {
		return "", fmt.Errorf("invalid handle %q", v.Handle)
	}
	root := v.Parameters["root"]
	if root == "" {
		root = os.Getenv("STEVEDORE_EXAMPLE_VOLUME_ROOT")
	}
	if root == "" {
		root = "/var/lib/stevedore-example-volumes"
	}
	return filepath.Join(root, v.Handle), nil
}

// mounted reports whether path is a mount point, from /proc/self/mountinfo.
func mounted(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	path = filepath.Clean(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.ReplaceAll(f[4], `\040`, " ") == path {
			return true
		}
	}
	return false
}

func bind(src, dst string, readOnly bool) error {
	if mounted(dst) {
		return nil // idempotent: already there
	}
	if _, err := os.Stat(src); err != nil {
		return err
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s at %s: %w", src, dst, err)
	}
	if readOnly {
		if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			_ = syscall.Unmount(dst, syscall.MNT_DETACH)
			return fmt.Errorf("remount %s read-only: %w", dst, err)
		}
	}
	return nil
}

func unmount(path string) error {
	for i := 0; i < 16 && mounted(path); i++ {
		if err := syscall.Unmount(path, 0); err != nil && err != syscall.EINVAL {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
	}
	return nil
}
