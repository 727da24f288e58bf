package sops

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// DocumentError is the failure of one document of a stream, by its index
// among the stream's documents (0-based, counting every document the YAML
// parser returns). Its message never holds a decrypted value.
type DocumentError struct {
	Index int
	Err   error
}

func (e *DocumentError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *DocumentError) Unwrap() error { return e.Err }

// DocumentIndex returns Index: what package spec asks of an error to place
// it on its document without importing this package.
func (e *DocumentError) DocumentIndex() int { return e.Index }

// IsEncrypted reports whether a document of the YAML stream doc has a
// top-level sops mapping: whether DecryptDocument has anything to do.
func IsEncrypted(doc []byte) bool {
	if !mayBeEncrypted(doc) {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return false
		}
		if _, v := sopsKey(&n); v != nil {
			return true
		}
	}
}

// mayBeEncrypted is the cheap test: a line starting with "sops:".
func mayBeEncrypted(doc []byte) bool {
	return bytes.HasPrefix(doc, []byte("sops:")) || bytes.Contains(doc, []byte("\nsops:"))
}

// sopsKey returns the key and value nodes of a document's top-level sops
// mapping, or nils.
func sopsKey(doc *yaml.Node) (*yaml.Node, *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == MetadataKey && m.Content[i+1].Kind == yaml.MappingNode {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// DecryptDocument decrypts the SOPS-encrypted documents of a YAML stream
// (a file, or a renderer's output) and returns the stream with every
// encrypted value replaced by its plaintext and every sops mapping
// removed, line for line: a value becomes a one-line scalar where its
// ciphertext was, the sops mapping's lines become blank, so a line number
// in the result is the same line in doc. Documents without sops metadata
// are returned unchanged.
//
// The documents of one sops file share one metadata and one MAC (sops
// writes the same sops mapping into each and computes the MAC over all of
// them, in order): documents whose sops mappings have the same MAC are
// decrypted and verified together. The MAC is checked as sops checks it: a
// value changed after encryption (or reordered, or a document dropped) is
// an error.
//
// Errors are *DocumentError, joined; they name recipients and key
// fingerprints, never a value.
func (k *Keys) DecryptDocument(doc []byte) ([]byte, error) {
	return k.decrypt(doc, true, false)
}

// DecryptRendered is DecryptDocument for a renderer's output (kustomize),
// which rewrites every resource (sorted keys, added labels, a namespace):
// the file's MAC cannot hold there, so it is not checked, as Flux's
// kustomize-controller does not check it after a build. Each encrypted
// value is still authenticated by its own tag, bound to its path: a value
// changed, or moved to another key, fails. Check the MAC on the files as
// they are in the repository with DecryptDocument.
func (k *Keys) DecryptRendered(doc []byte) ([]byte, error) {
	return k.decrypt(doc, false, false)
}

// WithoutKeys is a decryptor for tools that hold no key (ctl get, describe,
// validate without keys): it "decrypts" every encrypted value to the zero
// value of its type ("" for text) and drops the sops mapping, so that the
// documents load with their keys and structure and nothing else. Nothing
// is checked: not the MAC, not a value.
type WithoutKeys struct{}

// DecryptDocument replaces the encrypted values of doc with zero values.
func (WithoutKeys) DecryptDocument(doc []byte) ([]byte, error) {
	return (*Keys)(nil).decrypt(doc, false, true)
}

// DecryptRendered is DecryptDocument.
func (WithoutKeys) DecryptRendered(doc []byte) ([]byte, error) {
	return (*Keys)(nil).decrypt(doc, false, true)
}

func (k *Keys) decrypt(doc []byte, checkMAC, opaque bool) ([]byte, error) {
	if !mayBeEncrypted(doc) {
		return doc, nil
	}
	type docInfo struct {
		index int
		node  *yaml.Node
		key   *yaml.Node
		md    *metadata
	}
	var groups [][]*docInfo
	byMAC := map[string]int{}
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid YAML: %v", err)
		}
		key, val := sopsKey(&n)
		if key == nil {
			continue
		}
		md, err := parseMetadata(val)
		if err != nil {
			errs = append(errs, &DocumentError{i, fmt.Errorf("invalid sops metadata: %w", err)})
			continue
		}
		di := &docInfo{index: i, node: &n, key: key, md: md}
		id := md.lastModified + " " + md.mac
		if !checkMAC || opaque {
			id = strconv.Itoa(i) // each resource alone
		}
		if g, ok := byMAC[id]; ok {
			groups[g] = append(groups[g], di)
			continue
		}
		byMAC[id] = len(groups)
		groups = append(groups, []*docInfo{di})
	}
	src := &source{data: doc}
	var edits []edit
	for _, g := range groups {
		first := g[0]
		fail := func(err error) {
			for _, di := range g {
				errs = append(errs, &DocumentError{di.index, err})
			}
		}
		if opaque {
			w := &walker{md: first.md, src: src, mac: sha512.New(), opaque: true}
			if err := w.document(first.node.Content[0]); err != nil {
				fail(err)
				continue
			}
			e, err := src.blankBlock(first.key)
			if err != nil {
				fail(err)
				continue
			}
			edits = append(append(edits, w.edits...), e)
			continue
		}
		key, err := k.dataKey(first.md)
		if err != nil {
			fail(err)
			continue
		}
		if len(key) != 32 {
			fail(fmt.Errorf("the data key is %d bytes, not 32", len(key)))
			continue
		}
		w := &walker{md: first.md, key: key, src: src, mac: sha512.New()}
		if first.md.macOnlyEncrypted {
			w.mac.Write(macOnlyEncryptedInit)
		}
		var gErr error
		var gEdits []edit
		for _, di := range g {
			w.edits = w.edits[:0]
			if err := w.document(di.node.Content[0]); err != nil {
				errs = append(errs, &DocumentError{di.index, err})
				gErr = err
				continue
			}
			e, err := src.blankBlock(di.key)
			if err != nil {
				errs = append(errs, &DocumentError{di.index, err})
				gErr = err
				continue
			}
			gEdits = append(gEdits, w.edits...)
			gEdits = append(gEdits, e)
		}
		if gErr != nil {
			continue
		}
		if !checkMAC {
			edits = append(edits, gEdits...)
			continue
		}
		want, err := decryptValue(first.md.mac, key, first.md.lastModified)
		if err != nil {
			fail(fmt.Errorf("failed to decrypt the file's MAC: %w", err))
			continue
		}
		if want.text != fmt.Sprintf("%X", w.mac.Sum(nil)) {
			fail(errors.New("MAC mismatch: the file was changed after sops encrypted it (a value edited by hand, or changed by a renderer such as kustomize's namespace or labels: a creation rule with mac_only_encrypted: true allows changes to unencrypted values); re-encrypt it with sops"))
			continue
		}
		edits = append(edits, gEdits...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return apply(doc, edits), nil
}

// edit replaces data[start:end] with text.
type edit struct {
	start, end int
	text       string
}

func apply(data []byte, edits []edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	out := make([]byte, 0, len(data))
	pos := 0
	for _, e := range edits {
		out = append(out, data[pos:e.start]...)
		out = append(out, e.text...)
		pos = e.end
	}
	return append(out, data[pos:]...)
}

// source finds nodes' bytes in the text they were parsed from.
type source struct {
	data  []byte
	lines []int // byte offset of each line's start
}

func (s *source) lineStart(line int) (int, bool) {
	if s.lines == nil {
		s.lines = append(s.lines, 0)
		for i, c := range s.data {
			if c == '\n' {
				s.lines = append(s.lines, i+1)
			}
		}
	}
	if line < 1 || line > len(s.lines) {
		return 0, false
	}
	return s.lines[line-1], true
}

// offset returns the byte offset of a node (its line and column count
// characters).
func (s *source) offset(n *yaml.Node) (int, bool) {
	off, ok := s.lineStart(n.Line)
	if !ok {
		return 0, false
	}
	for col := 1; col < n.Column; col++ {
		if off >= len(s.data) || s.data[off] == '\n' {
			return 0, false
		}
		_, size := utf8.DecodeRune(s.data[off:])
		off += size
	}
	return off, true
}

// blankBlock returns the edit that blanks the top-level sops key and its
// value, keeping the newlines: the lines from the key's to the last one
// before the next line that starts in column 1 (the next key, or a
// document marker).
func (s *source) blankBlock(key *yaml.Node) (edit, error) {
	if key.Column != 1 {
		return edit{}, errors.New("the sops key must start its line, in a block mapping (as sops writes it)")
	}
	start, ok := s.lineStart(key.Line)
	if !ok {
		return edit{}, errors.New("cannot place the sops key in the text")
	}
	end := start
	for line := key.Line + 1; ; line++ {
		off, ok := s.lineStart(line)
		if !ok {
			end = len(s.data)
			break
		}
		if off < len(s.data) && s.data[off] != ' ' && s.data[off] != '\t' && s.data[off] != '\n' && s.data[off] != '\r' {
			end = off
			break
		}
	}
	text := make([]byte, 0, 64)
	for _, c := range s.data[start:end] {
		if c == '\n' {
			text = append(text, '\n')
		}
	}
	return edit{start: start, end: end, text: string(text)}, nil
}

// walker decrypts the values of one sops file's documents in sops' order,
// feeding the MAC and recording each value's replacement.
type walker struct {
	md    *metadata
	key   []byte
	src   *source
	mac   hash.Hash
	edits []edit
	// opaque replaces encrypted values with zero values, decrypting
	// nothing (WithoutKeys).
	opaque bool
}

func (w *walker) document(root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return errors.New("an encrypted document must be a mapping")
	}
	return w.mapping(root, nil, true)
}

func (w *walker) mapping(n *yaml.Node, path []string, top bool) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var kv any
		if k.Kind != yaml.ScalarNode || k.Decode(&kv) != nil {
			return fmt.Errorf("at %s: only string keys are supported", pathName(path))
		}
		name, ok := kv.(string)
		if !ok {
			return fmt.Errorf("at %s: key %q is not a string; only string keys are supported", pathName(path), k.Value)
		}
		if top && name == MetadataKey {
			continue
		}
		if err := w.value(v, append(path[:len(path):len(path)], name)); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) value(n *yaml.Node, path []string) error {
	switch n.Kind {
	case yaml.AliasNode:
		return fmt.Errorf("at %s: aliases are not supported in encrypted documents (sops never writes them)", pathName(path))
	case yaml.MappingNode:
		return w.mapping(n, path, false)
	case yaml.SequenceNode:
		for _, it := range n.Content {
			if err := w.value(it, path); err != nil {
				return err
			}
		}
		return nil
	case yaml.ScalarNode:
		return w.scalar(n, path)
	}
	return nil
}

