// Package source fetches a Git remote with go-git into a local cache and
// reads the tree at a commit without a work tree.
//
// A Source keeps a bare clone of the remote in Config.CacheDir (filesystem
// storage, no work tree). The cache survives restarts, so a restarted
// reconciler only fetches the objects it does not have yet. Every Fetch
// first lists the remote's refs; when the tracked branch has not moved since
// the last Fetch, it returns the revision it already read without fetching
// or walking a tree, so polling an idle repository costs one ref
// advertisement.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Sentinel errors. Errors returned by Source wrap them, so callers branch
// with errors.Is.
var (
	// ErrBranchNotFound means the remote has no branch Config.Branch.
	ErrBranchNotFound = errors.New("branch not found")
	// ErrPathNotFound means Config.Path is not a directory in the tree of the
	// branch head (the error names the commit and the path).
	ErrPathNotFound = errors.New("path not found")
	// ErrAuth means the remote refused the credentials, or asked for some
	// and none were configured.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey means the SSH server's host key is not in the known_hosts
	// files, or does not match the key recorded there.
	ErrHostKey = errors.New("ssh host key not trusted")
	// ErrRepositoryNotFound means the remote URL names no repository.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrNotFetched means Head was called before anything was fetched into
	// the cache.
	ErrNotFetched = errors.New("nothing fetched yet")
)

// remoteName is the name the tracked remote's refs are stored under in the
// cache (refs/remotes/origin/<branch>), as a git clone would.
const remoteName = "origin"

// Revision is one commit of the tracked branch and the files under the
// tracked path at that commit.
type Revision struct {
	Commit      string
	Author      string
	AuthorEmail string
	Message     string
	Time        time.Time
	// Files maps a path relative to Config.Path to its contents.
	// A symbolic link to a regular file of the tree is read as that file;
	// any other link, and a submodule, fails the read (see ErrLimit).
	// The byte slices are shared between the revisions a Source returns:
	// callers must not modify them.
	Files map[string][]byte
}

