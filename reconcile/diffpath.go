package reconcile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
)

// Field change operations.
const (
	FieldChanged = "changed" // both revisions set the field, to different values
	FieldAdded   = "added"   // the next revision sets a field the applied one does not
	FieldRemoved = "removed" // the next revision drops a field the applied one sets
)

// FieldChange is one field that differs between two revisions of an
// object, named by its path in the manifest as a reviewer reads it:
// "spec.replicas", "spec.template.spec.containers[name=web].image",
// `metadata.labels["app.kubernetes.io/name"]`.
type FieldChange struct {
	Path string
	Op   string // FieldChanged, FieldAdded or FieldRemoved
	// Old and New are the values, rendered short: a scalar as written in
	// YAML, a list or mapping as compact JSON (cut past maxValueLen). The
	// side the Op says is missing is "".
	Old, New string
	// Redacted is set for a Secret's data and stringData: Old and New are
	// then empty and the values must never be shown.
	Redacted bool
}

// maxValueLen bounds a rendered value: a whole container added to a list
// is a field change too, and its value belongs in the unified diff, not in
// a one-line summary.
const maxValueLen = 80

// pathReporter is a go-cmp Reporter that records every leaf that differs
// with its manifest path. go-cmp walks the Go values; the reporter names
// each step the way the manifest does (JSON field names, list elements by
// their name, map keys).
type pathReporter struct {
	secret bool // the object is a Secret: data and stringData are redacted
	steps  []cmp.PathStep
	out    []FieldChange
}

func (r *pathReporter) PushStep(ps cmp.PathStep) { r.steps = append(r.steps, ps) }
func (r *pathReporter) PopStep()                 { r.steps = r.steps[:len(r.steps)-1] }

func (r *pathReporter) Report(rs cmp.Result) {
	if rs.Equal() {
		return
	}
	vx, vy := r.steps[len(r.steps)-1].Values()
	path := r.path()
	// go-cmp reports a nil (or empty) list or map against a filled one as
	// one change; a reviewer reads the labels or env vars added one by one.
	if vx.IsValid() && vy.IsValid() && (vx.Kind() == reflect.Map || vx.Kind() == reflect.Slice) && absent(vx) != absent(vy) {
		r.expand(path, vx, vy)
		return
	}
	r.add(path, vx, vy)
}

// expand reports each key or element of a list or map that only one side
// has (the other is nil or empty).
func (r *pathReporter) expand(path string, vx, vy reflect.Value) {
	full, missing := vy, func(v reflect.Value) (reflect.Value, reflect.Value) { return reflect.Value{}, v }
	if absent(vy) {
		full, missing = vx, func(v reflect.Value) (reflect.Value, reflect.Value) { return v, reflect.Value{} }
	}
	if full.Kind() == reflect.Map {
		keys := full.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
		})
		for _, k := range keys {
			x, y := missing(full.MapIndex(k))
			r.add(path+mapKey(k), x, y)
		}
		return
	}
	for i := range full.Len() {
		x, y := missing(full.Index(i))
		r.add(path+elementKeyOf(full.Index(i), i), x, y)
	}
}

// add records one changed field.
func (r *pathReporter) add(path string, vx, vy reflect.Value) {
	fc := FieldChange{Path: path, Op: FieldChanged}
	switch {
	case absent(vx):
		fc.Op = FieldAdded
	case absent(vy):
		fc.Op = FieldRemoved
	}
	if r.secret && isSecretValuePath(fc.Path) {
		// Only which key changed: not where inside its value, nor how much.
		fc.Path = secretKeyPath(fc.Path)
		if n := len(r.out); n > 0 && r.out[n-1].Path == fc.Path {
			r.out[n-1].Op = FieldChanged
			return
		}
		fc.Redacted = true
	} else {
		if fc.Op != FieldAdded {
			fc.Old = renderValue(vx)
		}
		if fc.Op != FieldRemoved {
			fc.New = renderValue(vy)
		}
	}
	r.out = append(r.out, fc)
}

// isSecretValuePath reports whether a field path of a Secret holds a value:
// data and stringData, or anything under them.
func isSecretValuePath(p string) bool {
	for _, f := range []string{"data", "stringData"} {
		if rest, ok := strings.CutPrefix(p, f); ok && (rest == "" || rest[0] == '.' || rest[0] == '[') {
			return true
		}
	}
	return false
}

