package devenv

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// GitRepo is a bare Git repository (what a Git host would serve) with a work
// clone that commits and pushes to it through the git CLI, the way a user
// does.
type GitRepo struct {
	// Bare is the bare repository's path; it is also its clone URL.
	Bare string
	// Work is the work clone the helpers commit in.
	Work string
	// Branch is the branch everything is pushed to ("main").
	Branch string
}

// gitIdentity makes commits work on a machine with no Git configuration.
var gitIdentity = []string{
	"-c", "user.name=Stevedore Dev", "-c", "user.email=dev@stevedore.invalid",
	"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main",
}

// NewGitRepo creates dir/config.git (bare) and dir/work (its clone) on branch main.
func NewGitRepo(ctx context.Context, dir string) (*GitRepo, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("failed to find git (install the Debian package git): %w", err)
	}
	g := &GitRepo{Bare: filepath.Join(dir, "config.git"), Work: filepath.Join(dir, "work"), Branch: "main"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("failed to create %s: %w", dir, err)
	}
	if _, err := git(ctx, dir, "init", "--quiet", "--bare", "--initial-branch="+g.Branch, g.Bare); err != nil {
		return nil, err
	}
	if _, err := git(ctx, dir, "init", "--quiet", "--initial-branch="+g.Branch, g.Work); err != nil {
		return nil, err
	}
	if _, err := git(ctx, g.Work, "remote", "add", "origin", g.Bare); err != nil {
		return nil, err
	}
	return g, nil
}

// git runs the git CLI in dir and returns its trimmed stdout.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append(append([]string{}, gitIdentity...), args...)...)
	cmd.Dir = dir
	// A user's global config must not change what the tests do.
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("failed to run git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// SetWebhook installs a post-receive hook that POSTs a GitHub-style push
// payload for each pushed ref to url (curl, or busybox wget without curl;
// url may be several, comma-separated, tried in order until one accepts),
// signed with secret (X-Hub-Signature-256, HMAC-SHA256 through openssl) when
// secret is set. A failed notification is
// reported to the pusher but never fails the push: polling still covers it.
func (g *GitRepo) SetWebhook(url, secret string) error {
	return g.SetWebhookCA(url, secret, "")
}

// SetWebhookCA is SetWebhook for https:// reconcilers whose certificates
// caFile's CA issued (busybox wget, which cannot be given a CA, does not
// check the certificate: the payload is signed anyway).
func (g *GitRepo) SetWebhookCA(url, secret, caFile string) error {
	hook := fmt.Sprintf(`#!/bin/sh
# Installed by Stevedore's devenv: tell the reconciler about every push.
urls=%s
secret=%s
cafile=%s
while read -r old new ref; do
  body=$(printf '{"ref":"%%s","before":"%%s","after":"%%s"}' "$ref" "$old" "$new")
  sig=""
  if [ -n "$secret" ]; then
    sig=$(printf '%%s' "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
  fi
  if command -v curl >/dev/null 2>&1; then
    post() { curl -fsS -m 5 ${cafile:+--cacert "$cafile"} -X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
      ${sig:+-H "X-Hub-Signature-256: sha256=$sig"} --connect-timeout 1 --data-binary "$body" "$1" >/dev/null; }
  else
    # busybox-static is one of Stevedore's Debian packages; curl is not. (Its
    # wget -T crashes in Debian 12's static build, hence timeout.)
    post() { busybox timeout 5 busybox wget -q -O /dev/null ${cafile:+--no-check-certificate} --header 'Content-Type: application/json' --header 'X-GitHub-Event: push' \
      ${sig:+--header "X-Hub-Signature-256: sha256=$sig"} --post-data "$body" "$1"; }
  fi
  ok=""
  rest="$urls,"
  while [ -n "$rest" ]; do
    url=${rest%%%%,*}
    rest=${rest#*,}
    if post "$url"; then ok=1; break; fi
  done
  if [ -n "$ok" ]; then
    echo "stevedore: notified the reconciler of $ref"
  else
    echo "stevedore: failed to notify the reconciler; it will poll"
  fi
done
exit 0
`, shellQuote(url), shellQuote(secret), shellQuote(caFile))
	path := filepath.Join(g.Bare, "hooks", "post-receive")
	if err := os.WriteFile(path, []byte(hook), 0o755); err != nil {
		return fmt.Errorf("failed to write post-receive hook: %w", err)
	}
	return nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Seed copies srcDir into the work clone (skipping .git and the directories
// skip names, relative to srcDir), passing each file
// through rewrite when it is not nil, then commits and pushes. It returns
// the new commit's hash.
func (g *GitRepo) Seed(ctx context.Context, srcDir, message string, rewrite func(path string, b []byte) []byte, skip ...string) (string, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(srcDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if rel, err := filepath.Rel(srcDir, path); err == nil && slices.Contains(skip, filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(srcDir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rewrite != nil {
			b = rewrite(rel, b)
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("failed to read %s: %w", srcDir, err)
	}
	return g.Commit(ctx, message, files)
}

// Commit writes files (path relative to the repository root → contents; nil
// contents deletes the file) in the work clone, commits them with message and
// pushes. It returns the new commit's hash. A commit that changes nothing is
// still made (--allow-empty), so every call is one push.
func (g *GitRepo) Commit(ctx context.Context, message string, files map[string][]byte) (string, error) {
	for rel, b := range files {
		path := filepath.Join(g.Work, filepath.FromSlash(rel))
		if b == nil {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("failed to delete %s: %w", rel, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return "", fmt.Errorf("failed to create directory of %s: %w", rel, err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return "", fmt.Errorf("failed to write %s: %w", rel, err)
		}
	}
	return g.CommitWork(ctx, message)
}

// CommitWork commits everything in the work clone as it is and pushes.
func (g *GitRepo) CommitWork(ctx context.Context, message string) (string, error) {
	if _, err := git(ctx, g.Work, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := git(ctx, g.Work, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", err
	}
	if _, err := git(ctx, g.Work, "push", "--quiet", "origin", "HEAD:refs/heads/"+g.Branch); err != nil {
		return "", err
	}
	return git(ctx, g.Work, "rev-parse", "HEAD")
}

// ReadFile returns a file of the work clone.
func (g *GitRepo) ReadFile(rel string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(g.Work, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", rel, err)
	}
	return b, nil
}
