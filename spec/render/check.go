package render

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stevedore-dev/stevedore/spec"
)

// checked is what checkKustomizations found: the problems it can place on
// a line of a kustomization file, before kustomize runs, and which
// kustomizations refer to which directories.
type checked struct {
	errs spec.ErrorList
	// bad holds the directories whose kustomization has a problem.
	bad map[string]bool
	// edges maps a kustomization's directory to the kustomization
	// directories it includes (resources, bases, components).
	edges map[string][]string
}

// broken reports whether building root would reach a kustomization with a
// problem already reported.
func (c *checked) broken(root string) bool {
	seen := map[string]bool{}
	stack := []string{root}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[d] {
			continue
		}
		seen[d] = true
		if c.bad[d] {
			return true
		}
		stack = append(stack, c.edges[d]...)
	}
	return false
}

// includeFields list other kustomizations or files by path.
var includeFields = map[string]bool{"resources": true, "bases": true, "components": true}

// fileFields hold paths of files kustomize reads: an http(s) URL there
// would be fetched.
var fileFields = map[string]bool{
	"patchesStrategicMerge": true, "crds": true, "configurations": true,
	"generators": true, "transformers": true, "validators": true,
}

// listFileFields are lists of mappings whose listed keys hold file paths.
var listFileFields = map[string][]string{
	"patches":            {"path"},
	"patchesJson6902":    {"path"},
	"replacements":       {"path"},
	"configMapGenerator": {"files", "envs", "env"},
	"secretGenerator":    {"files", "envs", "env"},
}

// helmFields render Helm charts, which needs the helm binary and usually the
// network.
var helmFields = map[string]bool{"helmCharts": true, "helmChartInflationGenerator": true, "helmGlobals": true}

