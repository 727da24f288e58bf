package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stevedore-dev/stevedore/internal/signtest"
	"github.com/stevedore-dev/stevedore/policy/signature"
	"github.com/stevedore-dev/stevedore/sync/source"
)

// secPolicy is commit verification's section.
const secPolicy = "policy"

// floorCommits is how many commits git verify-commit (the floor) checks:
// it runs ssh-keygen or gpg per commit, a tenth of a second each on a
// busy machine, so the range's floor is this sample's per-commit cost
// times the range.
const floorCommits = 100

// policyRuns is how many times each range measurement is repeated; the
// median is reported.
const policyRuns = 5

// benchT lets signtest, made for tests, make the benchmark's keys and
// repository: a failure panics with benchFatal, which benchPolicy recovers.
type benchT struct{ cleanups []func() }

type benchFatal struct{ msg string }

func (*benchT) Helper()                           {}
func (*benchT) Fatal(args ...any)                 { panic(benchFatal{fmt.Sprint(args...)}) }
func (*benchT) Fatalf(format string, args ...any) { panic(benchFatal{fmt.Sprintf(format, args...)}) }
func (b *benchT) Cleanup(f func())                { b.cleanups = append(b.cleanups, f) }
func (b *benchT) close() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

// policyTimes are one format's measurements.
type policyTimes struct {
	format  string
	commits int
	// sign is how long git commit -S took for the whole range (making the
	// fixture, for scale).
	sign time.Duration
	// one is a single commit's signature check (median over the range's
	// commits), without the cache.
	one time.Duration
	// history is listing the range (source.History: the walk, payloads,
	// trees); cold is History plus CheckRange with an empty cache, warm
	// the same again (every verdict cached).
	history, cold, warm []time.Duration
	// floor is git verify-commit of the first floorCommits commits of the
	// range, one process, once (it costs a process or two per commit).
	floor        time.Duration
	floorCommits int
}

