package render

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/spec"
)

// buildMu serialises kustomize builds: kustomize keeps package-level state
// (its OpenAPI schema) that concurrent builds race on
// (kubernetes-sigs/kustomize#3659; Flux takes the same lock).
var buildMu sync.Mutex

// visible returns, sorted, the files kustomize may see: exactly those
// ReadDir would read from a work tree (every manifest outside dot-directories,
// and every file below a kustomization), so a revision from Git and the same
// directory on disk render alike.
func (l *layout) visible(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for name := range files {
		if hiddenDir(name) || !(spec.IsManifestPath(name) || l.underKustomization(name)) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// newMemFS builds the file system kustomize sees from the visible files.
// The revision's top is "/".
func newMemFS(names []string, files map[string][]byte) filesys.FileSystem {
	fsys := filesys.MakeFsInMemory()
	for _, name := range names {
		// Errors are impossible here: the paths are clean and relative,
		// and a name cannot be both a file and a directory in a tree.
		_ = writeFile(fsys, name, files[name])
	}
	return fsys
}

// fixCommonLabels moves k's commonLabels into a last labels entry with
// includeSelectors: reading the deprecated field is the point.
func fixCommonLabels(k *types.Kustomization) {
	//lint:ignore SA1019 the deprecated field is read to replace it
	common := k.CommonLabels
	if len(common) == 0 {
		return
	}
	k.Labels = append(k.Labels, types.Label{Pairs: common, IncludeSelectors: true})
	//lint:ignore SA1019 the deprecated field is cleared once moved
	k.CommonLabels = nil
}

// writeFile writes a file of the tree into fsys. A kustomization using
// deprecated fields is written in their current form, because kustomize
// prints a warning for each straight to the process's stderr (once per
// build: in the reconciler's log and ctl's output alike). The rewrite is
// the one kustomize applies itself right after warning (FixKustomization:
// bases, imageTags, patchesStrategicMerge, patchesJson6902…), plus
// commonLabels as a last labels entry with includeSelectors, which
// kustomize v0.21 builds into the same transformer with the same field
// specs, in the same place (the golden tests pin the output).
func writeFile(fsys filesys.FileSystem, name string, data []byte) error {
	if slices.Contains(kustomizationNames, path.Base(name)) {
		var k types.Kustomization
		if k.Unmarshal(data) == nil {
			if w := k.CheckDeprecatedFields(); w != nil && len(*w) > 0 {
				k.FixKustomization()
				fixCommonLabels(&k)
				if b, err := sigsyaml.Marshal(&k); err == nil {
					data = b
				}
			}
		}
	}
	return fsys.WriteFile("/"+name, data)
}

// digest identifies the visible files: names and contents.
func digest(names []string, files map[string][]byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, name := range names {
		binary.LittleEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.LittleEndian.PutUint64(n[:], uint64(len(files[name])))
		h.Write(n[:])
		h.Write(files[name])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// cacheSize is how many renders the cache keeps: a few revisions' worth of
// kustomizations.
const cacheSize = 16

// cache keeps recent renders by the digest of the files kustomize saw and
// the directory built. kustomize is slow on large overlays (about 2.5 ms of
// CPU per object even in chunks, see docs/kustomize.md) and the same revision is
// rendered several times on one node: by the leader's sync, then by its
// raft state machine, by ctl diff against the applied revision. A render
// depends only on those files, so a hit returns what a build would.
var cache = &renderCache{}

type renderCache struct {
	mu      sync.Mutex
	entries []cacheEntry // oldest first
}

type cacheEntry struct {
	sum  [sha256.Size]byte
	root string
	out  []byte
}

func (c *renderCache) get(sum [sha256.Size]byte, root string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		if e.sum == sum && e.root == root {
			return e.out, true
		}
	}
	return nil, false
}

func (c *renderCache) put(sum [sha256.Size]byte, root string, out []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == cacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, cacheEntry{sum: sum, root: root, out: out})
}

// build runs kustomize on the kustomization in dir and returns the objects
// it renders as a YAML stream. Plugins, Helm and load restrictions follow
// Flux: only built-in transformers and generators run, and a kustomization
// may read any file of the revision (the in-memory file system holds nothing
// else).
func build(fsys filesys.FileSystem, dir string) ([]byte, error) {
	m, err := run(fsys, dir)
	if err != nil {
		return nil, err
	}
	return asYAML(m)
}

// run is kustomize's build of the kustomization in dir.
func run(fsys filesys.FileSystem, dir string) (m resmap.ResMap, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	// kustomize panics on some malformed input; one bad kustomization must
	// not take the reconciler (or its raft state machine) down.
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	opts.PluginConfig = types.DisabledPluginConfig()
	return krusty.MakeKustomizer(opts).Run(fsys, "/"+dir)
}

// asYAML is the YAML stream of what run rendered, as kustomize build
// prints it.
func asYAML(m resmap.ResMap) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	return m.AsYaml()
}

// buildError turns a kustomize failure into an error at the kustomization
// file. kustomize names files by their path in the in-memory file system
// ("/base/deployment.yaml"), which is already the path in the revision with
// a leading slash.
func buildError(kfile string, data []byte, err error) *spec.Error {
	msg := err.Error()
	return &spec.Error{File: kfile, Line: lineOfQuoted(data, msg), Message: "kustomize build failed: " + msg}
}

// quotedRE finds what kustomize's messages quote: "name", 'name', (name).
var quotedRE = regexp.MustCompile(`"([^"\s]+)"|'([^'\s]+)'|\(([^()\s]+)\)`)

// lineOfQuoted returns the line of the first thing msg quotes that is a key
// or a value written in the kustomization (an unknown field, a patch file
// that does not exist), or 0. kustomize's errors carry no lines of their
// own.
func lineOfQuoted(data []byte, msg string) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return 0
	}
	lines := map[string]int{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			if _, ok := lines[n.Value]; !ok {
				lines[n.Value] = n.Line
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	for _, m := range quotedRE.FindAllStringSubmatch(msg, -1) {
		for _, q := range m[1:] {
			if l, ok := lines[q]; ok && q != "" {
				return l
			}
		}
	}
	return 0
}

// isComponent reports whether a kustomization file declares kind
// Component: such a directory is included by other kustomizations, never
// built on its own.
func isComponent(data []byte) bool {
	var k struct {
		Kind string `yaml:"kind"`
	}
	if yaml.Unmarshal(data, &k) != nil {
		return false
	}
	return k.Kind == "Component"
}
