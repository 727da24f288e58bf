package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Chunked builds.
//
// kustomize's build costs grow with the square of the objects of one
// kustomization: every Append, the namespace transformer's conflict check,
// every strategic-merge patch and the name-reference transformer scan all
// resources for each resource, recomputing its id from its YAML each time
// (kubernetes-sigs/kustomize#5084). At 1,000 objects that is about half of
// the build. When every step of a kustomization tree acts on each object on
// its own, the tree renders the same objects if its resource documents are
// split into groups built one after the other, so a large overlay is built
// in chunks of about chunkObjects objects and the outputs are concatenated.
//
// A tree is built in chunks only when that is provably the same build
// (otherwise planChunks returns nil and the tree is built whole):
//
//   - Every kustomization of the tree uses only fields whose transformers
//     act object by object: resources, namespace, namePrefix, nameSuffix,
//     labels, commonLabels, commonAnnotations, images, and patches that
//     have a target and no options. Generators, replacements, replicas
//     (which fails when its target is missing), components, sortOptions,
//     configurations and the rest make a whole build.
//   - Patches do not change an object's name, namespace, kind or
//     apiVersion: a strategic-merge patch cannot (kustomize restores them
//     unless the patch's options allow a change), and a JSON 6902 patch
//     may not touch those paths. Ids then change only through namespace and
//     namePrefix/nameSuffix, which give equal ids equal results.
//   - Every object is of a kind in chunkKinds. The name-reference
//     transformer (the only cross-object step left) rewrites a reference
//     only when the referred object is in the build; among chunkKinds only
//     Deployment, ReplicationController and ReplicaSet can be referred to,
//     by a HorizontalPodAutoscaler, and Service, by an Ingress, StatefulSet,
//     APIService or webhook configuration (kustomize's nameReference
//     configuration): none of those is a chunkKind, so it changes nothing.
//     (StatefulSet stays out for that reason: its serviceName names a
//     Service.)
//   - No object carries kustomize's helm-generated annotation (the
//     namespace transformer skips those) and no kustomization is reached
//     twice (each resource file is built once).
//
// Resource order is the depth-first order of the tree's resource files and
// of the documents in each (krusty's default, Reorder none); chunks are
// contiguous runs of that order with the tree's shape unchanged (each
// chunk's kustomizations list every directory and only that chunk's files;
// a file split between chunks is listed as a part file beside it holding
// the chunk's documents, cut where kustomize cuts them), so concatenating
// the chunks' output in order gives the whole build's order. A whole build
// fails when two objects get the same id at some step; since ids change
// only as a function of the id, such objects still share an id at the end,
// so chunked output with a repeated id (or a chunk that fails) is dropped
// and the tree built whole, which reports kustomize's own error.
//
// TestChunkedBuildIdentical checks all of this against whole builds.

// chunkObjects is the size of one chunk: past it, kustomize's quadratic
// lookups cost more than building one more time. Tests make it smaller.
var chunkObjects = 100

// chunkKinds are the kinds a chunked build may hold: Stevedore's kinds.
// None of them refers to another by name in kustomize's nameReference
// configuration.
var chunkKinds = map[string]bool{
	"Namespace": true, "Deployment": true, "ReplicationController": true,
	"Pod": true, "PodTemplate": true, "Node": true, "Service": true,
	"ReplicaSet": true, "DaemonSet": true, "Job": true, "CronJob": true,
}

// chunkFields are the kustomization fields a chunked build allows.
var chunkFields = map[string]bool{
	"apiVersion": true, "kind": true, "resources": true, "namespace": true,
	"namePrefix": true, "nameSuffix": true, "labels": true, "commonLabels": true,
	"commonAnnotations": true, "images": true, "patches": true,
}

// chunkPlan is how a tree is built in chunks.
type chunkPlan struct {
	// kfiles are the tree's kustomization files, by directory.
	kfiles map[string]string
	// docs are the tree's kustomizations, parsed, by directory.
	docs map[string]*yaml.Node
	// files are the tree's resource files, by resources entry.
	files map[entryRef]*resourceFile
	// chunks lists, for each chunk, the resources entries that are files
	// in it and which of their documents.
	chunks []map[entryRef]span
}