// Config says what to track.
type Config struct {
	// URL of the remote: a file path, file://, http(s):// or ssh:// (or scp-like user@host:path).
	URL string
	// Branch defaults to "main".
	Branch string
	// Path is the sub-directory to read; empty reads the whole tree.
	Path string
	// CacheDir holds the bare clone; required.
	CacheDir string
	// SSHKeyFile, when set, authenticates ssh:// URLs with this private key.
	// Empty uses the keys of the ssh-agent at $SSH_AUTH_SOCK.
	SSHKeyFile string
	// SSHKeyPassphrase decrypts SSHKeyFile; empty for an unencrypted key.
	SSHKeyPassphrase string
	// KnownHostsFile checks the SSH server's host key (OpenSSH known_hosts
	// format). Empty uses the files in $SSH_KNOWN_HOSTS (colon-separated),
	// else ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts, as OpenSSH does.
	// Host keys are always checked: an unknown host is an error.
	KnownHostsFile string
	// Token, when set, authenticates http(s):// URLs (basic auth, as GitHub,
	// GitLab and Gitea accept tokens).
	Token string
	// TokenUser is the basic-auth user name sent with Token. Empty sends
	// "git"; GitHub, Gitea and GitLab personal access tokens accept any
	// non-empty name (GitLab OAuth tokens want "oauth2").
	TokenUser string
	// MaxPacks is how many pack files the cache may hold before a Fetch
	// repacks it into one (each fetch that brings objects adds a pack, and
	// every object lookup searches every pack's index). Repacking keeps
	// only objects reachable from the tracked branch: commits a force push
	// removed are dropped. Zero means 50; negative never repacks.
	MaxPacks int
	// MaxFileBytes bounds one file of the tree, checked on the blob's
	// header before it is read. Zero means DefaultMaxFileBytes (16 MiB);
	// negative means no limit.
	MaxFileBytes int64
	// MaxTotalBytes bounds the files under Path together, each counting
	// 512 bytes more than its size (so a tree of many empty files is
	// bounded too). Zero means DefaultMaxTotalBytes (128 MiB); negative
	// means no limit.
	MaxTotalBytes int64
	// Timeout bounds one Fetch (listing, fetching and reading the tree).
	// Zero means 5 minutes.
	Timeout time.Duration
	// Logger receives debug logs of fetches. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the defaults filled in; URL and
// CacheDir still have to be set.
func DefaultConfig() Config {
	return Config{Branch: "main", Timeout: 5 * time.Minute, MaxPacks: 50,
		MaxFileBytes: DefaultMaxFileBytes, MaxTotalBytes: DefaultMaxTotalBytes}
}

// validate fills zero values and checks what has no default.
func (c *Config) validate() error {
	if c.URL == "" {
		return errors.New("invalid source config: URL is required")
	}
	if c.CacheDir == "" {
		return errors.New("invalid source config: CacheDir is required")
	}
	if c.Branch == "" {
		c.Branch = "main"
	}
	if !plumbing.NewBranchReferenceName(c.Branch).IsBranch() || strings.ContainsAny(c.Branch, " ~^:?*[\\") {
		return fmt.Errorf("invalid source config: bad branch name %q", c.Branch)
	}
	p, err := cleanPath(c.Path)
	if err != nil {
		return err
	}
	c.Path = p
	if c.TokenUser == "" {
		c.TokenUser = "git"
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.MaxPacks == 0 {
		c.MaxPacks = 50
	}
	c.fillLimits()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// cleanPath turns a user's sub-path ("./deploy/", "/deploy") into the
// slash-separated form go-git trees use ("deploy"), "" for the root.
func cleanPath(p string) (string, error) {
	p = strings.ReplaceAll(p, "\\", "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			// A tree has no parent: such a path is a mistake, not a request.
			return "", fmt.Errorf("invalid source config: path %q must not contain \"..\" segments", p)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+p), "/"), nil
}

// Source tracks one branch of one remote. It is safe for concurrent use:
// calls are serialised, so one fetch runs at a time.
type Source struct {
	cfg    Config
	auth   transport.AuthMethod
	redact *redactor
	// proxy and dialID route SSH dials through ctxDialer (see sshdial.go);
	// both are zero for other protocols.
	proxy  transport.ProxyOptions
	dialID string

	// sem is the lock serialising operations: a channel rather than a
	// sync.Mutex so that a caller whose context ends while another fetch
	// runs gives up instead of queueing behind it.
	sem  chan struct{}
	repo *git.Repository // opened on first use
	last *Revision       // the revision read by the last Fetch or Head
	// blobs holds the contents of the last read's files by blob hash, so
	// the next read only inflates what changed.
	blobs map[plumbing.Hash][]byte
}

// New returns a Source for cfg. It does not touch the network or the cache:
// the first Fetch does.
func New(cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := newRedactor(cfg)
	auth, err := authFor(cfg)
	if err != nil {
		return nil, r.wrap(fmt.Errorf("failed to set up auth for %s: %w", Redacted(cfg.URL), err))
	}
	s := &Source{cfg: cfg, auth: auth, redact: r, sem: make(chan struct{}, 1)}
	if ep, err := transport.NewEndpoint(cfg.URL); err == nil && ep.Protocol == "ssh" {
		s.proxy, s.dialID = newSSHDialer()
	} else if err == nil && ep.Protocol == "file" {
		ensureLocalFileTransport() // localfile.go
	}
	return s, nil
}

// Config returns the source's configuration with defaults filled in.
func (s *Source) Config() Config { return s.cfg }

// Fetch fetches the remote and returns the branch head's revision.
//
// When the remote head is the commit the last Fetch returned, Fetch only
// lists the remote's refs and returns that revision again (a fresh copy of
// the struct and map). A force push is followed like any other move.
func (s *Source) Fetch(ctx context.Context) (*Revision, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	defer bindDialContext(s.dialID, ctx)()
	rev, err := s.fetch(ctx)
	if err != nil {
		return nil, s.redact.wrap(withCtxErr(ctx, err))
	}
	return rev, nil
}

func (s *Source) fetch(ctx context.Context) (*Revision, error) {
	start := time.Now()
	repo, err := s.open()
	if err != nil {
		return nil, err
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{
		Name: remoteName,
		URLs: []string{s.cfg.URL},
	})
	url := Redacted(s.cfg.URL)

	head, err := s.remoteHead(ctx, remote)
	if err != nil {
		return nil, err
	}
	if s.last != nil && s.last.Commit == head.String() {
		s.cfg.Logger.Debug("source head unchanged", "url", url, "branch", s.cfg.Branch,
			"commit", head.String(), "took", time.Since(start))
		return s.last.clone(), nil
	}

	trackRef := plumbing.NewRemoteReferenceName(remoteName, s.cfg.Branch)
	local, err := repo.Storer.Reference(trackRef)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, fmt.Errorf("failed to read %s in cache: %w", trackRef, err)
	}
	// The cache may already hold the head (a restart, or a Fetch that read
	// the objects but failed on the path): then there is nothing to fetch.
	if local == nil || local.Hash() != head || !hasCommit(repo, head) {
		spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(s.cfg.Branch), trackRef))
		err := remote.FetchContext(ctx, &git.FetchOptions{
			RemoteName:   remoteName,
			RefSpecs:     []config.RefSpec{spec},
			Auth:         s.auth,
			ProxyOptions: s.proxy,
			Tags:         git.NoTags,
			Force:        true,
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, fmt.Errorf("failed to fetch branch %q from %s: %w", s.cfg.Branch, url, s.classify(err))
		}
		// The branch may have moved between the listing and the fetch; what
		// the fetch stored is the newer truth.
		ref, err := repo.Storer.Reference(trackRef)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s after fetching from %s: %w", trackRef, url, err)
		}
		head = ref.Hash()
		s.maybeRepack(repo)
		if repo, err = s.open(); err != nil {
			return nil, err
		}
	}

	rev, err := s.read(repo, head)
	if err != nil {
		return nil, err
	}
	s.last = rev
	s.cfg.Logger.Debug("source fetched", "url", url, "branch", s.cfg.Branch,
		"commit", rev.Commit, "files", len(rev.Files), "took", time.Since(start))
	return rev.clone(), nil
}

