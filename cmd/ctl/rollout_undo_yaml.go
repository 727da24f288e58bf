package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/stevedore-dev/stevedore/spec"
)

// The YAML side of `ctl rollout undo`: find the lines of a Deployment's
// spec.template in a manifest and put another template in their place. The
// node tree (go.yaml.in/yaml/v3) says where the template starts and where
// the next key begins; the edit then replaces those lines only, so every
// other byte of the file (other documents, comments, quoting, key order,
// indentation) stays as the author wrote it. Re-encoding the whole file
// from its node tree would keep comments and key order but not the rest.

// errNoDocument says a file does not declare the Deployment as a document of
// its own (it may be rendered by kustomize, or live in another file).
var errNoDocument = errors.New("no document declares it")

// templateSpan is where a Deployment's spec.template is written in a file:
// lines [start, end) (0-based) hold the "template:" key and its value, the
// key starting at column col (0-based).
type templateSpan struct {
	start, end, col int
}

// splitLines splits data into lines that keep their "\n", so that joining
// them gives data back.
func splitLines(data []byte) []string {
	s := string(data)
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}

// findTemplate returns where data writes the spec.template of Deployment
// namespace/name (a document without metadata.namespace is in "default").
func findTemplate(data []byte, namespace, name string) (templateSpan, error) {
	lines := splitLines(data)
	docs, err := yamlDocuments(data)
	if err != nil {
		return templateSpan{}, err
	}
	for i, doc := range docs {
		if !declares(doc, spec.KindDeployment, namespace, name) {
			continue
		}
		end := len(lines) // the next document's "---" ends this one
		if i+1 < len(docs) {
			end = docs[i+1].Line - 1
		}
		return spanOf(lines, doc.Content[0], end)
	}
	return templateSpan{}, errNoDocument
}

// yamlDocuments decodes every document of data (line numbers count from the
// start of data).
func yamlDocuments(data []byte) ([]*yaml.Node, error) {
	var docs []*yaml.Node
	d := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := d.Decode(&n)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("failed to parse YAML: %w", err)
		}
		docs = append(docs, &n)
	}
}

// declares reports whether doc is the object kind namespace/name.
func declares(doc *yaml.Node, kind, namespace, name string) bool {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	root := doc.Content[0]
	if scalar(root, "kind") != kind {
		return false
	}
	_, meta, _ := lookup(root, "metadata")
	if meta == nil || meta.Kind != yaml.MappingNode || scalar(meta, "name") != name {
		return false
	}
	ns := scalar(meta, "namespace")
	if ns == "" {
		ns = spec.DefaultNamespace
	}
	return ns == namespace
}

// lookup returns key's key and value nodes in mapping m, and the key that
// follows it (nil when it is the last).
func lookup(m *yaml.Node, key string) (k, v, next *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			if i+2 < len(m.Content) {
				next = m.Content[i+2]
			}
			return m.Content[i], m.Content[i+1], next
		}
	}
	return nil, nil, nil
}

// scalar is the value of key in m when it is a scalar, or "".
func scalar(m *yaml.Node, key string) string {
	_, v, _ := lookup(m, key)
	if v == nil || v.Kind != yaml.ScalarNode {
		return ""
	}
	return v.Value
}

// spanOf finds spec.template's lines in the document whose root mapping is
// root and whose text ends before line index docEnd.
func spanOf(lines []string, root *yaml.Node, docEnd int) (templateSpan, error) {
	_, specV, afterSpec := lookup(root, "spec")
	if specV == nil || specV.Kind != yaml.MappingNode {
		return templateSpan{}, errors.New("it has no spec mapping")
	}
	if specV.Style&yaml.FlowStyle != 0 {
		return templateSpan{}, fmt.Errorf("line %d: its spec is written in flow style ({...}): write it as a block mapping to let ctl edit its template", specV.Line)
	}
	tk, tv, afterT := lookup(specV, "template")
	if tk == nil {
		return templateSpan{}, errors.New("its spec has no template")
	}
	if tv.Kind == yaml.AliasNode || tv.Anchor != "" {
		return templateSpan{}, fmt.Errorf("line %d: its spec.template is a YAML anchor or alias: edit it by hand", tk.Line)
	}
	if !startsLine(lines, tk) {
		return templateSpan{}, fmt.Errorf("line %d: spec.template does not start its line", tk.Line)
	}
	end := docEnd
	switch {
	case afterT != nil:
		end = afterT.Line - 1
	case afterSpec != nil:
		end = afterSpec.Line - 1
	}
	start := tk.Line - 1
	// Blank lines and comments before what follows are left where they
	// are: they are more often about the next key than the template's end.
	for end-1 > start && isBlankOrComment(lines[end-1]) {
		end--
	}
	return templateSpan{start: start, end: end, col: tk.Column - 1}, nil
}

