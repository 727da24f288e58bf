// Package render turns the files of a revision into objects: the step
// between reading a tree (from Git or a directory) and the pure decoding of
// package spec. Every consumer (the reconciler's sync and store, ctl
// validate and ctl diff --local, the benchmarks) loads through it, so a
// revision is judged the same way everywhere.
//
// A directory holding a kustomization (kustomization.yaml,
// kustomization.yml or Kustomization) is built in-process with kustomize's
// Go API; plain YAML elsewhere is loaded as it is. Which directories are
// built follows Flux's kustomize-controller:
//
//   - a kustomization at the top of the revision builds the whole tree,
//     and no file is loaded as plain YAML;
//   - otherwise every top-most directory holding a kustomization is built
//     (a kustomization of kind Component is only ever included by
//     others), and the files below it are not loaded a second time as
//     plain YAML; every other *.yaml/*.yml file is loaded as it is.
//
// A large kustomization tree whose transformers all act object by object is
// built in chunks of its resource files, which renders the same bytes
// without kustomize's quadratic lookups by id (chunk.go).
//
// Rendering is deterministic and offline: it runs inside the raft state
// machine of every reconciler, which must all reach the same objects from
// the same files. Remote bases, Helm charts and plugins are refused.
//
// Package spec stays pure and knows nothing of rendering; render sits beside
// it.
package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/stevedore-dev/stevedore/spec"
)

// MaxFileSize caps each file under a kustomization: such files travel with
// every revision through raft, and a generator's file becomes a ConfigMap
// or Secret, which Kubernetes caps at 1 MiB anyway. A larger file is an
// error naming it.
const MaxFileSize = 4 << 20

// kustomizationNames are the file names that make a directory a
// kustomization, in the order kustomize looks for them.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Load renders files (paths relative to the tracked path, with forward
// slashes, as spec.Load takes them) and loads the result. Errors are a
// spec.ErrorList: a kustomization that fails to build is reported at its
// file (and line, when the problem is in the kustomization itself), an
// object it renders that fails validation at the kustomization with the
// object and field.
func Load(files map[string][]byte) (*spec.Set, error) {
	return Loader{}.Load(files)
}

// LoadCached is Load reusing the documents of prev (a Cache of an earlier
// revision, or nil) whose text is unchanged, and returns this revision's
// Cache too: see spec.Cache. Plain manifests are reused document by
// document; what a kustomization renders is decoded every time (kustomize's
// own build is cached by the files' digest).
func LoadCached(files map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	return Loader{}.LoadCached(files, prev)
}

// Loader renders and loads revisions for one cluster: Load, LoadCached and
// LoadDir checking Services against the cluster's Network (see
// spec.Loader). The zero Loader is what the package's functions use.
type Loader struct {
	Network spec.Network
	// Decrypt decrypts SOPS-encrypted documents (see spec.Loader). A
	// kustomization passes an encrypted resource through with its sops
	// mapping; it is decrypted after rendering, resource by resource, as
	// Flux does.
	Decrypt spec.Decryptor
}

// Load is Load with ld's settings.
func (ld Loader) Load(files map[string][]byte) (*spec.Set, error) {
	set, _, err := ld.load(files, nil, false)
	return set, err
}

// LoadCached is LoadCached with ld's settings.
func (ld Loader) LoadCached(files map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	return ld.load(files, prev, true)
}

// LoadDir is LoadDir with ld's settings.
func (ld Loader) LoadDir(dir string) (*spec.Set, error) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return ld.Load(files)
}

// load is Load, and LoadCached when cached is set.
func (ld Loader) load(files map[string][]byte, prev *spec.Cache, cached bool) (*spec.Set, *spec.Cache, error) {
	sl := spec.Loader{Network: ld.Network, Decrypt: ld.Decrypt}
	l := newLayout(files)
	if len(l.kustomizations) == 0 {
		if cached {
			return sl.LoadCached(files, prev)
		}
		set, err := sl.Load(files)
		return set, nil, err
	}
	var inputs []spec.Input
	var errs spec.ErrorList
	for _, name := range l.plain {
		inputs = append(inputs, spec.Input{File: name, Data: files[name]})
	}
	errs = append(errs, l.checkSizes(files)...)
	errs = append(errs, l.checkAliases(files)...)
	checked := checkKustomizations(l, files)
	errs = append(errs, checked.errs...)
	errs = append(errs, ld.verifyEncrypted(l, files)...)
	if len(errs) == 0 {
		visible := l.visible(files)
		sum := digest(visible, files)
		var fsys filesys.FileSystem
		for _, root := range l.roots {
			kfile := l.kustomizations[root]
			if checked.broken(root) {
				continue // already reported; building would only repeat it
			}
			out, ok := cache.get(sum, root)
			var err error
			if !ok {
				if fsys == nil {
					fsys = newMemFS(visible, files)
				}
				if out, err = buildRoot(l, fsys, files, root); err == nil {
					cache.put(sum, root, out)
				}
			}
			if err != nil {
				errs = append(errs, buildError(kfile, files[kfile], err))
				continue
			}
			inputs = append(inputs, spec.Input{File: kfile, Data: out, Rendered: true})
		}
	}
	if cached {
		return sl.LoadInputsCached(inputs, errs, prev)
	}
	set, err := sl.LoadInputs(inputs, errs)
	return set, nil, err
}

// buildRoot builds the kustomization in root: in chunks when that is
// provably the same build and cheaper (see chunk.go), whole otherwise.
func buildRoot(l *layout, fsys filesys.FileSystem, files map[string][]byte, root string) ([]byte, error) {
	if p := planChunks(l, files, root); p != nil {
		if out, ok := buildChunks(fsys, files, root, p); ok {
			return out, nil
		}
	}
	return build(fsys, root)
}