// RemoteHead lists the remote's refs and returns the commit the tracked
// branch points at, without fetching objects. ctl status and the poll loop
// can use it to tell whether a Fetch would bring anything new.
func (s *Source) RemoteHead(ctx context.Context) (string, error) {
	if err := s.lock(ctx); err != nil {
		return "", err
	}
	defer s.unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	defer bindDialContext(s.dialID, ctx)()
	repo, err := s.open()
	if err != nil {
		return "", s.redact.wrap(err)
	}
	remote := git.NewRemote(repo.Storer, &config.RemoteConfig{Name: remoteName, URLs: []string{s.cfg.URL}})
	h, err := s.remoteHead(ctx, remote)
	if err != nil {
		return "", s.redact.wrap(withCtxErr(ctx, err))
	}
	return h.String(), nil
}

// Head returns the last revision this Source read (by Fetch or Head),
// without touching the network. In a new process it reads the tracked
// branch as the cache last fetched it, so a restarted reconciler can show
// its last known state while the remote is down; before any fetch it
// returns ErrNotFetched.
func (s *Source) Head(ctx context.Context) (*Revision, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	if s.last != nil {
		return s.last.clone(), nil
	}
	repo, err := s.open()
	if err != nil {
		return nil, s.redact.wrap(err)
	}
	trackRef := plumbing.NewRemoteReferenceName(remoteName, s.cfg.Branch)
	ref, err := repo.Storer.Reference(trackRef)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, fmt.Errorf("failed to read head of branch %q: %w", s.cfg.Branch, ErrNotFetched)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %s in cache: %w", trackRef, err)
	}
	rev, err := s.read(repo, ref.Hash())
	if err != nil {
		return nil, s.redact.wrap(err)
	}
	s.last = rev
	return rev.clone(), nil
}

// Revision reads the tracked path at a commit already in the cache (the
// last applied one, say, to diff against), without touching the network.
// commit is a full or abbreviated hash.
func (s *Source) Revision(ctx context.Context, commit string) (*Revision, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.unlock()
	repo, err := s.open()
	if err != nil {
		return nil, s.redact.wrap(err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(commit))
	if err != nil {
		return nil, fmt.Errorf("failed to resolve commit %q in cache: %w", commit, err)
	}
	rev, err := s.read(repo, *h)
	if err != nil {
		return nil, s.redact.wrap(err)
	}
	return rev, nil
}

// lock takes the Source's lock, or gives up when ctx ends first.
func (s *Source) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("failed to wait for the fetch in progress: %w", ctx.Err())
	}
}

func (s *Source) unlock() { <-s.sem }

