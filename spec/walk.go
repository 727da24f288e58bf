package spec

import (
	"encoding/base64"
	"reflect"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
)

// This file is the reflective half of decoding: the walker that checks a
// document's every field against the Go types, as decode.go hands it one.

// walker decodes one document into its Go value, checking every field
// against the type through reflection and the json tags, so each unknown
// field and type mismatch is reported with its own line and path.
type walker struct {
	d      *decoder
	doc    *document
	budget int
	// size counts the bytes of the values decoded, an alias's each time
	// it is followed, against MaxObjectBytes.
	size    int
	sized   *yaml.Node // the node last counted, at sizedAt
	sizedAt fieldPath
	failed  bool
}

func (w *walker) errorf(line int, p fieldPath, format string, args ...any) {
	w.failed = true
	w.d.errorf(line, w.doc.label, p, format, args...)
}

// mismatch reports a value of the wrong type at p, on the line of p's key
// (a block list or mapping starts on the line after its key, but the key is
// what the reader looks for).
func (w *walker) mismatch(n *yaml.Node, p fieldPath, format string, args ...any) {
	line := n.Line
	if l, ok := w.doc.lines[p]; ok {
		line = l
	}
	w.errorf(line, p, format, args...)
}

var (
	quantityType    = reflect.TypeOf(resource.Quantity{})
	intOrStringType = reflect.TypeOf(IntOrString{})
	bytesType       = reflect.TypeOf([]byte(nil))
)

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// resolveAlias returns the node an alias stands for, or n.
func resolveAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// spend counts one node against the budget and its value against
// MaxObjectBytes; false means stop.
func (w *walker) spend(n *yaml.Node, p fieldPath) bool {
	w.budget--
	if w.budget == 0 {
		w.errorf(n.Line, "", "document too large: more than %d nodes once aliases are expanded", nodeBudget)
	}
	// An alias counts the value it stands for; a pointer field decodes
	// its node twice (the pointer, then its element) but holds it once.
	if r := resolveAlias(n); w.budget > 0 && w.size <= MaxObjectBytes && (r != w.sized || p != w.sizedAt) {
		w.sized, w.sizedAt = r, p
		w.size += len(r.Value)
		if w.size > MaxObjectBytes {
			w.errorf(n.Line, p, "object too large: its values hold more than %d bytes (1.5 MiB, Kubernetes' limit on one object; an alias counts each time it is used)", MaxObjectBytes)
		}
	}
	return w.budget > 0 && w.size <= MaxObjectBytes
}

func (w *walker) decode(n *yaml.Node, v reflect.Value, p fieldPath) {
	if !w.spend(n, p) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		// null means unset, as in Kubernetes' JSON decoding.
		return
	}
	switch v.Type() {
	case quantityType:
		w.decodeQuantity(n, v, p)
		return
	case intOrStringType:
		w.decodeIntOrString(n, v, p)
		return
	case bytesType:
		w.decodeBytes(n, v, p)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		w.decode(n, v.Elem(), p)
	case reflect.Struct:
		w.decodeStruct(n, v, p)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.mismatch(n, p, "expected a list, got %s", nodeKindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, it := range n.Content {
			ip := p.index(i)
			w.doc.lines[ip] = it.Line
			w.decode(it, s.Index(i), ip)
		}
		v.Set(s)
	case reflect.Map:
		w.decodeMap(n, v, p)
	case reflect.String:
		w.decodeString(n, v, p)
	case reflect.Bool:
		w.decodeBool(n, v, p)
	case reflect.Int32, reflect.Int64, reflect.Int:
		w.decodeInt(n, v, p)
	default:
		// Every field type of the API is handled above; reaching here is a
		// programming error in types.go, reported rather than panicking.
		w.errorf(n.Line, p, "internal error: cannot decode into %s", v.Type())
	}
}

// entry is one key/value pair of a mapping after merge keys are expanded.
type entry struct{ key, val *yaml.Node }

// entries returns the pairs of mapping n, expanding YAML merge keys ("<<:
// *base"); keys written explicitly win over merged ones, and a key written
// twice is an error, as in Kubernetes' strict decoding.
func (w *walker) entries(n *yaml.Node, p fieldPath, isMap bool) []entry {
	var out []entry
	seen := map[string]int{}
	var merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, w.mergeEntries(val, p, isMap)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.errorf(k.Line, p, "expected a field name, got %s", nodeKindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			kp := p.child(k.Value)
			if isMap {
				kp = p.key(k.Value)
			}
			w.errorf(k.Line, kp, "duplicate field: already set on line %d", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{k, val})
	}
	for _, e := range merged {
		if _, dup := seen[e.key.Value]; dup {
			continue
		}
		seen[e.key.Value] = e.key.Line
		out = append(out, e)
	}
	return out
}

func (w *walker) mergeEntries(n *yaml.Node, p fieldPath, isMap bool) []entry {
	if !w.spend(n, p) {
		return nil
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return w.entries(n, p, isMap)
	case yaml.SequenceNode:
		var out []entry
		for _, it := range n.Content {
			out = append(out, w.mergeEntries(it, p, isMap)...)
		}
		return out
	}
	w.errorf(n.Line, p, "a merge key (<<) needs a mapping or a list of mappings, got %s", nodeKindName(n))
	return nil
}

// fieldInfo is one decodable field of a struct: the index path through
// inlined embedded structs.
type fieldInfo struct {
	index []int
}

var fieldCache sync.Map // reflect.Type → map[string]fieldInfo

// fieldsOf returns the JSON fields of struct type t, with inlined embedded
// structs (TypeMeta) promoted as encoding/json does.
func fieldsOf(t reflect.Type) map[string]fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]fieldInfo)
	}
	out := map[string]fieldInfo{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			idx := append(append([]int(nil), prefix...), i)
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = f.Name
			}
			out[name] = fieldInfo{index: idx}
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