// entryRef is one entry of a kustomization's resources.
type entryRef struct {
	dir   string
	index int
}

// resourceFile is a resource file, cut into documents as kustomize cuts it.
type resourceFile struct {
	name string // path in the revision
	// docs are the file's documents, seps the separators between them:
	// the file is docs[0] seps[0] docs[1] … docs[n-1].
	docs, seps []string
	// objects counts the objects of each document (0 or 1).
	objects []int
}

// span is the documents [from, to) of a resource file.
type span struct{ from, to int }

// part names the file holding the documents of s of a resource file
// split between chunks: beside it, so relative paths stay the same.
func (f *resourceFile) part(s span) string {
	return fmt.Sprintf("%s.stevedore-part-%d-%d.yaml", f.name, s.from, s.to)
}

// partData is what the part file of s holds: the documents and separators
// in between as in the file, and a final newline where the file went on
// (kustomize adds that newline to every document but the last).
func (f *resourceFile) partData(s span) []byte {
	var b strings.Builder
	for i := s.from; i < s.to; i++ {
		b.WriteString(f.docs[i])
		if i+1 < s.to {
			b.WriteString(f.seps[i])
		}
	}
	if s.to < len(f.docs) {
		b.WriteString("\n")
	}
	return []byte(b.String())
}

// whole reports whether s is the whole file.
func (f *resourceFile) whole(s span) bool { return s.from == 0 && s.to == len(f.docs) }

// planChunks returns how to build root in chunks, or nil when the tree is
// small or chunking is not provably the same build.
func planChunks(l *layout, files map[string][]byte, root string) *chunkPlan {
	p := &chunkPlan{kfiles: map[string]string{}, docs: map[string]*yaml.Node{}, files: map[entryRef]*resourceFile{}}
	var order []entryRef // the tree's resource files, depth first
	var visit func(dir string) bool
	visit = func(dir string) bool {
		if _, seen := p.docs[dir]; seen {
			return false // reached twice: its files would build twice
		}
		kfile := l.kustomizations[dir]
		top, ok := chunkable(dir, files[kfile], files)
		if !ok {
			return false
		}
		p.kfiles[dir], p.docs[dir] = kfile, top
		for i, e := range resourceEntries(top) {
			to, err := l.resolve(dir, e, files)
			if err != nil {
				return false
			}
			if to != nil {
				if !visit(*to) {
					return false
				}
				continue
			}
			name := path.Join(dir, e)
			f, ok := readResourceFile(name, files[name])
			if !ok {
				return false
			}
			ref := entryRef{dir, i}
			p.files[ref] = f
			order = append(order, ref)
		}
		return true
	}
	if !visit(root) {
		return nil
	}
	// Cut the documents, in order, into runs of chunkObjects objects; a
	// chunk's span of a file is contiguous.
	var cur map[entryRef]span
	size := 0
	for _, ref := range order {
		f := p.files[ref]
		for d := range f.docs {
			if cur == nil || size+f.objects[d] > chunkObjects && size > 0 {
				cur, size = map[entryRef]span{}, 0
				p.chunks = append(p.chunks, cur)
			}
			s, ok := cur[ref]
			if !ok {
				s = span{d, d}
			}
			s.to = d + 1
			cur[ref] = s
			size += f.objects[d]
		}
	}
	if len(p.chunks) < 2 {
		return nil
	}
	for ref, f := range p.files {
		for _, c := range p.chunks {
			if s, ok := c[ref]; ok && !f.whole(s) {
				if _, taken := files[f.part(s)]; taken {
					return nil
				}
			}
		}
	}
	return p
}

