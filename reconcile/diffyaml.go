package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v2"

	"github.com/stevedore-dev/stevedore/spec"
)

// KindSecret is Kubernetes' Secret kind. Stevedore does not load Secrets
// yet, but the diff already never shows their values: whatever object has
// this kind gets its data and stringData redacted.
const KindSecret = "Secret"

// Markers that stand for a Secret's values in a diff. A value that differs
// between the revisions gets a different marker on each side, so that the
// unified diff shows the line as changed without showing either value.
const (
	RedactedValue        = "(redacted)"
	RedactedChangedValue = "(redacted, value changed)"
)

// diffContext is the number of unchanged lines around each hunk, as diff
// -u and kubectl diff print.
const diffContext = 3

// unifiedDiff renders the YAML of both revisions of an object (nil for the
// side that does not exist) and returns their unified diff, with headers
// "--- a/Kind/namespace/name" and "+++ b/Kind/namespace/name" (or
// /dev/null for a created or deleted object). An object that cannot be
// rendered (it always can: these are the decoder's own types) says so in
// the diff instead of failing the whole report.
func unifiedDiff(k spec.ObjectKey, a, n spec.Object) string {
	am, aerr := generic(a)
	nm, nerr := generic(n)
	if aerr != nil || nerr != nil {
		return fmt.Sprintf("# cannot render %s as YAML: %v\n", k, firstErr(aerr, nerr))
	}
	if k.Kind == KindSecret {
		redactSecret(am, nm)
	}
	ay, aerr := toYAML(am)
	ny, nerr := toYAML(nm)
	if aerr != nil || nerr != nil {
		return fmt.Sprintf("# cannot render %s as YAML: %v\n", k, firstErr(aerr, nerr))
	}
	from, to := "a/"+k.String(), "b/"+k.String()
	if a == nil {
		from = "/dev/null"
	}
	if n == nil {
		to = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: splitLines(ay), B: splitLines(ny), FromFile: from, ToFile: to, Context: diffContext,
	})
	if err != nil {
		return fmt.Sprintf("# cannot diff %s: %v\n", k, err)
	}
	return d
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// generic turns an object into the map its manifest would decode to (the
// decoder's types marshal to Kubernetes' field names); nil for nil.
func generic(o spec.Object) (map[string]any, error) {
	if o == nil {
		return nil, nil
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	// Numbers stay as written (json.Number, which the YAML encoder prints
	// as a number), not float64: no precision lost past 2^53.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func toYAML(m map[string]any) (string, error) {
	if m == nil {
		return "", nil
	}
	// go.yaml.in/yaml/v2 straight from the map: what sigs.k8s.io/yaml (and
	// so kubectl) prints, keys sorted, without its JSON round trip.
	b, err := yaml.Marshal(m)
	return string(b), err
}

// splitLines splits s into lines that keep their "\n", as difflib wants;
// an empty s has no lines (a created object's old side).
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// redactSecret replaces every value of data and stringData of both sides
// of a Secret (either may be nil) with a marker, a different one on the new
// side where the value changed, so that no value ever leaves the reconciler.
func redactSecret(a, n map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		am, _ := fieldMap(a, field)
		nm, _ := fieldMap(n, field)
		redactValues(a, field, am, nil)
		redactValues(n, field, nm, am)
	}
}

// fieldMap returns m[field] as a mapping.
func fieldMap(m map[string]any, field string) (map[string]any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m[field].(map[string]any)
	return v, ok
}

// redactValues replaces obj[field]: a mapping's values with markers (a
// value that differs from, or is missing in, before gets
// RedactedChangedValue when before is given), anything else whole.
func redactValues(obj map[string]any, field string, values, before map[string]any) {
	if obj == nil {
		return
	}
	raw, ok := obj[field]
	if !ok {
		return
	}
	if values == nil {
		if raw != nil {
			obj[field] = RedactedValue
		}
		return
	}
	out := make(map[string]any, len(values))
	for k, v := range values {
		out[k] = RedactedValue
		if before != nil {
			if old, ok := before[k]; ok && !sameJSON(old, v) {
				out[k] = RedactedChangedValue
			}
		}
	}
	obj[field] = out
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