func (w *walker) scalar(n *yaml.Node, path []string) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("at %s: %v", pathName(path), err)
	}
	if v == nil {
		return nil // sops neither encrypts nor hashes a null
	}
	encrypted := w.md.shouldBeEncrypted(path)
	var macBytes []byte
	if encrypted {
		s, ok := v.(string)
		if !ok || (s != "" && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0) {
			return fmt.Errorf("at %s: expected an encrypted value (ENC[AES256_GCM,…]), found a plain one", pathName(path))
		}
		if s == "" {
			return nil // sops leaves an empty string as it is
		}
		if w.opaque {
			zero := `""`
			if m := encRE.FindStringSubmatch(s); m != nil {
				zero = map[string]string{"int": "0", "float": "0.0", "bool": "false"}[m[4]]
				if zero == "" {
					zero = `""`
				}
			}
			return w.replace(n, zero)
		}
		pt, err := decryptValue(s, w.key, strings.Join(path, ":")+":")
		if err != nil {
			return fmt.Errorf("at %s: %w", pathName(path), err)
		}
		text, err := pt.yaml()
		if err != nil {
			return fmt.Errorf("at %s: %w", pathName(path), err)
		}
		if err := w.replace(n, text); err != nil {
			return fmt.Errorf("at %s: %w", pathName(path), err)
		}
		macBytes = pt.macBytes
	} else {
		b, err := toBytes(v)
		if err != nil {
			return fmt.Errorf("at %s: %w", pathName(path), err)
		}
		macBytes = b
	}
	if !w.md.macOnlyEncrypted || encrypted {
		w.mac.Write(macBytes)
	}
	return nil
}

