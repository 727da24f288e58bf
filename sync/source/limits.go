package source

import (
	"errors"
	"fmt"
	"path"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Default limits on what one revision may make a Source read.
const (
	// DefaultMaxFileBytes bounds one file: a Kubernetes object is at most
	// 1.5 MiB, and the largest install bundles people commit (a whole
	// operator with its CRDs) are a few MiB.
	DefaultMaxFileBytes = 16 << 20
	// DefaultMaxTotalBytes bounds every file under the tracked path
	// together.
	DefaultMaxTotalBytes = 128 << 20
)

// ErrLimit means a revision was refused because of what its tree holds: a
// file over Config.MaxFileBytes, files over Config.MaxTotalBytes in all, a
// symbolic link that does not resolve to a file of the tree, or a
// submodule. The error names the path.
var ErrLimit = errors.New("revision refused")

// limitError is a refusal of one path, wrapping ErrLimit.
type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == ErrLimit }

func refusef(format string, args ...any) error {
	return &limitError{msg: fmt.Sprintf(format, args...)}
}

// fillLimits gives the limits their defaults; negative means no limit.
func (c *Config) fillLimits() {
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	if c.MaxTotalBytes == 0 {
		c.MaxTotalBytes = DefaultMaxTotalBytes
	}
}

// repoPath is name (relative to the tracked path) as the repository names
// it, for errors.
func (s *Source) repoPath(name string) string {
	return path.Join(s.cfg.Path, name)
}

// checkEntry refuses a tree entry that is neither a directory, a regular
// file nor a symbolic link: a submodule (gitlink), whose files a fetch does
// not bring, so the manifests in it would silently be missing.
func (s *Source) checkEntry(name string, e object.TreeEntry) error {
	if e.Mode == filemode.Submodule {
		return refusef("path %s is a submodule (commit %s of another repository): its files are not fetched, so its manifests would be missing; copy them into this repository or declare an Application for its repository", s.repoPath(name), e.Hash)
	}
	return nil
}

// fileOverhead is what each file costs against MaxTotalBytes beyond its
// bytes (its path, its map entry, its copy in the raft log), as a tar
// header costs 512 bytes: a tree of a million empty files is over the
// default limit like a tree of 128 MiB.
const fileOverhead = 512

// budget counts the bytes a read has taken against the limits.
type budget struct {
	s     *Source
	total int64
}

// take accounts for the file name of size bytes, refusing it when it is
// over a limit. It is called with the blob's size before the blob is read,
// so a 50 MB file costs its header, not 50 MB of memory.
func (b *budget) take(name string, size int64) error {
	cfg := b.s.cfg
	if cfg.MaxFileBytes > 0 && size > cfg.MaxFileBytes {
		return refusef("path %s is %d bytes, more than the limit of %d bytes per file (reconciler --max-file-bytes); it was not read", b.s.repoPath(name), size, cfg.MaxFileBytes)
	}
	b.total += size + fileOverhead
	if cfg.MaxTotalBytes > 0 && b.total > cfg.MaxTotalBytes {
		return refusef("the files under %q hold more than %d bytes in all (reconciler --max-repo-bytes); reading stopped at path %s", "/"+cfg.Path, cfg.MaxTotalBytes, b.s.repoPath(name))
	}
	return nil
}

// blobSize returns the size of blob h from the object's header, without
// inflating its contents.
func blobSize(repo *git.Repository, h plumbing.Hash) (int64, error) {
	o, err := repo.Storer.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return 0, err
	}
	return o.Size(), nil
}
