// Package render turns the files of a revision into objects: the step
// between reading a tree (from Git or a directory) and the pure decoding of
// package spec. Every consumer (the reconciler's sync and store, ctl
// validate and ctl diff --local, the benchmarks) loads through it, so a
// revision is judged the same way everywhere.
//
// Package spec stays pure and knows nothing of rendering; render sits beside
// it.
package render

import "github.com/stevedore-dev/stevedore/spec"

// Load renders files (paths relative to the tracked path, with forward
// slashes, as spec.Load takes them) and loads the result.
func Load(files map[string][]byte) (*spec.Set, error) {
	return spec.Load(files)
}

// LoadCached is Load reusing the documents of prev (a Cache of an earlier
// revision, or nil) whose text is unchanged, and returns this revision's
// Cache too: see spec.Cache.
func LoadCached(files map[string][]byte, prev *spec.Cache) (*spec.Set, *spec.Cache, error) {
	return spec.LoadCached(files, prev)
}

// ReadDir reads what Load needs from a directory: the files a revision of it
// would hold.
func ReadDir(dir string) (map[string][]byte, error) {
	return spec.ReadDir(dir)
}

// LoadDir reads dir and loads it as Load does. Paths in errors are relative
// to dir.
func LoadDir(dir string) (*spec.Set, error) {
	files, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	return Load(files)
}