// startsLine reports whether only spaces precede n on its line.
func startsLine(lines []string, n *yaml.Node) bool {
	if n.Line < 1 || n.Line > len(lines) {
		return false
	}
	l := lines[n.Line-1]
	return len(l) >= n.Column-1 && strings.TrimLeft(l[:n.Column-1], " ") == ""
}

func isBlankOrComment(l string) bool {
	t := strings.TrimSpace(l)
	return t == "" || strings.HasPrefix(t, "#")
}

// reindent moves block, written with its first key at column from, to
// column to.
func reindent(block []string, from, to int) []string {
	out := make([]string, len(block))
	for i, l := range block {
		switch {
		case strings.TrimSpace(l) == "":
			out[i] = l
		case to > from:
			out[i] = strings.Repeat(" ", to-from) + l
		default:
			n := len(l) - len(strings.TrimLeft(l, " "))
			out[i] = l[min(n, from-to):]
		}
	}
	return out
}

// replaceSpan returns lines with span's lines replaced by block.
func replaceSpan(lines []string, span templateSpan, block []string) []byte {
	var b strings.Builder
	for _, l := range lines[:span.start] {
		b.WriteString(l)
	}
	for _, l := range block {
		b.WriteString(l)
	}
	if span.end > span.start && span.end <= len(lines) && !strings.HasSuffix(lines[span.end-1], "\n") && len(block) > 0 {
		// The template ended the file without a newline: so does the new
		// one.
		s := b.String()
		b.Reset()
		b.WriteString(strings.TrimSuffix(s, "\n"))
	}
	for _, l := range lines[span.end:] {
		b.WriteString(l)
	}
	return []byte(b.String())
}

// templateBlock returns the lines of data's spec.template of Deployment
// namespace/name, moved to column col: the template of another revision,
// with its comments, as its author wrote it.
func templateBlock(data []byte, namespace, name string, col int) ([]string, error) {
	span, err := findTemplate(data, namespace, name)
	if err != nil {
		return nil, err
	}
	lines := splitLines(data)
	block := append([]string(nil), lines[span.start:span.end]...)
	if n := len(block); n > 0 && !strings.HasSuffix(block[n-1], "\n") {
		block[n-1] += "\n"
	}
	return reindent(block, span.col, col), nil
}

// encodeTemplate writes t as a "template:" key at column col: the template
// as the reconciler recorded it (hash is its pod-template-hash), when no
// commit of the work tree has it as written. The record has every default
// filled in; the fields that defaulting gives back are left out (see
// pruneDefaults), so that the file reads as people write it.
func encodeTemplate(t *spec.PodTemplateSpec, hash string, col int) ([]string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("failed to encode the template: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("failed to encode the template: %w", err)
	}
	blockStyle(&doc)
	pruneDefaults(doc.Content[0], hash)
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "template"}, doc.Content[0],
	}}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("failed to encode the template: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("failed to encode the template: %w", err)
	}
	return reindent(splitLines(buf.Bytes()), 0, col), nil
}

// pruneDefaults removes from n, a pod template, every field whose removal
// leaves the same template once defaulted (hash want), trying whole
// subtrees before their fields: "protocol: TCP", "resources: {}",
// "restartPolicy: Always" and the like go; what the author must have
// written stays. A field that matters changes the hash and is kept.
func pruneDefaults(n *yaml.Node, want string) {
	hash := func() string {
		b, err := yaml.Marshal(n)
		if err != nil {
			return ""
		}
		d := &spec.Deployment{TypeMeta: spec.TypeMeta{APIVersion: spec.AppsV1, Kind: spec.KindDeployment}}
		if err := sigsyaml.Unmarshal(b, &d.Spec.Template); err != nil {
			return ""
		}
		spec.SetDefaults(d)
		return spec.TemplateHash(&d.Spec.Template)
	}
	if hash() != want {
		return // the record does not survive the round trip: keep it whole
	}
	var walk func(m *yaml.Node)
	walk = func(m *yaml.Node) {
		switch m.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(m.Content); {
				saved := m.Content
				m.Content = append(append([]*yaml.Node(nil), saved[:i]...), saved[i+2:]...)
				if hash() == want {
					continue
				}
				m.Content = saved
				walk(m.Content[i+1])
				i += 2
			}
		case yaml.SequenceNode:
			for _, c := range m.Content {
				walk(c)
			}
		}
	}
	walk(n)
}

// blockStyle drops JSON's flow style and quotes, leaving the encoder to
// write block YAML and quote only what needs it.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