// replace records that n's text becomes text.
func (w *walker) replace(n *yaml.Node, text string) error {
	off, ok := w.src.offset(n)
	if !ok {
		return errors.New("cannot place the value in the text")
	}
	tok := n.Value
	switch n.Style {
	case yaml.SingleQuotedStyle:
		tok = "'" + tok + "'"
	case yaml.DoubleQuotedStyle:
		tok = `"` + tok + `"`
	case 0, yaml.TaggedStyle:
	default:
		return errors.New("unexpected style of an encrypted value")
	}
	if n.Tag != "" && n.Style&yaml.TaggedStyle != 0 {
		return errors.New("unexpected tag on an encrypted value")
	}
	if !bytes.HasPrefix(w.src.data[off:], []byte(tok)) {
		return errors.New("the encrypted value is not written on one line")
	}
	w.edits = append(w.edits, edit{start: off, end: off + len(tok), text: text})
	return nil
}

// toBytes is sops' ToBytes for the values YAML decodes to: what the MAC
// hashes of an unencrypted value.
func toBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int:
		return []byte(strconv.Itoa(v)), nil
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		if v {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	case time.Time:
		return v.MarshalText()
	}
	return nil, fmt.Errorf("a value of type %T cannot be part of a sops file", v)
}

var encRE = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