// kustomization returns the kustomization in dir for chunk i: the same
// fields, with only the chunk's files (or parts of files) in resources.
func (p *chunkPlan) kustomization(dir string, i int) ([]byte, error) {
	top := p.docs[dir]
	clone := *top
	clone.Content = make([]*yaml.Node, len(top.Content))
	copy(clone.Content, top.Content)
	for k := 0; k+1 < len(clone.Content); k += 2 {
		if clone.Content[k].Value != "resources" {
			continue
		}
		seq := *clone.Content[k+1]
		seq.Content = nil
		for j, e := range top.Content[k+1].Content {
			ref := entryRef{dir, j}
			f, isFile := p.files[ref]
			s, inChunk := p.chunks[i][ref]
			switch {
			case !isFile:
				seq.Content = append(seq.Content, e)
			case inChunk && f.whole(s):
				seq.Content = append(seq.Content, e)
			case inChunk:
				part := *e
				part.Value = path.Base(f.part(s))
				if d := path.Dir(e.Value); d != "." {
					part.Value = d + "/" + part.Value
				}
				part.Style = yaml.DoubleQuotedStyle
				seq.Content = append(seq.Content, &part)
			}
		}
		clone.Content[k+1] = &seq
	}
	return yaml.Marshal(&clone)
}

// buildChunks builds root chunk by chunk in fsys (rewriting the tree's
// kustomization files and writing the parts of split files, and undoing
// that after) and returns the concatenated output, or ok false when a
// chunk failed or two chunks' objects share an id: the caller then builds
// root whole.
func buildChunks(fsys filesys.FileSystem, files map[string][]byte, root string, p *chunkPlan) (out []byte, ok bool) {
	defer func() {
		for _, kfile := range p.kfiles {
			_ = writeFile(fsys, kfile, files[kfile])
		}
	}()
	ids := map[string]bool{}
	var buf bytes.Buffer
	for i, c := range p.chunks {
		for dir, kfile := range p.kfiles {
			b, err := p.kustomization(dir, i)
			if err != nil {
				return nil, false
			}
			if err := writeFile(fsys, kfile, b); err != nil {
				return nil, false
			}
		}
		var parts []string
		for ref, s := range c {
			if f := p.files[ref]; !f.whole(s) {
				parts = append(parts, "/"+f.part(s))
				if err := fsys.WriteFile(parts[len(parts)-1], f.partData(s)); err != nil {
					return nil, false
				}
			}
		}
		m, err := run(fsys, root)
		for _, part := range parts {
			_ = fsys.RemoveAll(part)
		}
		if err != nil {
			return nil, false
		}
		for _, r := range m.Resources() {
			id := r.CurId()
			// Coarser than kustomize's id (no group or version): a
			// false collision only costs a whole build.
			key := id.Kind + "\x00" + id.EffectiveNamespace() + "\x00" + id.Name
			if ids[key] {
				return nil, false
			}
			ids[key] = true
		}
		y, err := asYAML(m)
		if err != nil {
			return nil, false
		}
		if len(y) > 0 && buf.Len() > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return buf.Bytes(), true
}

// chunkable parses the kustomization in dir and reports whether its fields
// allow a chunked build.
func chunkable(dir string, data []byte, files map[string][]byte) (*yaml.Node, bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, false
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, false
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i].Value, top.Content[i+1]
		switch {
		case !chunkFields[key]:
			return nil, false
		case key == "kind" && val.Value != "Kustomization":
			return nil, false
		case key == "resources":
			if val.Kind != yaml.SequenceNode {
				return nil, false
			}
			for _, e := range val.Content {
				if e.Kind != yaml.ScalarNode {
					return nil, false
				}
			}
		case key == "patches":
			if !chunkablePatches(dir, val, files) {
				return nil, false
			}
		}
	}
	return top, true
}

// resourceEntries returns the entries of a kustomization's resources.
func resourceEntries(top *yaml.Node) []string {
	var out []string
	for k := 0; k+1 < len(top.Content); k += 2 {
		if top.Content[k].Value == "resources" {
			for _, e := range top.Content[k+1].Content {
				out = append(out, e.Value)
			}
		}
	}
	return out
}

