package spec

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Cache remembers the documents of one revision that loaded without error,
// by their text: LoadCached reuses the decoded, defaulted and validated
// object of every document whose text is unchanged, so loading the next
// revision (a pull request, the next commit) costs what changed, not the
// size of the repository. A Cache is immutable once returned: safe for
// concurrent use. The reused objects are shared between the Sets loaded
// with the Cache, so they must never be modified (the reconciler treats
// every loaded object as read-only).
type Cache struct {
	docs map[string]*document // by text
}

// Len returns the number of documents the cache holds.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	return len(c.docs)
}

// LoadCached loads files as Load does (the same objects, errors and lines),
// reusing prev's documents whose text is unchanged (prev may be nil), and
// returns with the Set a Cache of this revision's documents (nil when the
// revision has errors).
func LoadCached(files map[string][]byte, prev *Cache) (*Set, *Cache, error) {
	return Loader{}.LoadCached(files, prev)
}

// chunk is one document's text in a file and the 0-based line it starts
// on.
type chunk struct {
	text  []byte
	start int
}

// splitDocuments cuts a file into its documents' texts at the lines that
// are a document start marker ("---", alone or followed by a comment). It
// gives up (false) on anything where text and documents might not line up:
// directives, document end markers, content on a marker's line, a byte
// order mark. A separator line belongs to no chunk.
func splitDocuments(data []byte) ([]chunk, bool) {
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, false
	}
	var out []chunk
	begin, beginLine, line := 0, 0, 0
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		l := bytes.TrimRight(data[pos:next], "\r\n")
		switch {
		case len(l) > 0 && l[0] == '%', bytes.HasPrefix(l, []byte("...")):
			return nil, false
		case bytes.HasPrefix(l, []byte("---")):
			rest := bytes.TrimLeft(l[3:], " \t")
			if len(rest) > 0 && rest[0] != '#' || len(l) > 3 && l[3] != ' ' && l[3] != '\t' {
				return nil, false
			}
			out = append(out, chunk{text: data[begin:pos], start: beginLine})
			begin, beginLine = next, line+1
		}
		pos = next
	}
	out = append(out, chunk{text: data[begin:], start: beginLine})
	for i := range out {
		out[i] = trimChunk(out[i])
	}
	return out, true
}

// trimChunk drops the blank and comment lines above a document, so that a
// comment above it does not hide that it is the same document. (Lines
// below it stay: a literal block that keeps its trailing newlines, "|+",
// makes them part of a value.)
func trimChunk(c chunk) chunk {
	for len(c.text) > 0 {
		end := bytes.IndexByte(c.text, '\n')
		if end < 0 {
			end = len(c.text) - 1
		}
		l := bytes.TrimSpace(c.text[:end+1])
		if len(l) > 0 && l[0] != '#' {
			break
		}
		c.text, c.start = c.text[end+1:], c.start+1
	}
	return c
}

// decodeChunks decodes a file document by document, reusing prev's. It
// returns false, having decoded nothing, when the file cannot be cut into
// documents or one has a syntax error: the caller then decodes it whole,
// which reports the error on the right line.
func (d *decoder) decodeChunks(data []byte, prev *Cache) bool {
	chunks, ok := splitDocuments(data)
	if !ok {
		return false
	}
	for _, ch := range chunks {
		if prev != nil {
			if c, ok := prev.docs[string(ch.text)]; ok {
				// The same text elsewhere: every line moves by as much.
				delta := ch.start - c.start
				doc := *c
				doc.file, doc.reused, doc.text, doc.start = d.file, true, ch.text, ch.start
				doc.line, doc.shift = c.line+delta, c.shift+delta
				d.docs = append(d.docs, &doc)
				continue
			}
		}
		dec := yaml.NewDecoder(bytes.NewReader(ch.text))
		for {
			var n yaml.Node
			err := safeDecode(dec, &n)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				d.docs, d.errs = nil, &errorSink{}
				return false
			}
			if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
				continue
			}
			shiftLines(&n, ch.start)
			before := len(d.docs)
			d.decodeTop(n.Content[0], false)
			// Only a chunk that is exactly one object can be reused.
			if len(d.docs) == before+1 {
				d.docs[before].text, d.docs[before].start = ch.text, ch.start
			}
		}
	}
	return true
}

// shiftLines moves every node of a document decoded alone to the line it
// has in its file.
func shiftLines(n *yaml.Node, by int) {
	if by == 0 || n == nil {
		return
	}
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// newCache records the documents of a revision that loaded without error.
func newCache(docs []*document) *Cache {
	c := &Cache{docs: make(map[string]*document, len(docs))}
	for _, doc := range docs {
		if doc.text == nil {
			continue
		}
		key := string(doc.text)
		if _, dup := c.docs[key]; dup {
			continue
		}
		// A reused document is never validated again: only the checks
		// across documents (namespaces, duplicates, Services' addresses)
		// need its lines.
		kept := *doc
		kept.lines = make(map[fieldPath]int, 3)
		for _, p := range crossDocumentPaths(doc.obj) {
			if l, ok := doc.lines[p]; ok {
				kept.lines[p] = l
			}
		}
		if trees := crossDocumentSubtrees(doc.obj); len(trees) > 0 {
			for p, l := range doc.lines {
				if underAny(p, trees) {
					kept.lines[p] = l
				}
			}
		}
		c.docs[key] = &kept
	}
	return c
}

// crossDocumentSubtrees are the fields of o below which the storage,
// policy and StatefulSet checks across documents report errors (a claim's
// class and size, a pod's claims, host paths and security contexts, a
// StatefulSet's Service and claim templates): a Cache keeps the lines of
// every field under them.
func crossDocumentSubtrees(o Object) []fieldPath {
	var out []fieldPath
	switch o.(type) {
	case *PersistentVolumeClaim:
		return []fieldPath{"spec"}
	case *PersistentVolume:
		return []fieldPath{"metadata.annotations", "spec.hostPath", "spec.local", "spec.csi"}
	case *StorageClass:
		return []fieldPath{"metadata.annotations"}
	case *StatefulSet:
		out = append(out, "spec.serviceName", "spec.volumeClaimTemplates")
	}
	if ps, path := PodSpecOf(o); ps != nil {
		p := fieldPath(path)
		out = append(out, p.child("volumes"))
		for i := range ps.InitContainers {
			out = append(out, p.child("initContainers").index(i).child("securityContext"))
		}
		for i := range ps.Containers {
			out = append(out, p.child("containers").index(i).child("securityContext"))
		}
	}
	return out
}

// underAny reports whether p is one of trees or a field below one.
func underAny(p fieldPath, trees []fieldPath) bool {
	for _, t := range trees {
		if s, ts := string(p), string(t); s == ts || strings.HasPrefix(s, ts+".") || strings.HasPrefix(s, ts+"[") {
			return true
		}
	}
	return false
}

// crossDocumentPaths are the fields of o whose lines the checks across
// documents report errors at: those a Cache keeps.
func crossDocumentPaths(o Object) []fieldPath {
	paths := []fieldPath{"", "metadata", "metadata.namespace"}
	if s, ok := o.(*Service); ok {
		paths = append(paths, "spec", "spec.clusterIP", "spec.ports")
		for i := range s.Spec.Ports {
			p := fieldPath("spec.ports").index(i)
			paths = append(paths, p, p.child("nodePort"))
		}
	}
	return paths
}
