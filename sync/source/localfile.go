package source

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// go-git reads a repository named by a path or file:// URL by running
// git-upload-pack on it. A reconciler running from a minimal image (the
// self-hosted one, docs/self-hosting.md) has no git: there the file
// protocol is served in process by go-git's own upload-pack server, which
// reads the repository directly.

var localFileOnce sync.Once

// ensureLocalFileTransport installs the in-process file transport, once,
// when this host has no git-upload-pack (neither on PATH nor in git's
// exec path, where go-git looks too).
func ensureLocalFileTransport() {
	localFileOnce.Do(func() {
		if hasUploadPack() {
			return
		}
		useInProcessFileTransport()
	})
}

// useInProcessFileTransport serves file remotes with go-git's server.
func useInProcessFileTransport() {
	client.InstallProtocol("file", server.DefaultServer)
}

func hasUploadPack() bool {
	if _, err := exec.LookPath("git-upload-pack"); err == nil {
		return true
	}
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "git-upload-pack"))
	return err == nil
}