// chunkablePatches reports whether every patch has a target, no options,
// and leaves ids alone.
func chunkablePatches(dir string, val *yaml.Node, files map[string][]byte) bool {
	if val.Kind != yaml.SequenceNode {
		return false
	}
	for _, item := range val.Content {
		if item.Kind != yaml.MappingNode {
			return false
		}
		var text []byte
		target := false
		for k := 0; k+1 < len(item.Content); k += 2 {
			v := item.Content[k+1]
			switch item.Content[k].Value {
			case "target":
				target = v.Kind == yaml.MappingNode
			case "patch":
				text = []byte(v.Value)
			case "path":
				b, ok := files[path.Join(dir, v.Value)]
				if !ok {
					return false
				}
				text = b
			default:
				return false // options, or a field kustomize would refuse
			}
		}
		if !target || text == nil || !keepsIds(text) {
			return false
		}
	}
	return true
}

// idPaths are the JSON pointers a JSON 6902 patch may not touch: they hold
// an object's id.
var idPaths = []string{"/metadata/name", "/metadata/namespace", "/kind", "/apiVersion"}

// keepsIds reports whether a patch leaves the objects' ids alone. A
// strategic-merge patch (a mapping) does: kustomize restores the name,
// namespace and kind it changes unless options allow it. A JSON 6902 patch
// (a sequence of operations) does when no operation's path or from is an
// id field, above one, or the whole object.
func keepsIds(text []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil || len(doc.Content) != 1 {
		return false
	}
	top := doc.Content[0]
	switch top.Kind {
	case yaml.MappingNode:
		return true
	case yaml.SequenceNode:
	default:
		return false
	}
	for _, op := range top.Content {
		if op.Kind != yaml.MappingNode {
			return false
		}
		for k := 0; k+1 < len(op.Content); k += 2 {
			if key := op.Content[k].Value; key != "path" && key != "from" {
				continue
			}
			p := op.Content[k+1].Value
			if p == "" || p == "/" || p == "/metadata" {
				return false
			}
			for _, id := range idPaths {
				if p == id || strings.HasPrefix(p, id+"/") {
					return false
				}
			}
		}
	}
	return true
}

// helmGenerated is kustomize's annotation for objects Helm rendered: the
// namespace transformer skips them.
const helmGenerated = "config.kubernetes.io/helm-generated"

// separatorRE is kustomize's document separator (kyaml's kio.ByteReader
// cuts a resource file at every line starting with ---).
var separatorRE = regexp.MustCompile(`\n---.*\n`)

// readResourceFile cuts a resource file into documents as kustomize does,
// and reports whether every object in it is of chunkKinds.
func readResourceFile(name string, data []byte) (*resourceFile, bool) {
	if bytes.Contains(data, []byte(helmGenerated)) || bytes.Contains(data, []byte("\r")) {
		return nil, false
	}
	f := &resourceFile{name: name}
	s := string(data)
	prev := 0
	for _, loc := range separatorRE.FindAllStringIndex(s, -1) {
		f.docs = append(f.docs, s[prev:loc[0]])
		f.seps = append(f.seps, s[loc[0]:loc[1]])
		prev = loc[1]
	}
	f.docs = append(f.docs, s[prev:])
	for i, d := range f.docs {
		if i+1 < len(f.docs) {
			d += "\n" // as kustomize reads it
		}
		n, ok := chunkableObjects([]byte(d))
		if !ok || n > 1 {
			return nil, false
		}
		f.objects = append(f.objects, n)
	}
	return f, true
}

// chunkableObjects counts the objects of a YAML stream and reports whether
// all are of chunkKinds.
func chunkableObjects(data []byte) (int, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	n := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return n, true
		}
		if err != nil || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			return 0, false
		}
		var o struct {
			Kind string `yaml:"kind"`
		}
		if doc.Decode(&o) != nil || !chunkKinds[o.Kind] {
			return 0, false
		}
		n++
	}
}