// remoteHead lists the remote's refs and picks the tracked branch.
func (s *Source) remoteHead(ctx context.Context, remote *git.Remote) (plumbing.Hash, error) {
	url := Redacted(s.cfg.URL)
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: s.auth, ProxyOptions: s.proxy})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, fmt.Errorf("failed to find branch %q at %s: the repository is empty: %w",
			s.cfg.Branch, url, ErrBranchNotFound)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("failed to list refs of %s: %w", url, s.classify(err))
	}
	want := plumbing.NewBranchReferenceName(s.cfg.Branch)
	for _, r := range refs {
		if r.Name() == want && r.Type() == plumbing.HashReference {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("failed to find branch %q at %s: %w", s.cfg.Branch, url, ErrBranchNotFound)
}

// open opens the bare cache, creating it on first use.
func (s *Source) open() (*git.Repository, error) {
	if s.repo != nil {
		return s.repo, nil
	}
	repo, err := git.PlainOpen(s.cfg.CacheDir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		// Initialising into a directory with other files in it would mix
		// a bare repository into someone's data: refuse instead.
		if ents, _ := os.ReadDir(s.cfg.CacheDir); len(ents) > 0 {
			return nil, fmt.Errorf("failed to open cache %s: the directory has files but is not a git repository", s.cfg.CacheDir)
		}
		if err := os.MkdirAll(s.cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("failed to create cache dir: %w", err)
		}
		repo, err = git.PlainInit(s.cfg.CacheDir, true)
		if err != nil {
			return nil, fmt.Errorf("failed to init cache %s: %w", s.cfg.CacheDir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("failed to open cache %s: %w", s.cfg.CacheDir, err)
	}
	s.repo = repo
	return repo, nil
}

// maybeRepack packs the cache into one pack when it holds more than
// MaxPacks. It is best effort: a failure is logged and the cache, still
// complete, is used as it is.
func (s *Source) maybeRepack(repo *git.Repository) {
	pos, ok := repo.Storer.(storer.PackedObjectStorer)
	if !ok || s.cfg.MaxPacks < 0 {
		return
	}
	packs, err := pos.ObjectPacks()
	if err != nil || len(packs) <= s.cfg.MaxPacks {
		return
	}
	start := time.Now()
	// The new pack is complete before any old one is deleted, so a crash
	// leaves duplicates, never a hole.
	err = repo.RepackObjects(&git.RepackConfig{})
	// The storage's in-memory pack index still names the deleted packs:
	// reopen it whatever happened.
	s.repo = nil
	if _, oerr := s.open(); oerr != nil {
		s.cfg.Logger.Warn("failed to reopen git cache after repacking", "dir", s.cfg.CacheDir, "err", oerr)
	}
	if err != nil {
		s.cfg.Logger.Warn("failed to repack git cache", "dir", s.cfg.CacheDir, "packs", len(packs), "err", err)
		return
	}
	s.cfg.Logger.Info("repacked git cache", "dir", s.cfg.CacheDir, "packs", len(packs), "took", time.Since(start))
}

func hasCommit(repo *git.Repository, h plumbing.Hash) bool {
	_, err := repo.CommitObject(h)
	return err == nil
}

// read builds the Revision of commit h from the cache.
func (s *Source) read(repo *git.Repository, h plumbing.Hash) (*Revision, error) {
	c, err := repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("failed to read commit %s: %w", h, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("failed to read tree of commit %s: %w", h, err)
	}
	if s.cfg.Path != "" {
		sub, err := tree.Tree(s.cfg.Path)
		if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			return nil, fmt.Errorf("failed to read path %q at commit %s of branch %q: %w",
				s.cfg.Path, h, s.cfg.Branch, ErrPathNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("failed to read path %q at commit %s: %w", s.cfg.Path, h, err)
		}
		tree = sub
	}
	files, blobs, err := s.readFiles(repo, tree)
	if err != nil {
		return nil, fmt.Errorf("failed to read files at commit %s: %w", h, err)
	}
	s.blobs = blobs
	return &Revision{
		Commit:      h.String(),
		Author:      c.Author.Name,
		AuthorEmail: c.Author.Email,
		Message:     c.Message,
		Time:        c.Author.When,
		Files:       files,
	}, nil
}

// readFiles reads every regular file below tree. Blobs the previous read
// already holds are reused rather than inflated again: a commit usually
// changes a few files of many, and decompressing the rest was most of the
// cost of a Fetch.
func (s *Source) readFiles(repo *git.Repository, tree *object.Tree) (map[string][]byte, map[plumbing.Hash][]byte, error) {
	files := make(map[string][]byte)
	blobs := make(map[plumbing.Hash][]byte)
	budget := budget{s: s}
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("failed to walk tree: %w", err)
		}
		if e.Mode == filemode.Symlink {
			// A link is read as its target if that is a file within the
			// tree (as ctl reads a work tree); one leaving it is refused.
			target, err := s.linkTarget(repo, tree, name, e)
			if err != nil {
				return nil, nil, err
			}
			e = target
		} else if err := s.checkEntry(name, e); err != nil {
			return nil, nil, err
		} else if !e.Mode.IsFile() {
			continue // directories
		}
		if b, ok := blobs[e.Hash]; ok {
			if err := budget.take(name, int64(len(b))); err != nil {
				return nil, nil, err
			}
			files[name] = b
			continue
		}
		b, ok := s.blobs[e.Hash]
		size := int64(len(b))
		if !ok {
			if size, err = blobSize(repo, e.Hash); err != nil {
				return nil, nil, fmt.Errorf("failed to read %s: %w", name, err)
			}
		}
		if err := budget.take(name, size); err != nil {
			return nil, nil, err
		}
		if !ok {
			blob, err := repo.BlobObject(e.Hash)
			if err != nil {
				return nil, nil, fmt.Errorf("failed to read %s: %w", name, err)
			}
			rd, err := blob.Reader()
			if err != nil {
				return nil, nil, fmt.Errorf("failed to open %s: %w", name, err)
			}
			b, err = io.ReadAll(rd)
			rd.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("failed to read %s: %w", name, err)
			}
		}
		blobs[e.Hash] = b
		files[name] = b
	}
	return files, blobs, nil
}