func (w *walker) decodeStruct(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, p, "expected a mapping, got %s", nodeKindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	for _, e := range w.entries(n, p, false) {
		name := e.key.Value
		fp := p.child(name)
		f, ok := fields[name]
		if !ok {
			if w.accepted(v.Type(), p, name, e.val) {
				continue
			}
			w.errorf(e.key.Line, fp, "%s", unknownFieldMessage(v.Type(), name, fields, e.val))
			continue
		}
		w.doc.lines[fp] = e.key.Line
		fv := v.FieldByIndex(f.index)
		w.decode(e.val, fv, fp)
		if msg, ok := zeroRefused[tableName(v.Type())][name]; ok && fv.IsZero() && !isNull(resolveAlias(e.val)) {
			// Written as 0, which the Go value cannot tell from unset:
			// validation runs on the value, so the decoder records it.
			w.doc.zeroErrs = append(w.doc.zeroErrs, fieldError{path: fp, msg: msg})
		}
	}
}

// editDistance is the Levenshtein distance, used only for "did you mean".
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (w *walker) decodeMap(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.MappingNode {
		w.mismatch(n, p, "expected a mapping, got %s", nodeKindName(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, e := range w.entries(n, p, true) {
		if isNull(e.key) {
			w.errorf(e.key.Line, p, "a key must not be null")
			continue
		}
		kp := p.key(e.key.Value)
		w.doc.lines[kp] = e.key.Line
		if p == "stringData" {
			if _, ok := w.doc.obj.(*Secret); ok {
				// Merged into data at load: errors about data[k] point
				// here, where the value that wins is.
				w.doc.lines[fieldPath("data").key(e.key.Value)] = e.key.Line
			}
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		w.decode(e.val, ev, kp)
		m.SetMapIndex(reflect.ValueOf(e.key.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
}

func (w *walker) decodeString(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!timestamp":
			v.SetString(n.Value)
			return
		case "!!int", "!!float", "!!bool":
			// Kubernetes rejects these too (its YAML becomes JSON first);
			// saying how to fix it saves a round trip.
			if w.secretValue(p) {
				w.mismatch(n, p, "expected a string, got %s (quote it)", nodeKindName(n))
				return
			}
			w.mismatch(n, p, "expected a string, got %s (quote it: %q)", nodeKindName(n), n.Value)
			return
		}
	}
	w.mismatch(n, p, "expected a string, got %s", nodeKindName(n))
}

// yaml11Bools are YAML 1.1's spellings of booleans, which Kubernetes' YAML
// parser accepts for boolean fields; go.yaml.in/yaml/v3 reads them as strings.
var yaml11Bools = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "on": true, "On": true, "ON": true,
	"n": false, "N": false, "no": false, "No": false, "NO": false, "off": false, "Off": false, "OFF": false,
}

func (w *walker) decodeBool(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err == nil {
				v.SetBool(b)
				return
			}
		case "!!str":
			if b, ok := yaml11Bools[n.Value]; ok && n.Style == 0 {
				v.SetBool(b)
				return
			}
		}
	}
	w.mismatch(n, p, "expected a boolean, got %s", nodeKindName(n))
}

func (w *walker) decodeInt(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		w.mismatch(n, p, "expected an integer, got %s", nodeKindName(n))
		return
	}
	var i int64
	if err := n.Decode(&i); err != nil || v.OverflowInt(i) {
		w.mismatch(n, p, "integer %s out of range", n.Value)
		return
	}
	v.SetInt(i)
}

// secretValue reports whether p is a value of a Secret (data[k],
// stringData[k]), which no error message may quote.
func (w *walker) secretValue(p fieldPath) bool {
	if _, ok := w.doc.obj.(*Secret); !ok {
		return false
	}
	s := string(p)
	return strings.HasPrefix(s, "data[") || strings.HasPrefix(s, "stringData[")
}

// decodeBytes reads base64 (standard encoding, padded, as encoding/json
// and Kubernetes write []byte) into a []byte. The value is never quoted in
// the error: it may be a Secret's.
func (w *walker) decodeBytes(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		w.mismatch(n, p, "expected a base64-encoded string, got %s", nodeKindName(n))
		return
	}
	// As encoding/json, newlines (a literal block's) are skipped.
	b, err := base64.StdEncoding.DecodeString(n.Value)
	if err != nil {
		w.mismatch(n, p, "invalid base64 value (the value is not shown): encode it with base64 (standard alphabet, with padding)")
		return
	}
	v.SetBytes(b)
}

func (w *walker) decodeQuantity(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind != yaml.ScalarNode {
		w.mismatch(n, p, "expected a quantity such as 500m or 128Mi, got %s", nodeKindName(n))
		return
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float":
	default:
		w.mismatch(n, p, "expected a quantity such as 500m or 128Mi, got %s", nodeKindName(n))
		return
	}
	q, err := resource.ParseQuantity(strings.TrimSpace(n.Value))
	if err != nil {
		w.mismatch(n, p, "invalid quantity %q: must be a number with an optional suffix such as 500m, 2, 1.5, 128Mi or 1G", n.Value)
		return
	}
	v.Set(reflect.ValueOf(q))
}

func (w *walker) decodeIntOrString(n *yaml.Node, v reflect.Value, p fieldPath) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil || i != int64(int32(i)) {
				w.mismatch(n, p, "integer %s out of range", n.Value)
				return
			}
			v.Set(reflect.ValueOf(FromInt(int32(i))))
			return
		case "!!str":
			v.Set(reflect.ValueOf(FromString(n.Value)))
			return
		}
	}
	w.mismatch(n, p, "expected an integer or a string such as \"25%%\", got %s", nodeKindName(n))
}