// ReadDir reads what Load needs from a directory: the files a revision of it
// would hold. That is every *.yaml and *.yml file, as spec.ReadDir reads
// them, and every other regular file below a directory holding a
// kustomization (generator sources such as .env files, patches), skipping
// dot-directories. A file under a kustomization larger than MaxFileSize is an
// error naming it.
func ReadDir(dir string) (map[string][]byte, error) {
	files, err := spec.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	l := newLayout(files)
	if len(l.kustomizations) == 0 {
		return files, nil
	}
	for _, d := range l.topDirs {
		base := filepath.Join(dir, filepath.FromSlash(d))
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if strings.HasPrefix(e.Name(), ".") && p != base {
					return filepath.SkipDir
				}
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if _, ok := files[rel]; ok {
				return nil
			}
			if e.Type()&fs.ModeSymlink != 0 {
				if err := spec.CheckLink(dir, p); err != nil {
					return err
				}
			}
			st, err := os.Stat(p) // follows a link to a file, as spec.ReadDir does
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
			if st.Size() > MaxFileSize {
				return tooLarge(rel, st.Size())
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[rel] = b
			return nil
		})
		if err != nil {
			var se *spec.Error
			if errors.As(err, &se) {
				return nil, spec.ErrorList{se}
			}
			return nil, fmt.Errorf("failed to read files under the kustomization in %s: %w", base, err)
		}
	}
	return files, nil
}

// LoadDir reads dir and loads it as Load does. Paths in errors are relative
// to dir.
func LoadDir(dir string) (*spec.Set, error) {
	return Loader{}.LoadDir(dir)
}

// layout is which directories of a revision are kustomizations and which
// files are plain YAML.
type layout struct {
	// kustomizations maps each directory holding a kustomization ("" for
	// the top) to its kustomization file's path.
	kustomizations map[string]string
	// topDirs are the top-most directories holding a kustomization, sorted:
	// everything below them belongs to kustomize.
	topDirs []string
	// roots are the topDirs that are built (not Components).
	roots []string
	// plain are the manifest files outside every topDir, sorted.
	plain []string
}

func newLayout(files map[string][]byte) *layout {
	l := &layout{kustomizations: map[string]string{}}
	for name := range files {
		if hiddenDir(name) {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		for _, k := range kustomizationNames {
			if base != k {
				continue
			}
			// kustomize takes the first name it finds; a second one is
			// its error to report.
			if prev, ok := l.kustomizations[dir]; !ok || rank(base) < rank(path.Base(prev)) {
				l.kustomizations[dir] = name
			}
		}
	}
	if len(l.kustomizations) == 0 {
		return l
	}
	for dir := range l.kustomizations {
		if top, _ := l.owner(dir); top == dir {
			l.topDirs = append(l.topDirs, dir)
		}
	}
	sort.Strings(l.topDirs)
	for _, d := range l.topDirs {
		if !isComponent(files[l.kustomizations[d]]) {
			l.roots = append(l.roots, d)
		}
	}
	for name := range files {
		if _, owned := l.owner(path.Dir(name)); spec.IsManifestPath(name) && !owned {
			l.plain = append(l.plain, name)
		}
	}
	sort.Strings(l.plain)
	return l
}

// owner returns the top-most directory holding a kustomization at or above
// dir (a slash path; "" or "." is the top), and whether there is one.
func (l *layout) owner(dir string) (string, bool) {
	if dir == "." {
		dir = ""
	}
	found, ok := "", false
	for {
		if _, k := l.kustomizations[dir]; k {
			found, ok = dir, true
		}
		if dir == "" {
			return found, ok
		}
		dir = parentDir(dir)
	}
}

// parentDir is path.Dir with "" for the top.
func parentDir(dir string) string {
	if dir == "" {
		return ""
	}
	p := path.Dir(dir)
	if p == "." {
		return ""
	}
	return p
}

// underKustomization reports whether the file at name is below a
// directory holding a kustomization.
func (l *layout) underKustomization(name string) bool {
	_, ok := l.owner(path.Dir(name))
	return ok
}

func rank(base string) int {
	for i, k := range kustomizationNames {
		if k == base {
			return i
		}
	}
	return len(kustomizationNames)
}

// hiddenDir reports whether a path is below a directory whose name starts
// with a dot (.git, .github): such files are never part of what is deployed.
// A dot-file itself (.env, a secretGenerator's usual source) is not hidden.
func hiddenDir(name string) bool {
	elems := strings.Split(name, "/")
	for _, elem := range elems[:len(elems)-1] {
		if strings.HasPrefix(elem, ".") {
			return true
		}
	}
	return false
}

// checkSizes reports every file under a kustomization larger than
// MaxFileSize.
func (l *layout) checkSizes(files map[string][]byte) spec.ErrorList {
	var errs spec.ErrorList
	for name, b := range files {
		if len(b) <= MaxFileSize || hiddenDir(name) || !l.underKustomization(name) {
			continue
		}
		var se *spec.Error
		errors.As(tooLarge(name, int64(len(b))), &se)
		errs = append(errs, se)
	}
	return errs
}

// tooLarge is the error for a file under a kustomization past MaxFileSize.
func tooLarge(name string, size int64) error {
	return &spec.Error{File: name, Message: fmt.Sprintf(
		"file is %d bytes: a file under a kustomization may be at most %d MiB (it travels with every revision); keep large files out of the tracked path",
		size, MaxFileSize>>20)}
}
