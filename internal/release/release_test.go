package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCmds is what the reproducibility test builds: the release script with
// every step (both arches, SBOMs, units, archives, sums), over the smallest
// command, so that two cold builds fit in the test's budget. `make release`
// builds the four commands the same way.
const testCmds = "stevedore-log-driver"

// TestReproducible runs scripts/release.sh, as `make release` does, in two
// clones of this repository's HEAD at different paths, the second with an
// empty build cache, and compares every file of the two outputs byte for byte. It
// then checks what makes them reproducible (archive headers, gzip header,
// SBOM without time, no build path in a binary), that the release is named
// by the version Go stamped into the binaries (a pseudo-version, or the tag
// at HEAD), and that a modified tree shows as "+dirty".
func TestReproducible(t *testing.T) {
	for _, tool := range []string{"git", "tar", "gzip", "sha256sum", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: apt-get install %s", tool, tool)
		}
	}
	root := strings.TrimSpace(run(t, ".", nil, "git", "rev-parse", "--show-toplevel"))
	head := strings.TrimSpace(run(t, root, nil, "git", "rev-parse", "HEAD"))
	modCache := strings.TrimSpace(run(t, root, nil, "go", "env", "GOMODCACHE"))
	tmp := t.TempDir()

	// Two clones whose paths differ in length and name.
	srcA := filepath.Join(tmp, "a")
	srcB := filepath.Join(tmp, "bb", "another", "checkout")
	for _, dir := range []string{srcA, srcB} {
		run(t, tmp, nil, "git", "clone", "-q", "--no-checkout", root, dir)
		run(t, dir, nil, "git", "checkout", "-q", "--detach", head)
	}
	env := func(cache string) []string {
		return []string{
			"CMDS=" + testCmds, "GOCACHE=" + cache,
			// The SBOM generator, installed by `make tools` (or a
			// previous `make release`); the module cache is the only
			// proxy, so the test reaches no network.
			"TOOLS_DIR=" + filepath.Join(root, ".tools"),
			"GOPROXY=file://" + filepath.ToSlash(filepath.Join(modCache, "cache", "download")),
			"GONOSUMDB=*", "GOFLAGS=-buildvcs=false", // what the release must override
		}
	}
	start := time.Now()
	// The first with the usual build cache (often warm), the second with an
	// empty one: everything the second links is compiled again, in another
	// directory, so nothing a cache could hide escapes the comparison.
	cacheA := strings.TrimSpace(run(t, root, nil, "go", "env", "GOCACHE"))
	run(t, srcA, env(cacheA), "./scripts/release.sh")
	run(t, srcB, env(filepath.Join(tmp, "cache-b")), "./scripts/release.sh")
	t.Logf("two releases in %v", time.Since(start).Round(time.Second))

	outA, outB := filepath.Join(srcA, "dist"), filepath.Join(srcB, "dist")
	filesA, filesB := readTree(t, outA), readTree(t, outB)
	for name, a := range filesA {
		b, ok := filesB[name]
		switch {
		case !ok:
			t.Errorf("%s: only in the first release", name)
		case !bytes.Equal(a.data, b.data):
			t.Errorf("%s: differs between the two releases", name)
		case a.mode != b.mode:
			t.Errorf("%s: mode %v and %v", name, a.mode, b.mode)
		}
	}
	for name := range filesB {
		if _, ok := filesA[name]; !ok {
			t.Errorf("%s: only in the second release", name)
		}
	}

	// The release is named by the binaries' own version.
	version := stampedVersion(t, filepath.Join(outA, "stevedore_*_linux_amd64", "stevedore-log-driver"))
	checkVersion(t, root, head, version)
	sep := string(filepath.Separator)
	for _, arch := range []string{"amd64", "arm64"} {
		name := "stevedore_" + version + "_linux_" + arch
		for _, f := range []string{name + ".tar.gz", name + sep + "stevedore-log-driver", name + sep + "LICENSE",
			name + sep + "sbom" + sep + "stevedore-log-driver.cdx.json",
			name + sep + "systemd" + sep + "stevedore-agent.service", name + sep + "systemd" + sep + "stevedore-reconciler.service"} {
			if _, ok := filesA[f]; !ok {
				t.Errorf("the release has no %s", f)
			}
		}
		checkArchive(t, filepath.Join(outA, name+".tar.gz"), name, head, root)
		checkSBOM(t, filepath.Join(outA, name, "sbom", "stevedore-log-driver.cdx.json"), version, arch)
		if bi := run(t, root, nil, "go", "version", "-m", filepath.Join(outA, name, "stevedore-log-driver")); !strings.Contains(bi, "GOARCH="+arch) || !strings.Contains(bi, "CGO_ENABLED=0") || !strings.Contains(bi, "-trimpath=true") || !strings.Contains(bi, "vcs.revision="+head) {
			t.Errorf("%s build info lacks GOARCH=%s, CGO_ENABLED=0, -trimpath or the revision:\n%s", name, arch, bi)
		}
	}
	// No build path in anything: neither clone's, nor the build caches'.
	for name, f := range filesA {
		for _, p := range []string{srcA, srcB, root, tmp} {
			if bytes.Contains(f.data, []byte(p)) {
				t.Errorf("%s holds the path %s", name, p)
			}
		}
	}
	// SHA256SUMS covers every other file and verifies.
	sums := strings.Split(strings.TrimSpace(string(filesA["SHA256SUMS"].data)), "\n")
	if len(sums) != len(filesA)-1 {
		t.Errorf("SHA256SUMS has %d lines for %d other files", len(sums), len(filesA)-1)
	}
	run(t, outA, nil, "sha256sum", "--quiet", "-c", "SHA256SUMS")

	// A tag at HEAD names the release (what the lead's `git tag v0.16.0`
	// does before the release is built).
	run(t, srcA, nil, "git", "tag", "v0.99.1", head)
	run(t, srcA, append(env(cacheA), "ARCHES=amd64", "OUT=dist-tagged"), "./scripts/release.sh")
	if _, err := os.Stat(filepath.Join(srcA, "dist-tagged", "stevedore_v0.99.1_linux_amd64.tar.gz")); err != nil {
		t.Errorf("a release of a tagged HEAD: %v", err)
	}
	if v := stampedVersion(t, filepath.Join(srcA, "dist-tagged", "stevedore_*_linux_amd64", "stevedore-log-driver")); v != "v0.99.1" {
		t.Errorf("a release of HEAD tagged v0.99.1 is stamped %s", v)
	}

	// A modified tree: the version says so (and so does the release's name).
	if err := os.WriteFile(filepath.Join(srcB, "README.md"), []byte("modified\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, srcB, append(env(filepath.Join(tmp, "cache-b")), "ARCHES=amd64"), "./scripts/release.sh")
	dirty := stampedVersion(t, filepath.Join(outB, "stevedore_*_linux_amd64", "stevedore-log-driver"))
	if dirty != version+"+dirty" {
		t.Errorf("a modified tree's version is %q (clean: %q), want it to end in +dirty", dirty, version)
	}
}

type file struct {
	data []byte
	mode fs.FileMode
}

func readTree(t *testing.T, dir string) map[string]file {
	t.Helper()
	files := map[string]file{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if info.Mode().Perm() != 0o755 {
				t.Errorf("directory %s has mode %v, want 0755", rel, info.Mode().Perm())
			}
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = file{data: b, mode: info.Mode()}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("%s is empty", dir)
	}
	return files
}

// stampedVersion is the main module's version in a binary's build info.
func stampedVersion(t *testing.T, glob string) string {
	t.Helper()
	m, _ := filepath.Glob(glob)
	if len(m) != 1 {
		t.Fatalf("%s: %d matches", glob, len(m))
	}
	for _, l := range strings.Split(run(t, filepath.Dir(m[0]), nil, "go", "version", "-m", m[0]), "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "mod" {
			return f[2]
		}
	}
	t.Fatalf("%s has no module version", m[0])
	return ""
}

var pseudoVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+-(0\.)?(\d{14})-([0-9a-f]{12})$`)

// checkVersion: a tag at HEAD is the version; otherwise Go's pseudo-version
// for HEAD (its commit time, UTC, and 12 hex digits of its hash).
func checkVersion(t *testing.T, root, head, version string) {
	t.Helper()
	tags := strings.Fields(run(t, root, nil, "git", "tag", "--points-at", head, "v*"))
	if len(tags) > 0 {
		for _, tag := range tags {
			if tag == version {
				return
			}
		}
		t.Errorf("HEAD is tagged %v, the release is %s", tags, version)
		return
	}
	m := pseudoVersion.FindStringSubmatch(version)
	if m == nil {
		t.Fatalf("version %q is neither a tag at HEAD nor a pseudo-version", version)
	}
	ct, _ := strconv.ParseInt(strings.TrimSpace(run(t, root, nil, "git", "log", "-1", "--format=%ct", head)), 10, 64)
	if want := time.Unix(ct, 0).UTC().Format("20060102150405"); m[2] != want || m[3] != head[:12] {
		t.Errorf("pseudo-version %s, want time %s and hash %s", version, want, head[:12])
	}
}

// checkArchive: gzip without name or time; entries sorted, owned by 0:0,
// all stamped with the commit's time, under one top directory.
func checkArchive(t *testing.T, path, top, head, root string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("%s: gzip header has name %q and time %v, want neither", path, zr.Name, zr.ModTime)
	}
	ct, _ := strconv.ParseInt(strings.TrimSpace(run(t, root, nil, "git", "log", "-1", "--format=%ct", head)), 10, 64)
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != ct || (h.Name != top+"/" && !strings.HasPrefix(h.Name, top+"/")) {
			t.Errorf("%s: entry %s: uid %d gid %d time %v, want 0 0 %v under %s/", path, h.Name, h.Uid, h.Gid, h.ModTime, time.Unix(ct, 0), top)
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] > names[i] {
			t.Errorf("%s: %s before %s: not sorted", path, names[i-1], names[i])
		}
	}
	if len(names) < 8 {
		t.Errorf("%s holds only %v", path, names)
	}
}

func checkSBOM(t *testing.T, path, version, arch string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat    string `json:"bomFormat"`
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
			Component struct {
				Version string `json:"version"`
				PURL    string `json:"purl"`
			} `json:"component"`
		} `json:"metadata"`
		Components []struct {
			Name string `json:"name"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	names := map[string]bool{}
	for _, c := range bom.Components {
		names[c.Name] = true
	}
	if bom.BOMFormat != "CycloneDX" || !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || bom.Metadata.Timestamp != "" ||
		bom.Metadata.Component.Version != version || !strings.Contains(bom.Metadata.Component.PURL, "goarch="+arch) || !names["std"] {
		t.Errorf("%s: format %q serial %q timestamp %q version %q purl %q, components %v; want CycloneDX, a urn:uuid serial, no timestamp, %s, goarch=%s, std among the components",
			path, bom.BOMFormat, bom.SerialNumber, bom.Metadata.Timestamp, bom.Metadata.Component.Version, bom.Metadata.Component.PURL, names, version, arch)
	}
}

// run runs a command in dir with extra environment and returns its output.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v in %s: %v\n%s%s", name, args, dir, err, out, stderr.Bytes())
	}
	return string(out)
}