// secretKeyPath cuts a path under a Secret's data or stringData to the
// key: "data.password[3]" → "data.password".
func secretKeyPath(p string) string {
	field, rest, _ := strings.Cut(p, ".")
	if i := strings.IndexByte(field, '['); i >= 0 {
		field, rest = p[:i], p[i:]
		if j := strings.Index(rest, "\"]"); j >= 0 {
			return field + rest[:j+2]
		}
		return field
	}
	if rest == "" {
		return field
	}
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		rest = rest[:i]
	}
	return field + "." + rest
}

// absent reports whether a compared value is missing: an element or key
// only one side has, a nil pointer (an optional field left out), or an
// empty list or map (which diffOptions equate with a missing one).
func absent(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Map, reflect.Slice:
		return v.Len() == 0
	}
	return false
}

// path renders the current steps as a manifest path.
func (r *pathReporter) path() string {
	var b strings.Builder
	for i, ps := range r.steps {
		switch s := ps.(type) {
		case cmp.StructField:
			parent := r.steps[i-1].Type()
			name, inline := jsonName(parent.Field(s.Index()))
			if inline {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(name)
		case cmp.SliceIndex:
			b.WriteString(elementKey(s))
		case cmp.MapIndex:
			b.WriteString(mapKey(s.Key()))
		}
		// Indirect, TypeAssertion and Transform (quantities compared by
		// their canonical string) are invisible in a manifest.
	}
	return b.String()
}

// jsonName returns the name a struct field has in a manifest, and whether
// it is inlined into its parent (TypeMeta, or an embedded struct without a
// name of its own).
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(","+opts+",", ",inline,") || (f.Anonymous && name == "") {
		return "", true
	}
	if name == "" || name == "-" {
		return f.Name, false
	}
	return name, false
}

// elementKey renders a list element's step by the key Kubernetes merges
// such lists by: its name ("[name=web]": containers, env, volumes, named
// ports), else a port's number ("[containerPort=443]"), else its index
// ("[0]").
func elementKey(s cmp.SliceIndex) string {
	vx, vy := s.Values()
	for _, key := range elementKeys {
		for _, v := range []reflect.Value{vx, vy} {
			if val, ok := keyField(v, key); ok {
				return "[" + key + "=" + val + "]"
			}
		}
	}
	ix, iy := s.SplitKeys()
	if iy >= 0 {
		return "[" + strconv.Itoa(iy) + "]"
	}
	return "[" + strconv.Itoa(ix) + "]"
}

// elementKeyOf renders the step to element i of a list, v, as elementKey
// does.
func elementKeyOf(v reflect.Value, i int) string {
	for _, key := range elementKeys {
		if val, ok := keyField(v, key); ok {
			return "[" + key + "=" + val + "]"
		}
	}
	return "[" + strconv.Itoa(i) + "]"
}

// elementKeys are the fields a list element is named by, in order.
var elementKeys = []string{"name", "containerPort"}

// keyField returns the non-zero string or integer field of a struct element
// whose manifest name is key.
func keyField(v reflect.Value, key string) (string, bool) {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return "", false
		}
		v = v.Elem()
	}
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return "", false
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if n, _ := jsonName(f); n != key {
			continue
		}
		switch fv := v.Field(i); fv.Kind() {
		case reflect.String:
			return fv.String(), fv.String() != ""
		case reflect.Int, reflect.Int32, reflect.Int64:
			return strconv.FormatInt(fv.Int(), 10), fv.Int() != 0
		}
		return "", false
	}
	return "", false
}

// mapKey renders a map step: ".app" for a key that reads as a field name,
// `["app.kubernetes.io/name"]` for any other.
func mapKey(k reflect.Value) string {
	s := fmt.Sprint(k.Interface())
	if plainKey(s) {
		return "." + s
	}
	return "[" + strconv.Quote(s) + "]"
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// renderValue renders one side of a field change: a scalar as it would be
// written in YAML, anything else as compact JSON, cut to maxValueLen.
func renderValue(v reflect.Value) string {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return ""
	}
	var s string
	switch v.Kind() {
	case reflect.String:
		s = v.String()
		if s == "" || s != strings.TrimSpace(s) || strings.ContainsAny(s, "\n\t") {
			s = strconv.Quote(s)
		}
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		s = fmt.Sprint(v.Interface())
	default:
		if !v.CanInterface() {
			return "…"
		}
		b, err := json.Marshal(v.Interface())
		switch {
		case err != nil:
			s = fmt.Sprint(v.Interface())
		case len(b) > 0 && b[0] == '"':
			// A value that marshals to a string (a quantity) reads as one.
			var str string
			_ = json.Unmarshal(b, &str)
			return renderValue(reflect.ValueOf(str))
		default:
			s = string(b)
		}
	}
	if len(s) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