// checkKustomizations reads every kustomization of the revision for what
// kustomize would either report without a line or do behind Stevedore's
// back: remote bases (kustomize would run git clone, or fetch over HTTP),
// Helm charts, includes that leave the revision or do not exist, and cycles
// between kustomizations (which kustomize does not always catch).
func checkKustomizations(l *layout, files map[string][]byte) *checked {
	c := &checked{bad: map[string]bool{}, edges: map[string][]string{}}
	dirs := make([]string, 0, len(l.kustomizations))
	for d := range l.kustomizations {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	lines := map[[2]string]int{} // (from, to) → line of the include
	for _, d := range dirs {
		kfile := l.kustomizations[d]
		bad := func(line int, field, format string, args ...any) {
			c.errs = append(c.errs, &spec.Error{File: kfile, Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
			c.bad[d] = true
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(files[kfile], &doc); err != nil {
			line, msg := yamlError(err)
			bad(line, "", "invalid YAML: %s", msg)
			continue
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue // empty: kustomize builds nothing
		}
		top := doc.Content[0]
		if top.Kind != yaml.MappingNode {
			bad(top.Line, "", "a kustomization must be a mapping of fields (resources, patches, images…)")
			continue
		}
		for i := 0; i+1 < len(top.Content); i += 2 {
			key, val := top.Content[i].Value, top.Content[i+1]
			switch {
			case helmFields[key]:
				bad(top.Content[i].Line, key, "Helm charts are not rendered by Stevedore: render the chart with helm template and commit its output (see docs/kustomize.md)")
			case includeFields[key]:
				for j, e := range scalars(val) {
					field := fmt.Sprintf("%s[%d]", key, j)
					to, err := l.resolve(d, e.Value, files)
					if err != nil {
						bad(e.Line, field, "%v", err)
						continue
					}
					if to != nil {
						c.edges[d] = append(c.edges[d], *to)
						lines[[2]string{d, *to}] = e.Line
					}
				}
			case fileFields[key]:
				for j, e := range scalars(val) {
					if isURL(e.Value) {
						bad(e.Line, fmt.Sprintf("%s[%d]", key, j), "remote file %q: Stevedore renders without network; copy it into the repository", e.Value)
					}
				}
			case listFileFields[key] != nil && val.Kind == yaml.SequenceNode:
				for j, item := range val.Content {
					if item.Kind != yaml.MappingNode {
						continue
					}
					for k := 0; k+1 < len(item.Content); k += 2 {
						sub := item.Content[k].Value
						if !contains(listFileFields[key], sub) {
							continue
						}
						for _, e := range scalars(item.Content[k+1]) {
							if isURL(strings.TrimPrefix(e.Value, keyPrefix(e.Value))) {
								bad(e.Line, fmt.Sprintf("%s[%d].%s", key, j, sub), "remote file %q: Stevedore renders without network; copy it into the repository", e.Value)
							}
						}
					}
				}
			}
		}
	}
	c.findCycles(dirs, l, lines)
	return c
}

// findCycles reports every include that closes a cycle, at the include's
// line: kustomize would recurse until it runs out of stack on some of them.
func (c *checked) findCycles(dirs []string, l *layout, lines map[[2]string]int) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(d string)
	visit = func(d string) {
		color[d] = grey
		stack = append(stack, d)
		for _, to := range c.edges[d] {
			switch color[to] {
			case grey:
				i := len(stack) - 1
				for i > 0 && stack[i] != to {
					i--
				}
				chain := append(append([]string{}, stack[i:]...), to)
				for k := range chain {
					chain[k] = dirName(chain[k])
				}
				c.errs = append(c.errs, &spec.Error{File: l.kustomizations[d], Line: lines[[2]string{d, to}],
					Message: "kustomizations include each other in a cycle: " + strings.Join(chain, " → ")})
				for _, x := range stack[i:] {
					c.bad[x] = true
				}
			case white:
				visit(to)
			}
		}
		stack = stack[:len(stack)-1]
		color[d] = black
	}
	for _, d := range dirs {
		if color[d] == white {
			visit(d)
		}
	}
}

func dirName(d string) string {
	if d == "" {
		return "."
	}
	return d
}

// resolve checks one entry of resources, bases or components of the
// kustomization in dir. It returns the kustomization directory the entry
// includes, nil for a file, or an error saying why kustomize cannot use it
// here.
func (l *layout) resolve(dir, entry string, files map[string][]byte) (*string, error) {
	if isURL(entry) || strings.HasPrefix(entry, "git@") {
		return nil, fmt.Errorf("remote base %q: Stevedore renders without network; copy it into the repository and refer to it by a relative path", entry)
	}
	target := path.Join(dir, entry)
	if target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(entry) {
		return nil, fmt.Errorf("%q is outside the tracked path: only the revision's files are rendered", entry)
	}
	if target == "." {
		target = ""
	}
	if _, ok := files[target]; ok && !hiddenDir(target) {
		if !spec.IsManifestPath(target) && !l.underKustomization(target) {
			// A revision from Git holds it, a work tree read by ctl
			// would not: refuse it the same way in both.
			return nil, fmt.Errorf("resource %q is neither a *.yaml/*.yml file nor below a kustomization: kustomize sees only those", entry)
		}
		return nil, nil
	}
	if _, ok := l.kustomizations[target]; ok {
		return &target, nil
	}
	prefix := target + "/"
	if target == "" {
		prefix = ""
	}
	for name := range files {
		if strings.HasPrefix(name, prefix) && !hiddenDir(name) {
			return nil, fmt.Errorf("directory %q holds no kustomization.yaml: kustomize includes a directory only through its kustomization", entry)
		}
	}
	if first, _, _ := strings.Cut(entry, "/"); strings.Contains(first, ".") && first != "." && first != ".." && strings.Contains(entry, "/") {
		return nil, fmt.Errorf("remote base %q: Stevedore renders without network; copy it into the repository and refer to it by a relative path", entry)
	}
	return nil, fmt.Errorf("resource %q not found: no file or directory %s in the revision", entry, dirName(target))
}

// isURL reports whether s names something on a network rather than a file
// of the revision.
func isURL(s string) bool {
	return urlRE.MatchString(s)
}

var urlRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+-]*://`)

// keyPrefix returns the "key=" a generator's files entry may start with.
func keyPrefix(s string) string {
	if i := strings.Index(s, "="); i >= 0 && !strings.Contains(s[:i], "/") {
		return s[:i+1]
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scalars returns the scalar items of a sequence node (a lone scalar counts
// as one item).
func scalars(n *yaml.Node) []*yaml.Node {
	switch n.Kind {
	case yaml.ScalarNode:
		return []*yaml.Node{n}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, e := range n.Content {
			if e.Kind == yaml.ScalarNode {
				out = append(out, e)
			}
		}
		return out
	}
	return nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError splits "yaml: line N: msg" into N and msg.
func yamlError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, msg[len(m[0]):]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}
