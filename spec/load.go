package spec

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// IsManifestPath reports whether Load decodes the file at p (slash
// separated, relative to the synced directory): a .yaml or .yml file with no
// path element starting with a dot, so .github/workflows/ci.yml and the
// like are not mistaken for manifests.
func IsManifestPath(p string) bool {
	ext := path.Ext(p)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if strings.HasPrefix(elem, ".") && elem != "." && elem != ".." {
			return false
		}
	}
	return true
}

// Load decodes, defaults and validates every YAML file (*.yaml, *.yml) in
// files (path relative to the synced directory → contents) into one Set.
// Other files and files under dot-directories are ignored. On any error it
// returns nil and an ErrorList naming file, line, object and field of every
// problem found (up to MaxErrors), across all files: a revision is applied
// whole or not at all.
func Load(files map[string][]byte) (*Set, error) {
	return Loader{}.Load(files)
}

// inputsOf returns the manifests of files, sorted by path.
func inputsOf(files map[string][]byte) []Input {
	names := make([]string, 0, len(files))
	for name := range files {
		if IsManifestPath(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	inputs := make([]Input, len(names))
	for i, name := range names {
		inputs[i] = Input{File: name, Data: files[name]}
	}
	return inputs
}

// Input is one stream of YAML documents for LoadInputs.
type Input struct {
	// File is the path errors name, relative to the synced directory.
	File string
	// Data holds the documents.
	Data []byte
	// Rendered says Data is the output of a renderer (kustomize) run on
	// File, not File's own text: its lines mean nothing to the author, so
	// errors and Sources name File with no line, and the object and field
	// say where the problem is.
	Rendered bool
}

// LoadInputs is Load for callers that produced some documents themselves
// (package render): it decodes, defaults and validates every input, in the
// order given, into one Set. Extra errors found before loading (a
// kustomization that failed to build) are reported with the inputs' own,
// sorted together, so a revision shows every problem at once.
func LoadInputs(inputs []Input, extra ErrorList) (*Set, error) {
	return Loader{}.LoadInputs(inputs, extra)
}

// LoadInputsCached is LoadInputs reusing prev's documents, as LoadCached.
// Rendered inputs are decoded whole, every time.
func LoadInputsCached(inputs []Input, extra ErrorList, prev *Cache) (*Set, *Cache, error) {
	return Loader{}.LoadInputsCached(inputs, extra, prev)
}

// loadInputs is LoadInputs, and LoadInputsCached when cached is set, for
// the cluster's network (defaults filled in).
func loadInputs(inputs []Input, extra ErrorList, prev *Cache, cached bool, net Network, decryptor Decryptor) (*Set, *Cache, error) {
	errs := &errorSink{}
	for _, e := range extra {
		errs.add(e)
	}
	// Inputs decode independently, so they decode in parallel; their
	// documents and errors are then taken in order, as if decoded one
	// after the other.
	decoders := make([]*decoder, len(inputs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(inputs)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(inputs); i = int(next.Add(1) - 1) {
				in := inputs[i]
				d := &decoder{file: in.File, errs: &errorSink{}, rendered: in.Rendered, decryptor: decryptor}
				if !cached || in.Rendered || mayBeSOPS(in.Data) || !d.decodeChunks(in.Data, prev) {
					d.decodeFile(in.Data)
				}
				if in.Rendered {
					for _, doc := range d.docs {
						doc.line, doc.lines = 0, nil
					}
				}
				decoders[i] = d
			}
		})
	}
	wg.Wait()
	var docs []*document
	for _, d := range decoders {
		for _, e := range d.errs.list {
			errs.add(e)
		}
		errs.more += d.errs.more
		docs = append(docs, d.docs...)
	}

	set := NewSet()
	byKey := map[ObjectKey]*document{}
	for _, doc := range docs {
		if !doc.reused {
			// A reused object is already defaulted and valid, and shared:
			// it must not be written.
			SetDefaults(doc.obj)
		}
		key := KeyOf(doc.obj)
		label := keyLabel(key)
		if !doc.reused {
			for _, fe := range slices.Concat(doc.zeroErrs, validateObject(doc.obj)) {
				errs.add(&Error{File: doc.file, Line: doc.lineOf(fe.path), Object: label, Field: string(fe.path), Message: fe.msg})
			}
		}
		if key.Name == "" {
			continue
		}
		if first, dup := byKey[key]; dup {
			errs.add(&Error{File: doc.file, Line: doc.line, Object: label,
				Message: fmt.Sprintf("declared twice: %s and %s", fileLine(first.file, first.line), fileLine(doc.file, doc.line))})
			continue
		}
		byKey[key] = doc
		set.Objects[key] = doc.obj
		set.Sources[key] = Source{File: doc.file, Line: doc.line, APIVersion: doc.apiVersion}
	}

	// Namespaces (and Services' addresses) are checked once the whole set
	// is known: a Namespace may be declared in any file, after the objects
	// in it.
	for _, doc := range docs {
		m := doc.obj.GetObjectMeta()
		if !Namespaced(doc.obj.GetTypeMeta().Kind) || m.Namespace == DefaultNamespace || m.Namespace == "" {
			continue
		}
		if _, ok := set.Objects[ObjectKey{Kind: KindNamespace, Name: m.Namespace}]; ok {
			continue
		}
		if isDNS1123Label(m.Namespace) != "" {
			continue // already reported as an invalid name
		}
		p := fieldPath("metadata.namespace")
		errs.add(&Error{File: doc.file, Line: doc.lineOf(p), Object: keyLabel(KeyOf(doc.obj)), Field: string(p),
			Message: fmt.Sprintf("namespace %q does not exist: declare a Namespace named %q in the repository or use %q", m.Namespace, m.Namespace, DefaultNamespace)})
	}

	checkServices(docs, set, net, errs)
	checkPlaintextSecrets(docs, set, errs)
	checkStorage(docs, set, errs)
	checkWorkloads(docs, set, errs)
	// Last: it may replace objects of set by defaulted copies, which the
	// checks above, comparing set's objects to the documents', must not see.
	checkLimitRanges(docs, set, errs)

	if list := errs.result(); list != nil {
		return nil, nil, list
	}
	set.Warnings = legacyWarnings(docs)
	var c *Cache
	if cached {
		c = newCache(docs)
	}
	return set, c, nil
}

// fileLine formats a place as "file:line", or "file" when the line is
// unknown (a rendered object).
func fileLine(file string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// LoadDir reads the manifests under dir (see ReadDir) and loads them as Load
// does. Paths in errors are relative to dir, with forward slashes.
func LoadDir(dir string) (*Set, error) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return Load(files)
}

// ReadDir reads every *.yaml and *.yml file under dir, recursively, skipping
// directories and files whose names start with a dot (.git) and following
// links to regular files. Keys are paths relative to dir with forward
// slashes: the map Load takes.
func ReadDir(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !IsManifestPath(rel) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// A link to a file is read like the file (Git checkouts keep
			// links), if it stays in the tree as the reconciler requires;
			// a link to anything else is not a manifest.
			if err := CheckLink(dir, p); err != nil {
				return err
			}
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = b
		return nil
	})
	if err != nil {
		if se, ok := err.(*Error); ok {
			return nil, ErrorList{se}
		}
		return nil, fmt.Errorf("failed to read manifests in %s: %w", dir, err)
	}
	return files, nil
}

// CheckLink refuses the link p unless it resolves to a regular file inside
// root: the reconciler follows links of a repository only to files within
// the tracked path (sync/source), so a work tree must not load what Git
// will not, nor skip what Git refuses.
func CheckLink(root, p string) error {
	rel, _ := filepath.Rel(root, p)
	rel = filepath.ToSlash(rel)
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	to, _ := os.Readlink(p)
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		// Dangling: refused, as the reconciler refuses it (sync/source).
		return &Error{File: rel, Message: "is a symbolic link to " + to + ", which does not exist: links are followed only to files within the tracked path"}
	}
	if r, err := filepath.Rel(realRoot, target); err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return &Error{File: rel, Message: "is a symbolic link to " + target + ", outside the tree: links are followed only within the tracked path"}
	}
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return &Error{File: rel, Message: "is a symbolic link to " + to + ", which is not a regular file: links are followed only to regular files"}
	}
	return nil
}
