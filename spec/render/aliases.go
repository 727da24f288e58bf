package render

import (
	"bytes"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/stevedore-dev/stevedore/spec"
)

// maxAliasNodes bounds how many YAML nodes the aliases of one file may
// expand to. kustomize expands every alias when it converts a document, so
// a 600-byte "billion laughs" file (anchors of nine aliases, nested) costs
// gigabytes and minutes on every reconciler. Real manifests that use
// anchors (a shared env list) expand to a few hundred nodes.
const maxAliasNodes = 100_000

// checkAliases reports every YAML file under a kustomization whose aliases
// expand past maxAliasNodes. It only counts: a file that does not parse is
// left to the checks and the build that report it.
func (l *layout) checkAliases(files map[string][]byte) spec.ErrorList {
	var errs spec.ErrorList
	names := make([]string, 0, len(files))
	for name := range files {
		if spec.IsManifestPath(name) && !hiddenDir(name) && l.underKustomization(name) && bytes.IndexByte(files[name], '*') >= 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		dec := yaml.NewDecoder(bytes.NewReader(files[name]))
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); err != nil {
				break // io.EOF, or YAML the other checks report
			}
			memo := map[*yaml.Node]int{}
			if n, at := aliasNodes(&doc, memo, 0); n > maxAliasNodes {
				errs = append(errs, &spec.Error{File: name, Line: at, Message: fmt.Sprintf(
					"YAML aliases expand to more than %d nodes: refused, as kustomize would expand them all in memory", maxAliasNodes)})
				break
			}
		}
	}
	return errs
}

// aliasNodes returns how many nodes n expands to, counting what its
// aliases point at as often as they are used, and the line of the first
// alias; it stops counting past maxAliasNodes.
func aliasNodes(n *yaml.Node, memo map[*yaml.Node]int, depth int) (int, int) {
	if v, ok := memo[n]; ok {
		return v, n.Line
	}
	if depth > 10_000 {
		return maxAliasNodes + 1, n.Line
	}
	total, line := 1, 0
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		c, _ := aliasNodes(n.Alias, memo, depth+1)
		total += c
		line = n.Line
	}
	for _, c := range n.Content {
		k, l := aliasNodes(c, memo, depth+1)
		total += k
		if line == 0 {
			line = l
		}
		if total > maxAliasNodes {
			break
		}
	}
	memo[n] = total
	return total, line
}