// benchPolicy measures commit verification over a range of n commits
// signed with SSH and with OpenPGP keys (real ssh-keygen and gpg through
// git commit -S), beside git verify-commit of the same commits.
func benchPolicy(ctx context.Context, n int, out io.Writer) (section string, err error) {
	st := newStamp()
	bt := &benchT{}
	defer bt.close()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(benchFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("failed to prepare the policy benchmark: %s", f.msg)
		}
	}()
	dir, err := os.MkdirTemp("", "stevedore-policybench-")
	if err != nil {
		return "", fmt.Errorf("failed to create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	kr := signtest.New(bt)
	var all []policyTimes
	for _, format := range []string{"ssh", "openpgp"} {
		var key *signtest.Key
		if format == "ssh" {
			key = kr.SSH("alice@example.com")
		} else {
			key = kr.PGP("bob@example.com")
		}
		t, err := benchPolicyFormat(ctx, kr, key, filepath.Join(dir, format), n, out)
		if err != nil {
			return "", err
		}
		all = append(all, t)
	}
	return renderPolicy(all, st), nil
}

func benchPolicyFormat(ctx context.Context, kr *signtest.Keyring, key *signtest.Key, dir string, n int, out io.Writer) (policyTimes, error) {
	t := policyTimes{format: key.Format, commits: n}
	keys, err := signature.Parse(map[string][]byte{"trusted": key.Trusted})
	if err != nil {
		return t, err
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return t, fmt.Errorf("failed to create %s: %w", work, err)
	}
	r := kr.NewRepo(work)
	base := r.Commit(key, "base", map[string]string{"apps/web.yaml": "replicas: 0\n"})
	start := time.Now()
	var tip string
	for i := 1; i <= n; i++ {
		// git commit -a: one git process (and its signer) per commit; the
		// machine is shared and processes are what the fixture costs.
		r.Write(map[string]string{"apps/web.yaml": fmt.Sprintf("replicas: %d\n", i)})
		r.Git(key, "commit", "-q", "-a", "-S", "-m", fmt.Sprintf("web: %d replicas", i))
		if i%250 == 0 {
			fmt.Fprintf(out, "policy: %s: signed %d commits in %s\n", key.Format, i, time.Since(start).Round(time.Millisecond))
		}
	}
	t.sign = time.Since(start)
	tip = r.Git(nil, "rev-parse", "HEAD")
	src, err := source.New(source.Config{URL: work, CacheDir: filepath.Join(dir, "cache"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return t, err
	}
	if _, err := src.Fetch(ctx); err != nil {
		return t, fmt.Errorf("failed to fetch the benchmark repository: %w", err)
	}
	listRange := func() (signature.Range, error) {
		h, err := src.History(ctx, base, tip, n)
		if err != nil {
			return signature.Range{}, err
		}
		rg := signature.Range{Base: base, Ancestor: h.Ancestor}
		for _, c := range h.Commits {
			rg.Commits = append(rg.Commits, signature.Commit{Hash: c.Hash, Parents: c.Parents, Author: c.Author, AuthorEmail: c.AuthorEmail,
				Message: c.Message, Time: c.Time, Signature: c.Signature, Payload: c.Payload, Tree: c.Tree})
		}
		return rg, nil
	}
	rg, err := listRange()
	if err != nil {
		return t, err
	}
	if len(rg.Commits) != n {
		return t, fmt.Errorf("the range holds %d commits, want %d", len(rg.Commits), n)
	}
	var ones []time.Duration
	for _, c := range rg.Commits {
		s := time.Now()
		if _, err := keys.Verify(c.Signature, c.Payload, c.Time); err != nil {
			return t, fmt.Errorf("commit %s: %w", c.Hash, err)
		}
		ones = append(ones, time.Since(s))
	}
	t.one = median(ones)
	hashes := make([]string, 0, n)
	for _, c := range rg.Commits {
		hashes = append(hashes, c.Hash)
	}
	for i := range policyRuns {
		s := time.Now()
		if _, err := listRange(); err != nil {
			return t, err
		}
		t.history = append(t.history, time.Since(s))
		v := signature.NewVerifier(keys, 0)
		for _, d := range []*[]time.Duration{&t.cold, &t.warm} {
			s := time.Now()
			rg, err := listRange()
			if err == nil {
				_, err = v.CheckRange(rg, signature.Options{Mode: signature.ModeAll})
			}
			if err != nil {
				return t, fmt.Errorf("failed to verify the range: %w", err)
			}
			*d = append(*d, time.Since(s))
		}
		fmt.Fprintf(out, "policy: %s run %d: history %s, cold %s, warm %s\n", key.Format, i+1,
			t.history[i].Round(time.Millisecond), t.cold[i].Round(time.Millisecond), t.warm[i].Round(time.Millisecond))
	}
	t.floorCommits = min(len(hashes), floorCommits)
	if t.floor, err = gitVerifyFloor(ctx, kr, key, work, hashes[:t.floorCommits]); err != nil {
		return t, err
	}
	fmt.Fprintf(out, "policy: %s: git verify-commit of %d commits: %s\n", key.Format, t.floorCommits, t.floor.Round(time.Millisecond))
	return t, nil
}

// gitVerifyFloor times git verify-commit of every commit (one process
// that runs ssh-keygen or gpg once per commit), trusting key alone.
func gitVerifyFloor(ctx context.Context, kr *signtest.Keyring, key *signtest.Key, dir string, hashes []string) (time.Duration, error) {
	args := []string{}
	if key.Format == "ssh" {
		allowed := filepath.Join(dir, "..", "allowed_signers")
		if err := os.WriteFile(allowed, key.Trusted, 0o600); err != nil {
			return 0, err
		}
		args = append(args, "-c", "gpg.ssh.allowedSignersFile="+allowed)
	}
	args = append(args, "verify-commit")
	args = append(args, hashes...)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = kr.Env()
	s := time.Now()
	outb, err := cmd.CombinedOutput()
	took := time.Since(s)
	if err != nil {
		return 0, fmt.Errorf("git verify-commit failed (the floor): %w: %.300s", err, outb)
	}
	return took, nil
}

func renderPolicy(all []policyTimes, st stamp) string {
	var b strings.Builder
	fmt.Fprintln(&b, beginOf(secPolicy))
	fmt.Fprintln(&b, "## "+sectionTitles[secPolicy])
	fmt.Fprintln(&b)
	n := all[0].commits
	fmt.Fprintf(&b, "Verifying a range of %s commits, each changing one file and signed by `git commit -S` with a real\n", thousands(float64(n)))
	fmt.Fprintln(&b, "ed25519 key (SSH through ssh-keygen, OpenPGP through gpg), as `--verify-commits all` does at a sync:")
	fmt.Fprintln(&b, "listing the range from the reconciler's bare clone (`source.History`: the walk from the applied")
	fmt.Fprintln(&b, "commit to the tip, each commit's signed payload and tree) and checking every signature against the")
	fmt.Fprintln(&b, "trusted keys (`signature.Verifier.CheckRange`), in process. Cold is a fresh verifier; warm is the same")
	fmt.Fprintln(&b, "range again, every verdict cached by commit hash (a sync retried, or a longer range that contains it):")
	fmt.Fprintf(&b, "what is left is listing the range. Median of %d runs. `git verify-commit` (one process for the range's\n", policyRuns)
	fmt.Fprintf(&b, "first %d commits, timed once) is there for scale, as is the cost of making the fixture.\n", all[0].floorCommits)
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "| format | verify %s commits, cold | per commit | warm (cached) | list the range alone | floor: the signature checks alone | cold / floor | `git verify-commit`, per commit | signing, per commit (`git commit -S`) |\n", thousands(float64(n)))
	fmt.Fprintln(&b, "|---|---|---|---|---|---|---|---|---|")
	for _, t := range all {
		cold := median(t.cold)
		floor := t.one * time.Duration(t.commits)
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s (%s each) | %.2f× | %s | %s |\n", t.format, fineMS(cold), fineMS(cold/time.Duration(t.commits)),
			fineMS(median(t.warm)), fineMS(median(t.history)), fineMS(floor), fineMS(t.one), cold.Seconds()/floor.Seconds(),
			fineMS(t.floor/time.Duration(t.floorCommits)), fineMS(t.sign/time.Duration(t.commits)))
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "The floor is the signature checks alone (the range's commits in memory, no walk, no cache); what the")
	fmt.Fprintln(&b, "reconciler adds is reading the commits from the bare clone. `git verify-commit` pays a process (two for")
	fmt.Fprintln(&b, "SSH) per commit, which the reconciler does not. A sync of one new commit pays one signature check and")
	fmt.Fprintln(&b, "a walk of a few commits.")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, st.machineLine())
	fmt.Fprintln(&b, endOf(secPolicy))
	return b.String()
}

// fineMS formats a duration in milliseconds (three decimals below one).
func fineMS(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 1 {
		return fmt.Sprintf("%.3f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}