// plaintext is a decrypted value: its type, its text, what the MAC hashes.
type plaintext struct {
	typ      string
	text     string
	macBytes []byte
}

// decryptValue is sops' aes.Cipher.Decrypt: AES-256-GCM with the value's
// path ("data:password:") as additional data.
func decryptValue(ct string, key []byte, aad string) (*plaintext, error) {
	if ct == "" {
		return &plaintext{typ: "str"}, nil
	}
	m := encRE.FindStringSubmatch(ct)
	if m == nil {
		return nil, errors.New("not a sops encrypted value (ENC[AES256_GCM,…])")
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, fmt.Errorf("malformed encrypted value: %v", err)
		}
		parts[i] = b
	}
	data, iv, tag := parts[0], parts[1], parts[2]
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) == 0 {
		return nil, errors.New("malformed encrypted value: empty iv")
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	if len(tag) != gcm.Overhead() {
		return nil, errors.New("malformed encrypted value: bad tag length")
	}
	out, err := gcm.Open(nil, iv, append(append([]byte{}, data...), tag...), []byte(aad))
	if err != nil {
		return nil, errors.New("authentication failed: the value was changed, moved to another key, or encrypted with another data key")
	}
	p := &plaintext{typ: m[4], text: string(out)}
	switch p.typ {
	case "str", "bytes", "comment":
		p.macBytes = out
	case "int":
		i, err := strconv.Atoi(p.text)
		if err != nil {
			return nil, errors.New("an int value does not decrypt to an integer")
		}
		p.macBytes = []byte(strconv.Itoa(i))
	case "float":
		f, err := strconv.ParseFloat(p.text, 64)
		if err != nil {
			return nil, errors.New("a float value does not decrypt to a number")
		}
		p.macBytes = []byte(strconv.FormatFloat(f, 'f', -1, 64))
	case "bool":
		b, err := strconv.ParseBool(p.text)
		if err != nil {
			return nil, errors.New("a bool value does not decrypt to a boolean")
		}
		p.macBytes, _ = toBytes(b)
	case "time":
		var t time.Time
		if err := t.UnmarshalText(out); err != nil {
			return nil, errors.New("a time value does not decrypt to a time")
		}
		p.macBytes, _ = t.MarshalText()
	default:
		return nil, fmt.Errorf("unknown value type %q", p.typ)
	}
	return p, nil
}

// yaml returns the plaintext as a one-line YAML scalar of its type.
func (p *plaintext) yaml() (string, error) {
	switch p.typ {
	case "int":
		return string(p.macBytes), nil
	case "float":
		s := string(p.macBytes)
		if !strings.ContainsAny(s, ".eE") {
			s = "!!float " + s
		}
		return s, nil
	case "bool":
		if string(p.macBytes) == "True" {
			return "true", nil
		}
		return "false", nil
	case "time":
		return "!!timestamp " + string(p.macBytes), nil
	}
	if !utf8.ValidString(p.text) {
		return "", errors.New("the decrypted value is not UTF-8 text")
	}
	return strconv.Quote(p.text), nil
}

func pathName(path []string) string {
	if len(path) == 0 {
		return "the top level"
	}
	return strings.Join(path, ".")
}