// linkTarget resolves the symbolic link name (entry e) of tree to the entry
// of the regular file it points to. A link that leaves the tree, or points
// to a directory, another link or nothing, is refused by name: skipping it
// would silently drop what its author meant to deploy.
func (s *Source) linkTarget(repo *git.Repository, tree *object.Tree, name string, e object.TreeEntry) (object.TreeEntry, error) {
	blob, err := repo.BlobObject(e.Hash)
	if err != nil {
		return e, fmt.Errorf("failed to read link %s: %w", name, err)
	}
	rd, err := blob.Reader()
	if err != nil {
		return e, fmt.Errorf("failed to read link %s: %w", name, err)
	}
	raw, err := io.ReadAll(io.LimitReader(rd, 4096))
	rd.Close()
	if err != nil {
		return e, fmt.Errorf("failed to read link %s: %w", name, err)
	}
	to := string(raw)
	resolved := path.Clean(path.Join(path.Dir(name), to))
	if path.IsAbs(to) || resolved == ".." || strings.HasPrefix(resolved, "../") {
		return e, refusef("path %s is a symbolic link to %s, outside the tree: links are followed only to files within the tracked path", s.repoPath(name), to)
	}
	f, err := tree.FindEntry(resolved)
	switch {
	case err != nil:
		return e, refusef("path %s is a symbolic link to %s, which is not a file of the tree: links are followed only to files within the tracked path", s.repoPath(name), to)
	case f.Mode == filemode.Symlink:
		return e, refusef("path %s is a symbolic link to %s, itself a symbolic link: links are followed only to regular files", s.repoPath(name), to)
	case !f.Mode.IsFile():
		return e, refusef("path %s is a symbolic link to %s, which is not a regular file (a directory or a submodule): links are followed only to regular files", s.repoPath(name), to)
	}
	return *f, nil
}

// clone copies the struct and the map so a caller that adds or removes
// entries does not change what the next caller sees.
func (r *Revision) clone() *Revision {
	c := *r
	c.Files = maps.Clone(r.Files)
	return &c
}

// withCtxErr says when an operation failed because its context ended: a
// connection closed under a hung handshake reports only "EOF".
func withCtxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", err, cerr)
	}
	return err
}

// classify marks transport errors with the sentinel a caller branches on,
// keeping go-git's message (which already says what failed).
func (s *Source) classify(err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		isSSHAuthError(err):
		var hint string
		switch {
		case s.cfg.Token != "":
			hint = "the remote rejected the token"
		case s.cfg.SSHKeyFile != "":
			hint = "the remote rejected the key " + s.cfg.SSHKeyFile
		case isSSHAuthError(err):
			hint = "the remote rejected the ssh-agent's keys"
		default:
			hint = "no credentials configured"
		}
		return &kindError{kind: ErrAuth, err: fmt.Errorf("%w (%s)", err, hint)}
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return &kindError{kind: ErrRepositoryNotFound, err: err}
	}
	return err
}

// kindError makes errors.Is(err, kind) true without repeating kind's text
// in the message.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }
