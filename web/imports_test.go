package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// TestImportsResolve checks that every name a UI module imports from
// another UI module is exported by it: one missing export breaks the whole
// UI at load, before any view renders, and no Go test would notice.
func TestImportsResolve(t *testing.T) {
	importRE := regexp.MustCompile(`(?s)import\s*(?:(\w+)\s*,?\s*)?(?:\{([^}]*)\})?\s*from\s*'([^']+)'`)
	exportNamedRE := regexp.MustCompile(`export\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+(\w+)`)
	exportListRE := regexp.MustCompile(`(?s)export\s*\{([^}]*)\}`)
	exportDefaultRE := regexp.MustCompile(`export\s+default\s`)

	exports := map[string]map[string]bool{}
	sources := map[string]string{}
	err := fs.WalkDir(assets, "ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		src := string(b)
		sources[p] = src
		names := map[string]bool{}
		for _, m := range exportNamedRE.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
		for _, m := range exportListRE.FindAllStringSubmatch(src, -1) {
			for _, part := range strings.Split(m[1], ",") {
				f := strings.Fields(part)
				if len(f) > 0 {
					names[f[len(f)-1]] = true // "a as b" exports b
				}
			}
		}
		if exportDefaultRE.MatchString(src) {
			names["default"] = true
		}
		exports[p] = names
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) < 3 {
		t.Fatalf("found only %d modules", len(sources))
	}
	for p, src := range sources {
		dir := p[:strings.LastIndex(p, "/")]
		for _, m := range importRE.FindAllStringSubmatch(src, -1) {
			target := resolve(dir, m[3])
			names, ok := exports[target]
			if !ok {
				t.Errorf("%s imports %s (%s), which is not an embedded module", p, m[3], target)
				continue
			}
			if m[1] != "" && !names["default"] {
				t.Errorf("%s imports the default export of %s, which has none", p, m[3])
			}
			for _, part := range strings.Split(m[2], ",") {
				f := strings.Fields(part)
				if len(f) == 0 {
					continue
				}
				if !names[f[0]] {
					t.Errorf("%s imports %s from %s, which does not export it", p, f[0], m[3])
				}
			}
		}
	}
}

// resolve joins a relative module specifier to the importing directory.
func resolve(dir, spec string) string {
	parts := strings.Split(dir, "/")
	for _, s := range strings.Split(spec, "/") {
		switch s {
		case ".":
		case "..":
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}
